"""Real-time machine translation on CTranslate2."""

from translator.engine import Engine, Translation, TranslationOptions
from translator.metadata import ModelMetadata
from translator.registry import Registry, UnknownPairError

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
