"""The yuqing exception tree.

::

    YuqingError
    ├── ConfigError                 bad settings file or value
    ├── InputError                  bad input file: names file, row and field
    ├── StoreError
    │   └── WarehouseLocked         another process holds the warehouse for writing
    └── CollectorError              anything that went wrong talking to a platform
        ├── RateLimited             429/quota, carries ``retry_after`` seconds
        ├── Blocked                 the platform blocks the client for hours (Weibo: HTTP 418, 432)
        ├── AuthExpired             401 after one token refresh
        │   └── CookieExpired       a login cookie no longer works (403, 302 to the login page)
        ├── CaptchaRequired         the account hit risk control (``{"ok": -100, "url": ".../captcha..."}``)
        ├── TransientError          5xx, timeouts, connection resets (retried)
        └── ParseError              payload did not have the documented shape

Retry decisions are made by type: ``RateLimited`` and ``TransientError`` are
retried with backoff, ``AuthExpired`` and ``ParseError`` are not.  ``Blocked``,
``CookieExpired`` and ``CaptchaRequired`` are not retried either: a block lasts
hours (the collector leaves the account alone for ``platforms.block_hours`` and
resumes from the checkpoint), a dead cookie or a captcha needs a person, so the
account's scopes stop and the operator is told what to do.  Each carries the
``account`` (the name of the login cookie, never its value) it happened to.
"""

from __future__ import annotations

__all__ = [
    "AuthExpired",
    "Blocked",
    "CaptchaRequired",
    "CollectorError",
    "ConfigError",
    "CookieExpired",
    "InputError",
    "ParseError",
    "RateLimited",
    "StoreError",
    "TransientError",
    "WarehouseLocked",
    "YuqingError",
]


class YuqingError(Exception):
    """Base of every error yuqing raises on purpose."""


class ConfigError(YuqingError, ValueError):
    """A settings file or value is wrong; the message names the file and key."""


class InputError(YuqingError):
    """A bad row or field in an input file.  The message names all three."""

    def __init__(self, message: str, *, file: str = "", line: int | None = None, field: str = "") -> None:
        where = file
        if line is not None:
            where += f":{line}"
        if field:
            where += f" [{field}]"
        super().__init__(f"{where}: {message}" if where else message)
        self.file = file
        self.line = line
        self.field = field
        self.reason = message


class StoreError(YuqingError):
    pass


class WarehouseLocked(StoreError):
    """Another process has the warehouse open for writing."""


class CollectorError(YuqingError):
    pass


class RateLimited(CollectorError):
    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Blocked(CollectorError):
    """The platform refuses this client for a while (hours, not seconds); ``retry_after`` if it said how long."""

    def __init__(self, message: str, *, account: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.account = account
        self.retry_after = retry_after


class AuthExpired(CollectorError):
    pass


class CookieExpired(AuthExpired):
    """A login cookie was refused (stale or logged out): a person has to log in and set a fresh one."""

    def __init__(self, message: str, *, account: str = "") -> None:
        super().__init__(message)
        self.account = account


class CaptchaRequired(CollectorError):
    """The account hit the platform's risk control; ``url`` is the verification page a person must pass."""

    def __init__(self, message: str, *, account: str = "", url: str = "") -> None:
        super().__init__(message)
        self.account = account
        self.url = url


class TransientError(CollectorError):
    pass


class ParseError(CollectorError):
    pass
