"""/admin/readers: find a reader by address, and act on them.

Actions (CSRF-protected POSTs, each logged with who and when): mail the preferences
link again, suppress or unsuppress the address, unsubscribe, export their data, and
delete them (the same erasure as the reader's own "Delete me").
"""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from newsletter.db import session_scope
from newsletter.models import Subscriber, SubscriberStatus
from newsletter.operations import actions
from newsletter.operations.readers import (
    ReaderView,
    find_reader,
    reader_view,
    suppress,
    unsubscribe,
    unsuppress,
)
from newsletter.subscriptions.erasure import erase_subscriber, reader_data
from newsletter.subscriptions.mail import queue_mail
from newsletter.subscriptions.service import is_suppressed
from newsletter.subscriptions.validation import InvalidInput
from newsletter.web.routes.admin import BACK, Credentials, guarded_form, refusal, text_field
from newsletter.web.templating import notice, render_page

router = APIRouter()


class NoSuchReader(LookupError):
    """The reader is gone (deleted, or never was)."""


def _page(
    request: Request, view: ReaderView | None, done: str | None = None, error: str = ""
) -> HTMLResponse:
    context = {"r": view, "done": done, "error": error, "query": view.query if view else ""}
    return render_page(request, "admin_reader.html", context, status_code=400 if error else 200)


def lookup(address: str) -> ReaderView:
    with session_scope() as session:
        return find_reader(session, address)


def by_id(subscriber_id: int, done_id: int | None) -> tuple[ReaderView, str | None]:
    with session_scope() as session:
        subscriber = _reader(session, subscriber_id)
        done = actions.one(session, done_id)
        return reader_view(session, subscriber), done.detail if done else None


@router.get("/admin/readers", response_class=HTMLResponse)
async def find_page(request: Request, credentials: Credentials, email: str = "") -> Response:
    refused = refusal(request, credentials)
    if refused is not None:
        return refused
    if not email.strip():
        return _page(request, None)
    try:
        view = await run_in_threadpool(lookup, email[:400])
    except InvalidInput as exc:
        return _page(request, None, error=str(exc).split("': ", 1)[-1])
    return _page(request, view)


@router.get("/admin/readers/{subscriber_id}", response_class=HTMLResponse)
async def reader_page(
    request: Request, credentials: Credentials, subscriber_id: int, done: int | None = None
) -> Response:
    refused = refusal(request, credentials)
    if refused is not None:
        return refused
    try:
        view, said = await run_in_threadpool(by_id, subscriber_id, done)
    except NoSuchReader as exc:
        return notice(request, "No such reader", f"{exc}.", 404, link=BACK)
    return _page(request, view, said)


# --- the actions ----------------------------------------------------------------------


def _reader(session: Session, subscriber_id: int) -> Subscriber:
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        raise NoSuchReader(f"there is no reader {subscriber_id}")
    return subscriber


def _act(
    subscriber_id: int, actor: str, action: str, change: Callable[..., str], *args: object
) -> int:
    """Run one change and log it in the same transaction; return the log row's id."""
    with session_scope() as session:
        subscriber = _reader(session, subscriber_id)
        said = change(session, subscriber, *args)
        return actions.record(session, actor, action, f"subscriber {subscriber_id}", said)


def _resend_links(subscriber_id: int, actor: str) -> int:
    with session_scope() as session:
        subscriber = _reader(session, subscriber_id)
        if subscriber.status != SubscriberStatus.ACTIVE:
            raise InvalidInput(
                f"only active readers get their links; this one is {subscriber.status}"
            )
        if is_suppressed(session, subscriber.email):
            raise InvalidInput("the address is suppressed: lift the suppression first")
    # After the read committed: a page never sends mail inside its transaction.
    sent = queue_mail("links", subscriber_id)
    said = "preferences link queued" if sent else "the email could not be queued; try again"
    with session_scope() as session:
        return actions.record(session, actor, "resend links", f"subscriber {subscriber_id}", said)


def _unsubscribe(subscriber_id: int, actor: str) -> int:
    with session_scope() as session:
        said, goodbye = unsubscribe(session, _reader(session, subscriber_id))
        done = actions.record(session, actor, "unsubscribe", f"subscriber {subscriber_id}", said)
    if goodbye:  # as the reader's own unsubscribe link does, once it has committed
        queue_mail("goodbye", subscriber_id)
    return done


def _export(subscriber_id: int, actor: str) -> str:
    with session_scope() as session:
        subscriber = _reader(session, subscriber_id)
        data = reader_data(session, subscriber)
        actions.record(session, actor, "export", f"subscriber {subscriber_id}", "data exported")
    return json.dumps(data, indent=2, ensure_ascii=False)


def _delete(subscriber_id: int, actor: str) -> int:
    with session_scope() as session:
        if erase_subscriber(session, subscriber_id) is None:
            raise NoSuchReader(f"there is no reader {subscriber_id}")
        said = "deleted: only a hash of the address is kept, so imports cannot add it back"
        return actions.record(session, actor, "delete", f"subscriber {subscriber_id}", said)


ACTIONS = ("links", "suppress", "unsuppress", "unsubscribe", "export", "delete")


@router.post("/admin/readers/{subscriber_id}/{action}")
async def reader_action(
    request: Request, credentials: Credentials, subscriber_id: int, action: str
) -> Response:
    if action not in ACTIONS:
        return notice(request, "No such action", f"Use one of: {', '.join(ACTIONS)}.", 404)
    guarded = await guarded_form(request, credentials)
    if isinstance(guarded, Response):
        return guarded
    form, actor = guarded
    back = f"/admin/readers/{subscriber_id}"
    try:
        if action == "export":
            body = await run_in_threadpool(_export, subscriber_id, actor)
            name = f"reader-{subscriber_id}.json"
            return Response(
                body,
                media_type="application/json",
                headers={
                    "Content-Disposition": f'attachment; filename="{name}"',
                    "Cache-Control": "no-store",
                },
            )
        if action == "delete":
            if form.get("understood") != "yes":
                message = "Tick the box that says you understand deleting cannot be undone."
                return notice(request, "Nothing was deleted", message, 400, link=("Back", back))
            done = await run_in_threadpool(_delete, subscriber_id, actor)
            return RedirectResponse(f"/admin?done={done}#actions", status_code=303)
        if action == "links":
            done = await run_in_threadpool(_resend_links, subscriber_id, actor)
        elif action == "unsubscribe":
            done = await run_in_threadpool(_unsubscribe, subscriber_id, actor)
        elif action == "suppress":
            detail = text_field(form, "detail") or "suppressed by an operator"
            done = await run_in_threadpool(_act, subscriber_id, actor, "suppress", suppress, detail)
        else:
            done = await run_in_threadpool(_act, subscriber_id, actor, "unsuppress", unsuppress)
    except NoSuchReader as exc:
        return notice(request, "No such reader", f"{exc}.", 404, link=BACK)
    except InvalidInput as exc:
        return notice(request, "Nothing was done", f"{exc}.", 400, link=("Back", back))
    return RedirectResponse(f"{back}?done={done}", status_code=303)
