"""A thin wrapper over a CTranslate2 translator and its SentencePiece models."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ctranslate2
import sentencepiece as spm

from translator.decoding import Hypotheses, Prefix, choose_keeping
from translator.engine.metadata import ModelMetadata
from translator.engine.modelbin import max_positions
from translator.segment import split_sentences
from translator.text import normalize_spaces
from translator.truecase import Truecaser

DEVICES = ("auto", "cpu", "cuda")
EOS = "</s>"


@dataclass(frozen=True)
class TranslationOptions:
    """Decoding settings. The defaults were chosen by measurement (see models/README.md)."""

    beam_size: int = 4
    # Degenerate-output guard: at most ratio * input tokens + extra output tokens.
    max_length_ratio: float = 2.0
    max_length_extra: int = 10
    # Absolute cap on output tokens per sentence (or piece of a long sentence).
    max_output_tokens: int = 512
    # Longer sentences are cut into pieces of at most this many tokens before translation.
    max_input_tokens: int = 200
    # A token 3-gram never repeats: stops the loops this small model falls into on out-of-domain text
    # ("Vorderseiteseiteseite"), 28 % → 0.1 % of newstest2020 outputs, for ≤ 0.15 BLEU (models/README.md).
    no_repeat_ngram_size: int = 3
    repetition_penalty: float = 1.0
    # None: the model's own (translator.json's ``length_penalty``, chosen on its dev sets; 1.0 if it has none).
    length_penalty: float | None = None
    max_batch_size: int = 32
    # A final whose prefix is tried last (decoding.Prefix.free) has its forced fallback submitted right after its
    # free decoding when two replicas are idle, so that it costs one decoding's time, not two, when the free
    # hypotheses contradict the prefix (p50 34 -> 18 ms); waited for only if needed (docs/performance.md, Stability
    # policies).
    fallback_beside: bool = True
    # Input written without case (all lowercase, or all capitals) gets it back from the model's truecasing
    # table, if it has one (translator.truecase): lowercase German 26 → 42 BLEU (README, unpunctuated input).
    truecase: bool = True

    def __post_init__(self) -> None:
        if self.beam_size < 1:
            raise ValueError("beam_size must be at least 1")
        if self.max_length_ratio <= 0 or self.max_length_extra < 0:
            raise ValueError("max_length_ratio must be positive and max_length_extra not negative")
        if self.max_output_tokens < 1:
            raise ValueError("max_output_tokens must be at least 1")
        if self.max_input_tokens < 8:
            raise ValueError("max_input_tokens must be at least 8")
        if self.max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        if self.length_penalty is not None and not 0.0 <= self.length_penalty <= 10.0:
            raise ValueError("length_penalty must be from 0 to 10 (or None: the model's)")

    def output_bound(self, source_tokens: int) -> int:
        """The most output tokens a sentence of ``source_tokens`` may decode to (the degenerate-output guard),
        before any forced prefix."""
        return min(math.ceil(self.max_length_ratio * source_tokens) + self.max_length_extra, self.max_output_tokens)


@dataclass(frozen=True)
class Translation:
    source: str
    text: str
    # Mean log-probability per output token (None for empty input).
    score: float | None = None
    # Number of model calls the input was split into (sentences and pieces of long sentences).
    units: int = 0
    # For a ``Prefix`` request: the hypotheses returned (best first), and whether a free decoding kept the
    # prefix's words (None: the prefix was not tried last).
    hypotheses: tuple[str, ...] = ()
    kept: bool | None = None


def resolve_device(device: str) -> str:
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; expected one of {', '.join(DEVICES)}")
    if device == "auto":
        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    return device


def resolve_compute_type(device: str, compute_type: str | None) -> str:
    if compute_type in (None, "", "default"):
        compute_type = "int8_float16" if device == "cuda" else "int8"
    supported = ctranslate2.get_supported_compute_types(device)
    if compute_type not in supported:
        raise ValueError(
            f"compute type {compute_type!r} is not supported on {device}; supported: {', '.join(sorted(supported))}"
        )
    return compute_type


# How a unit is decoded (translator.decoding.Prefix.mode): bias, hypotheses, free first, word boundary,
# beam (0: the options').
_Mode = tuple[float, int, bool, bool, int]
_PLAIN: _Mode = (0.0, 1, False, False, 0)
# A unit's key: source tokens, prefix tokens, mode, prefix text, fallback (decoding.Prefix.fallback).
_Key = tuple[tuple[str, ...], tuple[str, ...], _Mode, str, str]
# Alternatives asked for at the first free position, to find a continuation that starts a new word.
_BOUNDARY_ALTERNATIVES = 4


@dataclass(frozen=True)
class _Unit:
    index: int  # which input text this piece belongs to
    tokens: tuple[str, ...]
    prefix: tuple[str, ...]
    mode: _Mode = _PLAIN
    prefix_text: str = ""
    fallback: str = ""

    @property
    def key(self) -> _Key:
        return (self.tokens, self.prefix, self.mode, self.prefix_text, self.fallback)


class Engine:
    """One CTranslate2 model with its tokenizers and language-tag convention."""

    def __init__(
        self,
        model_dir: str | Path,
        *,
        device: str = "auto",
        compute_type: str | None = None,
        inter_threads: int = 1,
        intra_threads: int = 1,
        device_index: int = 0,
        options: TranslationOptions | None = None,
    ) -> None:
        self.path = Path(model_dir)
        self.metadata = ModelMetadata.load(self.path)
        self.device = resolve_device(device)
        self.compute_type = resolve_compute_type(self.device, compute_type)
        self.options = options or TranslationOptions()
        self._source_sp = spm.SentencePieceProcessor(model_file=str(self.path / self.metadata.source_spm))
        self._target_sp = spm.SentencePieceProcessor(model_file=str(self.path / self.metadata.target_spm))
        self._translator = ctranslate2.Translator(
            str(self.path),
            device=self.device,
            device_index=device_index,
            compute_type=self.compute_type,
            inter_threads=inter_threads,
            intra_threads=intra_threads,
        )
        # The model's positions, from translator.json or else from model.bin itself: decoding past the last one
        # is an error in CTranslate2 (a looping output on a model converted elsewhere), not a longer output.
        self.max_positions = self.metadata.max_positions or max_positions(self.path / "model.bin")
        self._truecasers = {
            language: Truecaser.load(self.path / name) for language, name in self.metadata.truecase.items()
        }

    def __repr__(self) -> str:
        return f"Engine({str(self.path)!r}, device={self.device!r}, compute_type={self.compute_type!r})"

    def pairs(self) -> list[tuple[str, str]]:
        return self.metadata.pairs()

    def length_penalty(self, options: TranslationOptions | None = None) -> float:
        """The length penalty decodings use: the options' if they set one, else the model's."""
        chosen = (options or self.options).length_penalty
        return self.metadata.length_penalty if chosen is None else chosen

    def _languages(self, source: str | None, target: str | None) -> tuple[str, str]:
        meta = self.metadata
        source = source or (meta.source_languages[0] if len(meta.source_languages) == 1 else None)
        target = target or (meta.target_languages[0] if len(meta.target_languages) == 1 else None)
        if source is None or target is None:
            raise ValueError(f"{meta.name} serves several languages: name the source and target")
        if (source, target) not in meta.pairs():
            available = ", ".join(f"{s}->{t}" for s, t in meta.pairs())
            raise ValueError(f"{meta.name} does not translate {source}->{target} (it has {available})")
        return source, target

    def _source_tokens(self, text: str, source: str, target: str, limit: int) -> list[list[str]]:
        """Tokenize one sentence; cut it into pieces when it is too long for the model."""
        tokens: list[str] = self._source_sp.encode(text, out_type=str)
        pieces = [tokens[i : i + limit] for i in range(0, len(tokens), limit)] or [[]]
        meta = self.metadata
        if meta.tag_style == "source_prefix":
            pieces = [[meta.language_tokens[target], *p] for p in pieces]
        elif meta.tag_style == "nllb":
            pieces = [[meta.language_tokens[source], *p] for p in pieces]
        return [[*p, EOS] for p in pieces]

    def _target_prefix(self, prefix: str | None, target: str) -> list[str]:
        tokens: list[str] = self._target_sp.encode(prefix, out_type=str) if prefix else []
        if self.metadata.tag_style == "nllb":
            tokens = [self.metadata.language_tokens[target], *tokens]
        return tokens

    def translate(
        self,
        texts: Sequence[str],
        *,
        source: str | None = None,
        target: str | None = None,
        target_prefixes: Sequence[str | None] | None = None,
        options: TranslationOptions | None = None,
    ) -> list[Translation]:
        """Translate many texts in batches. Each text may hold several sentences.

        ``target_prefixes[i]``, when given, forces the translation of ``texts[i]`` to start with
        that text; such a text is translated as one sentence. A ``translator.decoding.Prefix`` says how
        to use it instead (soft bias, n-best, tried last, word boundary).
        """
        if target_prefixes is not None and len(target_prefixes) != len(texts):
            raise ValueError("target_prefixes must have one entry per text")
        source, target = self._languages(source, target)
        opts = options or self.options
        limit = opts.max_input_tokens
        if self.max_positions is not None:
            # Room for the end-of-sentence and language tokens within the model's positions.
            limit = min(limit, self.max_positions - 2)
        truecaser = self._truecasers.get(source) if opts.truecase else None
        units = self._units(texts, source, target, target_prefixes, limit, truecaser)
        outputs = self._run(units, opts, target)
        results: list[list[_Output]] = [[] for _ in texts]
        for unit in units:
            results[unit.index].append(outputs[unit.key])
        translations = []
        for text, parts in zip(texts, results, strict=True):
            if not parts:
                translations.append(Translation(source=text, text=""))
                continue
            joined = " ".join(p.text for p in parts if p.text)
            score = sum(p.score for p in parts) / len(parts)
            first = parts[0]
            hypotheses = first.hypotheses if len(parts) == 1 else (joined,)
            translations.append(
                Translation(
                    source=text, text=joined, score=score, units=len(parts), hypotheses=hypotheses, kept=first.kept
                )
            )
        return translations

    def _units(
        self,
        texts: Sequence[str],
        source: str,
        target: str,
        prefixes: Sequence[str | None] | None,
        limit: int,
        truecaser: Truecaser | None = None,
    ) -> list[_Unit]:
        units: list[_Unit] = []
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"text {index} is {type(text).__name__}, not str")
            prefix = prefixes[index] if prefixes is not None else None
            if not text.strip():
                continue
            sentences = [normalize_spaces(text)] if prefix else split_sentences(text)
            for sentence in sentences:
                if truecaser is not None:
                    sentence = truecaser.restore(sentence)
                pieces = self._source_tokens(sentence, source, target, limit)
                for n, tokens in enumerate(pieces):
                    # A forced prefix applies to the first piece only; later pieces of a long
                    # sentence start free (except for a target-language token).
                    unit_prefix = self._target_prefix(prefix if n == 0 else None, target)
                    if n == 0 and isinstance(prefix, Prefix):
                        # A fallback translates the whole sentence: of no use for its first piece alone.
                        fallback = prefix.fallback if len(pieces) == 1 else ""
                        units.append(
                            _Unit(index, tuple(tokens), tuple(unit_prefix), prefix.mode, str(prefix), fallback)
                        )
                    else:
                        units.append(_Unit(index, tuple(tokens), tuple(unit_prefix)))
        return units

    def _run(self, units: list[_Unit], opts: TranslationOptions, target: str) -> dict[_Key, _Output]:
        keys = sorted({u.key for u in units}, key=lambda k: (k[2], len(k[0]), k))
        bare = tuple(self._target_prefix(None, target))
        # A prefix tried last: first decoded without it (with the model's language tag, if it needs one);
        # only those whose free hypotheses all contradict the prefix's words are then decoded forced (at a
        # word boundary if asked). Measured cheaper than decoding both at once (docs/performance.md, Stability
        # policies).
        first: list[_Key] = [(k[0], bare, k[2], k[3], k[4]) if k[2][2] else k for k in keys]
        # (A prefix with a fallback at hand needs no forced decoding at all.)
        tried = [k for k in keys if k[2][2] and k[3] and not k[4]]
        # ... except when the translator has replicas to spare: then the forced decodings are submitted right
        # after the free ones, to run beside them on a replica that would be idle, and waited for only if
        # needed: a final whose free hypotheses contradict the stable text costs one decoding's time, not two.
        ahead = tried if tried and opts.fallback_beside and self._idle_replicas() >= 2 else []
        collect = self._submit(first, opts, target)
        collect_ahead = self._submit([_forced(k) for k in ahead], opts, target)
        outputs = dict(zip(keys, collect(), strict=True))
        retry = [k for k in keys if outputs[k].kept is False]
        if retry:
            forced = dict(zip(ahead, collect_ahead(), strict=True))
            # The free decoding's score stays with a fallback taken as it is.
            forced.update((k, _Output(k[4], outputs[k].score, (k[4],))) for k in retry if k[4])
            later = [k for k in retry if k not in forced]
            if later:
                forced.update(zip(later, self._submit([_forced(k) for k in later], opts, target)(), strict=True))
            for key in retry:
                out = forced[key]
                outputs[key] = _Output(out.text, out.score, out.hypotheses, kept=False)
        return outputs

    def _idle_replicas(self) -> int:
        """How many of the translator's replicas (``inter_threads``) have no batch to work on right now."""
        replicas: int = self._translator.num_translators
        active: int = self._translator.num_active_batches
        return max(0, replicas - active)

    def _submit(self, keys: list[_Key], opts: TranslationOptions, target: str) -> Callable[[], list[_Output]]:
        """Start decoding ``keys``, grouped by mode, in length-sorted chunks, each with its own decoding bound,
        all submitted at once so that a translator with inter_threads > 1 works on several chunks together;
        returns what waits for their outputs (in the order of ``keys``)."""
        by_mode: dict[_Mode, list[int]] = {}
        for i, key in enumerate(keys):
            by_mode.setdefault(key[2], []).append(i)
        pending = []
        for (bias, hypotheses, _, boundary, beam), indexes in by_mode.items():
            for start in range(0, len(indexes), opts.max_batch_size):
                batch = [keys[i] for i in indexes[start : start + opts.max_batch_size]]
                longest = max(len(k[0]) for k in batch)
                bound = opts.output_bound(longest) + max(len(k[1]) for k in batch)
                if self.max_positions is not None:
                    # Decoding past the model's last position is an error in CTranslate2, not a longer output.
                    bound = min(bound, self.max_positions - 1)
                width = beam or opts.beam_size
                # CTranslate2 returns at most beam_size hypotheses.
                extra: dict[str, Any] = {"num_hypotheses": min(hypotheses, max(width, 1))}
                if bias > 0.0:
                    extra["prefix_bias_beta"] = bias
                elif boundary and any(k[1] for k in batch):
                    # Alternatives at the first free position: one of them starts a new word.
                    extra.update(return_alternatives=True, num_hypotheses=_BOUNDARY_ALTERNATIVES)
                futures = self._translator.translate_batch(
                    [list(k[0]) for k in batch],
                    target_prefix=[list(k[1]) if k[1] else None for k in batch],
                    beam_size=max(width, 2) if bias > 0.0 else width,
                    max_decoding_length=bound,
                    max_input_length=0,
                    no_repeat_ngram_size=opts.no_repeat_ngram_size,
                    repetition_penalty=opts.repetition_penalty,
                    length_penalty=self.length_penalty(opts),
                    return_scores=True,
                    asynchronous=True,
                    **extra,
                )
                pending.append((indexes[start : start + opts.max_batch_size], futures))

        def collect() -> list[_Output]:
            outputs: list[_Output | None] = [None] * len(keys)
            for indexes, futures in pending:
                for i, future in zip(indexes, futures, strict=True):
                    outputs[i] = self._output(future.result(), keys[i], target)
            return [o for o in outputs if o is not None]

        return collect

    def _output(self, result: Any, key: _Key, target: str) -> _Output:
        """The text (and hypotheses) of one decoding; a free or word-boundary one picks the best hypothesis
        that keeps the prefix's words."""
        tag = self.metadata.language_tokens.get(target) if self.metadata.tag_style == "nllb" else None
        texts = []
        for tokens in result.hypotheses:
            hyp = list(tokens)
            if tag is not None and hyp and hyp[0] == tag:
                hyp = hyp[1:]
            texts.append(self._target_sp.decode(hyp))
        scores = [float(x) for x in result.scores] if result.scores else [0.0] * len(texts)
        _, hypotheses, free, _, _ = key[2]
        best, kept = 0, True
        if key[3]:
            chosen = choose_keeping(texts, key[3])
            kept = chosen is not None
            best = texts.index(chosen) if chosen is not None else 0
        ordered = [texts[best], *(t for i, t in enumerate(texts) if i != best)][:hypotheses]
        return _Output(texts[best], scores[best], tuple(ordered), kept if free else None)


@dataclass(frozen=True)
class _Output:
    text: str
    score: float
    hypotheses: tuple[str, ...] = ()
    kept: bool | None = None


def _forced(key: _Key) -> _Key:
    """A prefix tried last, decoded forced (at a word boundary if asked): what it falls back to."""
    return (key[0], key[1], (0.0, key[2][1], False, key[2][3], key[2][4]), key[3], key[4])


def texts_only(engine: Engine, source: str, target: str, texts: list[str], prefixes: list[str | None]) -> list[str]:
    """``engine.translate``, returning just the translated texts (the shape the micro-batcher and the
    streaming loops call)."""
    results = engine.translate(texts, source=source, target=target, target_prefixes=prefixes)
    return [
        Hypotheses(r.text, r.hypotheses, r.kept) if isinstance(p, Prefix) else r.text
        for r, p in zip(results, prefixes, strict=True)
    ]
