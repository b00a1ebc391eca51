"""Who may talk to the desk: a loopback Host, the access token (then its cookie), and a
CSRF token on every POST; and the Content-Security-Policy every answer carries.

The access token works as a notebook server's does: the URL printed at start carries it,
the first visit trades it for an HttpOnly, SameSite=Strict session cookie and redirects
to the same page without it, so it does not stay in the address bar or history.
"""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, Response, abort, redirect, request, session
from werkzeug.wrappers import Response as BaseResponse

TOKEN_PARAM = "token"  # noqa: S105 - the query parameter's name, not a token
CSRF_FIELD = "csrf"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})

# The desk's own pages: its stylesheet and script, nothing inline, nothing remote, and
# no page of it framed by another site.
PAGE_POLICY = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
# A rendered brief: its own inline styles and embedded charts, no script, no request
# anywhere, shown only inside the desk's sandboxed frame.
MESSAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'self'; sandbox"
)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


def csrf_token() -> str:
    """This session's CSRF token, made on first use."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = new_token()
        session[CSRF_FIELD] = token
    return token


def install(app: Flask, access_token: str) -> None:
    """Check every request before it reaches a view; set the headers of every answer."""

    @app.before_request
    def guard() -> BaseResponse | None:
        # DNS rebinding: a page on evil.example that resolves to 127.0.0.1 still names
        # its own host in the Host header
        if _host_name(request.host.lower()) not in LOOPBACK_HOSTS:
            abort(403, "the desk answers only to 127.0.0.1 or localhost")
        offered = request.args.get(TOKEN_PARAM)
        if offered is not None:
            if not hmac.compare_digest(offered.encode(), access_token.encode()):
                abort(403, "this access token is wrong; open the URL the desk printed")
            session.clear()
            session["authenticated"] = True
            csrf_token()
            return redirect(request.path, code=303)
        if session.get("authenticated") is not True:
            abort(403, "open the desk through the URL `execbrief review --serve` printed")
        if request.method == "POST":
            sent = request.form.get(CSRF_FIELD, "")
            expected = session.get(CSRF_FIELD)
            if not isinstance(expected, str) or not hmac.compare_digest(
                sent.encode(), expected.encode()
            ):
                abort(403, "this form is not from this desk session (CSRF check); reload")
        return None

    @app.after_request
    def headers(response: Response) -> Response:
        if "Content-Security-Policy" not in response.headers:
            response.headers["Content-Security-Policy"] = PAGE_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        return response

    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["csrf_field"] = CSRF_FIELD
