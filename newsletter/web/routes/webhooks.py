"""/webhooks/ses: SES bounce, complaint and delivery events arriving through SNS, and
emails to the List-Unsubscribe mailto address (SES receiving, see subscriptions/inbound).

Answers: 200 when handled (or a repeat), 400 for a body that is not SNS, 403 for a
message that fails verification (SNS never sends those, so no retry is wanted), 503
when the topic is not configured, the signing certificate cannot be fetched right now,
or SubscribeURL could not be visited (SNS retries 5xx answers).
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from newsletter.config import get_settings
from newsletter.db import session_scope
from newsletter.subscriptions.bounces import record_ses_event
from newsletter.subscriptions.inbound import unsubscribe_request
from newsletter.subscriptions.signup import unsubscribe_by_token
from newsletter.subscriptions.sns import (
    CertificateUnavailable,
    SnsMessageError,
    SnsVerificationError,
    SnsVerifier,
    parse_message,
)
from newsletter.subscriptions.tokens import InvalidToken
from newsletter.web.bodies import BodyTooLarge, json_problem, read_body

log = logging.getLogger(__name__)
router = APIRouter()

MAX_BODY_BYTES = 256 * 1024  # SNS messages are at most 256 KB


@functools.cache
def _verifier_for(topics: str, allow_signature_v1: bool) -> SnsVerifier:
    # One verifier per configuration, so its certificate cache lives on.
    return SnsVerifier(topics.split(","), allow_signature_v1=allow_signature_v1)


def get_sns_verifier() -> SnsVerifier | None:
    """Return the verifier for the configured topic(s), or None if none is configured.

    Tests override this dependency with a verifier whose certificate fetcher serves a
    test certificate; the URL and topic checks stay the same.
    """
    settings = get_settings()
    topics = settings.sns_topic_arn
    return _verifier_for(topics, settings.sns_allow_signature_v1) if topics else None


def record(message_id: str, message: str) -> str:
    with session_scope() as session:
        outcome = record_ses_event(session, message_id, message)
    token = unsubscribe_request(message)
    if token is None:
        return str(outcome)
    # Also for a repeat: the first delivery may have been stored and then lost its
    # unsubscribe to a crash. Unsubscribing is idempotent (one goodbye email at most).
    try:
        result = unsubscribe_by_token(token)
    except InvalidToken as exc:
        log.warning("unsubscribe email with an unusable token (%s): %s", message_id, exc)
        return str(outcome)
    log.info("unsubscribed %s by email", result.email or "a subscriber (old link)")
    return "unsubscribed"


# Columns the ids and addresses of an event are stored in (SNS and SES ids are short).
_ID_LIMIT = 255
_ADDRESS_LIMIT = 320
_RECIPIENT_LISTS = {"bouncedRecipients", "complainedRecipients", "delayedRecipients"}
_RECIPIENT_LISTS |= {"recipients", "destination"}


def oversized_ids(message_id: str, message: str) -> str | None:
    """Say which id or address is longer than any real one (and than its column)."""
    if len(message_id) > _ID_LIMIT:
        return "MessageId is too long"
    try:
        pending: list[tuple[str, Any]] = [("", json.loads(message))]
    except ValueError:
        return None  # not JSON: stored as text (json_problem refused deep nesting)
    while pending:
        key, value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.items())
        elif isinstance(value, list):
            pending.extend((key, item) for item in value)
        elif isinstance(value, str):
            if key == "messageId" and len(value) > _ID_LIMIT:
                return "messageId is too long"
            if (key == "emailAddress" or key in _RECIPIENT_LISTS) and len(value) > _ADDRESS_LIMIT:
                return "a recipient address is too long"
    return None


Verifier = Annotated[SnsVerifier | None, Depends(get_sns_verifier)]


@router.post("/webhooks/ses")
async def ses_webhook(request: Request, verifier: Verifier) -> JSONResponse:
    if verifier is None:
        return JSONResponse(
            {"error": "SES events are not accepted: NEWSLETTER_SNS_TOPIC_ARN is not set"},
            status_code=503,
        )
    try:
        body = await read_body(request, MAX_BODY_BYTES)
    except BodyTooLarge:
        return JSONResponse({"error": "body too large"}, status_code=413)
    # Deep nesting, NUL characters and lone surrogates are valid JSON that SNS never
    # sends; refused here, before parsing recurses or a database refuses the text.
    problem = json_problem(body)
    if problem is not None:
        return JSONResponse({"error": problem}, status_code=400)
    try:
        message = parse_message(body)
    except SnsMessageError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    problem = json_problem(message.message) or oversized_ids(message.message_id, message.message)
    if problem is not None:
        return JSONResponse({"error": f"Message: {problem}"}, status_code=400)
    header_type = request.headers.get("x-amz-sns-message-type")
    if header_type and header_type != message.type:
        return JSONResponse({"error": "message type header and body disagree"}, status_code=400)
    try:
        await run_in_threadpool(verifier.verify, message)
    except SnsVerificationError as exc:
        log.warning("refused SNS message %s: %s", message.message_id, exc)
        return JSONResponse({"error": f"not verified: {exc}"}, status_code=403)
    except CertificateUnavailable as exc:
        log.warning("SNS message %s not verified yet: %s", message.message_id, exc)
        return JSONResponse({"error": str(exc)}, status_code=503)
    if message.type == "SubscriptionConfirmation":
        try:
            await run_in_threadpool(verifier.confirm_subscription, message)
        except SnsVerificationError as exc:
            return JSONResponse({"error": str(exc)}, status_code=403)
        except SnsMessageError as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)
        log.info("confirmed the SNS subscription to %s", message.topic_arn)
        return JSONResponse({"status": "subscribed"})
    if message.type == "UnsubscribeConfirmation":
        log.warning("SNS says we were unsubscribed from %s", message.topic_arn)
        return JSONResponse({"status": "ignored"})
    outcome = await run_in_threadpool(record, message.message_id, message.message)
    return JSONResponse({"status": outcome})
