"""PII helpers: E.164 phones, e-mails, HMAC, masking and redaction."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from yuqing.store.pii import hmac_hex, mask_email, mask_name, mask_phone, normalize_email, normalize_phone, redact_text


@pytest.mark.parametrize(
    "raw",
    [
        "13812345678",
        "+86 138 1234 5678",
        "0086-138-1234-5678",
        "86-13812345678",
        "１３８１２３４５６７８",
        "(+86)138.1234.5678",
    ],
)
def test_mobile_variants(raw: str) -> None:
    assert normalize_phone(raw) == "+8613812345678"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("010-12345678", "+861012345678"), ("021 1234 5678", "+862112345678"), ("+86 755 8888 6666", "+8675588886666")],
)
def test_landlines(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", ["", "abc", "12345", "+1 415 555 0100", "2381234567890", "138-1234-567a"])
def test_garbage_phone(raw: str) -> None:
    with pytest.raises(ValueError):
        normalize_phone(raw)


def test_email_and_hmac() -> None:
    assert normalize_email("  Zhang.San@Example.COM ") == "zhang.san@example.com"
    with pytest.raises(ValueError):
        normalize_email("not-an-email")
    key = b"k" * 32
    digest = hmac_hex(key, "+8613812345678")
    assert digest == hmac.new(key, b"+8613812345678", hashlib.sha256).hexdigest()
    assert digest != hmac_hex(b"o" * 32, "+8613812345678")


@pytest.mark.parametrize("key", [b"", b"k", b"k" * 31])
def test_empty_or_short_hmac_key_is_refused_not_skipped(key: bytes) -> None:
    from yuqing.store.errors import ConfigError
    from yuqing.store.pii import customer_identifiers
    from yuqing.store.schema import Customer

    with pytest.raises(ConfigError, match="at least 32 bytes"):
        hmac_hex(key, "x")
    # the per-identifier ValueError skip must not swallow a bad key: no silent "0 hashes" import
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        customer_identifiers(Customer(customer_id="C1", phone="13800001111", email="a@b.cn"), key)


def test_masks() -> None:
    assert mask_phone("+8613812345678") == "+86 138****5678"
    assert mask_phone("138 1234 5678") == "+86 138****5678"
    assert mask_email("zhang.san@example.com") == "z***@example.com"
    assert mask_name("张三丰") == "张**"
    assert mask_name("") == ""


def test_redact_text() -> None:
    text = "客户张三 电话 138-1234-5678，备用+86 139 8765 4321，邮件 zhang.san@example.com 订单号 20261111123456"
    out = redact_text(text)
    for secret in ("1234-5678", "8765 4321", "zhang.san@"):
        assert secret not in out
    assert "+86 138****5678" in out and "+86 139****4321" in out and "z***@example.com" in out
    assert "20261111123456" in out  # long digit runs that are not phones are left alone
