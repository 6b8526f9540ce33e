"""The signup page and double opt-in: GET shows, only POST changes anything."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from newsletter.subscriptions.signup import (
    SignupOutcome,
    check_confirm_token,
    confirm,
    request_signup,
)
from newsletter.subscriptions.tokens import InvalidToken, make_token, read_token
from newsletter.web.formdata import BadForm, csrf_problem, read_form, unreadable
from newsletter.web.forms import (
    COMMON_CATEGORIES,
    WEEKDAYS,
    default_values,
    parse_preferences_form,
    timezones,
)
from newsletter.web.templating import notice, render_page
from newsletter.web.throttle import check_mail_caps, too_many

router = APIRouter()


def signup_page(
    request: Request,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    prefill: dict[str, str] | None = None,
    message: str | None = None,
) -> HTMLResponse:
    return render_page(
        request,
        "signup.html",
        {
            "v": values or {**default_values(), **(prefill or {})},
            "errors": errors or {},
            "message": message,
            "categories": COMMON_CATEGORIES,
            "timezones": timezones(),
            "weekdays": WEEKDAYS,
            # After a submit the person chose a timezone: the script must not override it.
            "timezone_chosen": values is not None,
        },
        status_code=status_code,
    )


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request, email: str = "", seed: str = "") -> HTMLResponse:
    # The site's subscribe boxes lead here with the address (and, from a paper's page,
    # that paper as a seed) filled in. Only a GET: nothing is stored until the form is sent.
    seed = seed[:200]
    note = (
        f"Papers like {seed} will lead your digest (it is filled in under “Papers you "
        "liked”). Add topics if you like, or just choose your hour and subscribe."
        if seed
        else None
    )
    return signup_page(request, prefill={"email": email[:320], "seed_papers": seed}, message=note)


@router.post("/signup", response_class=HTMLResponse)
async def signup_submit(request: Request) -> Response:
    try:
        form = await read_form(request)
    except BadForm as exc:
        return unreadable(request, exc)
    result = parse_preferences_form(form, with_email=True)
    problem = csrf_problem(request, form)
    if problem:
        result.errors = {"form": problem, **result.errors}
    if not result.ok:
        return signup_page(request, result.values, result.errors, status_code=400)
    assert result.email is not None and result.preferences is not None
    refusal = await run_in_threadpool(check_mail_caps, request, result.email)
    if refusal is not None:
        return too_many(request, refusal)
    outcome = await run_in_threadpool(request_signup, result.email, result.preferences)
    if outcome.outcome == SignupOutcome.MAIL_FAILED:
        return notice(
            request,
            "We couldn't send the email",
            "Your signup is saved, but our mail service did not accept the confirmation "
            "email just now. Please try again in a few minutes.",
            503,
            link=("Back to the signup form", "/signup"),
        )
    # Post/redirect/get: reloading the next page must not submit the form again.
    return RedirectResponse("/signup/sent", status_code=303)


@router.get("/signup/sent", response_class=HTMLResponse)
def signup_sent(request: Request) -> HTMLResponse:
    # The same words for new, pending and already subscribed addresses, so the form
    # cannot be used to find out who reads what.
    return notice(
        request,
        "Check your inbox",
        "We've emailed you a link. Open it to confirm your subscription (it works for "
        "7 days); if you are already subscribed, the email has the links to change your "
        "preferences. Nothing there? Look in your spam folder, or try again in 10 minutes.",
    )


@router.get("/confirm/{token}", response_class=HTMLResponse)
async def confirm_page(request: Request, token: str) -> HTMLResponse:
    # GET never confirms: mail scanners open every link in an email.
    try:
        email, active = await run_in_threadpool(check_confirm_token, token)
    except InvalidToken as exc:
        return _bad_link(request, str(exc))
    if active:
        return notice(request, "You're already subscribed", f"{email} already gets the digest.")
    return render_page(request, "confirm.html", {"email": email, "token": token, "error": None})


@router.post("/confirm/{token}", response_class=HTMLResponse)
async def confirm_submit(request: Request, token: str) -> HTMLResponse:
    try:
        form = await read_form(request)
        email, _ = await run_in_threadpool(check_confirm_token, token)
    except BadForm as exc:
        return unreadable(request, exc)
    except InvalidToken as exc:
        return _bad_link(request, str(exc))
    problem = csrf_problem(request, form)
    if problem:
        return render_page(
            request, "confirm.html", {"email": email, "token": token, "error": problem}, 400
        )
    try:
        result = await run_in_threadpool(confirm, token)
    except InvalidToken as exc:
        return _bad_link(request, str(exc))
    generation = read_token("confirm", token).generation
    preferences = make_token("preferences", result.subscriber_id, generation)
    return notice(
        request,
        "You're subscribed",
        f"Digests will reach {result.email} at the hour you chose. "
        + ("We've emailed you a welcome with your links." if result.welcome_sent else ""),
        link=("See or change your preferences", f"/preferences/{preferences}"),
    )


def _bad_link(request: Request, message: str) -> HTMLResponse:
    return notice(
        request,
        "This link doesn't work",
        message,
        400,
        link=("Go to the signup page", "/signup"),
    )
