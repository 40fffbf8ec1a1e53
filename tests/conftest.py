from __future__ import annotations

from pathlib import Path

import pytest

from translator.engine import Engine
from translator.registry import Registry

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def registry() -> Registry:
    return Registry(MODELS, device="cpu")


@pytest.fixture(scope="session")
def en_de(registry: Registry) -> Engine:
    return registry.engine("en", "de")


@pytest.fixture(scope="session")
def de_en(registry: Registry) -> Engine:
    return registry.engine("de", "en")
