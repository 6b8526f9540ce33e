"""Confirm a change of address: GET shows a button, only POST moves the subscription."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from newsletter.subscriptions.signup import check_email_change, confirm_email_change
from newsletter.subscriptions.tokens import InvalidToken
from newsletter.web.formdata import BadForm, csrf_problem, read_form, unreadable
from newsletter.web.templating import notice, render_page

router = APIRouter()


def bad_link(request: Request, message: str) -> HTMLResponse:
    return notice(
        request,
        "This link doesn't work",
        f"{message} Ask for a new one from your preferences page.",
        400,
    )


@router.get("/change-email/{token}", response_class=HTMLResponse)
async def change_email_page(request: Request, token: str) -> HTMLResponse:
    try:
        old, new = await run_in_threadpool(check_email_change, token)
    except InvalidToken as exc:
        return bad_link(request, str(exc))
    context = {"old_email": old, "new_email": new, "token": token, "error": None}
    return render_page(request, "change_email.html", context)


@router.post("/change-email/{token}", response_class=HTMLResponse)
async def change_email_submit(request: Request, token: str) -> Response:
    try:
        form = await read_form(request)
        old, new = await run_in_threadpool(check_email_change, token)
    except BadForm as exc:
        return unreadable(request, exc)
    except InvalidToken as exc:
        return bad_link(request, str(exc))
    problem = csrf_problem(request, form)
    if problem:
        context = {"old_email": old, "new_email": new, "token": token, "error": problem}
        return render_page(request, "change_email.html", context, 400)
    try:
        _, preferences = await run_in_threadpool(confirm_email_change, token)
    except InvalidToken as exc:
        return bad_link(request, str(exc))
    return RedirectResponse(f"/preferences/{preferences}?saved=email-moved", status_code=303)
