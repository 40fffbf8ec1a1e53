"""Real-time machine translation on CTranslate2."""

from translator.engine.engine import Engine, Translation, TranslationOptions
from translator.engine.metadata import ModelMetadata
from translator.engine.registry import Registry, UnknownPairError
from translator.version import __version__

__all__ = [
    "Engine",
    "ModelMetadata",
    "Registry",
    "Translation",
    "TranslationOptions",
    "UnknownPairError",
    "__version__",
]
