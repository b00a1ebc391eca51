"""The compiled rule database is kept in the cache folder and loaded instead of compiled.

A stale, corrupt or unwritable cache must cost only the compile, never a wrong scan.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import hyperscan
import pytest

from execbrief.secrets.rules import prefilter

# Assembled at run time: a Stripe-shaped key beside a fold and a key-taking call.
_KEY = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dcXq"
SAMPLE = (f'API_KEY = "{_KEY}"\nSIGNING = "ab" "cd"\nhmac.new(SIGNING, b"m")\n').encode()


@pytest.fixture(autouse=True)
def _fresh_prefilters() -> Iterator[None]:
    """`prefilter` keeps one per engine for the process; these tests build their own."""
    prefilter.cache_clear()
    yield
    prefilter.cache_clear()


def _scanned(data: bytes) -> tuple[list[int], list[tuple[int, int]], list[int]]:
    found = prefilter("hyperscan").scan(data, python=True)
    return found.hits, found.folds, found.key_uses


def _stored(cache: Path) -> list[Path]:
    return sorted((cache / "rules").glob("hyperscan-*.db"))


def test_the_second_prefilter_loads_what_the_first_compiled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXECBRIEF_CACHE_DIR", str(tmp_path))
    first = _scanned(SAMPLE)
    assert len(_stored(tmp_path)) == 3  # text, quoted-only, python
    assert first[0] and first[1] and first[2]

    def no_compiling() -> None:
        raise AssertionError("compiled although the cache holds the database")

    monkeypatch.setattr(hyperscan, "Database", no_compiling)
    prefilter.cache_clear()
    assert _scanned(SAMPLE) == first


def test_a_corrupt_cache_file_is_compiled_again_and_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXECBRIEF_CACHE_DIR", str(tmp_path))
    expected = _scanned(SAMPLE)
    assert len(_stored(tmp_path)) == 3
    for path in _stored(tmp_path):
        path.write_bytes(b"not a database")
    prefilter.cache_clear()
    assert _scanned(SAMPLE) == expected
    assert all(path.read_bytes() != b"not a database" for path in _stored(tmp_path))
    prefilter.cache_clear()
    assert _scanned(SAMPLE) == expected


def test_an_unwritable_cache_folder_still_scans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder would be\n")
    monkeypatch.setenv("EXECBRIEF_CACHE_DIR", str(blocked))
    assert _scanned(SAMPLE)[0]
    assert not (tmp_path / "rules").exists()


def test_a_changed_rule_set_is_not_served_the_old_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXECBRIEF_CACHE_DIR", str(tmp_path))
    _scanned(SAMPLE)
    before = {p.name for p in _stored(tmp_path)}
    monkeypatch.setattr(hyperscan, "__version__", "0.0.0-other")
    prefilter.cache_clear()
    _scanned(SAMPLE)
    assert len({p.name for p in _stored(tmp_path)} - before) == 3
