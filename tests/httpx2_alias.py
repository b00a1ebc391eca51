"""Pytest plugin: make `import httpx` mean `httpx2` before anything imports httpx.

The anthropic SDK 2.x sends through httpx2; respx patches `httpx`. Aliasing first lets
respx see and answer the SDK's real requests. Load it ahead of conftest and plugins with
`-p tests.httpx2_alias` (pytest `addopts`).
"""

from __future__ import annotations

import httpx2

httpx2.alias_httpx()
