"""Signed links for many emails per second, in the format `subscriptions.tokens` reads.

A digest carries ~31 signed links (each paper's tracked links, preferences, unsubscribe,
view in browser). `tokens.make_token` builds an itsdangerous serializer per token, which
makes a signer, derives its key, sets up an HMAC, encodes JSON and tries zlib: ~18 us a
token, three times the cost of composing the rest of the email. `FastSigner` makes the
same tokens from the serializer's own signer, with its HMAC keyed once (see its figures).

The URL shapes are those of `subscriptions.links`; tests compare every link with
`links_for` and `click_link`, and every token with `make_token`, byte for byte.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring
from urllib.parse import quote

from itsdangerous import BadData, URLSafeTimedSerializer

from newsletter.config import get_settings
from newsletter.render.digest import DigestPaper, Reader
from newsletter.subscriptions.links import FEEDBACK_CHOICES, SubscriberLinks, own_url

# The salt `subscriptions.tokens` signs each purpose with (a test checks they agree).
SALT = "newsletter.{purpose}"


@functools.lru_cache(maxsize=32)
def serializer(secret_key: str, purpose: str) -> URLSafeTimedSerializer:
    """The serializer `subscriptions.tokens` signs `purpose` with under `secret_key`."""
    return URLSafeTimedSerializer(secret_key, salt=SALT.format(purpose=purpose))


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> bytes:
    """itsdangerous' base64: URL-safe alphabet, no padding (as `encoding.base64_encode`)."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=")


class FastSigner:
    """Make `serializer.dumps([id, generation, extra])` tokens at ~1.3 us each, not ~18.

    A hand-written twin of itsdangerous' `dumps`, kept because it pays on a whole email:
    bench/bench_render.py, 1,000 readers x 10 papers, warm edition (compose + sign ~31
    links + MIME bytes), emails per CPU second: 3,690 with it against 1,160 with plain
    itsdangerous (3.2x) and 1,650 with an itsdangerous subclass that keeps its signer,
    derived key and keyed HMAC per purpose (2.2x; the bench's row (c')).

    It skips what `dumps` redoes per token: the JSON encoder's dispatch, a zlib attempt
    that does not shorten payloads this small (itsdangerous reads both forms) and the
    timestamp's encoding (once per second). It uses only the serializer's public parts
    (its signer's separator, derived key and digest), and on construction signs a sample
    and reads it back with the serializer itself: a library change that alters the format
    raises here, loudly, instead of sending links nobody can open.
    """

    def __init__(self, serializer: URLSafeTimedSerializer) -> None:
        signer = serializer.make_signer()
        self._sep = signer.sep
        # HMAC (RFC 2104) with the padded key's inner and outer hash states made once and
        # copied per token: three C calls, where the `hmac` module's copy() is Python.
        name = signer.digest_method().name
        block = hashlib.new(name).block_size
        key = signer.derive_key()
        if len(key) > block:
            key = hashlib.new(name, key).digest()
        key = key.ljust(block, b"\0")
        self._inner = hashlib.new(name, bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.new(name, bytes(b ^ 0x5C for b in key))
        self._stamp: tuple[int, bytes] = (-1, b"")
        # Click extras ("arxiv_id|target") repeat for every reader: encode each once.
        self._extras: dict[str, bytes] = {}
        sample = [987654, 3, "2401.00001|abs ✓"]
        token = self.tokens(987654, 3, ["2401.00001|abs ✓"])[0]
        try:
            read = serializer.loads(token)
        except (BadData, ValueError, TypeError, LookupError) as exc:
            raise RuntimeError(f"fast tokens do not read back with itsdangerous: {exc}") from exc
        if read != sample:
            raise RuntimeError(f"fast tokens read back as {read!r}, not {sample!r}")

    def _timestamp(self) -> bytes:
        """The signer's timestamp (big-endian seconds, base64), encoded once per second."""
        now = int(time.time())
        second, stamp = self._stamp
        if second != now:
            stamp = _b64(now.to_bytes((now.bit_length() + 7) // 8 or 1, "big"))
            self._stamp = (now, stamp)
        return stamp

    def tokens(self, subscriber_id: int, generation: int, extras: Sequence[str]) -> list[str]:
        """The tokens of `[subscriber_id, generation, extra]` for each of `extras`."""
        # The compact JSON itsdangerous writes (no spaces, UTF-8 kept), written directly.
        head = f"[{int(subscriber_id)},{int(generation)},".encode("ascii")
        sep = self._sep
        tail = sep + self._timestamp()
        inner_state, outer_state, encoded = self._inner, self._outer, self._extras
        b2a, urlsafe = binascii.b2a_base64, _URLSAFE  # `_b64`, inlined: ~31 calls an email
        out = []
        for extra in extras:
            end = encoded.get(extra)
            if end is None:
                if len(encoded) > 65536:  # an edition's papers x targets fit many times
                    encoded.clear()
                end = encoded[extra] = f"{encode_basestring(extra)}]".encode()
            value = b2a(head + end, newline=False).translate(urlsafe).rstrip(b"=") + tail
            inner = inner_state.copy()
            inner.update(value)
            outer = outer_state.copy()
            outer.update(inner.digest())
            mac = b2a(outer.digest(), newline=False).translate(urlsafe).rstrip(b"=")
            out.append((value + sep + mac).decode("ascii"))
        return out


@dataclass(frozen=True)
class _Signers:
    """The fast signer of each purpose an email's links carry, for one secret."""

    click: FastSigner
    preferences: FastSigner
    unsubscribe: FastSigner
    view: FastSigner
    feedback: FastSigner


@functools.lru_cache(maxsize=8)
def _signers(secret_key: str) -> _Signers:
    return _Signers(
        *(
            FastSigner(serializer(secret_key, p))
            for p in ("click", "preferences", "unsubscribe", "view", "feedback")
        )
    )


def reader_links(subscriber_id: int, generation: int, edition_key: str | None) -> SubscriberLinks:
    """The same links as `links.links_for(...)`, signed by the fast signers."""
    settings = get_settings()
    signers = _signers(settings.secret_key)
    base = settings.base_url
    [unsubscribe] = signers.unsubscribe.tokens(subscriber_id, generation, [""])
    [preferences] = signers.preferences.tokens(subscriber_id, generation, [""])
    view = None
    if edition_key:
        [token] = signers.view.tokens(subscriber_id, generation, [edition_key])
        view = f"{base}/digest/{token}"
    return SubscriberLinks(
        preferences=f"{base}/preferences/{preferences}",
        unsubscribe=f"{base}/unsubscribe/{unsubscribe}",
        unsubscribe_mailto=(
            f"mailto:{settings.sender_address}?subject=" + quote(f"unsubscribe {unsubscribe}")
        ),
        view=view,
    )


def click_urls(reader: Reader, paper: DigestPaper) -> dict[str, str | None]:
    """The links of one card: tracked (as `links.click_link`) or direct, and feedback."""
    return click_urls_of_papers(reader, [paper])[0]


def click_urls_of_papers(
    reader: Reader, papers: Sequence[DigestPaper]
) -> list[dict[str, str | None]]:
    """`click_urls` and the feedback links of each of `papers`, signed in two calls.

    One call per email, not per paper: the per-call setup was a sixth of an email's cost.
    A reader who turned tracking off gets the papers' own URLs instead of /c/ links.
    """
    settings = get_settings()
    signers = _signers(settings.secret_key)
    sid, gen = reader.subscriber_id, reader.generation
    feedback = f"{settings.base_url}/f/"
    liked = iter(
        signers.feedback.tokens(
            sid, gen, [f"{paper.arxiv_id}|{c}" for paper in papers for c in FEEDBACK_CHOICES]
        )
    )
    out: list[dict[str, str | None]]
    if reader.tracking:
        base = f"{settings.base_url}/c/"
        extras = [f"{paper.arxiv_id}|{t}" for paper in papers for t in paper.targets]
        made = iter(signers.click.tokens(sid, gen, extras))
        out = [{target: base + next(made) for target in paper.targets} for paper in papers]
    else:
        out = [direct_urls(paper) for paper in papers]
    for urls in out:
        for choice in FEEDBACK_CHOICES:
            urls[choice] = feedback + next(liked)
    return out


def direct_urls(paper: DigestPaper) -> dict[str, str | None]:
    """The paper's own URLs for its targets (untracked links), arXiv's as the fallback."""
    out: dict[str, str | None] = {target: own_url(paper, target) for target in paper.targets}
    if out["abs"] is None:
        out["abs"] = f"https://arxiv.org/abs/{quote(paper.arxiv_id, safe='/.')}"
    return out
