"""What every page shares: the signed-in person (or a redirect to sign in), the templates, the page
frame's navigation by role, notices after a redirect, and the error page.

Templates are Jinja2 with autoescape on for every file: a task, lane or field named `<script>` is text.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from engine import Handoff, zones
from engine.access import RULES, Member
from engine.signin import Identity
from engine.worklists import members

from ..auth import csrf_token, handoff, optional_user

HERE = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"

env = Environment(
    loader=FileSystemLoader(str(TEMPLATES_DIR)),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)

# Fixed notices a redirect may ask for (never text from the URL): ?notice=code&n=number
NOTICES = {
    "claimed": "You claimed task {n}.",
    "released": "You released task {n}.",
    "completed": "Task {n} is done.",
    "completed_failed": "Task {n} is done, but the step after it failed: the instance is an incident now.",
    "started": "Instance {n} started.",
    "retried": "Instance {n} was retried.",
    "suspended": "Instance {n} is suspended.",
    "resumed": "Instance {n} is running again.",
    "terminated": "Instance {n} is terminated.",
    "deployed": "Deployed.",
    "user_saved": "User saved.",
    "user_removed": "User removed.",
    "password_set": "Password set; the user's sessions were ended.",
    "token_revoked": "Token {n} revoked.",
    "sla_saved": "SLA saved.",
    "commented": "Your comment was added.",
}


class SignInNeeded(Exception):
    """Raised by `page_user` for a person who is not signed in: answered with a redirect to /login."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


@dataclass(frozen=True)
class Viewer:
    """The signed-in person as the pages see them: name, role, lanes, what the menu offers."""

    name: str
    role: str
    lanes: frozenset[str]
    csrf: str
    tz: str | None = None  # the zone they chose (`users add --tz`); None: HANDOFF_TZ, else the machine's

    def may(self, action: str) -> bool:
        return self.role in RULES[action].roles

    def works_in(self, lane: str | None) -> bool:
        return Member(self.name, self.role, self.lanes).works_in(lane)


async def page_user(request: Request, identity: Annotated[Identity | None, Depends(optional_user)]) -> Viewer:
    """The signed-in person; someone who is not is sent to /login and brought back afterwards."""
    if identity is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInNeeded(target if request.method == "GET" else "/")
    member = members(handoff(request).db).get(identity.name)
    lanes = member.lanes if member is not None else frozenset()
    tz = await run_in_threadpool(handoff(request).zone_of, identity.name)
    return Viewer(identity.name, identity.role, lanes, csrf_token(request), tz)


PageUser = Annotated[Viewer, Depends(page_user)]


def app_of(request: Request) -> Handoff:
    return handoff(request)


def now_of(request: Request) -> datetime:
    return handoff(request).clock()


def nav(viewer: Viewer | None) -> list[tuple[str, str]]:
    """(path, label) of the menu, by role: each page only where the role may use it."""
    if viewer is None:
        return []
    items = []
    if viewer.may("tasks"):
        items.append(("/", "My work"))
    if viewer.may("start"):
        items.append(("/start", "Start"))
    items.append(("/instances", "Instances"))
    items.append(("/processes", "Processes"))
    if viewer.may("report"):
        items.append(("/dashboard", "Dashboard"))
    if viewer.may("users"):
        items.append(("/admin", "Admin"))
    return items


def _static_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.glob("*")):
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


STATIC_VERSION = _static_version()


def static(name: str) -> str:
    return f"/static/{quote(name)}?v={STATIC_VERSION}"


def when(value: datetime | None) -> str:
    """A stored (UTC) time as the reader reads it, in their zone, named: 2026-03-02 10:15 CET."""
    if value is None:
        return "-"
    shown = zones.local(value)
    return f"{shown:%Y-%m-%d %H:%M} {zones.zone_name(shown)}"


def span(seconds: float | None) -> str:
    """A duration in the largest sensible units: 45 s, 12 min, 3 h 20 min, 2 d 4 h."""
    if seconds is None:
        return "-"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def since(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "-"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return span((now - value).total_seconds())


def shown(value: Any) -> str:
    """A data value as people read it: text as it is, everything else as JSON (true, null, [1, 2])."""
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str, ensure_ascii=False)


env.globals.update(static=static, nav=nav)
env.filters.update(when=when, span=span, shown=shown)


def render(
    request: Request, template: str, viewer: Viewer | None, status: int = 200, **context: Any
) -> HTMLResponse:
    notice = None
    code = request.query_params.get("notice")
    if code in NOTICES:
        number = request.query_params.get("n", "")
        notice = NOTICES[code].format(n=number if number.isdigit() else "")
    with zones.showing(zones.resolve(viewer.tz if viewer is not None else None)):
        html = env.get_template(template).render(
            request=request,
            viewer=viewer,
            notice=notice,
            path=request.url.path,
            now=now_of(request),
            **context,
        )
    return HTMLResponse(html, status_code=status)


def back(path: str, notice: str | None = None, n: int | None = None, **params: Any) -> RedirectResponse:
    """303 to a page of ours after a form did its work (so that reloading does not post it again)."""
    query = {k: v for k, v in params.items() if v not in (None, "")}
    if notice:
        query["notice"] = notice
    if n is not None:
        query["n"] = n
    return RedirectResponse(path + (f"?{urlencode(query)}" if query else ""), status_code=303)


def query_link(path: str, **params: Any) -> str:
    query = {k: v for k, v in params.items() if v not in (None, "")}
    return path + (f"?{urlencode(query)}" if query else "")


env.globals.update(link=query_link)


def parse_day(text: str | None, *, end: bool = False) -> datetime | None:
    """A period filter's day (2026-03-02) as a UTC instant; `end` gives the next midnight (exclusive)."""
    if not text:
        return None
    try:
        day = datetime.strptime(text.strip(), "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return day + timedelta(days=1) if end else day


def error_page(request: Request, status: int, message: str) -> Response | None:
    """The page for an error of a page (the API's JSON errors stay JSON): 401 sends a person to sign
    in, a failed sign-in shows the sign-in form again with the reason."""
    viewer = None
    identity = getattr(request.state, "identity", None)
    if isinstance(identity, Identity):
        viewer = Viewer(identity.name, identity.role, frozenset(), identity.csrf or "")
    if request.url.path == "/login" and request.method == "POST":
        return render(request, "login.html", None, status=status, error=message, next="/")
    if status == 401 and viewer is None:
        return RedirectResponse(query_link("/login", next=request.url.path), status_code=303)
    titles = {403: "Not allowed", 404: "Not found", 409: "Conflict", 413: "Too large", 422: "Not accepted"}
    return render(
        request, "error.html", viewer, status=status, title=titles.get(status, "Error"), message=message
    )
