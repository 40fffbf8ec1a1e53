"""The metadata file that sits beside a CTranslate2 model: languages, tokenizers, language tags."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

METADATA_FILE = "translator.json"
FORMAT_VERSION = 1

# How a model expects to be told the languages:
#   "none"          a single-pair model, no tags
#   "source_prefix" a tag naming the target language starts the source (multilingual Marian/OPUS-MT,
#                   e.g. ">>deu<<")
#   "nllb"          the source starts with a source-language token and the decoder is forced to
#                   start with a target-language token (NLLB, M2M-100)
TAG_STYLES = ("none", "source_prefix", "nllb")


class MetadataError(ValueError):
    """A model directory whose metadata is missing or malformed."""


@dataclass(frozen=True)
class ModelMetadata:
    name: str
    source_languages: tuple[str, ...]
    target_languages: tuple[str, ...]
    tag_style: str = "none"
    # Language code -> token used for it in the vocabulary (tagged styles only).
    language_tokens: dict[str, str] = field(default_factory=dict)
    source_spm: str = "source.spm"
    target_spm: str = "target.spm"
    quantization: str = "int8"
    description: str = ""
    # The model's longest sequence (Transformer positions), source and output alike; None: not known.
    max_positions: int | None = None
    # Source language -> its truecasing table in the model directory (``translator.truecase``), used for
    # input written without capitals.
    truecase: dict[str, str] = field(default_factory=dict)
    # The length penalty the model decodes with unless a caller sets one (``TranslationOptions``): chosen with
    # the model on its dev sets (models/recipe/decoding_sweep.py --choose); 1.0 for models released without one.
    length_penalty: float = 1.0

    def __post_init__(self) -> None:
        lp = self.length_penalty
        if isinstance(lp, bool) or not isinstance(lp, (int, float)) or not 0.0 <= lp <= 10.0:
            raise MetadataError(f"length_penalty must be a number from 0 to 10, not {lp!r}")
        unknown = sorted(set(self.truecase) - set(self.source_languages))
        if unknown:
            raise MetadataError(f"truecase tables for languages the model does not translate from: {unknown}")
        if self.max_positions is not None and (not isinstance(self.max_positions, int) or self.max_positions < 16):
            raise MetadataError(f"max_positions must be an integer of at least 16, not {self.max_positions!r}")
        if self.tag_style not in TAG_STYLES:
            raise MetadataError(f"unknown tag_style {self.tag_style!r}; expected one of {TAG_STYLES}")
        if not self.source_languages or not self.target_languages:
            raise MetadataError("a model needs at least one source and one target language")
        if self.tag_style != "none":
            needed = set(self.target_languages)
            if self.tag_style == "nllb":
                needed |= set(self.source_languages)
            missing = sorted(needed - set(self.language_tokens))
            if missing:
                raise MetadataError(f"no language token for {', '.join(missing)}")

    def pairs(self) -> list[tuple[str, str]]:
        return [(s, t) for s in self.source_languages for t in self.target_languages if s != t]

    def to_json(self) -> str:
        data = asdict(self)
        data["format"] = FORMAT_VERSION
        return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n"

    def save(self, model_dir: Path) -> None:
        (Path(model_dir) / METADATA_FILE).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, model_dir: Path) -> ModelMetadata:
        path = Path(model_dir) / METADATA_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise MetadataError(f"{path} does not exist") from exc
        except json.JSONDecodeError as exc:
            raise MetadataError(f"{path} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise MetadataError(f"{path} must hold a JSON object")
        version = data.pop("format", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise MetadataError(f"{path}: unsupported format {version}")
        try:
            data["source_languages"] = tuple(data["source_languages"])
            data["target_languages"] = tuple(data["target_languages"])
            return cls(**data)
        except (KeyError, TypeError) as exc:
            raise MetadataError(f"{path}: {exc}") from exc
