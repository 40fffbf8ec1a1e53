"""The engine on the committed default models."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sacrebleu

from tests.conftest import MODELS
from translator.decoding import Hypotheses, Prefix
from translator.engine.corpus import SHARED_DATA, multi30k, multi30k_test, news_dev, read_lines
from translator.engine.engine import Engine, TranslationOptions, resolve_compute_type, resolve_device, texts_only
from translator.engine.evaluate import repetition_loop
from translator.engine.metadata import METADATA_FILE

SENTENCES = [
    "A man is riding a bicycle.",
    "Two young children are playing in the sand.",
    "A woman in a red dress is walking down the street.",
    "A dog runs through the grass.",
    "Several people are standing in front of a building.",
]


def test_defaults_on_cpu(en_de: Engine) -> None:
    assert en_de.device == "cpu"
    assert en_de.compute_type == "int8"
    assert en_de.pairs() == [("en", "de")]


def test_device_and_compute_type_resolution() -> None:
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")
    assert resolve_compute_type("cpu", None) == "int8"
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")
    with pytest.raises(ValueError, match="not supported"):
        resolve_compute_type("cpu", "int3")


def test_translates_to_german(en_de: Engine) -> None:
    result = en_de.translate(["A man is riding a bicycle."])[0]
    assert result.source == "A man is riding a bicycle."
    assert result.text and result.text != result.source
    assert result.units == 1
    assert result.score is not None and result.score < 0
    # German, not English: common German words appear somewhere in a few translations.
    joined = " ".join(t.text for t in en_de.translate(SENTENCES)).lower().split()
    assert {"ein", "eine", "einem", "einer", "zwei", "der", "die", "das"} & set(joined)


def test_round_trip_keeps_the_meaning(en_de: Engine, de_en: Engine) -> None:
    german = [t.text for t in en_de.translate(SENTENCES)]
    back = [t.text for t in de_en.translate(german)]
    chrf = sacrebleu.corpus_chrf(back, [SENTENCES]).score
    assert chrf > 40, (german, back)


def test_batch_equals_one_by_one(en_de: Engine) -> None:
    batched = [t.text for t in en_de.translate(SENTENCES)]
    single = [en_de.translate([s])[0].text for s in SENTENCES]
    assert batched == single


def test_order_duplicates_and_blank_inputs(en_de: Engine) -> None:
    texts = ["A dog runs through the grass.", "", "   ", "A man is riding a bicycle.", "A dog runs through the grass."]
    results = en_de.translate(texts)
    assert [r.source for r in results] == texts
    assert results[1].text == "" and results[2].text == ""
    assert results[1].units == 0
    assert results[0].text == results[4].text
    assert results[0].text != results[3].text


def test_several_sentences_are_translated_one_by_one(en_de: Engine) -> None:
    text = " ".join(SENTENCES[:3])
    result = en_de.translate([text])[0]
    assert result.units == 3
    parts = [t.text for t in en_de.translate(SENTENCES[:3])]
    assert result.text == " ".join(parts)


def test_very_long_input_is_cut_and_bounded(en_de: Engine) -> None:
    words = ("the man with the red hat walks to the big house near the river " * 60).split()
    text = " ".join(words)  # one 780-word "sentence" without punctuation
    options = TranslationOptions(max_input_tokens=100)
    result = en_de.translate([text], options=options)[0]
    tokens = len(en_de._source_sp.encode(text))
    assert result.units == math.ceil(tokens / 100)
    assert result.text
    # Every piece is bounded by the decoding-length guard.
    out_tokens = len(en_de._target_sp.encode(result.text))
    assert out_tokens <= result.units * (2.0 * 101 + 10 + 1)


def test_decoding_length_guard(en_de: Engine) -> None:
    options = TranslationOptions(max_length_ratio=0.5, max_length_extra=0)
    text = "A man in a blue shirt is standing on a ladder and cleaning the windows of a tall building."
    tokens = len(en_de._source_sp.encode(text)) + 1
    result = en_de.translate([text], options=options)[0]
    assert len(en_de._target_sp.encode(result.text)) <= math.ceil(0.5 * tokens)
    capped = en_de.translate([text], options=TranslationOptions(max_output_tokens=3))[0]
    assert len(en_de._target_sp.encode(capped.text)) <= 3


def test_target_prefix_is_kept(en_de: Engine) -> None:
    free = en_de.translate(["A man is riding a bicycle."])[0].text
    prefix = free.split()[0] + " " + free.split()[1]
    forced = en_de.translate(["A man is riding a bicycle."], target_prefixes=[prefix])[0].text
    assert forced.startswith(prefix)
    other = en_de.translate(["A man is riding a bicycle."], target_prefixes=["Gestern"])[0].text
    assert other.startswith("Gestern")
    with pytest.raises(ValueError, match="one entry per text"):
        en_de.translate(["a", "b"], target_prefixes=["x"])


def test_wrong_pair_and_bad_input(en_de: Engine) -> None:
    with pytest.raises(ValueError, match="does not translate de->en"):
        en_de.translate(["Hallo"], source="de", target="en")
    with pytest.raises(TypeError, match="not str"):
        en_de.translate([b"bytes"])  # type: ignore[list-item]


def test_options_are_validated() -> None:
    with pytest.raises(ValueError):
        TranslationOptions(beam_size=0)
    with pytest.raises(ValueError):
        TranslationOptions(max_batch_size=0)
    with pytest.raises(ValueError):
        TranslationOptions(max_length_ratio=0)
    with pytest.raises(ValueError):
        TranslationOptions(max_output_tokens=0)
    with pytest.raises(ValueError, match="length_penalty"):
        TranslationOptions(length_penalty=-1.0)


def linked_copy(engine: Engine, directory: Path, **metadata: Any) -> Engine:
    """The same weights with other translator.json settings."""
    for file in engine.path.iterdir():
        if file.name != METADATA_FILE:
            (directory / file.name).symlink_to(file)
    replace(engine.metadata, **metadata).save(directory)
    return Engine(directory, device="cpu")


def test_the_models_length_penalty_is_used_unless_the_options_set_one(en_de: Engine, tmp_path: Path) -> None:
    sources = read_lines(news_dev("en", "de")[0])[:30]

    def texts(engine: Engine, penalty: float | None) -> list[str]:
        options = replace(engine.options, length_penalty=penalty)
        return [t.text for t in engine.translate(sources, options=options)]

    shorter, longer = texts(en_de, 0.0), texts(en_de, 4.0)
    assert shorter != longer  # the penalty matters on these sentences
    assert texts(en_de, None) == texts(en_de, en_de.metadata.length_penalty)
    # The same weights with a length penalty of 4 in translator.json.
    copy = linked_copy(en_de, tmp_path, length_penalty=4.0)
    assert copy.length_penalty() == 4.0
    assert texts(copy, None) == longer
    assert texts(copy, 0.0) == shorter


# The minimum quality the default models must keep, on the first sentences of a dev or test set: Multi30k
# test2016 (200 sentences) BLEU 28 en->de, 32 de->en; newstest2020 dev (150) BLEU 7 / 9, where the
# caption-only models scored 3.7 / 5.3 on the whole set, and at most one repetition loop.
QUALITY_SAMPLES = {"multi30k": (multi30k_test, 200), "newstest2020": (news_dev, 150)}


def test_a_model_whose_metadata_omits_its_positions_still_never_decodes_past_them(
    en_de: Engine, tmp_path: Path
) -> None:
    assert en_de.metadata.max_positions is not None
    copy = linked_copy(en_de, tmp_path, max_positions=None)
    assert copy.metadata.max_positions is None
    assert copy.max_positions == en_de.metadata.max_positions  # read from model.bin
    # Without the guard the model loops on this input up to its decoding bound, which is past the positions.
    options = replace(en_de.options, no_repeat_ngram_size=0)
    source = " ".join(["ha"] * 150)
    (result,) = copy.translate([source], options=options)
    assert 0 < len(result.text.split()) and result.text == en_de.translate([source], options=options)[0].text


@pytest.mark.parametrize(
    ("corpus", "source", "target", "floor"),
    [
        ("multi30k", "en", "de", 28.0),
        ("multi30k", "de", "en", 32.0),
        ("newstest2020", "en", "de", 7.0),
        ("newstest2020", "de", "en", 9.0),
    ],
)
def test_quality_floor(registry, corpus: str, source: str, target: str, floor: float) -> None:  # type: ignore[no-untyped-def]
    paths, size = QUALITY_SAMPLES[corpus]
    src, ref = paths(source, target, SHARED_DATA)
    if not src.exists():
        pytest.skip(f"{src} is not present")
    sources, refs = read_lines(src)[:size], read_lines(ref)[:size]
    hyps = [t.text for t in registry.engine(source, target).translate(sources)]
    bleu = sacrebleu.corpus_bleu(hyps, [refs]).score
    assert bleu >= floor, f"{source}->{target} BLEU {bleu:.1f} on {size} {corpus} sentences"
    assert sum(map(repetition_loop, hyps)) <= 1


@pytest.mark.skipif(not (SHARED_DATA / "multi30k").is_dir(), reason="../shared/data is not present")
def test_uncased_german_is_truecased(registry) -> None:  # type: ignore[no-untyped-def]
    """A speech recognizer's lowercase German, or a broadcast caption's capitals: the model's truecasing
    table gives the nouns their capitals back, so it translates nearly as well as the written text (without
    it, far worse)."""
    engine = registry.engine("de", "en")
    assert engine.metadata.truecase, "the shipped de-en model has a truecasing table"
    sources = read_lines(multi30k("val", "de"))[:150]
    refs = read_lines(multi30k("val", "en"))[:150]
    lowered = [s[0] + s[1:].lower() for s in sources]

    def bleu(texts: list[str], options: TranslationOptions | None = None) -> float:
        hyps = [t.text for t in engine.translate(texts, options=options)]
        return sacrebleu.corpus_bleu(hyps, [refs]).score

    cased, truecased, capitals = bleu(sources), bleu(lowered), bleu([s.upper() for s in sources])
    plain = bleu(lowered, TranslationOptions(truecase=False))
    assert truecased >= cased - 3.0, (cased, truecased)
    assert truecased >= plain + 5.0, (plain, truecased)
    # All capitals (broadcast captions) are lowered first: without that the model's output is noise.
    assert capitals >= cased - 6.0, (cased, capitals)
    # Written text is left alone: the same translations with the table as without it.
    assert [t.text for t in engine.translate(sources[:40])] == [
        t.text for t in engine.translate(sources[:40], options=TranslationOptions(truecase=False))
    ]


# Decoding requests (translator.decoding.Prefix) ----------------------------------------------------

SENTENCE = "A man in a blue shirt is riding a bicycle down the street."


def test_a_free_final_keeps_the_prefix_words_or_forces_them(en_de: Engine) -> None:
    [offline] = texts_only(en_de, "en", "de", [SENTENCE], [None])
    words = offline.split()
    # A prefix the free hypotheses agree with: the offline translation itself, "kept".
    [kept] = texts_only(en_de, "en", "de", [SENTENCE], [Prefix(" ".join(words[:3]), free=True, hypotheses=4)])
    assert isinstance(kept, Hypotheses) and kept == offline and kept.kept is True
    # One they cannot agree with: forced, whole words kept.
    odd = "Zwei Frauen"
    [forced] = texts_only(en_de, "en", "de", [SENTENCE], [Prefix(odd, free=True, hypotheses=4)])
    assert isinstance(forced, Hypotheses) and forced.kept is False
    assert forced.split()[:2] == ["Zwei", "Frauen"]


def count_submissions(engine: Engine) -> list[int]:
    """The number of keys of each decoding the engine submits from now on (appended as it goes)."""
    calls: list[int] = []
    submit = engine._submit

    def counted(keys: list[Any], *rest: Any) -> Any:
        calls.append(len(keys))
        return submit(keys, *rest)

    engine._submit = counted  # type: ignore[method-assign,assignment]
    return calls


def test_forced_fallbacks_run_beside_free_decodings_when_replicas_are_idle() -> None:
    """With two idle replicas a final's forced decoding is submitted right after its free one (one decoding's
    time when the free hypotheses contradict the stable text); with one replica, or the option off, only after
    it and only if needed. Either way the same translations."""
    sources = [SENTENCE, *SENTENCES[:3]]
    offline = [t.text for t in Engine(MODELS / "en-de", device="cpu").translate(sources)]
    prefixes = [Prefix("Zwei Frauen", free=True, hypotheses=4)] + [
        Prefix(" ".join(o.split()[:2]), free=True, hypotheses=4) for o in offline[1:]
    ]
    results, submitted = {}, {}
    for replicas, beside in ((1, True), (2, True), (2, False)):
        engine = Engine(MODELS / "en-de", device="cpu", inter_threads=replicas)
        calls = count_submissions(engine)
        options = TranslationOptions(fallback_beside=beside)
        results[replicas, beside] = [
            (t.text, t.kept) for t in engine.translate(sources, target_prefixes=prefixes, options=options)
        ]
        submitted[replicas, beside] = calls
    # 4 free decodings; then all 4 forced ones beside them, or (one replica, option off) the 1 needed after them.
    assert submitted == {(1, True): [4, 0, 1], (2, True): [4, 4], (2, False): [4, 0, 1]}
    assert results[1, True] == results[2, True] == results[2, False]
    assert [kept for _, kept in results[1, True]] == [False, True, True, True]
    assert results[1, True][1:] == [(o, True) for o in offline[1:]]


def test_a_fallback_at_hand_replaces_the_forced_decoding() -> None:
    """A free final with a fallback (a stream's last partial of the sentence): taken when the free hypotheses
    contradict the prefix, with no forced decoding; ignored when they keep it."""
    engine = Engine(MODELS / "en-de", device="cpu", inter_threads=2)
    calls = count_submissions(engine)
    [offline] = [t.text for t in engine.translate([SENTENCE])]
    fallback = "Zwei Frauen fahren Rad."
    contradicted = Prefix("Zwei Frauen", free=True, hypotheses=4, fallback=fallback)
    kept = Prefix(" ".join(offline.split()[:2]), free=True, hypotheses=4, fallback=offline.split()[0] + " x")
    calls.clear()
    first, second = engine.translate([SENTENCE, SENTENCE], target_prefixes=[contradicted, kept])
    assert (first.text, first.kept) == (fallback, False)
    assert (second.text, second.kept) == (offline, True)
    assert calls == [2, 0]  # the two free decodings; nothing forced, beside or after


def test_n_best_soft_bias_and_word_boundaries(en_de: Engine) -> None:
    [nbest] = texts_only(en_de, "en", "de", [SENTENCE], [Prefix("", hypotheses=3)])
    assert isinstance(nbest, Hypotheses) and len(nbest.alternatives) == 3 and nbest.alternatives[0] == nbest
    [wide] = texts_only(en_de, "en", "de", [SENTENCE], [Prefix("", hypotheses=50)])  # at most beam_size
    assert isinstance(wide, Hypotheses) and 1 <= len(wide.alternatives) <= en_de.options.beam_size
    [biased] = texts_only(en_de, "en", "de", [SENTENCE], [Prefix("Ein Mann in einem", bias=0.5)])
    assert biased.strip()
    # A forced prefix; with boundary, the hypothesis chosen among the alternatives continues with a new word.
    [bounded] = texts_only(en_de, "en", "de", [SENTENCE], [Prefix("Ein Mann in einem blau", boundary=True)])
    assert bounded.startswith("Ein Mann in einem blau")
    # Mixed modes in one call come back in order.
    mixed = texts_only(en_de, "en", "de", [SENTENCE, "Two dogs."], [Prefix("", hypotheses=2), None])
    assert isinstance(mixed[0], Hypotheses) and not isinstance(mixed[1], Hypotheses)


def test_a_prefix_may_ask_for_its_own_beam(en_de: Engine) -> None:
    """A narrower beam for partials: the same as the engine decoding with that beam, at most that many
    hypotheses."""
    sentences = [*SENTENCES, SENTENCE]
    greedy = [t.text for t in en_de.translate(sentences, options=TranslationOptions(beam_size=1))]
    asked = texts_only(en_de, "en", "de", sentences, [Prefix("", beam=1, hypotheses=4)] * len(sentences))
    assert asked == greedy and all(len(a.alternatives) == 1 for a in asked if isinstance(a, Hypotheses))
    with pytest.raises(ValueError, match="beam"):
        Prefix("", beam=-1)
