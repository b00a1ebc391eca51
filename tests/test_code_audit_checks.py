"""The code audit's other checks: committed env files, Python, endpoints and inventory."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from execbrief.collectors.code_audit.collector import audit_repo
from execbrief.models import CollectResult, Fact, Severity
from tests.fixtures_repos import Keys, commit_all, init_repo, line_of, write

NOW = datetime(2026, 11, 25, 14, 15, tzinfo=UTC)


def run(repo: Path, *checks: str) -> CollectResult:
    return audit_repo(repo, frozenset(checks), NOW, None)


def facts_of(result: CollectResult, kind: str) -> list[Fact]:
    return [f for f in result.facts if f.kind == kind]


def repo_with(tmp_path: Path, files: dict[str, str], commit: bool = True) -> Path:
    repo = init_repo(tmp_path / "app")
    for rel, text in files.items():
        write(repo, rel, textwrap.dedent(text))
    if commit:
        commit_all(repo)
    return repo


# --- env files ---------------------------------------------------------------------------


def test_committed_env_file_reports_key_names_only(tmp_path: Path) -> None:
    key = Keys().stripe_live()
    repo = repo_with(
        tmp_path,
        {
            "repos.env": f"# deploy\nexport AWS_REGION=us-west-2\nSTRIPE_SECRET_KEY={key}\n",
            ".env.example": "STRIPE_SECRET_KEY=\n",
        },
    )

    [fact] = facts_of(run(repo, "env"), "repo.env_file_tracked")

    assert (fact.source.path, fact.severity) == ("repos.env", Severity.HIGH)
    assert "AWS_REGION, STRIPE_SECRET_KEY" in fact.detail
    assert fact.metrics == {"keys": 2.0, "secret_like_keys": 1.0}
    assert "us-west-2" not in fact.detail
    assert key[8:] not in fact.model_dump_json()


def test_ignored_or_untracked_env_files_are_not_committed_ones(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, {".gitignore": ".env\n", ".env": "TOKEN=1\n"})
    write(repo, "local.env", "REGION=us-west-2\n")

    assert facts_of(run(repo, "env"), "repo.env_file_tracked") == []


def test_env_file_outside_git_is_reported_as_present(tmp_path: Path) -> None:
    write(tmp_path / "plain", ".env", "REGION=us-west-2\n")

    [fact] = facts_of(run(tmp_path / "plain", "env"), "repo.env_file_tracked")

    assert fact.severity is Severity.MEDIUM
    assert "not a git repository" in fact.detail


# --- python --------------------------------------------------------------------------------


def test_syntax_error_is_a_fact_with_its_line(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, {"ok.py": "x = 1\n", "bad.py": "x = 1\n\ndef f(:\n    pass\n"})

    [fact] = facts_of(run(repo, "python"), "code.syntax_error")

    assert (fact.source.path, fact.source.line, fact.severity) == ("bad.py", 3, Severity.MEDIUM)


def test_bandit_high_and_medium_findings_become_facts(tmp_path: Path) -> None:
    repo = repo_with(
        tmp_path,
        {
            "run.py": """\
                import subprocess


                def run(cmd):
                    return subprocess.call(cmd, shell=True)
                """,
            "quiet.py": "assert True\n",
        },
    )

    facts = facts_of(run(repo, "python"), "code.bandit")

    assert [(f.source.path, f.source.line, f.source.section, f.severity) for f in facts] == [
        ("run.py", 5, "B602", Severity.HIGH)
    ]


JWT_CASES = {
    "verify_false": ("jwt.decode(token, KEY, verify=False)", "verify=False"),
    "no_signature": (
        'jwt.decode(token, options={"verify_signature": False}, algorithms=["HS256"])',
        "verify_signature False",
    ),
    "no_expiry": (
        'jwt.decode(token, KEY, algorithms=["HS256"], options={"verify_exp": False})',
        "verify_exp False",
    ),
    "alg_none": ('jwt.decode(token, KEY, algorithms=["none"])', "'none'"),
}


@pytest.mark.parametrize("case", sorted(JWT_CASES))
def test_jwt_decode_without_verification_is_flagged(tmp_path: Path, case: str) -> None:
    call, reason = JWT_CASES[case]
    repo = repo_with(
        tmp_path, {"auth.py": f"import jwt\n\n\ndef read(token):\n    return {call}\n"}
    )

    [fact] = facts_of(run(repo, "python"), "auth.jwt_no_expiry")

    assert (fact.source.path, fact.source.line, fact.severity) == ("auth.py", 5, Severity.HIGH)
    assert reason in fact.detail


def test_jwt_options_held_in_a_variable_are_resolved(tmp_path: Path) -> None:
    repo = repo_with(
        tmp_path,
        {
            "auth.py": """\
                from jwt import decode as jwt_decode

                OPTIONS = {"verify_exp": False}


                def read(token, key):
                    return jwt_decode(token, key, algorithms=["HS256"], options=OPTIONS)
                """
        },
    )

    [fact] = facts_of(run(repo, "python"), "auth.jwt_no_expiry")

    assert (fact.source.line, fact.title) == (7, "jwt.decode without expiry check in auth.py:7")


def test_jwt_minted_without_exp_is_flagged_and_with_exp_is_not(tmp_path: Path) -> None:
    repo = repo_with(
        tmp_path,
        {
            "tokens.py": """\
                import time

                import jwt


                def forever(sub, key):
                    return jwt.encode({"sub": sub, "iat": int(time.time())}, key, algorithm="HS256")


                def short(sub, key):
                    return jwt.encode({"sub": sub, "exp": int(time.time()) + 900}, key)


                def later(sub, key):
                    claims = {"sub": sub}
                    claims["exp"] = int(time.time()) + 900
                    return jwt.encode(claims, key)


                def safe_decode(token, key):
                    return jwt.decode(token, key, algorithms=["HS256"])
                """
        },
    )

    [fact] = facts_of(run(repo, "python"), "auth.jwt_no_expiry")

    assert (fact.source.line, fact.severity) == (7, Severity.MEDIUM)
    assert "never expires" in fact.detail


# --- endpoints -------------------------------------------------------------------------


LAMBDA_OPEN = """\
    import json

    import boto3

    table = boto3.resource("dynamodb").Table("bookings")


    def lambda_handler(event, context):
        data = json.loads(event["body"])
        table.put_item(Item=data)
        return {"statusCode": 200, "body": json.dumps({"ok": True})}
    """

LAMBDA_AUTHED = """\
    import hmac
    import json
    import os


    def lambda_handler(event, context):
        header = event["headers"].get("authorization", "")
        if not hmac.compare_digest(header, os.environ["API_TOKEN"]):
            return {"statusCode": 401}
        data = json.loads(event["body"])
        return {"statusCode": 200, "body": json.dumps(data)}
    """

LAMBDA_S3 = """\
    def handler(event, context):
        for record in event["Records"]:
            print(record["s3"]["object"]["key"])
    """

LAMBDA_ROUTES = """\
    import json

    import boto3

    crew = boto3.resource("dynamodb").Table("crew")


    def current_user(event):
        return event["headers"].get("authorization")


    def read_body(event):
        return json.loads(event.get("body") or "{}")


    def assign_crew(event):
        crew.put_item(Item=read_body(event))
        return {"statusCode": 200}


    def list_crew(event):
        if not current_user(event):
            return {"statusCode": 401}
        return {"statusCode": 200, "body": json.dumps(read_body(event))}


    ROUTES = {("POST", "/crew"): assign_crew, ("GET", "/crew"): list_crew}


    def lambda_handler(event, context):
        route = ROUTES.get((event["httpMethod"], event["path"]))
        return route(event)
    """


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (LAMBDA_OPEN, [("lambda_handler", 8, Severity.HIGH)]),
        (LAMBDA_AUTHED, []),
        (LAMBDA_S3, []),
        (LAMBDA_ROUTES, [("assign_crew", 16, Severity.HIGH)]),
    ],
    ids=["open", "authed", "s3-event", "routes"],
)
def test_lambda_handlers_acting_on_input_need_an_auth_check(
    tmp_path: Path, code: str, expected: list[tuple[str, int, Severity]]
) -> None:
    repo = repo_with(tmp_path, {"lambda_function.py": code})

    facts = facts_of(run(repo, "endpoints"), "auth.endpoint_unauthenticated")

    assert [(f.title.split()[2], f.source.line, f.severity) for f in facts] == expected


def test_route_table_labels_appear_in_the_detail(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, {"lambda_function.py": LAMBDA_ROUTES})

    [fact] = facts_of(run(repo, "endpoints"), "auth.endpoint_unauthenticated")

    assert "serves POST /crew" in fact.detail
    assert "put_item" in fact.detail


APPS_SCRIPT_OPEN = """\
    // Form handler. TODO: add a token check
    function doPost(e) {
      var data = JSON.parse(e.postData.contents);
      SpreadsheetApp.openById(SHEET).getSheetByName('Leads').appendRow([data.name]);
      return ContentService.createTextOutput('ok');
    }
    """

APPS_SCRIPT_TOKEN = """\
    function doPost(e) {
      if (!isValid(e)) return ContentService.createTextOutput('forbidden');
      SpreadsheetApp.openById(SHEET).getSheetByName('Leads').appendRow([e.parameter.name]);
    }

    function isValid(e) {
      var props = PropertiesService.getScriptProperties();
      return e.parameter.token === props.getProperty('FORM_TOKEN');
    }
    """

APPS_SCRIPT_PAGE = """\
    function doGet(e) {
      return HtmlService.createHtmlOutputFromFile('index');
    }
    """

APPS_SCRIPT_EXPORT = """\
    function doGet(e) {
      var author = e.parameter.author;
      return ContentService.createTextOutput(exportRows(author));
    }
    """


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (APPS_SCRIPT_OPEN, [("doPost", 2, Severity.HIGH)]),
        (APPS_SCRIPT_TOKEN, []),
        (APPS_SCRIPT_PAGE, []),
        (APPS_SCRIPT_EXPORT, [("doGet", 1, Severity.MEDIUM)]),
    ],
    ids=["open-post", "token-post", "page-get", "param-get"],
)
def test_apps_script_web_apps_need_a_token_check(
    tmp_path: Path, code: str, expected: list[tuple[str, int, Severity]]
) -> None:
    repo = repo_with(tmp_path, {"Code.gs": code})

    facts = facts_of(run(repo, "endpoints"), "auth.endpoint_unauthenticated")

    assert [(f.title.split()[2], f.source.line, f.severity) for f in facts] == expected


@pytest.mark.parametrize(
    ("code", "flagged"),
    [
        (
            """\
            exports.handler = async (event) => {
              const order = JSON.parse(event.body);
              await ddb.send(new PutCommand({ TableName: "orders", Item: order }));
              return { statusCode: 200 };
            };
            """,
            True,
        ),
        (
            """\
            exports.handler = async (event) => {
              if (event.headers.authorization !== process.env.API_TOKEN) return { statusCode: 401 };
              return { statusCode: 200, body: event.body };
            };
            """,
            False,
        ),
    ],
    ids=["open", "authed"],
)
def test_javascript_lambda_handlers_need_an_auth_check(
    tmp_path: Path, code: str, flagged: bool
) -> None:
    repo = repo_with(tmp_path, {"index.js": code})

    facts = facts_of(run(repo, "endpoints"), "auth.endpoint_unauthenticated")

    assert [(f.source.path, f.source.line) for f in facts] == ([("index.js", 1)] if flagged else [])


CORS_WRITE = """\
    import boto3

    table = boto3.resource("dynamodb").Table("bookings")


    def create_booking(event):
        table.put_item(Item={"id": event["requestContext"]["requestId"]})
        return {
            "statusCode": 201,
            "headers": {
                "Access-Control-Allow-Origin": "*",
            },
        }
    """

CORS_READ = """\
    import boto3

    table = boto3.resource("dynamodb").Table("packages")


    def list_packages(event):
        items = table.scan()["Items"]
        return {"statusCode": 200, "headers": {"Access-Control-Allow-Origin": "*"}, "body": items}
    """


@pytest.mark.parametrize(
    ("rel", "code", "expected"),
    [
        ("api.py", CORS_WRITE, [("api.py", 11)]),
        ("api.py", CORS_READ, []),
        (
            "server.js",
            """\
            app.post("/orders", (req, res) => {
              res.setHeader("Access-Control-Allow-Origin", "*");
              db.putItem(req.body);
            });
            """,
            [("server.js", 2)],
        ),
        (
            "server.js",
            """\
            app.get("/prices", (req, res) => {
              res.setHeader("Access-Control-Allow-Origin", "*");
              res.json(prices);
            });
            """,
            [],
        ),
    ],
    ids=["python-write", "python-read", "js-write", "js-read"],
)
def test_cors_wildcard_matters_only_where_state_changes(
    tmp_path: Path, rel: str, code: str, expected: list[tuple[str, int]]
) -> None:
    repo = repo_with(tmp_path, {rel: code})

    facts = facts_of(run(repo, "endpoints"), "http.cors_wildcard")

    assert [(f.source.path, f.source.line) for f in facts] == expected


# --- inventory ---------------------------------------------------------------------------


def test_inventory_counts_languages_lines_and_git_activity(tmp_path: Path) -> None:
    repo = repo_with(
        tmp_path,
        {
            "app/main.py": "import os\n\nprint(os.name)\n",
            "web/index.html": "<p>hi</p>\n<p>there</p>\n",
            "README.md": "# app\n",
        },
    )
    write(repo, "logo.png", b"\x89PNG\x00\x00")
    commit_all(repo)

    [fact] = facts_of(run(repo, "inventory"), "repo.inventory")

    assert fact.metrics["files"] == 4.0
    assert fact.metrics["binary_files"] == 1.0
    assert (fact.metrics["lines_python"], fact.metrics["lines_html"]) == (3.0, 2.0)
    assert fact.metrics["commits_last_30_days"] >= 2.0
    assert fact.metrics["days_since_last_commit"] >= 0.0
    assert fact.title.startswith("app: 4 files, 6 lines, mostly Python")


def test_missing_tests_ci_and_iac_are_reported(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, {"handler.py": "def handler(event, context):\n    return 1\n"})

    result = run(repo, "inventory")

    assert {(f.kind, f.severity) for f in result.facts if f.kind != "repo.inventory"} == {
        ("repo.tests", Severity.MEDIUM),
        ("repo.ci", Severity.MEDIUM),
        ("repo.iac", Severity.LOW),
    }


def test_tests_ci_iac_and_dependencies_are_found(tmp_path: Path) -> None:
    repo = repo_with(
        tmp_path,
        {
            "src/app.py": "import requests\nimport boto3\n",
            "tests/test_app.py": "def test_ok():\n    assert True\n",
            ".github/workflows/ci.yml": "on: push\njobs: {}\n",
            "template.yaml": "AWSTemplateFormatVersion: '2010-09-09'\nResources: {}\n",
            "infra/main.tf": 'provider "aws" {}\n',
            "requirements.txt": "requests==2.32.3\n",
        },
    )

    result = run(repo, "inventory")
    by_kind = {f.kind: f for f in result.facts}

    assert by_kind["repo.tests"].metrics == {"count": 1.0}
    assert by_kind["repo.ci"].detail == "Found .github/workflows/ci.yml."
    assert by_kind["repo.iac"].metrics == {"count": 2.0}
    deps = by_kind["repo.dependencies"]
    assert (deps.severity, deps.metrics["manifests"], deps.metrics["lock_files"]) == (
        Severity.LOW,
        1.0,
        0.0,
    )
    assert "no lock file" in deps.detail


def test_python_imports_without_a_manifest_are_noted(tmp_path: Path) -> None:
    repo = repo_with(
        tmp_path,
        {
            "lambda/lambda_function.py": "import json\nimport stripe\nfrom helpers import x\n",
            "lambda/helpers.py": "x = 1\n",
        },
    )

    [fact] = facts_of(run(repo, "inventory"), "repo.dependencies")

    assert fact.severity is Severity.LOW
    assert "imports stripe with no dependency manifest" in fact.detail


def test_zip_and_upload_scripts_are_manual_deploys_but_ci_and_app_code_are_not(
    tmp_path: Path,
) -> None:
    script = """\
        #!/usr/bin/env bash
        set -e
        (cd build && zip -qr ../function.zip .)
        aws lambda update-function-code --function-name app --zip-file fileb://function.zip
        """
    python_deploy = """\
        import shutil

        import boto3

        archive = shutil.make_archive("function", "zip", "build")
        code = open(archive, "rb").read()
        boto3.client("lambda").update_function_code(FunctionName="app", ZipFile=code)
        """
    repo = repo_with(
        tmp_path,
        {
            "deploy.sh": script,
            "scripts/push_lambda.py": python_deploy,
            "app/lambda_admin.py": python_deploy,
            "tests/test_deploy.py": python_deploy,
            ".github/workflows/deploy.yml": "steps:\n  - run: |\n"
            + textwrap.indent(script, "      "),
        },
    )

    facts = facts_of(run(repo, "inventory"), "repo.manual_deploy")

    assert [(f.source.path, f.source.line) for f in facts] == [
        ("deploy.sh", line_of(repo / "deploy.sh", "update-function-code")),
        ("scripts/push_lambda.py", 7),
    ]


def test_docs_only_folder_gets_no_tests_or_ci_verdict(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, {"README.md": "# notes\n"}, commit=False)

    assert [f.kind for f in run(repo, "inventory").facts] == ["repo.inventory"]
