"""PDF export through headless Chromium (``--print-to-pdf``); skipped cleanly when Chromium is absent."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["CHROMIUM_FLAGS", "find_chromium", "html_to_pdf"]

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def html_to_pdf(html: Path, out: Path, *, timeout: float = 120) -> Path | None:
    chromium = find_chromium()
    if chromium is None:
        return None
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(  # noqa: S603 - fixed arguments, local file
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                "--no-pdf-header-footer",
                f"--print-to-pdf={out}",
                html.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=timeout,
        )
    return out if out.exists() else None
