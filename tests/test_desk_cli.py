"""`execbrief review --serve`: prints a loopback URL with its token, serves the desk there,
stops cleanly on Ctrl-C; a port in use is one clear line; `review` alone keeps its table."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.desk_client import copy_run


@pytest.mark.slow
def test_serve_prints_a_tokened_loopback_url_serves_it_and_stops_on_ctrl_c(
    desk_template: Path, tmp_path: Path
) -> None:
    workspace = copy_run(desk_template, tmp_path / "copy")
    process = subprocess.Popen(
        [sys.executable, "-m", "execbrief", "review", "-w", str(workspace), "--serve",
         "--no-browser", "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+/\?token=[\w-]{40,})", first)
        assert found, first
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        with opener.open(found.group(1), timeout=20) as answer:
            page = answer.read().decode()
        assert "Chief Executive Officer" in page
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(found.group(1).split("?")[0], timeout=20)  # noqa: S310
        assert refused.value.code == 403
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=20)
        rest = process.stderr.read() if process.stderr else ""
    assert code == 0, rest
    assert "Stopping the review desk" in rest
    assert "token=" not in rest  # no request log repeats the token


def test_a_port_in_use_is_one_line_and_exit_2(
    cli: Cli, desk_template: Path, tmp_path: Path
) -> None:
    workspace = copy_run(desk_template, tmp_path / "copy")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = cli("review", "-w", workspace, "--serve", "--no-browser", "--port", str(port))

    assert result.code == 2
    assert f"error: --port: cannot listen on 127.0.0.1:{port}" in result.err
    assert "Traceback" not in result.err


def test_review_without_serve_keeps_its_terminal_table(
    cli: Cli, desk_template: Path, tmp_path: Path
) -> None:
    workspace = copy_run(desk_template, tmp_path / "copy")

    result = cli("review", "-w", workspace)

    assert result.code == 0
    assert "rev 1" in result.out
    assert "ceo" in result.out


def test_serve_on_a_run_that_does_not_exist_is_refused_before_listening(
    cli: Cli, desk_template: Path, tmp_path: Path
) -> None:
    workspace = copy_run(desk_template, tmp_path / "copy")

    result = cli("review", "-w", workspace, "--serve", "--no-browser", "--run", "20200101T000000Z")

    assert result.code == 2
    assert "no run '20200101T000000Z'" in result.err
    assert "Review desk" not in result.err
