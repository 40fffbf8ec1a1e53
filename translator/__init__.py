"""Real-time machine translation on CTranslate2."""

from translator.engine.engine import Engine, Translation, TranslationOptions
from translator.engine.metadata import ModelMetadata
from translator.engine.registry import Registry, UnknownPairError

__version__ = "0.1.0"

__all__ = [
    "Engine",
    "ModelMetadata",
    "Registry",
    "Translation",
    "TranslationOptions",
    "UnknownPairError",
    "__version__",
]
