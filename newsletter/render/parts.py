"""Render and inline each template once per edition; compose every reader's email from the parts.

premailer costs tens of milliseconds per email, so it runs once per digest shell and once
per paper card per edition (per worker process). Templates are rendered with unguessable
slot markers where per-reader values go (click links, reason, address, links); the
inlined output is split at those markers into static fragments, each also encoded as
quoted-printable once (fragments.py). Composing a reader's email is then a join of cached
fragments and a few escaped values (values.py), and its size is known exactly before any
encoding.

The result is byte-identical to rendering and inlining each email from scratch
(`digest.render_digest`) because no stylesheet selector depends on a card's position.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from newsletter import services
from newsletter.render import signing
from newsletter.render.digest import (
    HTML_LIMIT,
    LEAD_LEVELS,
    Card,
    ClickUrls,
    DigestPaper,
    EditionLabels,
    Reader,
    card_context,
    shell_context,
    split_picks,
    subject_for,
)
from newsletter.render.environment import email_environment, inline_css
from newsletter.render.fragments import (
    CARD_END,
    CARD_SEP,
    CARD_START,
    NEWLINE,
    Compiled,
    Piece,
    join,
    size_of,
    slot,
)
from newsletter.render.values import (
    card_values,
    shell_values,
    shown_values,
    variant,
)
from newsletter.subscriptions.links import FEEDBACK_CHOICES

# How many of an edition's candidates one premailer run inlines ahead of need.
WARM_BATCH = 200
# (start, count) -> the edition's candidate papers in that range, most popular first.
Candidates = Callable[[int, int], Sequence[DigestPaper]]


@dataclass
class Composed:
    """One reader's digest, ready for MIME: subject, HTML and text as pieces."""

    subject: str
    html: list[Piece]
    text: list[Piece]
    shown: int
    level: int
    total: int

    @property
    def html_str(self) -> str:
        return join(self.html)

    @property
    def text_str(self) -> str:
        return join(self.text)

    @property
    def html_size(self) -> int:
        return size_of(self.html)


SHELL_SLOTS = (
    "email",
    "intro",
    "preheader",
    "view_url",
    "preferences_url",
    "unsubscribe_url",
    "next_due",
    "more_label",
)
# The shell's variants: `digest.shell_flags`' names, in its order.
SHELL_FLAGS = ("has_papers", "has_more", "has_next_due", "has_trending", "has_tracking")


@dataclass
class EditionParts:
    """The inlined, split templates of one edition, filled in lazily as readers need them."""

    labels: EditionLabels
    _shells: dict[tuple[bool, ...], tuple[Compiled, Compiled]] = field(default_factory=dict)
    _cards: dict[tuple[DigestPaper, int, bool], tuple[Compiled, Compiled]] = field(
        default_factory=dict
    )
    premailer_runs: int = 0
    # The edition's most upvoted candidates, for "Also trending" (see trending.py).
    trending: tuple[int, list[DigestPaper]] | None = None

    def shell(self, *flags: bool) -> tuple[Compiled, Compiled]:
        """The shell variant for `flags` (`digest.shell_flags`' values, in its order)."""
        key = tuple(flags)
        found = self._shells.get(key)
        if found is None:
            env = email_environment()
            values: dict[str, Any] = {name: slot(name) for name in SHELL_SLOTS}
            values.update(zip(SHELL_FLAGS, flags, strict=True))
            html = env.get_template("email/digest.html").render(
                shell_context(
                    self.labels,
                    {
                        **values,
                        "cards": Markup(f"<!--{slot('cards')}-->"),
                        "trending_cards": Markup(f"<!--{slot('trending_cards')}-->"),
                    },
                )
            )
            text = env.get_template("email/digest.txt").render(
                shell_context(
                    self.labels,
                    {**values, "cards": slot("cards"), "trending_cards": slot("trending_cards")},
                )
            )
            self.premailer_runs += 1
            found = (Compiled.parse(inline_css(html)), Compiled.parse(text))
            self._shells[key] = found
        return found

    warmed: bool = False
    warm_cursor: int = 0

    def ensure(self, picks: Sequence[Card], candidates: Candidates) -> None:
        """Make sure the picks' cards are cached, inlining the next candidates with them.

        premailer's cost is mostly per run (~20 ms), not per card (~2 ms in a batch), so
        a miss inlines the edition's next WARM_BATCH candidates (most popular first) in
        the same run: an edition costs a few runs per process, not one per reader who
        brings a new paper.
        """
        wanted = [(pick.paper, 0, bool(pick.reason)) for pick in picks]
        if self.warmed and all(key in self._cards for key in wanted):
            return
        more = candidates(self.warm_cursor, WARM_BATCH)
        self.warm_cursor += WARM_BATCH
        self.warmed = True
        self.prepare([*wanted, *((paper, 0, True) for paper in more)])

    def prepare(self, wanted: Iterable[tuple[DigestPaper, int, bool]]) -> None:
        """Render and inline every card in `wanted` not yet cached, in one premailer run."""
        missing = list(dict.fromkeys(k for k in wanted if k not in self._cards))
        if not missing:
            return
        env = email_environment()
        html_cards, text_cards = [], []
        for paper, level, has_reason in missing:
            urls = {t: slot(f"url_{t}") for t in (*paper.targets, *FEEDBACK_CHOICES)}
            reason = slot("reason") if has_reason else ""
            context = card_context(paper, urls, reason, level, slot("number"))
            html_cards.append(env.get_template("email/_paper.html").render(context))
            text_cards.append(env.get_template("email/_paper.txt").render(context))
        cards = Markup(CARD_START + CARD_SEP.join(html_cards) + CARD_END)
        values: dict[str, Any] = {name: slot(name) for name in SHELL_SLOTS}
        values.update(dict.fromkeys(SHELL_FLAGS, False), has_papers=True)
        values.update(cards=cards, trending_cards="")
        document = env.get_template("email/digest.html").render(shell_context(self.labels, values))
        self.premailer_runs += 1
        inlined = inline_css(document, leftover=False)
        start = inlined.index(CARD_START) + len(CARD_START)
        region = inlined[start : inlined.index(CARD_END, start)]
        parts = region.split(CARD_SEP)
        if len(parts) != len(missing):
            raise RuntimeError("premailer lost a card separator")  # a template bug
        for key, html, text in zip(missing, parts, text_cards, strict=True):
            self._cards[key] = (Compiled.parse(html), Compiled.parse(text))

    def compose(
        self,
        reader: Reader,
        picks: Sequence[Card],
        click_urls: ClickUrls,
        *,
        limit: int | None = HTML_LIMIT,
        with_html: bool = True,
    ) -> Composed:
        """Compose one reader's digest; trim TL;DRs, then papers, to stay under `limit`.

        "Also trending" cards (at most two) always stay: papers are dropped from the
        reader's own picks, from the end.
        """
        mine, trending = split_picks(picks)
        ordered = [*mine, *trending]
        if click_urls is signing.click_urls:  # the usual one: sign the email's links at once
            urls = signing.click_urls_of_papers(reader, [pick.paper for pick in ordered])
        else:
            urls = [click_urls(reader, pick.paper) for pick in ordered]
        values = [
            card_values(paper_urls, pick.reason, number)
            for number, (paper_urls, pick) in enumerate(zip(urls, ordered, strict=True), start=1)
        ]
        keys = [(pick.paper, bool(pick.reason)) for pick in ordered]
        n_mine = len(mine)
        level, shown = 0, n_mine
        html: list[Piece] = []
        shell_html, shell_text = shell_values(self.labels, reader, picks, shown)
        if with_html:
            for level in range(len(LEAD_LEVELS)):
                cards = self._cards_of(keys, values, level, 0, prepare=True)
                html = self._html(reader, picks, cards, n_mine, shown, shell_html)
                if limit is None or size_of(html) <= limit:
                    break
            else:
                # Shortest TL;DRs and still too big: drop the reader's papers from the end.
                while limit is not None and shown > 0 and size_of(html) > limit:
                    shown -= 1
                    shown_values(picks, shown, shell_html, shell_text)
                    html = self._html(reader, picks, cards, n_mine, shown, shell_html)
        kept = [*range(shown), *range(n_mine, len(ordered))]
        text_of = self._cards_of(
            [keys[i] for i in kept], [values[i] for i in kept], level, 1, prepare=not with_html
        )
        text_cards: list[list[Piece]] = [[], []]
        for index, card in zip(kept, text_of, strict=True):
            out = text_cards[index >= n_mine]
            if out:
                out.append(NEWLINE)
            out.extend(card)
        text: list[Piece] = []
        shell_text["cards"], shell_text["trending_cards"] = text_cards
        self.shell(*variant(reader, picks, shown))[1].fill(shell_text, text)
        # Mail parts end with a line break (the standard library adds one too).
        for pieces in (html, text):
            if pieces and not pieces[-1].text.endswith("\n"):
                pieces.append(NEWLINE)
        return Composed(
            subject=subject_for(self.labels, picks),
            html=html,
            text=text,
            shown=shown,
            level=level,
            total=n_mine,
        )

    def _cards_of(
        self,
        keys: Sequence[tuple[DigestPaper, bool]],
        values: Sequence[tuple[dict[str, Piece], dict[str, Piece]]],
        level: int,
        which: int,
        *,
        prepare: bool,
    ) -> list[list[Piece]]:
        """Fill the HTML (which=0) or text (1) card of each pick at trim `level`."""
        if prepare:
            self.prepare((paper, level, has_reason) for paper, has_reason in keys)
        cached = self._cards
        cards = []
        for (paper, has_reason), reader_values in zip(keys, values, strict=False):
            out: list[Piece] = []
            cached[(paper, level, has_reason)][which].fill(reader_values[which], out)
            cards.append(out)
        return cards

    def _html(
        self,
        reader: Reader,
        picks: Sequence[Card],
        cards: list[list[Piece]],
        n_mine: int,
        shown: int,
        values: dict[str, Piece | list[Piece]],
    ) -> list[Piece]:
        """Fill the HTML shell; `values` must already hold the preheader for `shown`.

        `cards` are the reader's own `n_mine` cards, then the trending ones.
        """
        shell = self.shell(*variant(reader, picks, shown))[0]
        values["cards"] = [piece for card in cards[:shown] for piece in card]
        values["trending_cards"] = [piece for card in cards[n_mine:] for piece in card]
        out: list[Piece] = []
        shell.fill(values, out)
        return out


# one or two editions at a time (timezones straddle a date change), so keep a few.
_MAX_EDITIONS = 4


@dataclass
class _EditionCache:
    editions: OrderedDict[str, EditionParts] = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def edition_parts(edition_key: str) -> EditionParts:
    """Return this process's cached parts for `edition_key`, creating them if new."""
    cache = services.current().resource("edition_parts", lambda _s: _EditionCache())
    with cache.lock:
        parts = cache.editions.get(edition_key)
        if parts is None:
            parts = EditionParts(EditionLabels.from_key(edition_key))
            cache.editions[edition_key] = parts
            while len(cache.editions) > _MAX_EDITIONS:
                cache.editions.popitem(last=False)
        else:
            cache.editions.move_to_end(edition_key)
        return parts
