"""Doors for programs over HTTP, served by the chat's own process: a versioned JSON API under /api/v1 and an
OpenAI-compatible /v1/chat/completions. Both are FastAPI routes (the framework under Gradio), thin over
ReportAssistant, and both keep the citations: the JSON API returns them as fields, the OpenAI endpoint
carries the [3.24.1] markers in the content and the citations in an extra field of the final response and
of the last stream chunk.

Every failure is a 4xx (or a 500 for a fault of ours) whose body is one line; no traceback is sent.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.catalog import conclusion_list, record_view
from assistant.core import ReportAssistant
from assistant.settings import Settings
from assistant.types import Answer, BadInput, one_line

log = logging.getLogger("wiring_qa.http")

API_PREFIX = "/api/v1"
DEFAULT_MODEL = "wiring-qa"  # the default answerer; "wiring-qa-<name>" picks another one by name
MAX_BODY_BYTES = 1 << 20  # a question and a long chat fit with room; anything bigger is refused unread
MAX_TURNS = 200


# --- request and response shapes (the OpenAPI schema is built from these) -------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Turn(_Strict):
    role: Literal["user", "assistant"]
    content: str


class AskRequest(_Strict):
    question: str = Field(description="The question, as a user would type it.")
    history: list[Turn] | None = Field(None, max_length=MAX_TURNS, description="Earlier turns, oldest first.")
    top_k: int | None = Field(None, ge=1, le=50, description="Ranked sources returned (default 8).")
    answerer: str | None = Field(None, description='"grounded" (default) or "llm" when one is configured.')


class CitationOut(BaseModel):
    id: str = Field(description="The report's own number: 3.24.1, Conclusion 24, a footnote or table row.")
    quote: str = Field(description="The cited sentence, verbatim from the record.")
    start: int = Field(description="Offset of the quote in the report file.")
    end: int


class SourceOut(BaseModel):
    id: str
    label: str
    kind: str
    score: float


class AnswerOut(BaseModel):
    text: str = Field(description="The answer; each sentence ends with its [id] marker.")
    refused: bool = Field(description="True when the report does not answer the question.")
    citations: list[CitationOut]
    sources: list[SourceOut] = Field(description="Retrieved records, best first.")
    related: list[str]
    notice: str = Field(description="A degraded path taken (keyword search, LLM fallback), or empty.")
    answerer: str
    understood_as: str = Field(description="The question as read in the conversation, when it differs.")
    nearest: list[str] = Field(description="For a refusal: the nearest paragraphs, to check for yourself.")
    timings_ms: dict[str, float]


class RecordOut(BaseModel):
    id: str
    kind: str
    text: str
    label: str
    part: int | None
    part_title: str
    conclusion: int | None
    by_when: str
    heading: str
    start: int
    end: int
    links: list[str]
    referenced_by: list[str]
    responds_to: str | None
    progress: list[str]


class ConclusionOut(BaseModel):
    id: str
    number: int
    statement: str
    by_when: str
    part: int | None
    part_title: str
    progress: list[str]


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_calls and the like are accepted and ignored
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens, …: accepted, meaningless here
    model: str
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_TURNS)
    stream: bool = False


# --- the answer as each door shows it -------------------------------------------------------------------


def answer_out(answer: Answer) -> AnswerOut:
    return AnswerOut(
        text=answer.text,
        refused=answer.refused,
        citations=[CitationOut(id=c.id, quote=c.quote, start=c.start, end=c.end) for c in answer.citations],
        sources=[SourceOut(id=s.id, label=s.label, kind=s.kind, score=round(s.score, 6)) for s in answer.sources],
        related=list(answer.related),
        notice=answer.notice,
        answerer=answer.answerer,
        understood_as=answer.understood_as,
        nearest=list(answer.nearest),
        timings_ms={k: round(v, 2) for k, v in answer.timings_ms.items()},
    )


def extra_fields(answer: Answer) -> dict:
    """What the OpenAI shape has no room for: the citations, and whether the report answered at all."""
    full = answer_out(answer).model_dump()
    return {
        "citations": full["citations"],
        "wiring_qa": {k: full[k] for k in ("refused", "sources", "notice", "understood_as", "answerer")},
    }


def chat_question(messages: list[ChatMessage]) -> tuple[str, list[dict]]:
    """The last user message is the question; earlier user and assistant turns are the history."""
    turns = [(m.role, _text_of(m.content)) for m in messages if m.role in ("user", "assistant")]
    if not turns or turns[-1][0] != "user":
        raise BadInput("the last message must come from the user")
    *earlier, (_, question) = turns
    return question, [{"role": role, "content": text} for role, text in earlier]


def _text_of(content: str | list[dict[str, Any]] | None) -> str:
    if isinstance(content, list):  # content parts: only text parts mean anything here
        return " ".join(str(part.get("text", "")) for part in content if part.get("type") == "text")
    return content or ""


# --- the app ---------------------------------------------------------------------------------------------


def build_api(qa: ReportAssistant, settings: Settings) -> FastAPI:
    """A FastAPI app with both doors; the chat is mounted on it at "/" by the caller."""
    api = FastAPI(
        title="wiring-qa",
        summary="Questions about 'Wiring It Up' (2001), answered with the report's own paragraph numbers.",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    _guard_errors(api)
    api.add_middleware(BodyLimit)
    authorised = [Depends(_auth_check(settings))]
    asker = _Asker(qa, settings.app.concurrency)
    _json_routes(api, qa, asker, authorised)
    _openai_routes(api, qa, asker, authorised)
    return api


class _Asker:
    """qa.ask for the doors, a few at a time. Answering is CPU work on a shared GIL and NumPy's threads:
    more answers at once than the setting allows only make each one slower (the same cap as the chat)."""

    def __init__(self, qa: ReportAssistant, at_once: int):
        self.qa = qa
        self.slots = threading.BoundedSemaphore(at_once)

    def __call__(self, question: str, history: list[dict], top_k: int | None, answerer: str | None) -> Answer:
        with self.slots:
            try:
                return self.qa.ask(question, history or None, top_k, answerer)
            except BadInput as exc:
                raise HTTPException(400, one_line(exc)) from None


def _json_routes(api: FastAPI, qa: ReportAssistant, asker: _Asker, authorised: list) -> None:
    @api.post(f"{API_PREFIX}/ask", response_model=AnswerOut, dependencies=authorised, tags=["api"])
    def ask(body: AskRequest) -> AnswerOut:
        """Answer one question, with its citations and ranked sources."""
        history = [t.model_dump() for t in body.history or []]
        return answer_out(asker(body.question, history, body.top_k, body.answerer))

    @api.get(f"{API_PREFIX}/records/{{record_id}}", response_model=RecordOut, dependencies=authorised, tags=["api"])
    def record(record_id: str) -> dict:
        """A paragraph, conclusion, footnote or table row, with its links and back-links."""
        found = record_view(qa, record_id)
        if found is None:
            raise HTTPException(404, f"no record {record_id[:80]!r} in the report")
        return found

    @api.get(f"{API_PREFIX}/conclusions", response_model=list[ConclusionOut], dependencies=authorised, tags=["api"])
    def conclusions() -> list[dict]:
        """The 42 conclusions with their "By when" deadlines and progress paragraphs."""
        return conclusion_list(qa)


def _openai_routes(api: FastAPI, qa: ReportAssistant, asker: _Asker, authorised: list) -> None:
    models = _models(qa)

    @api.get("/v1/models", dependencies=authorised, tags=["openai"])
    def list_models() -> dict:
        """The answerers, named as models."""
        data = [{"id": name, "object": "model", "created": 0, "owned_by": "wiring-qa"} for name in models]
        return {"object": "list", "data": data}

    @api.post("/v1/chat/completions", dependencies=authorised, tags=["openai"])
    def chat_completions(body: ChatRequest):
        """OpenAI's chat completions: [id] markers in the content, citations in an extra field."""
        if body.model not in models:
            raise HTTPException(404, f"unknown model {body.model[:80]!r}; choose one of {', '.join(models)}")
        try:
            question, history = chat_question(body.messages)
        except BadInput as exc:
            raise HTTPException(400, one_line(exc)) from None
        answer = asker(question, history, None, models[body.model])
        if body.stream:
            return StreamingResponse(_stream_chunks(answer, body.model), media_type="text/event-stream")
        return _completion(answer, body.model)


def _models(qa: ReportAssistant) -> dict[str, str | None]:
    """Model name -> answerer name (None: the default)."""
    out: dict[str, str | None] = {DEFAULT_MODEL: None}
    for name in sorted(qa.answerers):
        out[f"{DEFAULT_MODEL}-{name}"] = name
    return out


def _completion(answer: Answer, model: str) -> dict:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        **extra_fields(answer),
    }


def _stream_chunks(answer: Answer, model: str) -> Iterator[str]:
    """Server-sent events: the role, the text word by word, then a closing chunk with the citations."""
    head = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk", "created": int(time.time())}
    head["model"] = model

    def event(delta: dict, finish: str | None = None, **extra) -> str:
        chunk = {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(chunk)}\n\n"

    yield event({"role": "assistant", "content": ""})
    words = answer.text.split(" ")
    for at, word in enumerate(words):
        yield event({"content": word if at == 0 else f" {word}"})
    yield event({}, "stop", **extra_fields(answer))
    yield "data: [DONE]\n\n"


# --- auth, size and errors --------------------------------------------------------------------------------


def _auth_check(settings: Settings):
    """Basic auth with the chat's user and password when both are set; an OpenAI client may send
    "user:password" as its API key (a Bearer token) instead."""
    user, password = settings.app.auth_user, settings.app.auth_password
    expected = f"{user}:{password}".encode() if user and password else None

    def check(request: Request) -> None:
        if expected is None:
            return
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        given = _credentials(scheme.lower(), value.strip())
        if given is None or not secrets.compare_digest(given, expected):
            raise HTTPException(401, "authentication required", headers={"WWW-Authenticate": 'Basic realm="wiring-qa"'})

    return check


def _credentials(scheme: str, value: str) -> bytes | None:
    if scheme == "bearer":
        return value.encode()
    if scheme == "basic":
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return None
    return None


class BodyLimit:
    """Refuse a door's request whose declared body is too big before reading it. Plain ASGI, so the
    chat's streamed responses pass through untouched."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and _is_door(scope.get("path", "")):
            size = dict(scope.get("headers") or []).get(b"content-length", b"")
            if size.isdigit() and int(size) > self.limit:
                request = Request(scope)
                await _error(413, f"request body over {self.limit} bytes", request)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _guard_errors(api: FastAPI) -> None:
    @api.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        return _error(400 if _is_openai(request) else 422, _validation_line(exc), request)

    @api.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return _error(exc.status_code, str(exc.detail), request, exc.headers)

    @api.exception_handler(Exception)
    async def fault(request: Request, exc: Exception):  # ours, not the caller's: logged, one line out
        log.exception("%s %s failed", request.method, request.url.path)
        return _error(500, f"internal error: {one_line(exc)}", request)


def _error(status: int, line: str, request: Request | None = None, headers: dict | None = None) -> JSONResponse:
    """One line: {"error": line} for the JSON API, OpenAI's {"error": {message, type, code}} for /v1."""
    if request is not None and _is_openai(request):
        kind = "invalid_request_error" if status < 500 else "server_error"
        body: dict = {"error": {"message": line, "type": kind, "param": None, "code": status}}
    else:
        body = {"error": line}
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_line(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "invalid request"
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
    if first.get("type") == "json_invalid":
        return "the body is not valid JSON"
    return f"{where}: {first.get('msg', 'invalid')}"[:300]


def _is_openai(request: Request) -> bool:
    return request.url.path.startswith("/v1/")


def _is_door(path: str) -> bool:
    return path.startswith((API_PREFIX, "/v1/"))
