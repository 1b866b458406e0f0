"""`/styles/report.css`: the report's own stylesheet (engine/report_html.py), served as a file so that the
dashboard and the diagrams on the pages draw exactly as the HTML report does, under a CSP without inline
style."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter
from fastapi.responses import Response

from engine.report_html import report_css as stylesheet

router = APIRouter(include_in_schema=False)


_BODY = stylesheet().encode()
_ETAG = '"' + hashlib.sha256(_BODY).hexdigest()[:16] + '"'


@router.get("/styles/report.css")
def report_css() -> Response:
    return Response(
        _BODY,
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "public, max-age=86400", "ETag": _ETAG},
    )
