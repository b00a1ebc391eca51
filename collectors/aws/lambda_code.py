"""Secrets in Lambda functions, found by value: environment values and deployed archives.

Values are judged in memory with the one secret catalogue (execbrief.secrets) and leave
this module masked, as `SecretHit`s; the raw value, the environment and the archive are
dropped when the function returns. Nothing here writes to disk or logs a value.
"""

from __future__ import annotations

import io
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from execbrief.secrets.mask import mask
from execbrief.secrets.rules import Match, is_config_file, is_lock_file, match_line, prefilter

from .snapshot import SecretHit

# Lambda accepts archives up to 50 MB zipped when uploaded directly; through S3 they may
# be larger. Bigger than this is not read, so one huge layer cannot stall the snapshot.
MAX_ARCHIVE_BYTES = 80 * 1024 * 1024
_MAX_MEMBER_BYTES = 2 * 1024 * 1024
# Third-party code bundled with the function: its test fixtures and docs are full of
# key-shaped examples, and a secret of the business is not kept there.
_DEPENDENCY_PARTS = frozenset({"node_modules", "site-packages", "vendor", "__pycache__"})
_DEPENDENCY_SUFFIXES = (".dist-info", ".egg-info")

# (Code.Location, the service's endpoint URL) -> the archive's bytes.
Download = Callable[[str, str], bytes]


def find_secrets(text: str, unquoted: bool = True) -> Iterator[tuple[int, Match]]:
    """(line number, match) for every secret in `text`: the one call into the catalogue."""
    # TODO(#17): switch to execbrief.secrets.detect.find_secrets once it lands on main.
    for number, line in enumerate(text.splitlines(), start=1):
        for match in match_line(line.encode(), unquoted=unquoted):
            yield number, match


def _hit(match: Match, where: str) -> SecretHit:
    return SecretHit(
        rule=match.rule.id,
        label=match.rule.label,
        severity=match.rule.severity.value,
        masked=mask(match.value),
        where=where,
    )


def _strongest(hits: Iterator[SecretHit]) -> list[SecretHit]:
    """One hit per place and value; the most severe rule wins when several match."""
    order = ["critical", "high", "medium", "low", "info"]
    best: dict[tuple[str, str], SecretHit] = {}
    for hit in hits:
        key = (hit.where, hit.masked)
        if key not in best or order.index(hit.severity) < order.index(best[key].severity):
            best[key] = hit
    return sorted(best.values(), key=lambda hit: hit.where)


def env_secrets(variables: dict[str, str]) -> list[SecretHit]:
    """Environment variables whose value is a secret, by the value's shape, masked."""
    return _strongest(
        _hit(match, name)
        for name, value in variables.items()
        for _, match in find_secrets(f"{name}={value}")
    )


def archive_secrets(archive: bytes) -> list[SecretHit]:
    """Secrets in the code files of a deployment archive (zip), masked, as `path:line`."""
    engine = prefilter()
    hits: list[SecretHit] = []
    with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
        for member in bundle.infolist():
            path = member.filename
            if member.is_dir() or member.file_size > _MAX_MEMBER_BYTES or _dependency(path):
                continue
            if is_lock_file(path):
                continue
            data = bundle.read(member)
            if b"\0" in data[:8192]:
                continue  # binary
            offsets, _ = engine.hits(data, python=False)
            if not offsets:
                continue
            text = data.decode("utf-8", errors="replace")
            hits += [
                _hit(match, f"{path}:{number}")
                for number, match in find_secrets(text, unquoted=is_config_file(path))
            ]
    return _strongest(iter(hits))


def _dependency(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return any(part in _DEPENDENCY_PARTS or part.endswith(_DEPENDENCY_SUFFIXES) for part in parts)


class CodeUnavailable(NotImplementedError):
    """The archive's location cannot be fetched from here (an emulator's fake address)."""


def _aws_host(host: str) -> bool:
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn"))


def download_code(location: str, endpoint_url: str, limit: int = MAX_ARCHIVE_BYTES) -> bytes:
    """The archive at a pre-signed `Code.Location`, read into memory, never to disk.

    Against an emulator (an endpoint outside AWS) an AWS-hosted location is not fetched:
    the emulator does not serve it, and the read must not reach the real AWS.
    """
    url = urlsplit(location)
    if url.scheme not in ("https", "http"):
        raise CodeUnavailable(f"code location of scheme {url.scheme or 'none'} is not served")
    if _aws_host(url.hostname or "") and not _aws_host(urlsplit(endpoint_url).hostname or ""):
        raise CodeUnavailable(f"code location on {url.hostname} is outside the configured endpoint")
    with urllib.request.urlopen(location, timeout=30) as response:  # noqa: S310  # scheme checked above
        archive: bytes = response.read(limit + 1)
    if len(archive) > limit:
        raise CodeUnavailable(f"code archive larger than {limit:,} bytes is not read")
    return archive
