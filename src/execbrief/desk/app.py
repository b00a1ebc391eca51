"""The desk's Flask application and the loopback server that runs it."""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from typing import Any

from flask import Flask, render_template
from jinja2 import StrictUndefined
from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer, make_server

from execbrief.approval import approver
from execbrief.config import Workspace
from execbrief.desk import security
from execbrief.desk.jobs import Jobs
from execbrief.desk.views import Desk, bp
from execbrief.errors import ConfigError, RefusedError
from execbrief.templates import environment

HOST = "127.0.0.1"
log = logging.getLogger(__name__)


class _DeskFlask(Flask):
    # the templates end in .html.j2, which Flask's default would leave unescaped
    def select_jinja_autoescape(self, filename: str | None) -> bool:
        return True


def create_app(workspace: Workspace, token: str, *, analyst: str | None = None) -> Flask:
    """The desk for `workspace`, opened by `token`; `analyst` is who approves and the
    address test sends go to (default: git's user.email, else the login name)."""
    app = _DeskFlask(__name__, static_url_path="/static")
    app.jinja_options = {**app.jinja_options, "undefined": StrictUndefined}
    app.config.update(
        # a new key each start: a restarted desk needs its new URL, old cookies lapse
        SECRET_KEY=security.new_token(),
        SESSION_COOKIE_NAME="execbrief_desk",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        MAX_CONTENT_LENGTH=2_000_000,
    )
    app.extensions["execbrief.desk"] = Desk(
        workspace=workspace,
        analyst=analyst or approver(None, workspace.root),
        jobs=Jobs(),
        lock=threading.Lock(),
    )
    # the drafts' own number format, so a metric reads the same in the desk and the mail
    app.jinja_env.globals["number"] = environment().globals["number"]
    security.install(app, token)
    app.register_blueprint(bp)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[str, int]:
        return render_template(
            "desk/error.html.j2", code=exc.code, message=exc.description
        ), exc.code or 500

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[str, int]:
        # the traceback goes to the terminal running the desk, never to the page
        log.exception("the desk failed on a request", exc_info=exc)
        message = "Something went wrong in the desk; the terminal running it shows the details."
        return render_template("desk/error.html.j2", code=500, message=message), 500

    return app


def jobs_of(app: Flask) -> Jobs:
    found: Any = app.extensions["execbrief.desk"]
    assert isinstance(found, Desk)
    return found.jobs


def make_desk_server(app: Flask, host: str = HOST, port: int = 0) -> BaseWSGIServer:
    """A threaded WSGI server for `app` bound to loopback only.

    Werkzeug's server is enough for one analyst on one machine: a thread per request (the
    page polls while a regenerate runs), no TLS needed on loopback, and it stops cleanly.
    """
    try:
        loopback = ipaddress.ip_address(host) == ipaddress.ip_address(HOST)
    except ValueError:
        loopback = False
    if not loopback:
        raise RefusedError(
            f"the review desk listens on {HOST} only, not {host!r}",
            hint="reach it from another machine through an SSH tunnel: ssh -L PORT:127.0.0.1:PORT",
        )
    try:
        # werkzeug exits the process on a port in use; a probe turns that into one line
        if port:
            with socket.socket() as probe:
                # as the server's own socket does: a port left in TIME_WAIT is free
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((HOST, port))
        server = make_server(HOST, port, app, threaded=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {HOST}:{port}: {exc.strerror}",
            field="--port",
            hint="pick another --port, or 0 for any free one",
        ) from exc
    # cookies are per host, not per port: two desks at once must not sign each other out
    app.config["SESSION_COOKIE_NAME"] = f"execbrief_desk_{server.server_port}"
    return server


def desk_url(server: BaseWSGIServer, token: str, path: str = "/") -> str:
    return f"http://{HOST}:{server.server_port}{path}?{security.TOKEN_PARAM}={token}"
