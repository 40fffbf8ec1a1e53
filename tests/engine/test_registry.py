from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import MODELS
from translator.engine.registry import Registry, UnknownPairError, default_models_dir


def test_discovers_the_shipped_models(registry: Registry) -> None:
    assert ("en", "de") in registry.pairs()
    assert ("de", "en") in registry.pairs()
    assert registry.languages() == ["de", "en"]
    assert registry.find("en", "de").path == MODELS / "en-de"
    assert registry.find(" EN ", "De").path == MODELS / "en-de"
    assert registry.problems == []


def test_unknown_pair_names_the_available_ones(registry: Registry) -> None:
    with pytest.raises(UnknownPairError) as info:
        registry.find("en", "xx")
    assert "en->xx" in str(info.value)
    assert "en->de" in str(info.value) and "de->en" in str(info.value)


def test_engines_are_shared(registry: Registry) -> None:
    assert registry.engine("en", "de") is registry.engine("en", "de")


def test_default_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TRANSLATOR_MODELS", raising=False)
    assert default_models_dir() == MODELS
    monkeypatch.setenv("TRANSLATOR_MODELS", str(tmp_path))
    assert default_models_dir() == tmp_path


def test_broken_and_missing_directories(tmp_path: Path) -> None:
    missing = Registry(tmp_path / "nope")
    assert missing.pairs() == [] and "not a directory" in missing.problems[0]
    shutil.copytree(MODELS / "en-de", tmp_path / "good")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.bin").write_bytes(b"")
    registry = Registry(tmp_path)
    assert registry.pairs() == [("en", "de")]
    assert len(registry.problems) == 1 and "broken" in registry.problems[0]


def test_single_pair_model_preferred_over_multilingual(tmp_path: Path) -> None:
    shutil.copytree(MODELS / "en-de", tmp_path / "a-single")
    multi = tmp_path / "b-multi"
    shutil.copytree(MODELS / "en-de", multi)
    (multi / "translator.json").write_text(
        '{"name": "multi", "source_languages": ["en"], "target_languages": ["de", "fr"], '
        '"tag_style": "source_prefix", "language_tokens": {"de": ">>deu<<", "fr": ">>fra<<"}}'
    )
    registry = Registry(tmp_path)
    assert registry.find("en", "de").name == "en-de"
    assert registry.find("en", "fr").name == "multi"


def test_fingerprint_follows_the_model_files_not_the_card(tmp_path: Path) -> None:
    copy = tmp_path / "en-de"
    shutil.copytree(MODELS / "en-de", copy)
    [original] = [e for e in Registry(MODELS).entries if e.path.name == "en-de"]
    [entry] = Registry(tmp_path).entries
    assert entry.fingerprint == original.fingerprint and len(entry.fingerprint) == 16
    (copy / "README.md").write_text("a new model card\n")
    [entry] = Registry(tmp_path).entries
    assert entry.fingerprint == original.fingerprint
    # Other weights (here: the last byte of model.bin changed) are another model.
    weights = bytearray((copy / "model.bin").read_bytes())
    weights[-1] ^= 0xFF
    (copy / "model.bin").write_bytes(bytes(weights))
    [entry] = Registry(tmp_path).entries
    assert entry.fingerprint != original.fingerprint
