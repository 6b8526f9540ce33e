"""Paper sources: each module turns one source's format into PaperRecord objects."""
