"""ETag / Last-Modified of each fetched URL, kept between runs in ServiceState.

A feed that has not changed answers 304 with no body: arXiv's listings change once a
day, so most scheduled runs cost the source almost nothing.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy.orm import Session

from newsletter.ingest.http import Fetched
from newsletter.models import ServiceState
from newsletter.timeutil import utcnow


def _key(url: str) -> str:
    # ServiceState keys are short; a digest of the full URL (with query) fits and is stable.
    return "http-validators:" + hashlib.sha256(url.encode()).hexdigest()[:40]


def load_validators(session: Session, url: str) -> dict[str, str]:
    """Return the validators stored for `url` (empty when never fetched)."""
    row = session.get(ServiceState, _key(url))
    if row is None:
        return {}
    try:
        value = json.loads(row.value)
    except ValueError:
        return {}
    return {k: v for k, v in value.items() if k in {"etag", "last_modified"} and v}


def save_validators(session: Session, url: str, fetched: Fetched) -> None:
    """Remember a response's validators; call only after its content was stored."""
    if not (fetched.etag or fetched.last_modified):
        return
    value = json.dumps({"etag": fetched.etag, "last_modified": fetched.last_modified})
    row = session.get(ServiceState, _key(url))
    if row is None:
        session.add(ServiceState(key=_key(url), value=value))
    else:
        row.value = value
        row.updated_at = utcnow()
