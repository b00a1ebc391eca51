"""The run archive in S3 (`archive: s3://bucket/prefix`): each finished run's folder is
uploaded under `prefix/<run-id>/`, and `review --run s3://bucket/prefix/<run-id>` reads one
back into a cache folder under outputs (`outputs/.archive/<bucket>/<prefix>/<run-id>/`).

Only the run folder's own regular files go up (no symlink is followed, nothing outside
the folder is read), and only keys that name a file inside the cache folder come down.
A failed upload is reported, never raised: the local run is complete either way.
"""

from __future__ import annotations

import mimetypes
import os
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, Field

from execbrief.config import parse_s3_url
from execbrief.errors import AwsCallError, ConfigError
from execbrief.runs import RunFolder

SCHEME = "s3://"
CACHE = ".archive"


class ArchiveReport(BaseModel):
    """What one upload of a run did."""

    url: str = Field(description="s3://bucket/prefix/<run-id>")
    files: int = Field(0, description="Files uploaded.")
    error: str | None = Field(None, description="Why the upload stopped, if it did.")


def split_url(url: str) -> tuple[str, str]:
    """(bucket, key prefix without slashes at either end) of an s3:// address."""
    parsed = parse_s3_url(url)
    if parsed is None:
        raise ConfigError(
            f"not an archive address: {url!r}",
            field="--run",
            hint="s3://bucket/prefix/<run-id>: a lower-case bucket name, then folder names "
            "of letters, digits and _ . = -",
        )
    return parsed


def _make_client(service: str, session: boto3.Session | None) -> Any:
    """A client; AWS_ENDPOINT_URL and the profile's settings apply."""
    try:
        return (session or boto3.Session()).client(service)
    except BotoCoreError as exc:
        raise ConfigError(
            f"cannot set up the {service} client: {exc}",
            field="archive",
            hint="check AWS_PROFILE, AWS_ENDPOINT_URL and the AWS config files",
        ) from exc


def run_files(run: RunFolder) -> list[Path]:
    """The run folder's regular files, symlinks and half-written temporary files left out."""
    root = run.path.resolve()
    found: list[Path] = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not (Path(folder) / d).is_symlink())
        for name in sorted(files):
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            if name.startswith(".") and name.endswith(".tmp"):
                continue  # an atomic write in progress (runs.write_atomic)
            found.append(path)
    return found


def upload_run(archive: str, run: RunFolder, session: boto3.Session | None = None) -> ArchiveReport:
    """Upload every file of `run` under `archive/<run-id>/`; a failure is in the report."""
    bucket, prefix = split_url(archive)
    base = "/".join(p for p in (prefix, run.run_id) if p)
    report = ArchiveReport(url=f"{SCHEME}{bucket}/{base}")
    s3 = _make_client("s3", session)
    root = run.path.resolve()
    for path in run_files(run):
        key = f"{base}/{path.relative_to(root).as_posix()}"
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType=content_type)
        except (ClientError, BotoCoreError) as exc:
            report.error = (
                f"s3:PutObject of {key} to bucket {bucket!r} failed ({_reason(exc)}) after "
                f"{report.files} files"
            )
            return report
        report.files += 1
    return report


def fetch_run(url: str, outputs: Path, session: boto3.Session | None = None) -> RunFolder:
    """Download the archived run at `url` into its cache folder under `outputs`, replacing
    an earlier copy; the folder is for reading, nothing is sent from it."""
    bucket, key_prefix = split_url(url)
    if not key_prefix:
        raise ConfigError(
            f"{url} names a bucket, not a run", field="--run", hint="s3://bucket/prefix/<run-id>"
        )
    cache = outputs.resolve() / CACHE / bucket / key_prefix
    partial = cache.with_name(f".{cache.name}.partial")
    if partial.exists():
        shutil.rmtree(partial)
    s3 = _make_client("s3", session)
    count = 0
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=f"{key_prefix}/"
        ):
            for entry in page.get("Contents", []):
                key = str(entry["Key"])
                if key.endswith("/"):
                    continue  # a folder marker some S3 tools write, not a file
                target = _inside(partial, key[len(key_prefix) + 1 :], key)
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(body)
                count += 1
    except (ClientError, BotoCoreError) as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise AwsCallError(
            f"reading the archived run {url} failed: {_reason(exc)}",
            action="s3:GetObject",
            hint="check the address, AWS credentials, AWS_ENDPOINT_URL and s3:ListBucket / "
            "s3:GetObject on the archive prefix",
        ) from exc
    if count == 0 or not (partial / "manifest.json").is_file():
        shutil.rmtree(partial, ignore_errors=True)
        raise ConfigError(
            f"no archived run at {url}",
            field="--run",
            hint="name a run folder of the archive: s3://bucket/prefix/<run-id>",
        )
    if cache.exists():
        shutil.rmtree(cache)
    partial.rename(cache)
    return RunFolder(cache)


def _inside(folder: Path, relative: str, key: str) -> Path:
    """Where an object goes: a file inside `folder`, never a path elsewhere."""
    parts = PurePosixPath(relative).parts
    unsafe = [p for p in parts if p in (".", "..") or "\\" in p or "\0" in p]
    if not parts or relative.startswith("/") or unsafe:
        raise ConfigError(
            f"archive object {key!r} does not name a file inside the run",
            hint="the archive prefix must hold only files that execbrief uploaded",
        )
    target = folder.joinpath(*parts)
    if not target.resolve().is_relative_to(folder.resolve()):
        raise ConfigError(f"archive object {key!r} leads outside the run folder")
    return target


def _reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', '?')}: {error.get('Message', '')}".rstrip(": ")
    return str(exc)
