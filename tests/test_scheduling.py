"""The scheduling recipes (docs/scheduling/) hold together and grant what the code calls."""

from __future__ import annotations

import json
import shutil
import subprocess
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from tests.iam_scan import scan_actions, scan_calls

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "scheduling"
# The operator's one-time set-up, not something a scheduled run does.
SETUP_SOURCES = [REPO / "src" / "execbrief" / "mail" / "events_setup.py"]
RUNTIME_SOURCES = sorted(
    p
    for p in [
        *(REPO / "collectors" / "aws").glob("*.py"),
        *(REPO / "src/execbrief/mail").glob("*.py"),
        REPO / "src/execbrief/archive.py",
    ]
    if p not in SETUP_SOURCES
)
# AWS authorizes GetCallerIdentity for every identity; a policy need not grant it.
NEEDS_NO_PERMISSION = {"sts:GetCallerIdentity"}
# What a Step Functions task integration calls on the state machine's behalf.
INTEGRATION_ACTIONS = {
    "arn:aws:states:::ecs:runTask.sync": {
        "ecs:RunTask",
        "ecs:StopTask",
        "ecs:DescribeTasks",
        "events:PutTargets",
        "events:PutRule",
        "events:DescribeRule",
        "iam:PassRole",  # the task definition's task and execution roles
    },
}
# A Distributed Map starts one child execution of the state machine per batch of items.
DISTRIBUTED_MAP_ACTIONS = {
    "states:StartExecution",
    "states:DescribeExecution",
    "states:StopExecution",
}
STATE_MACHINE_ARN = "arn:aws:states:us-west-2:123456789012:stateMachine:execbrief-fleet"


def _load(name: str) -> Any:
    return json.loads((DOCS / name).read_text(encoding="utf-8"))


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    assert policy["Version"] == "2012-10-17"
    statements = policy["Statement"]
    assert all(s["Effect"] == "Allow" for s in statements)
    return list(statements)


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def policy_actions(policy: dict[str, Any]) -> set[str]:
    return {a for s in _statements(policy) for a in _as_list(s["Action"])}


def allows(policy: dict[str, Any], action: str, resource: str) -> bool:
    """Whether an Allow statement names the action on a resource pattern matching it."""
    return any(
        action in _as_list(s["Action"])
        and any(fnmatchcase(resource, pattern) for pattern in _as_list(s["Resource"]))
        for s in _statements(policy)
    )


def test_every_recipe_file_is_json() -> None:
    names = sorted(p.name for p in DOCS.glob("*.json"))

    assert names == [
        "events-setup-policy.json",
        "execution-role-policy.json",
        "schedule.json",
        "scheduler-role-policy.json",
        "state-machine-role-policy.json",
        "state-machine.asl.json",
        "task-definition.json",
        "task-role-policy.json",
    ]
    for name in names:
        assert isinstance(_load(name), dict), name


def test_the_scan_finds_calls_made_through_each_way_the_code_makes_them() -> None:
    calls = scan_calls(RUNTIME_SOURCES)

    # a method of a client kept on self, a client made inline, and send_email by reference
    assert {("sesv2", "get_email_identity"), ("ses", "get_send_quota")} <= calls
    assert ("sesv2", "send_email") in calls
    # ServiceCalls.call / .pages, a function handed to attempt(), a nested helper by name
    assert {("ce", "get_cost_and_usage"), ("dynamodb", "describe_table")} <= calls
    assert ("apigatewayv2", "get_routes") in calls and ("apigateway", "get_resources") in calls
    assert ("s3", "get_bucket_lifecycle_configuration") in calls
    assert {("sqs", "receive_message"), ("sqs", "delete_message")} <= calls
    assert ("sts", "assume_role") in calls
    # the shared ledger (a client from mail_client) and the run archive
    assert {("dynamodb", "put_item"), ("dynamodb", "update_item"), ("dynamodb", "query")} <= calls
    assert {("s3", "put_object"), ("s3", "get_object"), ("s3", "list_objects_v2")} <= calls


def test_the_task_role_grants_exactly_the_calls_a_run_makes() -> None:
    needed = scan_actions(RUNTIME_SOURCES) - NEEDS_NO_PERMISSION
    granted = policy_actions(_load("task-role-policy.json"))

    assert sorted(needed - granted) == [], "calls the task role does not allow"
    assert sorted(granted - needed) == [], "actions granted that the code never calls"


def test_the_setup_policy_grants_exactly_what_events_setup_calls() -> None:
    needed = scan_actions(SETUP_SOURCES)
    granted = policy_actions(_load("events-setup-policy.json"))

    assert granted == needed
    assert not {a for a in policy_actions(_load("task-role-policy.json")) if ":Create" in a}


def test_the_task_role_sends_only_as_the_configured_identity_and_reads_only_the_queue() -> None:
    policy = _load("task-role-policy.json")
    identity = "arn:aws:ses:us-west-2:123456789012:identity/example.com"
    queue = "arn:aws:sqs:us-west-2:123456789012:execbrief-events"

    assert allows(policy, "ses:SendRawEmail", identity)
    assert not allows(
        policy, "ses:SendRawEmail", "arn:aws:ses:us-west-2:123456789012:identity/evil.com"
    )
    assert allows(policy, "sqs:ReceiveMessage", queue)
    assert not allows(policy, "sqs:ReceiveMessage", queue + "-other")


def test_the_task_role_writes_only_the_ledger_table_and_the_archive_prefix() -> None:
    policy = _load("task-role-policy.json")
    table = "arn:aws:dynamodb:us-west-2:123456789012:table/execbrief-ledger"

    for action in ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"):
        assert allows(policy, action, table)
        assert not allows(policy, action, table + "-other")
        assert not allows(policy, action, "arn:aws:dynamodb:us-west-2:123456789012:table/bookings")
    assert allows(policy, "s3:PutObject", "arn:aws:s3:::execbrief-archive/briefs/20261130T0900Z/x")
    assert not allows(policy, "s3:PutObject", "arn:aws:s3:::execbrief-archive/other/x")
    assert not allows(policy, "s3:PutObject", "arn:aws:s3:::another-bucket/briefs/x")
    (listing,) = [s for s in _statements(policy) if "s3:ListBucket" in _as_list(s["Action"])]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["briefs/*"]}}


def test_the_task_definition_runs_the_image_with_its_roles_and_the_model_key() -> None:
    task = _load("task-definition.json")
    execution = _load("execution-role-policy.json")
    (container,) = task["containerDefinitions"]

    assert task["requiresCompatibilities"] == ["FARGATE"]
    assert container["command"][0] == "run"
    assert {m["containerPath"] for m in container["mountPoints"]} == {"/workspace", "/outputs"}
    for secret in container["secrets"]:
        assert allows(execution, "secretsmanager:GetSecretValue", secret["valueFrom"])
    group = container["logConfiguration"]["options"]["awslogs-group"]
    stream = f"arn:aws:logs:us-west-2:123456789012:log-group:{group}:log-stream:x"
    assert allows(execution, "logs:PutLogEvents", stream)


def _task_states(states: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for state in states.values():
        if state["Type"] == "Task":
            found.append(state)
        if state["Type"] == "Map":
            found += _task_states(state["ItemProcessor"]["States"])
    return found


def _check_transitions(machine: dict[str, Any]) -> None:
    states = machine["States"]
    assert machine["StartAt"] in states
    for name, state in states.items():
        targets = [state["Next"]] if "Next" in state else []
        targets += [c["Next"] for c in state.get("Catch", [])]
        assert all(t in states for t in targets), f"{name} goes to an unknown state"
        assert state.get("End") or targets or state["Type"] in ("Fail", "Succeed"), name
        if state["Type"] == "Map":
            _check_transitions(state["ItemProcessor"])


def test_the_state_machine_names_only_what_its_role_allows() -> None:
    machine = _load("state-machine.asl.json")
    role = _load("state-machine-role-policy.json")
    task = _load("task-definition.json")
    _check_transitions(machine)
    (fleet,) = machine["States"].values()
    assert fleet["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert 1 <= fleet["MaxConcurrency"] <= 40  # bounded: Fargate's run-task rate is limited

    needed = set(DISTRIBUTED_MAP_ACTIONS)
    for state in _task_states(machine["States"]):
        assert state["Resource"] in INTEGRATION_ACTIONS, state["Resource"]
        needed |= INTEGRATION_ACTIONS[state["Resource"]]
        params = state["Parameters"]
        assert allows(role, "ecs:RunTask", params["TaskDefinition"])
        assert params["TaskDefinition"].split("/")[-1].split(":")[0] == task["family"]
        (override,) = params["Overrides"]["ContainerOverrides"]
        assert override["Name"] == task["containerDefinitions"][0]["name"]
    assert policy_actions(role) == needed
    assert allows(role, "states:StartExecution", STATE_MACHINE_ARN)
    for role_arn in (task["taskRoleArn"], task["executionRoleArn"]):
        assert allows(role, "iam:PassRole", role_arn)


def test_the_schedule_starts_the_task_definition_its_role_may_run() -> None:
    schedule = _load("schedule.json")
    role = _load("scheduler-role-policy.json")
    task = _load("task-definition.json")
    target = schedule["Target"]

    assert target["Arn"].endswith(":cluster/execbrief")
    assert allows(role, "ecs:RunTask", target["EcsParameters"]["TaskDefinitionArn"])
    assert target["EcsParameters"]["LaunchType"] == "FARGATE"
    assert policy_actions(role) == {"ecs:RunTask", "iam:PassRole"}
    for role_arn in (task["taskRoleArn"], task["executionRoleArn"]):
        assert allows(role, "iam:PassRole", role_arn)


def test_the_dockerfile_runs_execbrief_as_a_non_root_user_with_volumes() -> None:
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines()]

    assert lines.index("USER execbrief") < lines.index('ENTRYPOINT ["execbrief"]')
    assert 'VOLUME ["/workspace", "/outputs"]' in lines
    assert any(line.startswith("FROM python:") and line.endswith("-slim") for line in lines)
    ignored = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert {".git", ".venv", "outputs"} <= set(ignored)


def _container_runtime() -> str | None:
    """`docker` when a daemon answers; None when there is no usable runtime."""
    if shutil.which("docker") is None:
        return None
    probe = subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False)
    return "docker" if probe.returncode == 0 else None


@pytest.mark.slow
def test_the_image_builds_and_runs_execbrief_help() -> None:
    runtime = _container_runtime()
    if runtime is None:
        pytest.skip("no container runtime answers here (no docker daemon): the image is not built")
    subprocess.run([runtime, "build", "-t", "execbrief:test", str(REPO)], check=True, timeout=1800)
    result = subprocess.run(
        [runtime, "run", "--rm", "execbrief:test", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert "Executive briefs" in result.stdout
