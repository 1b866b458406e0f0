"""`/login`: the sign-in form (it posts to web/auth.py's `POST /login`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from engine.signin import Identity

from ..auth import optional_user, safe_next
from .common import render

router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
async def login_page(
    request: Request, identity: Annotated[Identity | None, Depends(optional_user)]
) -> Response:
    target = safe_next(request.query_params.get("next"))
    if identity is not None:
        return RedirectResponse(target, status_code=303)
    return render(request, "login.html", None, next=target)
