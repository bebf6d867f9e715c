"""The dashboard's routes under ``/dashboard``, added to the server's app by the plugin hook.

Pages are one HTML shell (``static/page.html``) that ``static/app.js`` fills from the JSON routes
under ``/dashboard/api``; the live stream is ``/dashboard/api/stream``. Every route reads; the only
POSTs are the login form and logout, which change the caller's cookie and nothing else.

The core leaves authentication of ``/dashboard`` to this module (``ServerAuth.delegate``), so a
router-wide dependency checks every request: a credential in the URL is a 400, a missing or bad
session cookie sends a page to the login form and an API call a 401.
"""

from __future__ import annotations

import html
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)

from agentlightning_core.errors import AuthenticationError, InvalidRequestError, NotFoundError
from agentlightning_core.logging import masking_enabled
from agentlightning_core.server.auth import ServerAuth

from . import session
from .backends_view import backends
from .detail import full_span, rollout_detail
from .filters import parse_rollout_filter
from .live import PAGE_TOPICS, page_stream
from .overview import overview
from .resources_view import resources_history
from .shaping import Shaper

PREFIX = "/dashboard"
STATIC = Path(str(resources.files(__package__) / "static"))
OPEN_ROUTES = {f"{PREFIX}/login", f"{PREFIX}/logout"}
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
}


class LoginRequired(Exception):
    """A page asked for without a session: answered by a redirect to the login form."""


def mount_dashboard(app: FastAPI) -> APIRouter:
    """Add the dashboard to ``app``; returns its router (``app.state.dashboard`` too)."""
    auth: ServerAuth = getattr(app.state, "auth", None) or ServerAuth(None)
    auth.delegate(PREFIX)
    shaper = Shaper(masking=masking_enabled())
    app.add_exception_handler(LoginRequired, _to_login)
    router = _router(app, auth, shaper)
    app.include_router(router)
    app.state.dashboard = router
    return router


async def _to_login(request: Request, exc: Exception) -> Response:
    return RedirectResponse(f"{PREFIX}/login", status_code=303, headers=SECURITY_HEADERS)


def _checker(auth: ServerAuth) -> Any:
    async def check(request: Request) -> None:
        param = session.token_in_url(list(request.query_params.keys()))
        if param is not None:
            raise InvalidRequestError(
                f"query parameter {param!r}: a token in the URL is never accepted (URLs end up in "
                f"history and logs); log in at {PREFIX}/login instead"
            )
        path = request.url.path
        if path in OPEN_ROUTES or path.startswith(f"{PREFIX}/static/"):
            return
        if session.session_valid(auth, request.cookies.get(session.COOKIE)):
            return
        if path.startswith(f"{PREFIX}/api/"):
            raise AuthenticationError(f"not logged in to the dashboard: log in at {PREFIX}/login")
        raise LoginRequired()

    return check


def _router(app: FastAPI, auth: ServerAuth, shaper: Shaper) -> APIRouter:
    router = APIRouter(prefix=PREFIX, dependencies=[Depends(_checker(auth))], include_in_schema=False)

    def store() -> Any:
        return app.state.store

    # ------------------------------------------------------------------ login
    @router.get("/login")
    async def login_form(request: Request) -> Response:
        if session.session_valid(auth, request.cookies.get(session.COOKIE)) and auth.enabled:
            return RedirectResponse(f"{PREFIX}/", status_code=303)
        return _html(_login_page(""))

    @router.post("/login")
    async def login(request: Request) -> Response:
        body = (await request.body()).decode("utf-8", "replace")
        given = parse_qs(body).get("token", [""])[0]
        if not auth.check(given):
            return _html(_login_page("Wrong token: use the server's AGL_SERVER_TOKEN."), status=401)
        response = RedirectResponse(f"{PREFIX}/", status_code=303, headers=SECURITY_HEADERS)
        response.set_cookie(
            session.COOKIE,
            session.new_session(auth),
            max_age=session.SESSION_SECONDS,
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    @router.post("/logout")
    async def logout() -> Response:
        response = RedirectResponse(f"{PREFIX}/login", status_code=303, headers=SECURITY_HEADERS)
        response.delete_cookie(session.COOKIE, path=PREFIX, httponly=True, samesite="strict")
        return response

    # ------------------------------------------------------------------ pages
    @router.get("")
    async def root() -> Response:
        return RedirectResponse(f"{PREFIX}/", status_code=307)

    @router.get("/")
    async def overview_page() -> Response:
        return _shell("overview")

    @router.get("/rollouts")
    async def rollouts_page(request: Request) -> Response:
        parse_rollout_filter(request.query_params.multi_items())  # a bad link is a 400, not a blank page
        return _shell("rollouts")

    @router.get("/rollouts/{rollout_id}")
    async def rollout_page(rollout_id: str) -> Response:
        if await store().get_rollout(rollout_id) is None:
            return _html(_not_found_page(f"No rollout {rollout_id!r} in this store."), status=404)
        return _shell("rollout", rollout_id)

    @router.get("/resources")
    async def resources_page() -> Response:
        return _shell("resources")

    @router.get("/backends")
    async def backends_page() -> Response:
        return _shell("backends")

    @router.get("/static/{name}")
    async def static(name: str) -> Response:
        path = STATIC / name
        if "/" in name or name.startswith(".") or not path.is_file():
            raise NotFoundError(f"no dashboard asset {name!r}")
        return FileResponse(path, headers={"cache-control": "no-cache", **SECURITY_HEADERS})

    # ------------------------------------------------------------------ data
    @router.get("/api/overview")
    async def api_overview() -> Response:
        return _json(await overview(store(), app.state.bus))

    @router.get("/api/rollouts")
    async def api_rollouts(request: Request) -> Response:
        f = parse_rollout_filter(request.query_params.multi_items())
        page = await store().search_rollouts(
            status=f.status,
            mode=f.mode,
            resources_id=f.resources_id,
            text=f.text,
            limit=f.per_page,
            offset=f.offset,
        )
        items = [
            {
                "rollout_id": r.rollout_id,
                "status": r.status.value,
                "mode": r.mode,
                "resources_id": r.resources_id,
                "input": shaper.text(_short(r.input)),
                "enqueue_time": r.enqueue_time,
                "start_time": r.start_time,
                "end_time": r.end_time,
                "num_attempts": r.num_attempts,
            }
            for r in page.items
        ]
        return _json({"items": items, "total": page.total, "page": f.page, "per_page": f.per_page})

    @router.get("/api/rollouts/{rollout_id}")
    async def api_rollout(rollout_id: str) -> Response:
        return _json(await rollout_detail(store(), rollout_id, shaper))

    @router.get("/api/rollouts/{rollout_id}/spans/{span_id}")
    async def api_span(rollout_id: str, span_id: str) -> Response:
        return _json(await full_span(store(), rollout_id, span_id, shaper))

    @router.get("/api/resources")
    async def api_resources() -> Response:
        return _json(await resources_history(store(), shaper))

    @router.get("/api/backends")
    async def api_backends() -> Response:
        return _json(await backends(store(), app.state.bus))

    @router.get("/api/stream")
    async def api_stream(page: str, rollout_id: str | None = None) -> Response:
        if page not in PAGE_TOPICS:
            raise InvalidRequestError(
                f"query parameter 'page' must be one of {', '.join(PAGE_TOPICS)} (got {page!r})"
            )
        return StreamingResponse(
            page_stream(app.state.bus, page, app.state.shutdown, rollout_id, store=store()),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    return router


def _short(value: Any, limit: int = 160) -> str:
    import json

    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


def _json(data: Any) -> Response:
    return JSONResponse(data, headers={"cache-control": "no-store", **SECURITY_HEADERS})


def _html(body: str, status: int = 200) -> Response:
    return HTMLResponse(body, status_code=status, headers={"cache-control": "no-store", **SECURITY_HEADERS})


def _template(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def _shell(page: str, rollout_id: str = "") -> Response:
    body = _template("page.html").replace("{{page}}", page).replace("{{rollout_id}}", html.escape(rollout_id))
    return _html(body)


def _login_page(error: str) -> str:
    return _template("login.html").replace("{{error}}", html.escape(error))


def _not_found_page(what: str) -> str:
    return _template("not_found.html").replace("{{what}}", html.escape(what))
