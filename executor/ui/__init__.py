"""Ostra's web UI, served by the API at ``/ui`` (``/`` redirects there).

Server-rendered Jinja2 templates driven by htmx (and its SSE extension, for the live
execution page); every asset is vendored under ``static/vendor`` (see ``VENDORED.md``
there), so the UI and ``/docs`` work offline. ``mount_ui(app, tokens)`` adds it to an
app; ``executor.api.app.create_app`` does.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from executor.ui.auth import Sessions
from executor.ui.routes import TEMPLATES, LoginRequired, UIError, build_router

STATIC = Path(__file__).parent / "static"
VENDOR = "/ui/static/vendor"


def mount_ui(app: FastAPI, tokens: list[bytes]) -> None:
    """Serve the UI (``/ui``), its assets (``/ui/static``) and ``/`` on ``app``, asking
    for one of ``tokens`` when there are any."""
    sessions = Sessions(tokens)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    app.include_router(build_router(sessions))

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui", status_code=302)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _: Exception) -> Response:
        target = "/ui/login?" + urlencode({"next": request.url.path})
        if request.headers.get("hx-request") or request.method != "GET":
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(UIError)
    async def ui_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, UIError)
        return TEMPLATES.TemplateResponse(
            request,
            "_alert.html",
            {"message": exc.message, "ok": False},
            status_code=exc.status,
        )


def swagger_page(openapi_url: str) -> HTMLResponse:
    """The interactive API docs, with Swagger UI served from the package (no CDN)."""
    return get_swagger_ui_html(
        openapi_url=openapi_url,
        title="Ostra API",
        swagger_js_url=f"{VENDOR}/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url=f"{VENDOR}/swagger-ui/swagger-ui.css",
        swagger_favicon_url=f"{VENDOR}/swagger-ui/favicon-32x32.png",
    )
