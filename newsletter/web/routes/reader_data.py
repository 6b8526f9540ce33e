"""The reader's own data, from their preferences link: download it, or delete it all.

"Download my data" is a POST (CSRF-checked) that answers with a JSON file; "Delete me"
shows what will go and asks once more, and only the confirming POST erases. Both call
newsletter.subscriptions.erasure, as /admin's export and delete do.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from newsletter.db import session_scope
from newsletter.subscriptions.erasure import erase_subscriber, reader_data
from newsletter.subscriptions.signup import subscriber_for_token
from newsletter.subscriptions.tokens import InvalidToken
from newsletter.web.formdata import BadForm, csrf_problem, read_form, unreadable
from newsletter.web.routes.preferences import bad_link
from newsletter.web.templating import notice, render_page

router = APIRouter()


def export(token: str) -> str:
    with session_scope() as session:
        data = reader_data(session, subscriber_for_token(session, "preferences", token))
    return json.dumps(data, indent=2, ensure_ascii=False)


def address(token: str) -> str:
    with session_scope() as session:
        return subscriber_for_token(session, "preferences", token).email


def erase(token: str) -> None:
    with session_scope() as session:
        subscriber = subscriber_for_token(session, "preferences", token)
        erase_subscriber(session, subscriber.id)


async def checked_form(request: Request, token: str) -> Response | None:
    """Refuse a bad link or a form without a valid CSRF token; None when all is well."""
    try:
        await run_in_threadpool(address, token)
        form = await read_form(request)
    except InvalidToken as exc:
        return bad_link(request, str(exc))
    except BadForm as exc:
        return unreadable(request, exc)
    problem = csrf_problem(request, form)
    if problem:
        back = ("Back to your preferences", f"/preferences/{token}#data")
        return notice(request, "Nothing was done", problem, 400, link=back)
    return None


@router.post("/preferences/{token}/data")
async def download(request: Request, token: str) -> Response:
    refused = await checked_form(request, token)
    if refused is not None:
        return refused
    try:
        body = await run_in_threadpool(export, token)
    except InvalidToken as exc:
        return bad_link(request, str(exc))
    return Response(
        body,
        media_type="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="my-trending-papers-data.json"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/preferences/{token}/delete", response_class=HTMLResponse)
async def delete_page(request: Request, token: str) -> Response:
    try:
        email = await run_in_threadpool(address, token)
    except InvalidToken as exc:
        return bad_link(request, str(exc))
    return render_page(request, "delete_me.html", {"token": token, "email": email})


@router.post("/preferences/{token}/delete", response_class=HTMLResponse)
async def delete_submit(request: Request, token: str) -> Response:
    refused = await checked_form(request, token)
    if refused is not None:
        return refused
    try:
        await run_in_threadpool(erase, token)
    except InvalidToken as exc:
        return bad_link(request, str(exc))
    return notice(
        request,
        "Your data is deleted",
        "We deleted your subscription, your interests, your ratings and the record of "
        "the digests we sent you. We kept only a scrambled fingerprint of your address, "
        "so that no imported list can subscribe you again. You will get no more email "
        "from us; you are welcome to sign up again at any time.",
        link=("Go to the start page", "/"),
    )
