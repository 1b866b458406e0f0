"""Browsable API docs at /api/docs: Swagger UI 5 (which reads FastAPI's OpenAPI 3.1) from the files the
`fastapi-offline` package ships, served by this server (nothing from a CDN), started by a script file of
ours (the CSP allows no inline script)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response

router = APIRouter(prefix="/docs", include_in_schema=False)

ASSETS = {"swagger-ui.css", "swagger-ui-bundle.js", "favicon.png"}

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Handoff API</title>
<link rel="stylesheet" href="/api/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/api/docs/assets/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/api/docs/assets/swagger-ui-bundle.js"></script>
<script src="/api/docs/start.js"></script>
</body>
</html>
"""

START = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout",
    validatorUrl: null
  });
});
"""


def _assets_dir() -> Path | None:
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "static"


@router.get("")
def docs_page() -> Response:
    if _assets_dir() is None:
        return HTMLResponse(
            "<p>The browsable docs need the fastapi-offline package; the API is described at "
            '<a href="/api/openapi.json">/api/openapi.json</a>.</p>',
            status_code=503,
        )
    return HTMLResponse(PAGE)


@router.get("/start.js")
def docs_script() -> Response:
    return Response(START, media_type="text/javascript")


@router.get("/assets/{name}")
def docs_asset(name: str) -> Response:
    folder = _assets_dir()
    if folder is None or name not in ASSETS:
        return Response(status_code=404)
    return FileResponse(folder / name)
