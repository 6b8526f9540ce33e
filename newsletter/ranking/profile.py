"""What the ranker knows of a reader and of a paper, free of the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Profile:
    """A reader's interests and history, as the ranker sees them."""

    keywords: list[str] = field(default_factory=list)
    negative_keywords: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    description: str = ""
    seed_papers: list[str] = field(default_factory=list)
    liked: list[str] = field(default_factory=list)
    clicked: list[str] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)
    already_sent: list[str] = field(default_factory=list)

    @property
    def texts(self) -> list[str]:
        """The reader's own words, each embedded on its own: keywords, then description."""
        return [*self.keywords, self.description] if self.description else list(self.keywords)


@dataclass
class CandidatePaper:
    """The parts of a paper that ranking reads."""

    arxiv_id: str
    title: str
    abstract: str = ""
    categories: list[str] = field(default_factory=list)
    upvotes: int = 0
    published_at: datetime | None = None

    @property
    def text(self) -> str:
        return f"{self.title}. {self.abstract}"


@dataclass(slots=True)
class Pick:
    """One chosen paper for one reader, with why."""

    arxiv_id: str
    score: float
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"arxiv_id": self.arxiv_id, "score": round(self.score, 6), "reason": self.reason}
