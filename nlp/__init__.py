"""yuqing: nlp.

The text stage has an optional compiled module, ``_speedups`` (built from ``_speedups.c`` by ``pip install``), with a
pure-Python fallback that gives the same results. A module built from an older ``_speedups.c`` (a checkout updated
after an editable install, before ``make install-dev`` ran again) would be called with arguments it does not know or
miss functions the Python code expects: :func:`_drop_stale_speedups` takes it out of the import system, with a warning,
so the pure paths run until it is rebuilt.
"""

from __future__ import annotations

import hashlib
import sys
import warnings
from pathlib import Path

_SOURCE = Path(__file__).with_name("_speedups.c")


def _drop_stale_speedups(source: Path = _SOURCE) -> bool:
    """Drop the compiled module if it was not built from ``source`` (when the source is there to compare: an
    installed wheel ships the module without it). True when it was dropped."""
    name = f"{__name__}._speedups"
    try:
        from yuqing.nlp import _speedups
    except ImportError:  # not built, or already dropped: the pure paths run
        return False
    if not source.is_file():
        return False
    built = getattr(_speedups, "SOURCE_SHA256", "")  # builds older than the check have none: stale
    if built == hashlib.sha256(source.read_bytes()).hexdigest():
        return False
    sys.modules[name] = None  # type: ignore[assignment]  # every later import of it raises ImportError
    package = sys.modules[__name__]
    if hasattr(package, "_speedups"):
        delattr(package, "_speedups")
    warnings.warn(
        f"{_speedups.__file__} was built from an older {source}: the text stage runs its pure-Python paths (same "
        "results, slower) until it is rebuilt with `pip install --no-deps -e .` (`make install-dev`)",
        RuntimeWarning,
        stacklevel=2,
    )
    return True


_drop_stale_speedups()
