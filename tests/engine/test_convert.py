"""The conversion path users take with their own Marian/OPUS-MT models, on tiny models built here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("transformers", reason="conversion needs the 'convert' extra")
pytest.importorskip("torch", reason="conversion needs the 'convert' extra")

from tests.tiny_marian import make_tiny_marian
from tests.tiny_nllb import make_tiny_nllb
from translator.engine.convert import ConversionError, StartEmbeddingWarning, convert
from translator.engine.engine import Engine
from translator.engine.metadata import ModelMetadata
from translator.engine.registry import Registry

pytestmark = pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")


@pytest.fixture(scope="module")
def tiny_hf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_marian(tmp_path_factory.mktemp("hf") / "opus-mt-en-de")


@pytest.fixture(scope="module")
def tiny_multi_hf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_marian(tmp_path_factory.mktemp("hf") / "tiny-multi", tags=(">>deu<<", ">>fra<<"))


@pytest.fixture(scope="module")
def tiny_nllb_hf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_nllb(tmp_path_factory.mktemp("hf") / "tiny-nllb")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "translator", *args], capture_output=True, text=True, timeout=300)


def test_cli_converts_marian_and_the_engine_serves_it(tiny_hf: Path, tmp_path: Path) -> None:
    dest = tmp_path / "models" / "tiny-en-de"
    proc = run_cli("models", "convert", str(tiny_hf), str(dest), "--quantization", "int8")
    assert proc.returncode == 0, proc.stderr
    assert "en->de" in proc.stdout
    for name in ("model.bin", "source.spm", "target.spm", "translator.json", "config.json"):
        assert (dest / name).is_file(), name
    meta = ModelMetadata.load(dest)
    # Languages inferred from the OPUS-MT style directory name.
    assert meta.pairs() == [("en", "de")]
    assert meta.tag_style == "none"
    assert meta.quantization == "int8"

    registry = Registry(tmp_path / "models", device="cpu")
    assert registry.pairs() == [("en", "de")]
    engine = registry.engine("en", "de")
    results = engine.translate(["A man is riding a bicycle.", "", "Two dogs play in the snow."])
    assert [r.source for r in results] == ["A man is riding a bicycle.", "", "Two dogs play in the snow."]
    assert results[1].text == ""
    # A random model says nothing sensible, but it must decode within the length bound.
    assert all(isinstance(r.text, str) for r in results)

    listing = run_cli("models", "list", "--models", str(tmp_path / "models"), "--json")
    assert listing.returncode == 0, listing.stderr
    models = json.loads(listing.stdout)["models"]
    assert [m["pairs"] for m in models] == [["en->de"]]

    translated = run_cli("translate", "--model", str(dest), "--source", "en", "--target", "de", "Hello.")
    assert translated.returncode == 0, translated.stderr
    assert len(translated.stdout.splitlines()) == 1


def test_converted_model_decodes_like_transformers(tiny_hf: Path, tmp_path: Path) -> None:
    """Greedy decoding of the float32 conversion matches the Hugging Face model token for token."""
    import torch
    from transformers import MarianMTModel, MarianTokenizer

    convert(str(tiny_hf), tmp_path / "f32", quantization="float32")
    engine = Engine(tmp_path / "f32", device="cpu", compute_type="float32")
    tokenizer = MarianTokenizer.from_pretrained(tiny_hf)
    model = MarianMTModel.from_pretrained(tiny_hf).eval()
    sentences = ["A man is riding a bicycle.", "Where is the train station?", "Zwei Hunde spielen."]
    for sentence in sentences:
        inputs = tokenizer([sentence], return_tensors="pt")
        with torch.no_grad():
            ids = model.generate(**inputs, num_beams=1, do_sample=False, max_new_tokens=7, min_new_tokens=7)
        # (the last generated token is left out: generate forces config.forced_eos_token_id there)
        expected = tokenizer.convert_ids_to_tokens(ids[0])[1:7]
        tokens = engine._source_tokens(sentence, "en", "de", 200)
        result = engine._translator.translate_batch(
            tokens, beam_size=1, max_decoding_length=6, min_decoding_length=6, end_token=[]
        )
        assert result[0].hypotheses[0] == expected


def test_nonzero_start_embedding_is_warned_about(tmp_path: Path) -> None:
    import torch
    from transformers import MarianMTModel

    src = make_tiny_marian(tmp_path / "drifted")
    model = MarianMTModel.from_pretrained(src)
    with torch.no_grad():
        model.get_input_embeddings().weight[model.config.pad_token_id].fill_(0.5)
    model.save_pretrained(src)
    with pytest.warns(StartEmbeddingWarning, match="not zero"):
        convert(str(src), tmp_path / "out", source_languages=["en"], target_languages=["de"])


def test_multi_target_marian_uses_source_tags(tiny_multi_hf: Path, tmp_path: Path) -> None:
    meta = convert(str(tiny_multi_hf), tmp_path / "multi", source_languages=["en"])
    assert meta.tag_style == "source_prefix"
    assert meta.language_tokens == {"de": ">>deu<<", "fr": ">>fra<<"}
    assert meta.pairs() == [("en", "de"), ("en", "fr")]
    engine = Engine(tmp_path / "multi", device="cpu")
    tokens = engine._source_tokens("A man.", "en", "fr", 200)
    assert tokens[0][0] == ">>fra<<" and tokens[0][-1] == "</s>"
    assert engine.translate(["A man."], source="en", target="fr")[0].units == 1
    with pytest.raises(ValueError, match=r"does not translate en->es"):
        engine.translate(["A man."], source="en", target="es")
    with pytest.raises(ValueError, match="name the source and target"):
        Engine(tmp_path / "multi", device="cpu").translate(["A man."], source="en")


def test_requested_language_without_a_tag_is_refused(tiny_multi_hf: Path, tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="'es' has no tag"):
        convert(str(tiny_multi_hf), tmp_path / "out", source_languages=["en"], target_languages=["es"])


def test_float32_conversion(tiny_hf: Path, tmp_path: Path) -> None:
    meta = convert(str(tiny_hf), tmp_path / "f32", quantization="float32")
    assert meta.quantization == "float32"
    engine = Engine(tmp_path / "f32", device="cpu", compute_type="float32")
    assert engine.compute_type == "float32"
    assert isinstance(engine.translate(["A man."])[0].text, str)


def test_refuses_to_overwrite_without_force(tiny_hf: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    proc = run_cli("models", "convert", str(tiny_hf), str(dest))
    assert proc.returncode == 1
    assert "--force" in proc.stderr
    assert (dest / "keep.txt").read_text() == "mine"


def test_languages_must_be_known(tiny_hf: Path, tmp_path: Path) -> None:
    renamed = tmp_path / "unnamed-model"
    renamed.symlink_to(tiny_hf, target_is_directory=True)
    with pytest.raises(ConversionError, match="--source and --target"):
        convert(str(renamed), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_clear_errors_for_bad_sources(tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match=r"no config\.json"):
        convert(str(tmp_path), tmp_path / "out")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ConversionError, match=r"unsupported model type 'bert'"):
        convert(str(tmp_path), tmp_path / "out")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "marian"}))
    with pytest.raises(ConversionError, match="lacks the tokenizer"):
        convert(str(tmp_path), tmp_path / "out")
    with pytest.raises(ConversionError, match="unknown quantization"):
        convert(str(tmp_path), tmp_path / "out", quantization="int3")


def test_nllb_conversion_and_language_tokens(
    tiny_nllb_hf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "nllb"
    meta = convert(str(tiny_nllb_hf), dest, source_languages=["en"], target_languages=["de", "fr"])
    assert meta.tag_style == "nllb"
    assert meta.language_tokens == {"en": "eng_Latn", "de": "deu_Latn", "fr": "fra_Latn"}
    assert meta.pairs() == [("en", "de"), ("en", "fr")]
    assert meta.source_spm == meta.target_spm == "sentencepiece.bpe.model"
    assert ModelMetadata.load(dest) == meta
    for name in ("model.bin", "sentencepiece.bpe.model", "translator.json", "config.json"):
        assert (dest / name).is_file(), name

    engine = Engine(dest, device="cpu")
    tokens = engine._source_tokens("A man.", "en", "de", 200)[0]
    assert tokens[0] == "eng_Latn" and tokens[-1] == "</s>"
    assert len(tokens) > 2
    assert engine._target_prefix(None, "de") == ["deu_Latn"]
    assert engine._target_prefix(None, "fr") == ["fra_Latn"]

    calls = []
    real = engine._translator

    class Spy:
        def translate_batch(self, *args, **kwargs):
            calls.append((args, kwargs))
            return real.translate_batch(*args, **kwargs)

    monkeypatch.setattr(engine, "_translator", Spy())
    result = engine.translate(["A man."], source="en", target="de")[0]
    assert isinstance(result.text, str) and result.units == 1
    assert not result.text.startswith("deu_Latn")
    # CTranslate2 returns the forced target-language token as the first output token; the engine
    # must drop it and decode only what follows. (A random model may emit any token after it.)
    [(args, kwargs)] = calls
    assert args[0] == [tokens] and kwargs["target_prefix"] == [["deu_Latn"]]
    raw = real.translate_batch(*args, **{**kwargs, "asynchronous": False})[0].hypotheses[0]
    assert raw[0] == "deu_Latn"
    assert result.text == engine._target_sp.decode(raw[1:])
    with pytest.raises(ValueError, match=r"does not translate en->es"):
        engine.translate(["A man."], source="en", target="es")


def test_nllb_without_flags_serves_every_detected_language(tiny_nllb_hf: Path, tmp_path: Path) -> None:
    meta = convert(str(tiny_nllb_hf), tmp_path / "all")
    assert meta.tag_style == "nllb"
    assert meta.source_languages == meta.target_languages
    assert set(meta.source_languages) == set(meta.language_tokens)
    # Languages with an ISO 639-1 code get it; the rest keep NLLB's ISO 639-3 code.
    assert {"en", "de", "fr", "zul"} <= set(meta.source_languages)
    assert meta.language_tokens["en"] == "eng_Latn" and meta.language_tokens["zul"] == "zul_Latn"
    assert len(meta.language_tokens) > 150
    assert ("de", "en") in meta.pairs() and ("en", "en") not in meta.pairs()


def test_nllb_language_missing_from_the_vocabulary_is_refused(tiny_nllb_hf: Path, tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="'xx' has no tag"):
        convert(str(tiny_nllb_hf), tmp_path / "out", source_languages=["en"], target_languages=["xx"])
    # The model was converted before the languages were checked: nothing of it may remain.
    assert not (tmp_path / "out").exists()


def test_outputs_stay_within_the_models_positions(tiny_hf: Path, tmp_path: Path) -> None:
    """A model with 64 positions: long inputs are cut to fit, and decoding stops at the last position
    (CTranslate2 raises past it). This random model never ends a sentence on its own, the worst case."""
    dest = tmp_path / "tiny"
    assert run_cli("models", "convert", str(tiny_hf), str(dest)).returncode == 0
    assert ModelMetadata.load(dest).max_positions == 64
    engine = Engine(dest, device="cpu")
    long_text = " ".join(["Children are playing in the park near the water"] * 12)
    [short, long] = engine.translate(["Two dogs play in the snow.", long_text])
    assert short.text and long.text and long.units >= 2
    [forced] = engine.translate([long_text], target_prefixes=["Kinder spielen"])
    assert forced.text.startswith("Kinder spielen")
