"""Personal data helpers: normalisation, keyed hashing (HMAC-SHA256) and masking.

Clear phones/e-mails/names live only in the ``customers`` table.  Everywhere else
(links, social-side identifiers, logs, reports) uses :func:`hmac_hex` digests or
masked values.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from yuqing.store.schema import Customer

__all__ = [
    "MIN_KEY_BYTES",
    "check_hmac_key",
    "customer_identifiers",
    "hmac_hex",
    "mask_email",
    "mask_name",
    "mask_phone",
    "normalize_email",
    "normalize_phone",
    "pseudonymise_payload",
    "redact_text",
]

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_IN_TEXT = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)")
_MASKED_PHONE = re.compile(r"^\+86 \d{3}\*{4}\d{4}$")
_EMAIL_IN_TEXT = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def normalize_phone(raw: str, region: str = "CN") -> str:
    """E.164 form of a Chinese mobile or landline number (``+8613812345678``); ``ValueError`` on garbage."""
    if region != "CN":
        raise ValueError(f"unsupported phone region {region!r}")
    text = unicodedata.normalize("NFKC", str(raw)).strip()
    digits = re.sub(r"[\s\-().]", "", text)
    if digits.startswith("+"):
        digits = digits[1:]
        if not digits.startswith("86"):
            raise ValueError(f"not a Chinese phone number: {raw!r}")
    elif digits.startswith("0086"):
        digits = digits[2:]
    if not digits.isdigit():
        raise ValueError(f"not a phone number: {raw!r}")
    national = digits
    if digits.startswith("86") and not _MOBILE.match(digits) and not digits.startswith("0"):
        rest = digits[2:]
        national = rest if _MOBILE.match(rest) or rest.startswith("0") else "0" + rest
    if _MOBILE.match(national):
        return "+86" + national
    if national.startswith("0") and 10 <= len(national) <= 12:
        return "+86" + national[1:]
    raise ValueError(f"not a phone number: {raw!r}")


def normalize_email(raw: str) -> str:
    email = unicodedata.normalize("NFKC", str(raw)).strip().lower()
    if not _EMAIL.match(email):
        raise ValueError(f"not an e-mail address: {raw!r}")
    return email


MIN_KEY_BYTES = 32  # HMAC-SHA256's output size: a shorter key weakens the hashes (RFC 2104 §3)


def check_hmac_key(key: bytes) -> bytes:
    """``key`` if it is long enough to hash personal data with, else :class:`ConfigError`.

    Call it before any loop that skips values raising ``ValueError`` (``ConfigError`` is one): a bad
    key must stop an import, not silently produce no hashes.
    """
    from yuqing.store.errors import ConfigError

    if len(key) < MIN_KEY_BYTES:
        what = "empty" if not key else f"{len(key)} bytes"
        raise ConfigError(
            f"YUQING_CRM__HMAC_KEY is {what}; it must be at least {MIN_KEY_BYTES} bytes "
            "(make one with: python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    return key


def hmac_hex(key: bytes, value: str) -> str:
    check_hmac_key(key)
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def mask_phone(phone: str) -> str:
    """``+8613812345678`` → ``+86 138****5678``; a masked number stays as it is (the PostgreSQL warehouse's
    roles without the CRM grant read masked values)."""
    if _MASKED_PHONE.match(str(phone)):
        return str(phone)
    try:
        e164 = normalize_phone(phone)
    except ValueError:
        return "****"
    national = e164[3:]
    return f"+86 {national[:3]}****{national[-4:]}"


def mask_email(email: str) -> str:
    """``zhang.san@example.com`` → ``z***@example.com``."""
    local, _, domain = str(email).partition("@")
    if not domain:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_name(name: str) -> str:
    """``张三丰`` → ``张**``; ``Li Lei`` → ``L*****``."""
    name = str(name).strip()
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1)


def redact_text(text: str) -> str:
    """Mask phone numbers and e-mail addresses found inside free text."""
    text = _PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), text)
    return _EMAIL_IN_TEXT.sub(lambda m: mask_email(m.group(0)), text)


def customer_identifiers(customer: Customer, key: bytes) -> list[tuple[str, str, str]]:
    """(customer_id, kind, value) rows for joining: keyed hashes of phone/e-mail, handles as given."""
    check_hmac_key(key)  # outside the per-value ValueError skip below
    rows: list[tuple[str, str, str]] = []
    if customer.phone:
        with contextlib.suppress(ValueError):
            rows.append((customer.customer_id, "phone_hash", hmac_hex(key, normalize_phone(customer.phone))))
    if customer.email:
        with contextlib.suppress(ValueError):
            rows.append((customer.customer_id, "email_hash", hmac_hex(key, normalize_email(customer.email))))
    for platform, handle in customer.handles.items():
        if handle:
            rows.append((customer.customer_id, f"handle:{platform}", handle.strip().lstrip("@")))
    return rows


CONTACT_FIELDS = {"contact_phone": "phone", "phone": "phone", "contact_email": "email", "email": "email"}


def pseudonymise_payload(payload: object, key: bytes | None) -> object:
    """A platform payload without clear phones or e-mails.

    Contact fields (``contact_phone``, ``phone``, ``contact_email``, ``email``) become ``<field>_hash``:
    the keyed hash of the normalised value, what customer linking compares (with ``key``), or are masked
    (without).  Phone and e-mail patterns in every other string are masked.  Nested values too.
    """
    if isinstance(payload, list):
        return [pseudonymise_payload(v, key) for v in payload]
    if isinstance(payload, str):
        return redact_text(payload)
    if not isinstance(payload, dict):
        return payload
    out: dict[str, object] = {}
    for name, value in payload.items():
        kind = CONTACT_FIELDS.get(name)
        if kind is not None and isinstance(value, str) and value.strip():
            norm = normalize_phone if kind == "phone" else normalize_email
            try:
                clear = norm(value)
            except ValueError:
                out[name] = redact_text(value)
                continue
            if key is not None:
                out[f"{name}_hash"] = hmac_hex(key, clear)
            else:
                out[name] = mask_phone(clear) if kind == "phone" else mask_email(clear)
            continue
        out[name] = pseudonymise_payload(value, key)
    return out
