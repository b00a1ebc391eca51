"""The review desk under Flask's test client: a run of the example, a signed-in client."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from execbrief.config import load_workspace
from execbrief.desk.app import create_app, desk_url, jobs_of, make_desk_server
from tests.conftest import EXAMPLE
from tests.mail_servers import DOMAIN, use_addresses

TOKEN = "desk-test-token-0123456789"
ANALYST = "ann@execbrief-e2e.dev"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_FLASH = re.compile(r'<p class="flash (ok|error)"[^>]*>(.*?)</p>', re.DOTALL)


def latest(workspace: Path) -> Path:
    return (workspace.parent.parent / "outputs" / "latest").resolve()


@dataclass
class Desk:
    app: Flask
    client: FlaskClient
    workspace: Path

    @property
    def run(self) -> Path:
        return latest(self.workspace)

    def brief(self, persona: str) -> str:
        return f"/runs/{self.run.name}/{persona}"

    def page(self, path: str) -> str:
        answer = self.client.get(path)
        assert answer.status_code == 200, answer.text
        return answer.text

    def csrf(self) -> str:
        return self.form_fields("ceo")[0]

    def rev(self, persona: str) -> str:
        return self.form_fields(persona)[1]

    def form_fields(self, persona: str) -> tuple[str, str]:
        """The CSRF token and the revision the brief's forms carry."""
        html = self.page(self.brief(persona))
        csrf, rev = _CSRF.search(html), re.search(r'data-rev="(\d*)"', html)
        assert csrf is not None
        assert rev is not None
        return csrf.group(1), rev.group(1)

    def post(self, persona: str, action: str, **form: str | list[str]) -> TestResponse:
        """POST an action as the page's form would, with its CSRF token and revision."""
        csrf, rev = self.form_fields(persona)
        data: dict[str, str | list[str]] = {"csrf": csrf, "rev": rev}
        data.update(form)
        return self.client.post(f"{self.brief(persona)}/{action}", data=data)

    def act(self, persona: str, action: str, **form: str | list[str]) -> list[tuple[str, str]]:
        """POST an action, follow its redirect; the flash messages the page then shows."""
        answer = self.post(persona, action, **form)
        assert answer.status_code == 303, answer.text
        return flashes(self.page(self.brief(persona)))


def flashes(html: str) -> list[tuple[str, str]]:
    from html import unescape

    return [(kind, unescape(text).strip()) for kind, text in _FLASH.findall(html)]


def open_desk(workspace: Path) -> Desk:
    app = create_app(load_workspace(workspace), TOKEN, analyst=ANALYST)
    app.config["TESTING"] = True
    client = app.test_client()
    answer = client.get(f"/?token={TOKEN}")
    assert answer.status_code == 303
    return Desk(app, client, workspace)


ENV_FREE = ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "SES_FROM_ADDRESS", "SES_BCC_ADDRESS")
RECIPIENT = f"owner@{DOMAIN}"


def make_run(root: Path, personas: str = "[ceo, cfo]") -> Path:
    """A copy of the example under `root` with its offline drafts rendered, addressed to
    non-reserved addresses so that smtp may send them; returns the workspace."""
    from execbrief.cli import main

    workspace = root / "ws" / "examples" / "portfolio"
    shutil.copytree(EXAMPLE, workspace)
    config = workspace / "execbrief.yaml"
    config.write_text(use_addresses(config.read_text(), "file") + f"personas: {personas}\n")
    with pytest.MonkeyPatch.context() as patch:
        for name in ENV_FREE:
            patch.delenv(name, raising=False)
        patch.setenv("SES_TO_ADDRESS", RECIPIENT)
        patch.setenv("EXECBRIEF_CACHE_DIR", str(root / "cache"))
        assert main(["run", "-w", str(workspace)]) == 0
    return workspace


def copy_run(template: Path, target: Path) -> Path:
    """A fresh copy of a workspace made by make_run, with its outputs and `latest`."""
    root = template.parent.parent
    shutil.copytree(root, target, symlinks=True)
    return target / "examples" / "portfolio"


def use_smtp(workspace: Path, port: int) -> None:
    config = workspace / "execbrief.yaml"
    smtp = f"  smtp: {{host: 127.0.0.1, port: {port}, security: none}}\n"
    text = config.read_text().replace("transport: file", "transport: smtp")
    config.write_text(text.replace("  region: us-west-2\n", "  region: us-west-2\n" + smtp))


@contextmanager
def serve_desk(workspace: Path) -> Iterator[str]:
    """The desk on a free loopback port in a thread; yields its URL with the token."""
    app = create_app(load_workspace(workspace), TOKEN, analyst=ANALYST)
    server = make_desk_server(app, port=0)
    thread = threading.Thread(target=server.serve_forever, name="desk")
    thread.start()
    try:
        yield desk_url(server, TOKEN)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        jobs_of(app).wait()
