"""Planted secrets, one per kind the catalogue must know: built at import from pieces so
no scanner flags this file, and so every value is unique to this test suite."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import quote


def _tail(seed: str, length: int, alphabet: str) -> str:
    digest = b""
    counter = 0
    while len(digest) < length * 2:
        digest += hashlib.sha256(f"{seed}{counter}".encode()).digest()
        counter += 1
    return "".join(alphabet[b % len(alphabet)] for b in digest[:length])


_ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
_UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ234567"
_HEX = "0123456789abcdef"
_B64 = _ALNUM + "+/"
_URLSAFE = _ALNUM + "_-"

PEM_BODY = "\n".join(_tail("pem" + str(n), 64, _B64) for n in range(4))

CANARIES: dict[str, str] = {
    "stripe_live_secret": "sk_" + "live_" + _tail("stripe", 24, _ALNUM),
    "stripe_restricted_key": "rk_" + "live_" + _tail("rk", 24, _ALNUM),
    "aws_access_key_id": "AK" + "IA" + _tail("akia", 16, _UPPER),
    "aws_secret_access_key": _tail("awssecret", 19, _ALNUM) + "/" + _tail("aws2", 20, _B64),
    "slack_token": "xo" + "xb-" + _tail("s1", 12, "0123456789") + "-" + _tail("s2", 24, _ALNUM),
    "slack_webhook": "https://hooks.slack.com/services/T"
    + _tail("t", 10, _UPPER)
    + "/B"
    + _tail("b", 10, _UPPER)
    + "/"
    + _tail("w", 24, _ALNUM),
    "twilio_api_key": "S" + "K" + _tail("twk", 32, _HEX),
    "twilio_auth_token": _tail("twa", 32, _HEX),
    "sendgrid_api_key": "S" + "G." + _tail("sg1", 22, _URLSAFE) + "." + _tail("sg2", 43, _URLSAFE),
    "google_api_key": "AI" + "za" + _tail("goog", 35, _URLSAFE),
    "github_token": "gh" + "p_" + _tail("gh", 36, _ALNUM),
    "openai_api_key": "sk-" + "proj-" + _tail("oai", 48, _URLSAFE),
    "anthropic_api_key": "sk-" + "ant-api03-" + _tail("ant", 90, _URLSAFE),
    "mailgun_api_key": "ke" + "y-" + _tail("mg", 32, _HEX),
    "npm_token": "np" + "m_" + _tail("npm", 36, _ALNUM),
    "azure_storage_key": _tail("az", 86, _B64) + "==",
    "url_password": "Pg" + _tail("pg", 14, _ALNUM),
    "password": "Hu" + _tail("pw", 10, _ALNUM) + "!9",
    "jwt": "ey"
    + "JhbGciOiJIUzI1NiJ9.eyJ"
    + _tail("jwt1", 40, _URLSAFE)
    + "."
    + _tail("jwt2", 43, _URLSAFE),
    "private_key": PEM_BODY,
    "generic_secret": _tail("gen", 40, _ALNUM),
}

# How each is written down in a note or memo, as people do.
WRITTEN: dict[str, str] = {
    "stripe_live_secret": "Stripe key is `{v}` for now",
    "stripe_restricted_key": "restricted {v} on the reporting box",
    "aws_access_key_id": "deploy user {v}",
    "aws_secret_access_key": "AWS secret access key: {v}",
    "slack_token": "bot token {v}",
    "slack_webhook": "alerts go to {v}",
    "twilio_api_key": "twilio key {v}",
    "twilio_auth_token": "Twilio auth token: {v}",
    "sendgrid_api_key": "mail via {v}",
    "google_api_key": "maps key {v}",
    "github_token": "CI uses {v}",
    "openai_api_key": "OpenAI: {v}",
    "anthropic_api_key": "Claude key {v}",
    "mailgun_api_key": "Mailgun {v}",
    "npm_token": "publish with {v}",
    "azure_storage_key": "DefaultEndpointsProtocol=https;AccountName=qosd;AccountKey={v};"
    "EndpointSuffix=core.windows.net",
    "url_password": "db is postgres://admin:{v}@db.internal:5432/app",
    "password": "admin password={v} until rotated",
    "jwt": "session cookie {v}",
    "private_key": "-----BEGIN RSA PRIVATE KEY-----\n{v}\n-----END RSA PRIVATE KEY-----",
    "generic_secret": "api_token: {v}",
}


def written(kind: str) -> str:
    return WRITTEN[kind].format(v=CANARIES[kind])


def matched(kind: str) -> str:
    """The part of the value a rule matches (a webhook's host and path, not its scheme)."""
    return CANARIES[kind].removeprefix("https://")


def forms(value: str) -> list[str]:
    """The value and the encodings a leak could take."""
    raw = value.encode()
    found = [
        value,
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        quote(value, safe=""),
    ]
    # A PEM body is checked line by line: each line alone is a leak.
    found += [line for line in value.split("\n") if len(line) > 16]
    return list(dict.fromkeys(found))
