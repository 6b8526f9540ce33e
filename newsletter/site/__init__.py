"""The public site's reads: trending lists, one paper and its neighbours, search, archive."""
