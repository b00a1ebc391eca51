"""The send ledger in a DynamoDB table, shared by every machine sending for a workspace.

One item per claimed revision: partition key `workspace` (the workspace's ledger key),
sort key `claim` (`<run>#<persona>#<revision>`), the number of `attempts` made on it, the
sha256 of the message last claimed, and its `records` (SendRecord JSON, oldest first).
A first attempt is a PutItem that holds only if no item has that key; a later one (after
a failure, or `--force`) an UpdateItem that holds only if `attempts` is still what the
sender read. Either way, of two senders only one can hold a claim; outcomes are appended
to the claim's records. A test send gets an item of its own and always holds.
"""

from __future__ import annotations

import os
import threading
import uuid
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from execbrief.errors import AwsCallError, ConfigError
from execbrief.mail.aws_clients import mail_client
from execbrief.mail.ledger import FIRST_REVISION, Claim
from execbrief.models import LedgerRef, SendRecord

CONDITION_FAILED = "ConditionalCheckFailedException"
PURPOSE = "the DynamoDB send ledger"

# Building a client takes a good part of a second, and send, review and events open the
# ledger of each run they touch: one client per region (and endpoint, and profile) serves
# them all. Clients are thread-safe; building them on a shared session is not: the lock.
_clients: dict[tuple[str | None, ...], Any] = {}
_clients_lock = threading.Lock()


def _shared_client(region: str | None) -> Any:
    key = (region, os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_PROFILE"))
    with _clients_lock:
        if key not in _clients:
            _clients[key] = mail_client(
                boto3.Session(), "dynamodb", region, purpose=PURPOSE, field="ledger.region"
            )
        return _clients[key]


class DynamoLedger:
    """One run's records in the shared table."""

    def __init__(self, ref: LedgerRef, run_id: str, session: boto3.Session | None = None) -> None:
        self.ref = ref
        self.run_id = run_id
        if session is None:
            self._client = _shared_client(ref.region)
        else:
            self._client = mail_client(
                session, "dynamodb", ref.region, purpose=PURPOSE, field="ledger.region"
            )

    @property
    def where(self) -> str:
        return f"DynamoDB table {self.ref.table}"

    def repair(self) -> str | None:
        return None  # an item is written whole or not at all: nothing is ever torn

    def records(self) -> list[SendRecord]:
        records: list[SendRecord] = []
        request: dict[str, Any] = {
            "TableName": self.ref.table,
            "KeyConditionExpression": "workspace = :w AND begins_with(#c, :run)",
            "ExpressionAttributeNames": {"#c": "claim"},
            "ExpressionAttributeValues": {
                ":w": {"S": self.ref.workspace},
                ":run": {"S": f"{self.run_id}#"},
            },
            "ConsistentRead": True,
        }
        while True:
            try:
                page = self._client.query(**request)
            except (ClientError, BotoCoreError) as exc:
                raise self._failed("dynamodb:Query", exc) from exc
            for item in page.get("Items", []):
                records += self._parse(item)
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted(records, key=lambda r: r.ts)

    def check(self) -> None:
        """Refuse a table that cannot be read (missing, no access) before anything is paid
        for; a ConfigError or AwsCallError."""
        try:
            self._client.query(
                TableName=self.ref.table,
                KeyConditionExpression="workspace = :w",
                ExpressionAttributeValues={":w": {"S": self.ref.workspace}},
                Limit=1,
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._failed("dynamodb:Query", exc) from exc

    def claim(self, attempt: SendRecord, *, seen: int, sha256: str) -> Claim | None:
        revision = attempt.revision or FIRST_REVISION
        if attempt.test:
            key = f"{self.run_id}#{attempt.persona}#test-{uuid.uuid4().hex}"
        else:
            key = f"{self.run_id}#{attempt.persona}#{revision}"
        record = {"S": attempt.model_dump_json()}
        fresh = attempt.test or seen == 0
        action = "dynamodb:PutItem" if fresh else "dynamodb:UpdateItem"
        try:
            if fresh:
                self._client.put_item(
                    TableName=self.ref.table,
                    Item={
                        **self._key(key),
                        "run": {"S": self.run_id},
                        "attempts": {"N": "1"},
                        "sha256": {"S": sha256},
                        "records": {"L": [record]},
                    },
                    ConditionExpression="attribute_not_exists(#c)",
                    ExpressionAttributeNames={"#c": "claim"},
                )
            else:
                self._client.update_item(
                    TableName=self.ref.table,
                    Key=self._key(key),
                    UpdateExpression="SET attempts = :next, sha256 = :sha, "
                    "records = list_append(records, :r)",
                    ConditionExpression="attempts = :seen",
                    ExpressionAttributeValues={
                        ":seen": {"N": str(seen)},
                        ":next": {"N": str(seen + 1)},
                        ":sha": {"S": sha256},
                        ":r": {"L": [record]},
                    },
                )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == CONDITION_FAILED:
                return None
            raise self._failed(action, exc) from exc
        except BotoCoreError as exc:
            # Whether the claim was written is unknown: if it was, the revision now shows
            # an attempt without an outcome (in doubt), which nothing resends on its own.
            raise self._failed(action, exc) from exc
        return Claim(key=key)

    def settle(self, claim: Claim, outcome: SendRecord) -> None:
        try:
            self._client.update_item(
                TableName=self.ref.table,
                Key=self._key(claim.key),
                UpdateExpression="SET records = list_append(records, :r)",
                ConditionExpression="attribute_exists(#c)",
                ExpressionAttributeNames={"#c": "claim"},
                ExpressionAttributeValues={":r": {"L": [{"S": outcome.model_dump_json()}]}},
            )
        except (ClientError, BotoCoreError) as exc:
            # The message's fate is known here but cannot be recorded: stop before the
            # next send, and leave the claim as it stands (in doubt) rather than guess.
            raise self._failed(
                "dynamodb:UpdateItem",
                exc,
                f"{outcome.persona} was {outcome.event.value} but the ledger still shows "
                "it in doubt; check its mailbox before `send --force`",
            ) from exc

    def _key(self, claim: str) -> dict[str, Any]:
        return {"workspace": {"S": self.ref.workspace}, "claim": {"S": claim}}

    def _parse(self, item: dict[str, Any]) -> list[SendRecord]:
        claim = str(item.get("claim", {}).get("S", "?"))
        try:
            return [SendRecord.model_validate_json(r["S"]) for r in item["records"]["L"]]
        except (KeyError, TypeError, ValidationError) as exc:
            raise ConfigError(
                f"item {claim!r} of the send ledger is not a list of send records",
                path=f"dynamodb://{self.ref.table}",
                field="ledger.table",
                hint="the table must hold only execbrief's ledger items; restore the item",
            ) from exc

    def _failed(self, action: str, exc: Exception, detail: str | None = None) -> Exception:
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
        if code == "ResourceNotFoundException":
            return ConfigError(
                f"the send ledger table {self.ref.table!r} does not exist",
                field="ledger.table",
                hint="create it (docs/MAIL.md, `Shared ledger`), or check ledger.region",
            )
        what = f"{action} on the send ledger table {self.ref.table!r} failed: {exc}"
        return AwsCallError(
            f"{what}; {detail}" if detail else what,
            action=action,
            hint="check AWS credentials, ledger.region, AWS_ENDPOINT_URL and the IAM policy",
        )
