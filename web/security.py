"""What every answer and every request goes through: security headers, body size limits, CSRF.

Pure ASGI middleware (no per-request Python objects beyond what Starlette makes anyway), so that the
API's hot path stays cheap. docs/security.md explains each header.
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# No inline script and nothing from elsewhere: every script, style and image comes from this server.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000")
NO_STORE = (b"cache-control", b"no-store")

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_FIELD = "csrf_token"  # the hidden field of every state-changing form
CSRF_HEADER = "x-csrf-token"  # the same token, for scripts of our own pages


def is_https(scope: Scope, proxy_header: str | None) -> bool:
    """HTTPS as the browser sees it: the connection's scheme (uvicorn sets it from X-Forwarded-Proto
    for trusted proxies), or a configured proxy header such as `X-Forwarded-Proto: https`."""
    if scope.get("scheme") in ("https", "wss"):
        return True
    if proxy_header:
        wanted = proxy_header.lower().encode("latin-1")
        for name, value in scope.get("headers", ()):
            if name == wanted:
                return value.split(b",")[0].strip().lower() == b"https"
    return False


class SecurityHeaders:
    """Adds the security headers to every HTTP answer; `Cache-Control: no-store` to all but static
    files (answers hold people's data); HSTS over HTTPS."""

    def __init__(
        self, app: ASGIApp, *, proxy_header: str | None = None, cacheable: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.proxy_header = proxy_header
        self.cacheable = cacheable

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = list(HEADERS)
        if is_https(scope, self.proxy_header):
            extra.append(HSTS)
        path = scope.get("path", "")
        cache = not any(path.startswith(prefix) for prefix in self.cacheable)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in extra if h[0] not in present)
                if cache and b"cache-control" not in present:
                    headers.append(NO_STORE)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Refuses request bodies over a limit with 413, before the application reads them whole: by
    Content-Length when given, else by counting as the body streams in. Uploads (multipart) get their
    own, larger limit; each uploaded file is also checked against HANDOFF_MAX_UPLOAD by the API."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", ()))
        multipart = headers.get(b"content-type", b"").lower().startswith(b"multipart/")
        limit = self.max_upload_bytes if multipart else self.max_bytes
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await _json_answer(send, 400, "malformed request: Content-Length is not a number")
                return
            if declared > limit:
                await _json_answer(send, 413, too_large_text(limit))  # the body is never read
                return
        seen = 0
        refused = False

        async def counting_receive() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    raise BodyTooLarge(limit)
            return message

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _json_answer(send, 413, too_large_text(limit))
        except Exception:
            if refused and not started:  # the application wrapped our exception in its own
                await _json_answer(send, 413, too_large_text(limit))
                return
            raise


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(too_large_text(limit))


def too_large_text(limit: int) -> str:
    from engine.input_limits import human_size

    return f"request too large: the limit is {human_size(limit)}"


async def _json_answer(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class SafeJSONResponse(JSONResponse):
    """JSON with `<`, `>` and `&` escaped (`\\u003c`...): task names and data from BPMN or people may hold
    markup, and a JSON answer must never read as HTML, even to a browser that sniffs or a page that
    pastes it into a script block."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode("utf-8")


def same_origin(origin_or_referer: str, host: str | None) -> bool:
    """Whether an Origin (or Referer) header names this server's own host."""
    if not origin_or_referer or origin_or_referer == "null":
        return False
    parts = urlsplit(origin_or_referer)
    return bool(host) and parts.netloc.lower() == (host or "").lower()


def tokens_match(given: Any, expected: str | None) -> bool:
    return (
        isinstance(given, str)
        and expected is not None
        and secrets.compare_digest(given.encode(), expected.encode())
    )
