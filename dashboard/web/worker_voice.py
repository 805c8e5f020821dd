"""Workers' fault reports and suggestions: sent from the pass page and the public map,
listed and answered by operators.

Public (no login): `GET /api/public/feedback/challenge`, `POST /api/public/feedback`
(with a pass link's secret, or anonymously with a solved challenge),
`GET /api/public/stations/{id}/changes` and a pass holder's own reports under
`/api/pass/{secret}/feedback`. Everything else needs a login: `GET /api/feedback` and
one report (viewer), a reply to a suggestion and deleting a report (operator).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from dashboard.core.changes import BatchResult
from dashboard.core.worker_voice import (
    MAX_TEXT_CHARS,
    Category,
    FeedbackKind,
    FeedbackStatus,
)
from dashboard.services.feedback_photos import PhotoError
from dashboard.services.worker_voice import FeedbackRefusedError, NewFeedback, WorkerVoice
from dashboard.storage.worker_feedback import FeedbackFilter, FeedbackRow
from dashboard.web.auth import current
from dashboard.web.errors import ApiError, error_responses

FEEDBACK_PATH = "/api/public/feedback"
FeedbackId = Annotated[int, Path(ge=1, le=2**62)]


def feedback_body_bytes(max_photo_bytes: int) -> int:
    """A report's body limit: its photo in base64 and room for the rest."""
    return (max_photo_bytes * 4) // 3 + 16 * 1024


class FeedbackIn(BaseModel):
    """A report or a suggestion. With `pass_secret` it is made under that pass's worker;
    without, it is anonymous and needs `challenge` (from `GET
    /api/public/feedback/challenge`) and a `nonce` solving it."""

    model_config = ConfigDict(extra="forbid")

    kind: FeedbackKind
    station_id: str = Field(min_length=1, max_length=64)
    category: Category
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS * 2)
    lang: Literal["zh-CN", "en"] = "zh-CN"
    photo_base64: str | None = Field(
        default=None, description="A JPEG, PNG, WebP or GIF, base64; at most 2 MB decoded."
    )
    pass_secret: str | None = Field(default=None, max_length=256)
    challenge: str | None = Field(default=None, max_length=200)
    nonce: str | None = Field(default=None, max_length=64)


class ChallengeOut(BaseModel):
    """Find a nonce such that SHA-256(`challenge` + ":" + nonce) starts with `bits` zero
    bits; send both with the report within ten minutes."""

    challenge: str
    bits: int


class FeedbackAccepted(BaseModel):
    """A report as its maker sees it: no worker number."""

    id: int
    kind: str
    station_id: str
    station_name: str | None
    category: str
    text: str
    status: str
    reply: str | None
    created_at: str
    replied_at: str | None


class StationChange(BaseModel):
    """A suggestion a station carried out, with its public reply."""

    category: str
    suggestion: str
    reply: str | None
    done_at: str | None


class FeedbackReply(BaseModel):
    """An operator's answer to a suggestion: its status and a public reply (required when
    declining: the reason)."""

    model_config = ConfigDict(extra="forbid")

    status: FeedbackStatus
    reply: str | None = Field(default=None, max_length=1000)


def _accepted(row: FeedbackRow) -> FeedbackAccepted:
    return FeedbackAccepted(
        id=row.id,
        kind=row.kind,
        station_id=row.station_id,
        station_name=row.station_name,
        category=row.category,
        text=row.text,
        status=row.status,
        reply=row.reply,
        created_at=row.created_at,
        replied_at=row.replied_at,
    )


def _refusal(exc: FeedbackRefusedError) -> ApiError:
    headers = None
    if exc.retry_after_s is not None:
        headers = {"Retry-After": str(max(int(exc.retry_after_s + 0.999), 1))}
    return ApiError(exc.status, exc.reason, headers=headers)


def worker_voice_router(voice: WorkerVoice, changed: Callable[[BatchResult], None]) -> APIRouter:
    """Report and suggestion routes; `changed` hears of the alerts problems open."""
    router = APIRouter(tags=["feedback"])

    @router.get("/api/public/feedback/challenge")
    def challenge(response: Response) -> ChallengeOut:
        """A proof-of-work puzzle for one anonymous report."""
        response.headers["Cache-Control"] = "no-store"
        puzzle = voice.challenge()
        return ChallengeOut(challenge=puzzle.text, bits=puzzle.bits)

    @router.post(FEEDBACK_PATH, status_code=201, responses=error_responses(403, 404, 413, 422, 429))
    def send(body: FeedbackIn, request: Request) -> FeedbackAccepted:
        """Report a problem or make a suggestion about a station. A problem opens (or
        joins) the station's `worker_report` alert for its category."""
        new = NewFeedback(
            body.kind, body.station_id, body.category, body.text, body.lang, body.photo_base64
        )
        try:
            if body.pass_secret is not None:
                row, change = voice.from_pass(body.pass_secret, new)
            else:
                if body.challenge is None or body.nonce is None:
                    raise FeedbackRefusedError(
                        422, "an anonymous report needs challenge and nonce (or a pass_secret)"
                    )
                address = request.client.host if request.client else "unknown"
                row, change = voice.anonymous(new, address, body.challenge, body.nonce)
        except FeedbackRefusedError as exc:
            raise _refusal(exc) from None
        except PhotoError as exc:
            raise ApiError(422, str(exc)) from None
        if change is not None:
            changed(BatchResult(alerts=[change]))
        return _accepted(row)

    @router.get("/api/pass/{secret}/feedback", responses=error_responses(404, 422))
    def own(
        secret: Annotated[str, Path(max_length=256)],
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> list[FeedbackAccepted]:
        """A pass holder's own reports with their status and replies, newest first."""
        try:
            return [_accepted(row) for row in voice.of_pass(secret, limit)]
        except LookupError:
            raise ApiError(404, "this pass link does not work (any more)") from None

    @router.get("/api/public/stations/{station_id}/changes", responses=error_responses(422))
    def changes(
        station_id: Annotated[str, Path(max_length=64)],
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> list[StationChange]:
        """What this station changed because workers asked: suggestions marked done,
        newest first (empty for an unknown station)."""
        return [
            StationChange(
                category=row.category, suggestion=row.text, reply=row.reply, done_at=row.replied_at
            )
            for row in voice.changes_made(station_id, limit)
        ]

    @router.get("/api/feedback", responses=error_responses(422))
    def listed(
        kind: FeedbackKind | None = None,
        station_id: Annotated[str | None, Query(max_length=64)] = None,
        region_code: Annotated[str | None, Query(pattern=r"^[0-9]{6}$")] = None,
        category: Category | None = None,
        status: FeedbackStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[FeedbackRow]:
        """Reports and suggestions, newest first; a district is its `region_code`."""
        rows = voice.find(
            FeedbackFilter(
                kind,
                station_id,
                None if region_code is None else int(region_code),
                category,
                status,
                None,
                limit,
            )
        )
        return rows

    def load(feedback_id: int) -> FeedbackRow:
        try:
            return voice.get(feedback_id)
        except LookupError:
            raise ApiError(404, f"no report {feedback_id}") from None

    @router.get("/api/feedback/{feedback_id}", responses=error_responses(404, 422))
    def one(feedback_id: FeedbackId) -> FeedbackRow:
        """One report."""
        return load(feedback_id)

    @router.get(
        "/api/feedback/{feedback_id}/photo",
        response_class=Response,
        responses={200: {"content": {"image/jpeg": {}}}, **error_responses(404, 422)},
    )
    def photo(feedback_id: FeedbackId) -> Response:
        """A report's photo, as kept: resized, without metadata."""
        load(feedback_id)
        data = voice.photo(feedback_id)
        if data is None:
            raise ApiError(404, f"report {feedback_id} has no photo (or it has expired)")
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private"})

    @router.post("/api/feedback/{feedback_id}/reply", responses=error_responses(404, 409, 422))
    def reply(feedback_id: FeedbackId, body: FeedbackReply, request: Request) -> FeedbackRow:
        """Give a suggestion its status and public reply; 409 for a problem (its status
        follows its alert)."""
        load(feedback_id)
        text = (body.reply or "").strip() or None
        request.state.audit_detail = f"{body.status.value}: {text or ''}"
        try:
            row = voice.reply(feedback_id, body.status, text, current(request).name)
        except FeedbackRefusedError as exc:
            raise _refusal(exc) from None
        except ValueError as exc:
            raise ApiError(409, str(exc)) from None
        return row

    @router.delete(
        "/api/feedback/{feedback_id}", status_code=204, responses=error_responses(404, 422)
    )
    def delete(feedback_id: FeedbackId) -> Response:
        """Forget a report and its photo."""
        try:
            voice.delete(feedback_id)
        except LookupError:
            raise ApiError(404, f"no report {feedback_id}") from None
        return Response(status_code=204)

    return router
