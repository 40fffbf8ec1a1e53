"""Convert a Hugging Face translation model (Marian/OPUS-MT, NLLB, M2M-100) to a served model directory.

The result is a CTranslate2 model plus the SentencePiece files and our ``translator.json``.
"""

from __future__ import annotations

import json
import re
import shutil
import warnings
from pathlib import Path
from typing import Any

from translator.engine.metadata import ModelMetadata

QUANTIZATIONS = ("int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float16", "bfloat16", "float32")

# ISO 639-1 -> ISO 639-3, for the languages whose tags multilingual models use most.
ISO3 = {
    "ar": "ara", "bg": "bul", "ca": "cat", "cs": "ces", "da": "dan", "de": "deu", "el": "ell",
    "en": "eng", "es": "spa", "et": "est", "fi": "fin", "fr": "fra", "he": "heb", "hi": "hin",
    "hu": "hun", "id": "ind", "it": "ita", "ja": "jpn", "ko": "kor", "lt": "lit", "lv": "lav",
    "nl": "nld", "no": "nor", "pl": "pol", "pt": "por", "ro": "ron", "ru": "rus", "sk": "slk",
    "sl": "slv", "sv": "swe", "tr": "tur", "uk": "ukr", "vi": "vie", "zh": "zho",
}  # fmt: skip
ISO1 = {v: k for k, v in ISO3.items()}
# Where NLLB names a language by a more specific code than ISO3 gives (macrolanguages, scripts).
NLLB_PREFERRED = {"ar": "arb_Arab", "lv": "lvs_Latn", "no": "nob_Latn", "zh": "zho_Hans", "et": "est_Latn"}
_OPUS_NAME = re.compile(r"opus-mt-(?:tc-[a-z]+-)?([a-z]{2,3})-([a-z]{2,3})(?:$|[-_])")
_MARIAN_TAG = re.compile(r"^>>([a-z]{2,3}(?:_[A-Za-z]+)?)<<$")
_NLLB_TAG = re.compile(r"^([a-z]{3})_([A-Z][a-z]{3})$")
_M2M_TAG = re.compile(r"^__([a-z]{2,3})__$")


class ConversionError(RuntimeError):
    pass


class StartEmbeddingWarning(UserWarning):
    """A Marian model whose decoder start (<pad>) embedding is not zero."""


def _check_marian_start_embedding(src: str, config: dict[str, Any]) -> None:
    """Warn when the <pad> embedding is not zero: Transformers starts the Marian decoder from it, but
    CTranslate2 (like Marian itself) starts from a zero vector, so the converted model would decode
    differently from the original. Models trained with tied embeddings can drift there."""
    path = Path(src) / "model.safetensors"
    pad = config.get("pad_token_id")
    if not path.exists() or pad is None:
        return
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as weights:
        names = [n for n in weights.keys() if n.endswith(("shared.weight", "decoder.embed_tokens.weight"))]
        if not names:
            return
        row = weights.get_slice(names[0])[pad : pad + 1]
    norm = float((row.astype("float64") ** 2).sum() ** 0.5)
    if norm > 1e-6:
        warnings.warn(
            f"{src}: the <pad> (decoder start) embedding is not zero (norm {norm:.3g}); CTranslate2 starts "
            "Marian decoders from a zero vector, so translations will differ from Transformers'. "
            "Zero that row (and keep it zero in training) for identical results.",
            StartEmbeddingWarning,
            stacklevel=3,
        )


def _read_config(src: str) -> dict[str, Any]:
    path = Path(src)
    if path.is_dir():
        config = path / "config.json"
        if not config.exists():
            raise ConversionError(f"{src} has no config.json: not a Hugging Face model directory")
        loaded: dict[str, Any] = json.loads(config.read_text(encoding="utf-8"))
        return loaded
    try:
        from transformers import AutoConfig
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConversionError("converting needs the 'convert' extra: pip install 'translator[convert]'") from exc
    try:
        as_dict: dict[str, Any] = AutoConfig.from_pretrained(src).to_dict()
        return as_dict
    except OSError as exc:
        raise ConversionError(f"cannot load {src!r}: not a local directory, and the hub is unreachable: {exc}") from exc


def _vocabulary(model_dir: Path) -> list[str]:
    for name in ("shared_vocabulary.json", "target_vocabulary.json"):
        path = model_dir / name
        if path.exists():
            vocabulary: list[str] = json.loads(path.read_text(encoding="utf-8"))
            return vocabulary
    for name in ("shared_vocabulary.txt", "target_vocabulary.txt"):
        path = model_dir / name
        if path.exists():
            return path.read_text(encoding="utf-8").splitlines()
    return []


def _pick(languages: list[str] | None, found: dict[str, str], what: str) -> dict[str, str]:
    """Restrict the language tokens found in the vocabulary to the requested languages."""
    if not languages:
        return found
    chosen = {}
    for lang in languages:
        if lang not in found:
            raise ConversionError(f"{what} language {lang!r} has no tag in this model's vocabulary")
        chosen[lang] = found[lang]
    return chosen


def _max_positions(config: dict[str, object]) -> int | None:
    value = config.get("max_position_embeddings")
    return value if isinstance(value, int) and value >= 16 else None


def _languages_from_name(src: str) -> tuple[list[str], list[str]]:
    match = _OPUS_NAME.search(Path(src).name.lower() if Path(src).is_dir() else src.lower())
    if not match:
        return [], []
    return [ISO1.get(match.group(1), match.group(1))], [ISO1.get(match.group(2), match.group(2))]


def convert(
    src: str,
    dest: str | Path,
    *,
    quantization: str = "int8",
    source_languages: list[str] | None = None,
    target_languages: list[str] | None = None,
    name: str | None = None,
    force: bool = False,
) -> ModelMetadata:
    """Convert ``src`` (a directory or hub name) into the served model directory ``dest``."""
    if quantization not in QUANTIZATIONS:
        raise ConversionError(f"unknown quantization {quantization!r}; choose one of {', '.join(QUANTIZATIONS)}")
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()) and not force:
        raise ConversionError(f"{dest} exists and is not empty (use --force to overwrite)")
    config = _read_config(src)
    model_type = config.get("model_type")
    if model_type == "marian":
        spm_files = {"source_spm": "source.spm", "target_spm": "target.spm"}
    elif model_type in ("m2m_100", "nllb"):
        spm_files = {"source_spm": "sentencepiece.bpe.model", "target_spm": "sentencepiece.bpe.model"}
    else:
        raise ConversionError(f"unsupported model type {model_type!r}: expected marian, m2m_100 or nllb")
    copy = sorted(set(spm_files.values()))
    if Path(src).is_dir():
        missing = [f for f in copy if not (Path(src) / f).exists()]
        if missing:
            raise ConversionError(f"{src} lacks the tokenizer file(s) {', '.join(missing)}")
        if model_type == "marian":
            _check_marian_start_embedding(src, config)

    import ctranslate2.converters

    try:
        with warnings.catch_warnings():
            # MarianTokenizer recommends sacremoses, which only its own pre-tokenization uses.
            warnings.filterwarnings("ignore", message="Recommended: pip install sacremoses")
            converter = ctranslate2.converters.TransformersConverter(src, copy_files=copy)
            converter.convert(str(dest), quantization=quantization, force=True)
    except Exception as exc:  # the converter raises many kinds of errors
        shutil.rmtree(dest, ignore_errors=True)
        raise ConversionError(f"conversion of {src} failed: {exc}") from exc

    # A language problem found after converting must not leave a half-made model behind.
    try:
        vocab = _vocabulary(dest)
        tag_style = "none"
        tokens: dict[str, str] = {}
        sources = list(source_languages or [])
        targets = list(target_languages or [])
        named_sources, named_targets = _languages_from_name(src)
        if model_type == "marian":
            tags = {}
            for token in vocab:
                match = _MARIAN_TAG.match(token)
                if match:
                    code = match.group(1)
                    tags[ISO1.get(code, code)] = token
            if tags:
                tag_style = "source_prefix"
                tokens = _pick(targets, tags, "target")
                targets = targets or sorted(tokens)
            sources = sources or named_sources
            targets = targets or named_targets
        else:
            tags = {}
            for token in vocab:
                nllb, m2m = _NLLB_TAG.match(token), _M2M_TAG.match(token)
                code = nllb.group(1) if nllb else (m2m.group(1) if m2m else None)
                if code is not None:
                    tags.setdefault(ISO1.get(code, code), token)
            vocab_set = set(vocab)
            for lang, token in NLLB_PREFERRED.items():
                if token in vocab_set:
                    tags[lang] = token
            if not tags:
                raise ConversionError("found no language tokens in this model's vocabulary")
            tag_style = "nllb"
            requested = sorted(set(sources) | set(targets))
            tokens = _pick(requested or None, tags, "requested")
            sources = sources or sorted(tokens)
            targets = targets or sorted(tokens)
        if not sources or not targets:
            raise ConversionError("cannot tell the model's languages: pass --source and --target")
    except ConversionError:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    metadata = ModelMetadata(
        name=name or dest.name,
        source_languages=tuple(sources),
        target_languages=tuple(targets),
        tag_style=tag_style,
        language_tokens=tokens,
        quantization=quantization,
        description=f"converted from {src}",
        max_positions=_max_positions(config),
        source_spm=spm_files["source_spm"],
        target_spm=spm_files["target_spm"],
    )
    metadata.save(dest)
    return metadata
