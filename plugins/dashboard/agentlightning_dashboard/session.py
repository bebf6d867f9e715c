"""Who may see the dashboard: a login form checks ``AGL_SERVER_TOKEN`` and sets a session cookie.

A browser cannot send the API's bearer header when it loads a page, so the dashboard takes over
authentication of ``/dashboard`` (``ServerAuth.delegate``) and checks, on every request under it:

* a token in the URL (``?token=``, ``?access_token=``) is refused with 400: URLs end up in
  history, proxies' logs and ``Referer`` headers;
* the session cookie: ``<expiry>.<hmac>``, signed with a key the core derives from the token, so
  a new token logs everyone out and the cookie never contains the token. It is ``HttpOnly``
  (scripts cannot read it), ``SameSite=Strict`` (other sites cannot make the browser send it)
  and scoped to ``/dashboard``; ``Secure`` when the page was served over https.

Without a token the server is open (``agl serve`` says so) and the dashboard is too.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from agentlightning_core.server.auth import ServerAuth

COOKIE = "agl_dashboard_session"
SESSION_SECONDS = 12 * 3600
URL_TOKEN_PARAMS = ("token", "access_token", "agl_server_token", "auth")


def _sign(auth: ServerAuth, expiry: int) -> str:
    key = auth.derived_key("dashboard-session")
    return hmac.new(key, str(expiry).encode(), hashlib.sha256).hexdigest()


def new_session(auth: ServerAuth, now: float | None = None) -> str:
    expiry = int((now or time.time()) + SESSION_SECONDS)
    return f"{expiry}.{_sign(auth, expiry)}"


def session_valid(auth: ServerAuth, cookie: str | None, now: float | None = None) -> bool:
    if not auth.enabled:
        return True
    if not cookie or "." not in cookie:
        return False
    expiry_text, signature = cookie.split(".", 1)
    if not expiry_text.isdigit():
        return False
    expiry = int(expiry_text)
    if expiry < (now or time.time()):
        return False
    return hmac.compare_digest(signature, _sign(auth, expiry))


def token_in_url(query_keys: list[str]) -> str | None:
    """The first query parameter that looks like a credential, or ``None``."""
    lowered = {k.lower() for k in query_keys}
    return next((p for p in URL_TOKEN_PARAMS if p in lowered), None)
