"""/admin actions on sending: pause and resume, retry an edition's failed or uncertain rows.

Each is a POST behind the admin password and a CSRF token, logged (who, when, what)
in admin_actions; the operator lands back on /admin, which shows the logged outcome.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from newsletter.db import session_scope
from newsletter.models import DeliveryState
from newsletter.operations import actions, sending
from newsletter.operations.editions import UnknownEdition, retry
from newsletter.subscriptions.validation import InvalidInput
from newsletter.web.routes.admin import BACK, Credentials, guarded_form, text_field
from newsletter.web.templating import notice

router = APIRouter()


def log_action(actor: str, action: str, target: str | None, detail: str) -> int:
    with session_scope() as session:
        return actions.record(session, actor, action, target, detail)


def landed(action_id: int, anchor: str = "actions") -> Response:
    return RedirectResponse(f"/admin?done={action_id}#{anchor}", status_code=303)


@router.post("/admin/sending/pause")
async def pause_sending(request: Request, credentials: Credentials) -> Response:
    guarded = await guarded_form(request, credentials)
    if isinstance(guarded, Response):
        return guarded
    form, actor = guarded
    try:
        reason = text_field(form, "reason")
    except InvalidInput as exc:
        return notice(request, "Sending was not paused", f"The reason: {exc}.", 400, link=BACK)
    if not reason:
        message = "Say why you pause sending: the reason is shown to every operator."
        return notice(request, "Sending was not paused", message, 400, link=BACK)
    await run_in_threadpool(sending.pause, f"paused by {actor}: {reason}")
    done = await run_in_threadpool(log_action, actor, "pause sending", None, reason)
    return landed(done, "sending")


@router.post("/admin/sending/resume")
async def resume_sending(request: Request, credentials: Credentials) -> Response:
    guarded = await guarded_form(request, credentials)
    if isinstance(guarded, Response):
        return guarded
    _form, actor = guarded
    said = await run_in_threadpool(sending.resume)
    done = await run_in_threadpool(log_action, actor, "resume sending", None, "; ".join(said))
    return landed(done, "sending")


@router.post("/admin/editions/{edition_id}/retry")
async def retry_edition(request: Request, credentials: Credentials, edition_id: int) -> Response:
    guarded = await guarded_form(request, credentials)
    if isinstance(guarded, Response):
        return guarded
    form, actor = guarded
    which = form.get("which")
    if which not in (DeliveryState.FAILED, DeliveryState.UNCERTAIN):
        message = "Choose which deliveries to retry: failed or uncertain."
        return notice(request, "Nothing was retried", message, 400, link=BACK)
    state = DeliveryState(str(which))
    if state == DeliveryState.UNCERTAIN and form.get("understood") != "yes":
        message = (
            "Uncertain deliveries may have reached their readers already: retrying sends "
            "them again, so some readers may get this edition twice. Tick the box that "
            "says you accept this, then retry."
        )
        return notice(request, "Nothing was retried", message, 400, link=BACK)
    try:
        count, said = await run_in_threadpool(retry, edition_id, state)
    except UnknownEdition as exc:
        return notice(request, "Nothing was retried", f"{exc}.", 404, link=BACK)
    detail = f"reopened {count} {state} deliveries; {said}"
    done = await run_in_threadpool(
        log_action, actor, f"retry {state}", f"edition {edition_id}", detail
    )
    return landed(done, "editions")
