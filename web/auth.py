"""Who is calling: the dependencies every route uses, and `POST /login` / `POST /logout`.

- `current_user`: the signed-in `Identity`, from `Authorization: Bearer TOKEN` or the session cookie;
  401 without valid credentials. A state-changing request (POST, PUT, PATCH, DELETE) signed in by the
  cookie must also carry the session's CSRF token (form field `csrf_token` or header `X-CSRF-Token`),
  else 403 before anything happens: a route cannot forget the check.
- `optional_user`: the same, or None (pages redirect to /login themselves).
- `require_csrf`: the CSRF check alone, for forms that need no user.
- `csrf_token(request)`: the token to put into a form (after `current_user` or `optional_user` ran).

Token and session lookups are database reads (several `handoff serve` processes share them); the
checks run in the threadpool, never on the event loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from engine import Handoff
from engine import signin as signin_cases
from engine.signin import Identity, SignInFailed, SigninPolicy

from .errors import HttpError
from .security import CSRF_FIELD, CSRF_HEADER, UNSAFE_METHODS, is_https, same_origin, tokens_match

SESSION_COOKIE = "handoff_session"

router = APIRouter(tags=["sign-in"])


def handoff(request: Request) -> Handoff:
    """The application the routes act on (one per server process, shared by its threads)."""
    app: Handoff = request.app.state.handoff
    return app


def policy(request: Request) -> SigninPolicy:
    value: SigninPolicy = request.app.state.settings.policy
    return value


async def optional_user(request: Request) -> Identity | None:
    """The caller's identity, or None without credentials. A bad Bearer token is a 401 (a script that
    sent one wants to know); a stale cookie is just no one (the browser is sent to sign in)."""
    if hasattr(request.state, "identity"):
        known: Identity | None = request.state.identity
        return known
    identity = await _identify(request)
    request.state.identity = identity
    if identity is not None and identity.via == "session" and request.method in UNSAFE_METHODS:
        await _check_csrf(request, identity)
    return identity


async def current_user(identity: Annotated[Identity | None, Depends(optional_user)]) -> Identity:
    """The signed-in caller; 401 without valid credentials (nothing is done)."""
    if identity is None:
        raise HttpError(401, "sign in first: send 'Authorization: Bearer TOKEN' (handoff users token NAME)")
    return identity


User = Annotated[Identity, Depends(current_user)]


async def require_csrf(request: Request) -> None:
    """For state-changing forms: the session's CSRF token must come with it (403 if not). Without a
    session, the request must at least come from this site's own pages (Origin/Referer)."""
    identity = await optional_user(request)
    if identity is None and request.method in UNSAFE_METHODS:
        _check_origin(request)


def csrf_token(request: Request) -> str:
    """The CSRF token for the forms of this request's page ('' when nobody is signed in by cookie)."""
    identity = getattr(request.state, "identity", None)
    return (identity.csrf or "") if identity is not None else ""


class IdentityCache:
    """Identities proven in the last `ttl` seconds, by the digest of their token or session id: a
    script's every request need not read the database to be recognised. A token revoked, a session
    ended or a password changed through this process clears it at once (`forget_identities`); through
    another process (the CLI, another server) it takes effect within `ttl` seconds, as the engine's own
    cache of the user table takes 5 (docs/security.md)."""

    def __init__(self, ttl: float = 2.0, size: int = 10_000) -> None:
        self.ttl, self.size = ttl, size
        self._items: OrderedDict[str, tuple[float, Identity]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Identity | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return None
            if hit[0] < time.monotonic():
                del self._items[key]
                return None
            return hit[1]

    def put(self, key: str, identity: Identity) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + self.ttl, identity)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def forget_identities(request: Request) -> None:
    """After a change to who may sign in (tokens, passwords, users, sign-out): recognise afresh."""
    request.app.state.identities.clear()


async def _identify(request: Request) -> Identity | None:
    app = handoff(request)
    cache: IdentityCache = request.app.state.identities
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise HttpError(401, "the Authorization header must be 'Bearer TOKEN'")
        key = "t:" + signin_cases.digest(token)
        identity = cache.get(key)
        if identity is None:
            identity = await run_in_threadpool(signin_cases.token_identity, app, token)
            if identity is None:
                raise HttpError(401, "this API token is unknown, revoked or expired")
            cache.put(key, identity)
        return identity
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        key = "s:" + signin_cases.digest(session_id)
        identity = cache.get(key)
        if identity is None:
            identity = await run_in_threadpool(
                signin_cases.session_identity, app, session_id, policy=policy(request)
            )
            if identity is not None:
                cache.put(key, identity)
        return identity
    return None


async def _check_csrf(request: Request, identity: Identity) -> None:
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()  # Starlette keeps it: the route reads the same form
            value = form.get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
    if not tokens_match(given, identity.csrf):
        raise HttpError(
            403, "this form is missing its CSRF token or it is stale: reload the page and try again"
        )


def _check_origin(request: Request) -> None:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin is not None and not same_origin(origin, request.headers.get("host")):
        raise HttpError(403, "this form was sent from another site")


def safe_next(target: str | None) -> str:
    """Where to go after sign-in: a path on this site only (never `//evil.example` or a URL)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(c in target for c in "\r\n\t\\") or len(target) > 2000:
        return "/"
    return target


def _set_cookie(request: Request, response: Response, session_id: str) -> None:
    settings = request.app.state.settings
    secure = settings.secure_cookies
    if secure is None:
        secure = is_https(request.scope, settings.proxy_header)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(settings.policy.session_lifetime.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure,
    )


@router.post("/login", status_code=303, response_class=RedirectResponse)
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=255)],
    password: Annotated[str, Form(max_length=4096)],
    next: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    """Sign in with a name and password: 303 to `next` (a path here) with a fresh session cookie.

    Wrong name or password: 401 after a delay that grows with each failure; too many failures for the
    name or from the address: 429 with Retry-After, without checking the password."""
    _check_origin(request)
    address = request.client.host if request.client else "unknown"
    try:
        new = await run_in_threadpool(
            signin_cases.sign_in,
            handoff(request),
            username,
            password,
            address=address,
            policy=policy(request),
            replaces=request.cookies.get(SESSION_COOKIE),
        )
    except SignInFailed as exc:
        await asyncio.sleep(exc.delay)  # slows guessing without holding a thread
        raise
    if request.cookies.get(SESSION_COOKIE):
        forget_identities(request)  # the session this one replaced has ended
    response = RedirectResponse(safe_next(next or request.query_params.get("next")), status_code=303)
    _set_cookie(request, response, new.session_id)
    return response


@router.post("/logout", status_code=303, response_class=RedirectResponse)
async def logout(request: Request) -> Response:
    """Sign out: the session ends on the server (its cookie is worthless from now on); 303 to /login."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        identity = await optional_user(request)  # a live session: its CSRF token is checked
        if identity is not None and identity.via == "session":
            await run_in_threadpool(signin_cases.sign_out, handoff(request), session_id)
            forget_identities(request)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response
