"""`execbrief init`: a new workspace with a commented config, a handoff note and personas/."""

from __future__ import annotations

from pathlib import Path

from execbrief.config import CONFIG_NAME
from execbrief.errors import RefusedError
from execbrief.files import write_atomic

CONFIG_TEMPLATE = """\
# execbrief workspace. Relative paths are relative to this file.
# Only `portfolio` and `entities` are required.

# The name that heads every brief.
portfolio: My Portfolio

# The businesses evidence is attributed to: an id (lower-case, used by personas and
# facts), a display name, and aliases that identify it in file names and headings.
entities:
  - {id: example_co, name: Example Co, aliases: [example company]}

# Where the evidence lives. A source left out is not collected (no AWS call without aws:).
sources:
  handoffs: [handoffs/*.md]        # globs of Markdown handoff notes
  repos: []                        # paths or globs of git repositories to audit
  # aws:                           # the live AWS account (credentials: the usual AWS chain)
  #   regions: [us-west-2]
  #   profile: null                # or set AWS_PROFILE
  #   role_arn: null               # a role to assume for read-only inventory
  #   snapshot: null               # replay a saved inventory instead of calling AWS
  # ledger:                        # the books: a transactions CSV
  #   path: books/ledger.csv
  #   cash_balance: 0              # for runway
  #   unit_economics: {}           # e.g. {charter_price: 1450, charter_variable_cost: 310}

# Persona ids to write (a brief with no fact in view fails). The five core lenses fit
# any portfolio; the domain audits below are examples written for the bundled example's
# businesses (a rental property, a yacht-delivery line, a consultancy's clients):
# uncomment one only if you run such a business, or write your own in personas/. Files
# there override shipped ones by id.
personas:
  - ceo
  - cto
  - cfo
  - cmo
  - accounting
  # - rental
  # - yacht_delivery
  # - client_portfolio

llm:
  provider: auto                   # auto | anthropic | bedrock | openai | offline
  model: null                      # null: the provider's default model
  max_tokens: 8000                 # per brief; a persona may override it
  concurrency: 8                   # briefs written at once

mail:
  transport: file                  # file (writes outputs/<run>/outbox) | ses | smtp
  from: reports@example.com        # for SES, a verified identity
  bcc_audit: audit@example.com     # an audit copy of every brief, never in a header
  region: us-west-2                # SES region
  configuration_set: null          # SES configuration set for event tracking

# Who receives each brief (persona id -> to, cc). ses and smtp send only approved drafts
# (`execbrief approve`) and refuse example.com addresses; the file transport takes any.
recipients: {}                     # e.g. {cfo: {to: [cfo@yourco.com], cc: [books@yourco.com]}}

outputs: outputs                   # where runs are written
# archive: s3://bucket/prefix      # also upload each finished run there (docs/MAIL.md)
# ledger:                          # the send ledger; default: a file in each run folder
#   backend: dynamodb              # one table shared by every machine that sends
#   table: execbrief-ledger
"""

HANDOFF_TEMPLATE = """\
---
entity: example_co
owner: Your Name
updated: 2026-01-01
status: active
---
# Example Co handoff

## Financials

| Metric | Value |
| --- | --- |
| Monthly revenue | $12,000 |
| Monthly burn | $9,500 |

## Technical Debt

- Risk: deploys are done by hand from a laptop.

## Decisions

- Decision: move booking confirmations to email.
"""

PERSONAS_README = """\
# Workspace personas

A YAML file here with the id of a shipped persona (e.g. `cto.yaml`) replaces it for this
workspace; a file with a new id adds a persona. `execbrief personas validate` checks them.
"""


def scaffold_workspace(directory: Path) -> list[Path]:
    """Create the workspace files in a new or empty folder; refuse to overwrite anything."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise RefusedError(
            f"{directory} exists and is not an empty folder",
            hint="choose a new folder; init never overwrites files",
        )
    files = {
        directory / CONFIG_NAME: CONFIG_TEMPLATE,
        directory / "handoffs" / "example-co.md": HANDOFF_TEMPLATE,
        directory / "personas" / "README.md": PERSONAS_README,
    }
    for path, content in files.items():
        write_atomic(path, content)
    return list(files)


def review_steps(directory: Path) -> list[str]:
    """The analyst's path from drafts to inboxes, as commands for this workspace."""
    w = f"-w {directory}"
    return [
        f"`execbrief run {w}` (drafts)",
        f"`execbrief review {w}`",
        f"`execbrief approve {w} --all`",
        f"`execbrief send {w}`",
    ]
