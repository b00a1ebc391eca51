"""Address validation, header hygiene and the recipient allow-list."""

from __future__ import annotations

import pytest

from execbrief.errors import ConfigError, RefusedError
from execbrief.mail.addresses import check_allowed, check_header_value, validate_address


def test_valid_address_comes_back_normalized() -> None:
    assert validate_address("Reports@Example.COM") == "Reports@example.com"


def test_internationalized_domain_becomes_ascii() -> None:
    assert validate_address("ceo@bücher.example.com") == "ceo@xn--bcher-kva.example.com"


@pytest.mark.parametrize(
    "addr",
    ["not-an-address", "two@@example.com", "Reports <reports@example.com>", "a@b", ""],
)
def test_invalid_address_is_a_config_error_naming_it(addr: str) -> None:
    with pytest.raises(ConfigError, match="not a valid email address") as caught:
        validate_address(addr, field="mail.from")
    assert repr(addr) in caught.value.message
    assert caught.value.field == "mail.from"


def test_non_ascii_local_part_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"not a valid email address: 'jörg@example\.com'"):
        validate_address("jörg@example.com")


def test_plain_header_value_passes() -> None:
    check_header_value("Subject", "CFO brief: burn vs revenue, week 47")


@pytest.mark.parametrize("value", ["hi\r\nBcc: spy@evil.example", "hi\nX: y", "hi\r"])
def test_header_value_with_line_break_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="Subject header may not contain a line break"):
        check_header_value("Subject", value)


def test_empty_allow_list_allows_everyone() -> None:
    check_allowed(["ceo@anywhere.example.com"], [])


def test_allowed_domains_match_case_insensitively() -> None:
    check_allowed(["ceo@Example.com", "cfo@example.com"], ["EXAMPLE.COM"])


def test_recipients_outside_allowed_domains_are_refused_by_name() -> None:
    recipients = ["ceo@example.com", "leak@gmail.com", "x@sub.example.com"]
    with pytest.raises(RefusedError, match=r"leak@gmail\.com, x@sub\.example\.com") as caught:
        check_allowed(recipients, ["example.com"])
    assert "ceo@example.com" not in caught.value.message
    assert caught.value.hint is not None
    assert "example.com" in caught.value.hint
