"""The review desk refuses whoever is not the analyst at this machine: no token, a
foreign Host, a POST without its CSRF token, a path outside outputs, a non-loopback bind."""

from __future__ import annotations

import re
import threading
import urllib.request
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from execbrief.config import load_workspace
from execbrief.desk.app import create_app, desk_url, make_desk_server
from execbrief.desk.security import MESSAGE_POLICY, PAGE_POLICY
from execbrief.errors import ConfigError, RefusedError
from execbrief.revisions import read_history
from execbrief.runs import RunFolder
from tests.desk_client import TOKEN, Desk, copy_run, open_desk


@pytest.fixture
def desk(desk_template: Path, tmp_path: Path) -> Desk:
    return open_desk(copy_run(desk_template, tmp_path / "copy"))


def _fresh_client(desk: Desk) -> object:
    return desk.app.test_client()


def test_without_the_token_every_page_and_action_is_refused(desk: Desk) -> None:
    stranger = desk.app.test_client()
    brief = desk.brief("ceo")

    for path in ("/", brief, f"{brief}/message.html", f"{brief}/state.json", "/static/desk.css"):
        answer = stranger.get(path)
        assert answer.status_code == 403, path
        assert "execbrief review --serve" in answer.text
    assert stranger.post(f"{brief}/approve", data={"rev": "1"}).status_code == 403
    assert read_history(RunFolder(desk.run), "ceo").approvals == []


def test_a_wrong_token_is_refused_and_sets_no_cookie(desk: Desk) -> None:
    stranger = desk.app.test_client()

    answer = stranger.get("/?token=guessed-token")

    assert answer.status_code == 403
    assert "access token is wrong" in answer.text
    assert "Set-Cookie" not in answer.headers
    assert stranger.get(desk.brief("ceo")).status_code == 403


def test_the_token_is_traded_for_a_strict_httponly_cookie_and_leaves_the_url(desk: Desk) -> None:
    visitor = desk.app.test_client()

    answer = visitor.get(f"{desk.brief('ceo')}?token={TOKEN}")

    assert answer.status_code == 303
    assert answer.headers["Location"] == desk.brief("ceo")
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert TOKEN not in cookie
    assert visitor.get(desk.brief("ceo")).status_code == 200


def test_a_post_without_the_sessions_csrf_token_is_refused(desk: Desk) -> None:
    approve = f"{desk.brief('ceo')}/approve"
    rev = desk.rev("ceo")

    missing = desk.client.post(approve, data={"rev": rev})
    forged = desk.client.post(approve, data={"rev": rev, "csrf": "x" * 43})
    # another session's token is not this one's
    other = open_desk(desk.workspace)
    borrowed = desk.client.post(approve, data={"rev": rev, "csrf": other.csrf()})

    for answer in (missing, forged, borrowed):
        assert answer.status_code == 403
        assert "CSRF" in answer.text
    assert read_history(RunFolder(desk.run), "ceo").approvals == []
    assert desk.post("ceo", "approve").status_code == 303
    assert len(read_history(RunFolder(desk.run), "ceo").approvals) == 1


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "10.0.0.7", "127.0.0.2"])
def test_a_foreign_host_header_is_refused(desk: Desk, host: str) -> None:
    answer = desk.client.get(desk.brief("ceo"), headers={"Host": host})

    assert answer.status_code == 403
    assert "127.0.0.1 or localhost" in answer.text


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:8123", "[::1]:8123"])
def test_loopback_host_headers_are_served(desk: Desk, host: str) -> None:
    visitor = desk.app.test_client()
    answer = visitor.get(f"/?token={TOKEN}", headers={"Host": host})
    assert answer.status_code == 303
    assert visitor.get(desk.brief("ceo"), headers={"Host": host}).status_code == 200


@pytest.mark.parametrize(
    "name",
    [
        "../../examples/portfolio/execbrief.yaml",
        "..%2F..%2Fexamples%2Fportfolio%2Fexecbrief.yaml",
        "/etc/passwd",
        "ceo/../../../ws/examples/portfolio/execbrief.yaml",
        "ceo/report.html",
        "ceo/missing.md",
        "outside.json",
    ],
)
def test_nothing_outside_the_run_folder_nor_raw_html_is_served(desk: Desk, name: str) -> None:
    (desk.run / "outside.json").symlink_to(desk.workspace / "execbrief.yaml")

    answer = desk.client.get(f"/runs/{desk.run.name}/files/{name}", follow_redirects=True)

    assert answer.status_code == 404
    assert "portfolio:" not in answer.text


def test_a_run_outside_outputs_is_not_found(desk: Desk) -> None:
    for run in ("..", "..%2F..", "%2Fetc"):
        answer = desk.client.get(f"/runs/{run}", follow_redirects=True)
        assert answer.status_code == 404, run
    assert desk.client.get("/runs/20990101T000000Z").status_code == 404
    assert desk.client.get(f"/runs/{desk.run.name}/nobody").status_code == 404


def test_draft_files_are_served_as_plain_text(desk: Desk) -> None:
    answer = desk.client.get(f"/runs/{desk.run.name}/files/ceo/report.md")

    assert answer.status_code == 200
    assert answer.mimetype == "text/plain"
    assert answer.text == (desk.run / "ceo" / "report.md").read_text()


def test_every_answer_carries_the_strict_policy_and_the_brief_is_sandboxed(desk: Desk) -> None:
    page = desk.client.get(desk.brief("ceo"))
    frame = desk.client.get(f"{desk.brief('ceo')}/message.html")
    refused = desk.app.test_client().get("/")
    missing = desk.client.get("/runs/nope")

    for answer in (page, refused, missing):
        assert answer.headers["Content-Security-Policy"] == PAGE_POLICY
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert frame.headers["Content-Security-Policy"] == MESSAGE_POLICY
    frames = re.findall(r"<iframe[^>]*>", page.text)
    assert frames
    assert all(" sandbox " in f and "allow-" not in f for f in frames)
    # the charts travel inside the frame's HTML: the sandbox fetches nothing
    assert "cid:" not in frame.text
    assert "data:image/png;base64," in frame.text


def test_an_unexpected_failure_shows_a_plain_message_not_a_traceback(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    import execbrief.desk.views as views

    def broken(*_: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views, "run_page", broken)
    desk.app.config["TESTING"] = False
    desk.app.config["PROPAGATE_EXCEPTIONS"] = False

    answer = desk.client.get(f"/runs/{desk.run.name}")

    assert answer.status_code == 500
    assert "the terminal running it shows the details" in answer.text
    assert "secret internals" not in answer.text
    assert "Traceback" not in answer.text


@pytest.fixture
def served(desk: Desk) -> Iterator[tuple[str, int]]:
    server = make_desk_server(desk.app, port=0)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        yield desk_url(server, TOKEN), server.socket.getsockname()
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_the_server_listens_on_loopback_only_and_answers_there(
    served: tuple[str, tuple[str, int]],
) -> None:
    url, (address, port) = served
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    with opener.open(url, timeout=10) as answer:
        page = answer.read().decode()

    assert address == "127.0.0.1"
    assert port > 0
    assert url == f"http://127.0.0.1:{port}/?token={TOKEN}"
    assert "Harbor &amp; Hill Holdings" in page


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "localhost", "::1"])  # noqa: S104
def test_asking_for_another_address_is_refused(desk_template: Path, host: str) -> None:
    app = create_app(load_workspace(desk_template), TOKEN)

    with pytest.raises(RefusedError, match=r"listens on 127\.0\.0\.1 only"):
        make_desk_server(app, host=host, port=0)


def test_a_port_in_use_is_one_clear_error(desk_template: Path) -> None:
    app = create_app(load_workspace(desk_template), TOKEN)
    first = make_desk_server(app, port=0)
    try:
        with pytest.raises(ConfigError, match=r"cannot listen on 127\.0\.0\.1:\d+"):
            make_desk_server(app, port=first.server_port)
    finally:
        first.server_close()
