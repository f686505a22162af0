from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from yuqing.flows.cli import app
from yuqing.store.settings import Settings, example_toml, load_settings


def _models(model: type[BaseModel]) -> list[type[BaseModel]]:
    found = [model]
    for info in model.model_fields.values():
        for arg in (info.annotation, *getattr(info.annotation, "__args__", ())):
            if isinstance(arg, type) and issubclass(arg, BaseModel) and arg not in found:
                found += _models(arg)
    return found


def test_every_setting_is_documented() -> None:
    for model in _models(Settings):
        for name, info in model.model_fields.items():
            assert info.description, f"{model.__name__}.{name} has no description"


def test_example_toml_round_trips_and_documents_every_section(tmp_path: Path) -> None:
    text = example_toml()
    path = tmp_path / "yuqing.toml"
    path.write_text(text, encoding="utf-8")
    settings = load_settings(path)
    assert settings.warehouse.path == tmp_path / "yuqing.duckdb"
    assert settings.campaign("双十一").start == dt.date(2026, 11, 1)
    for section in ("brand", "collect", "platforms", "warehouse", "crm", "nlp", "alerts", "flows"):
        assert f"[{section}]" in text
    assert "hmac_key = " not in text.replace("# hmac_key = (environment only)", "")


def test_environment_overrides_file_and_secrets_only_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "yuqing.toml"
    path.write_text('[brand]\nname = "小米"\n[warehouse]\npath = "a.duckdb"\n', encoding="utf-8")
    monkeypatch.setenv("YUQING_WAREHOUSE__PATH", str(tmp_path / "b.duckdb"))
    monkeypatch.setenv("YUQING_CRM__HMAC_KEY", "k3y")
    settings = load_settings(path)
    assert settings.brand.name == "小米"
    assert settings.warehouse.path == tmp_path / "b.duckdb"
    assert settings.crm.hmac_key is not None and settings.crm.hmac_key.get_secret_value() == "k3y"
    assert "k3y" not in repr(settings)

    path.write_text('[crm]\nhmac_key = "leaked"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="environment"):
        load_settings(path)


def test_bad_settings_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "yuqing.toml"
    path.write_text('[[campaigns]]\nname = "x"\nstart = 2026-11-11\nend = 2026-11-01\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"yuqing\.toml.*before start"):
        load_settings(path)


def test_init_writes_example(tmp_path: Path) -> None:
    target = tmp_path / "yuqing.toml"
    result = CliRunner().invoke(app, ["init", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8") == example_toml()
    again = CliRunner().invoke(app, ["init", str(target)])
    assert again.exit_code == 1


def test_path_overrides_are_relative_to_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg_dir = tmp_path / "conf"
    cfg_dir.mkdir()
    (cfg_dir / "yuqing.toml").write_text('[warehouse]\npath = "w.duckdb"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert load_settings(cfg_dir / "yuqing.toml").warehouse.path == cfg_dir / "w.duckdb"
    moved = load_settings(cfg_dir / "yuqing.toml", warehouse={"path": "out/x.duckdb"}, flows={"out_dir": "r"})
    assert moved.warehouse.path == tmp_path / "out" / "x.duckdb"
    assert moved.flows.out_dir == tmp_path / "r"
