"""The yuqing exception tree.

::

    YuqingError
    ├── ConfigError                 bad settings file or value
    ├── InputError                  bad input file: names file, row and field
    ├── StoreError
    │   └── WarehouseLocked         another process holds the warehouse for writing
    └── CollectorError              anything that went wrong talking to a platform
        ├── RateLimited             429/quota, carries ``retry_after`` seconds
        ├── AuthExpired             401 after one token refresh
        ├── TransientError          5xx, timeouts, connection resets (retried)
        └── ParseError              payload did not have the documented shape

Retry decisions are made by type: ``RateLimited`` and ``TransientError`` are
retried with backoff, ``AuthExpired`` and ``ParseError`` are not.
"""

from __future__ import annotations

__all__ = [
    "AuthExpired",
    "CollectorError",
    "ConfigError",
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


class AuthExpired(CollectorError):
    pass


class TransientError(CollectorError):
    pass


class ParseError(CollectorError):
    pass
