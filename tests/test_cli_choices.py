"""Options with a fixed set of values refuse any other: exit code 2 and the accepted values, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from yuqing.flows.cli import app


def _cases(tmp: Path) -> list[list[str]]:
    edges = tmp / "edges.csv"
    edges.write_text("source,target\na,b\n", encoding="utf-8")
    data = tmp / "posts.csv"
    data.write_text("text,label\n好,1\n", encoding="utf-8")
    return [
        ["graph", str(edges), "-o", str(tmp / "o.csv"), "--method", "bogus"],
        ["topics", str(data), "-o", str(tmp / "o.csv"), "--method", "bogus"],
        ["train", "sentiment", str(data), "--out", str(tmp / "m.npz"), "--engine", "bogus"],
        ["collect", "--engine", "bogus"],
        ["fake-platform", "--world", str(tmp), "--forum-layout", "bogus"],
        ["fake-platform", "--world", str(tmp), "--block-status", "500"],
        ["fake-platform", "--world", str(tmp), "--expire-as", "bogus"],
        ["alerts", "--status", "bogus"],
        ["export", "--format", "bogus"],
    ]


@pytest.mark.parametrize("case", range(9))
def test_a_value_outside_the_choices_exits_2_naming_the_option(tmp_path: Path, case: int) -> None:
    argv = _cases(tmp_path)[case]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, (argv, result.output)
    option = next(a for a in argv if a.startswith("--") and argv[argv.index(a) + 1] in ("bogus", "500"))
    assert option in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o.csv").exists()


def test_the_cli_choices_are_the_ones_the_code_knows() -> None:
    import typing

    import typer.main

    from yuqing.nlp.topics import METHODS

    topics = typer.main.get_command(app).commands["topics"]  # type: ignore[attr-defined]
    assert typing.get_args(typing.get_type_hints(topics.callback)["method"]) == METHODS


def test_a_bad_value_is_one_line_on_stderr_from_the_installed_command(tmp_path: Path) -> None:
    import subprocess
    import sys

    edges = tmp_path / "edges.csv"
    edges.write_text("source,target\na,b\n", encoding="utf-8")
    yuqing = str(Path(sys.executable).with_name("yuqing"))
    proc = subprocess.run(
        [yuqing, "graph", str(edges), "-o", str(tmp_path / "o.csv"), "--method", "bogus"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "error: yuqing graph: Invalid value for '--method': 'bogus' is not one of 'auto', 'louvain', 'leiden'."
    ]


# ---------------------------------------------------------------------------- crm.hmac_key_file


def test_the_crm_key_comes_from_a_private_key_file_next_to_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from yuqing.store.errors import ConfigError
    from yuqing.store.settings import load_settings

    monkeypatch.delenv("YUQING_CRM__HMAC_KEY", raising=False)
    key = tmp_path / "crm.key"
    fd = os.open(key, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"k" * 40 + b"\n")
    os.close(fd)
    cfg = tmp_path / "yuqing.toml"
    cfg.write_text('[crm]\nhmac_key_file = "crm.key"\n', encoding="utf-8")
    settings = load_settings(cfg)
    assert settings.crm.hmac_key_file == key and settings.crm.key_bytes() == b"k" * 40
    key.chmod(0o644)  # readable by others: refused, with the fix
    with pytest.raises(ConfigError, match="chmod 600"):
        load_settings(cfg).crm.key_bytes()
    key.chmod(0o600)
    monkeypatch.setenv("YUQING_CRM__HMAC_KEY", "e" * 32)  # the environment wins
    assert load_settings(cfg).crm.key_bytes() == b"e" * 32
    monkeypatch.delenv("YUQING_CRM__HMAC_KEY")
    key.write_text("short\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        load_settings(cfg).crm.key_bytes()
    key.unlink()
    with pytest.raises(ConfigError, match="cannot read the CRM key file"):
        load_settings(cfg).crm.key_bytes()
