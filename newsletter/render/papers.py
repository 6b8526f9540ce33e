"""A stored paper as the digest shows it (the same for every reader of an edition)."""

from __future__ import annotations

from newsletter.models import Paper
from newsletter.render.digest import DigestPaper


def digest_paper(paper: Paper) -> DigestPaper:
    """Copy what a card shows; authors' affiliations, when known, in author order."""
    authors = [a for a in paper.authors or [] if isinstance(a, dict)]
    affiliations: list[str] = []
    for author in authors:
        found = author.get("affiliation") or author.get("affiliations") or []
        for name in [found] if isinstance(found, str) else found:
            if isinstance(name, str) and name.strip():
                affiliations.append(name.strip())
    return DigestPaper(
        arxiv_id=paper.arxiv_id,
        title=paper.title,
        abstract=paper.abstract or "",
        authors=tuple(str(a.get("name", "")) for a in authors),
        categories=tuple(paper.categories or ()),
        upvotes=paper.upvotes or 0,
        abs_url=paper.abs_url,
        pdf_url=paper.pdf_url,
        hf_url=paper.hf_url,
        code_url=paper.code_url,
        project_url=paper.project_url,
        thumbnail_url=paper.thumbnail_url,
        ai_summary=paper.ai_summary,
        affiliations=tuple(dict.fromkeys(affiliations)),
        num_comments=paper.num_comments or 0,
        github_stars=paper.github_stars,
    )
