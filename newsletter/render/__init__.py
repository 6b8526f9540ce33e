"""Turn ranked picks into emails: Jinja templates, inlined CSS, MIME."""
