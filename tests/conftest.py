"""Shared fixtures: a network guard, copies of the example workspace, CLI invocation."""

from __future__ import annotations

import ipaddress
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "portfolio"

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_local(address: Any) -> bool:
    if not isinstance(address, tuple):
        return True  # AF_UNIX paths
    host = address[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if not _is_local(address):
        raise RuntimeError(f"tests may not reach the network: connect to {address!r}")
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    if not _is_local(address):
        raise RuntimeError(f"tests may not reach the network: connect to {address!r}")
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True, scope="session")
def _no_network() -> Iterator[None]:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign,assignment]  # the guard itself
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign,assignment]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test sees the developer's keys, AWS profile or SES settings."""
    for name in (
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "SES_FROM_ADDRESS",
        "SES_TO_ADDRESS",
        "SES_BCC_ADDRESS",
        "SES_REGION",
        "SES_SENDER_EMAIL",
        "SES_RECIPIENTS",
        "RECIPIENT_EMAIL",
        "BCC_ADDRESS",
        "AWS_SES_REGION",
        "SES_ACCESS_KEY",
        "SES_SECRET_KEY",
        "EXECBRIEF_SMTP_PASSWORD",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    monkeypatch.setenv("COLUMNS", "200")
    # The code audit's result cache goes to a fresh folder, never the developer's own.
    monkeypatch.setenv("EXECBRIEF_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto as a real HTTP server on loopback, reached by boto3 through AWS_ENDPOINT_URL."""
    import requests
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # The server keeps moto's in-process state, which outlives a server: start clean.
    requests.post(f"{url}/moto-api/reset", timeout=5).raise_for_status()
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    # moto answers the calls it lacks (the cost forecast) with HTTP 500: retrying them
    # only slows the test down.
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    yield url
    server.stop()


@pytest.fixture
def example_workspace(tmp_path: Path) -> Path:
    """A copy of examples/portfolio; its outputs (../../outputs) land inside tmp_path."""
    target = tmp_path / "examples" / "portfolio"
    shutil.copytree(EXAMPLE, target)
    return target


@dataclass
class CliResult:
    code: int
    out: str
    err: str


class Cli(Protocol):
    """The `cli` fixture: `cli("run", "--workspace", path)` -> CliResult."""

    def __call__(self, *args: str | Path) -> CliResult: ...


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run `execbrief ARGS...` in-process; returns exit code, stdout and stderr."""

    from execbrief.cli import main

    def invoke(*args: str | Path) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return invoke


@pytest.fixture(scope="session")
def desk_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One offline run of the example (ceo and cfo) that the review desk's tests copy."""
    from tests.desk_client import make_run

    return make_run(tmp_path_factory.mktemp("desk-template"))
