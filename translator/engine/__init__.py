"""The engine layer: CTranslate2 models with their SentencePiece tokenizers, found on disk."""

from translator.engine.engine import DEVICES, Engine, Translation, TranslationOptions
from translator.engine.metadata import ModelMetadata
from translator.engine.registry import ModelEntry, Registry, UnknownPairError

__all__ = [
    "DEVICES",
    "Engine",
    "ModelEntry",
    "ModelMetadata",
    "Registry",
    "Translation",
    "TranslationOptions",
    "UnknownPairError",
]
