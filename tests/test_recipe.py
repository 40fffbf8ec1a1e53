"""The training recipe: recovery of Marian weights from a converted model (models/recipe/from_ct2.py), and the
latency of model sizes (models/recipe/size_latency.py)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("torch", reason="the recipe needs the 'convert' extra")
pytest.importorskip("transformers", reason="the recipe needs the 'convert' extra")

from tests.tiny_marian import make_tiny_marian
from translator.engine.convert import convert

pytestmark = pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")

RECIPE = Path(__file__).resolve().parents[1] / "models" / "recipe"


def recipe_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, RECIPE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import MarianMTModel

    hf = make_tiny_marian(tmp_path_factory.mktemp("hf") / "opus-mt-en-de", seed=3)
    model = MarianMTModel.from_pretrained(hf)
    with torch.no_grad():  # nonzero biases and norms, so that a mix-up of any two tensors shows
        for name, value in model.named_parameters():
            if name.endswith("bias") or "layer_norm" in name:
                value.copy_(torch.randn_like(value))
    model.save_pretrained(hf)
    return hf


@pytest.mark.parametrize("quantization", ["float32", "int8"])
def test_converted_weights_come_back_as_the_marian_state_dict(tiny: Path, tmp_path: Path, quantization: str) -> None:
    import torch
    from transformers import MarianMTModel

    from_ct2 = recipe_module("from_ct2")
    convert(str(tiny), tmp_path / "ct2", quantization=quantization, source_languages=["en"], target_languages=["de"])
    original = MarianMTModel.from_pretrained(tiny)
    recovered = from_ct2.marian_state_dict(from_ct2.read_model_bin(tmp_path / "ct2" / "model.bin"))
    reference = original.state_dict()
    assert set(recovered) == set(reference)
    for name, value in recovered.items():
        assert value.shape == reference[name].shape, name
        if quantization == "float32":
            assert torch.equal(value, reference[name]), name
        else:  # int8 rows carry the rounding of their own scale: at most half a step
            step = reference[name].abs().amax(dim=-1, keepdim=True) / 127 if value.dim() == 2 else 0.0
            assert torch.all((value - reference[name]).abs() <= step / 2 + 1e-6), name
    rebuilt = MarianMTModel(original.config)
    rebuilt.load_state_dict(recovered)
    rebuilt.eval()
    original.eval()
    ids, start = torch.tensor([[5, 9, 12, 1]]), torch.tensor([[original.config.pad_token_id, 7]])
    with torch.no_grad():
        a = original(input_ids=ids, decoder_input_ids=start).logits
        b = rebuilt(input_ids=ids, decoder_input_ids=start).logits
    assert torch.allclose(a, b, atol=0 if quantization == "float32" else 0.05)


def test_size_latency_times_a_random_model_decoding_exactly_the_reference_lengths(tmp_path: Path) -> None:
    import subprocess
    import sys

    import ctranslate2

    script = RECIPE / "size_latency.py"
    cmd = [sys.executable, str(script), "--sizes", "64x128x2:1-1", "--sentences", "4", "--rounds", "1"]
    done = subprocess.run([*cmd, "--work", str(tmp_path)], capture_output=True, text=True, timeout=300, check=True)
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == 2 and rows[0].startswith("| reference: ") and "| 1.00 |" in rows[0]
    assert rows[1].startswith("| 64x128x2:1-1, vocab 8001 | 0.6 M |")
    # The method's premise: a random model decodes exactly the length it is given, whatever its weights.
    translator = ctranslate2.Translator(str(tmp_path / "64x128x2:1-1-v8001" / "int8"))
    for length in (3, 11):
        result = translator.translate_batch(
            [["▁A", "▁man", "</s>"]], beam_size=4, min_decoding_length=length, max_decoding_length=length
        )
        assert len(result[0].hypotheses[0]) == length
    with pytest.raises(subprocess.CalledProcessError):
        subprocess.run([*cmd, "--vocab-sizes", "100"], capture_output=True, text=True, timeout=300, check=True)


def test_gpu_weights_pack_and_unpack_keep_every_tensor_and_the_int8_rows(tmp_path: Path) -> None:
    import json
    import sys

    import torch

    sys.path.insert(0, str(RECIPE))  # gpu_weights imports its sibling train.py, as it does when run as a script
    try:
        gpu_weights = recipe_module("gpu_weights")
    finally:
        sys.path.remove(str(RECIPE))
    torch.manual_seed(0)
    embedding = torch.randn(50, 16)
    weights = {
        "model.shared.weight": embedding,
        "model.encoder.embed_tokens.weight": embedding.clone(),  # tied: stored once
        "lm_head.weight": embedding.clone(),
        "model.encoder.embed_positions.weight": torch.randn(20, 16),  # kept float32
        "model.encoder.layers.0.fc1.weight": torch.randn(32, 16),
        "model.encoder.layers.0.fc1.bias": torch.randn(32),
    }
    run = tmp_path / "run-x-en-de"
    run.mkdir()
    for step in (10, 20):  # two snapshots: the pack is their average
        torch.save({k: v + step / 100 for k, v in weights.items()}, run / f"weights-{step:07d}.pt")
    torch.save({"state": {"step": 20, "epoch": 1, "batch_index": 3, "seconds": 61.0}}, run / "checkpoint.pt")
    (run / "args.json").write_text(json.dumps({"source": "en", "target": "de", "device": "cuda", "d_model": "16"}))
    gpu_weights.pack(run, tmp_path / "packed", average=2)
    packed = torch.load(tmp_path / "packed" / "weights.int8.pt", weights_only=True)
    assert set(packed["aliases"]) == {"model.encoder.embed_tokens.weight", "lm_head.weight"}
    assert packed["tensors"]["model.encoder.layers.0.fc1.weight"].dtype == torch.int8
    assert packed["tensors"]["model.encoder.embed_positions.weight"].dtype == torch.float32

    prepared = tmp_path / "prepared"
    (prepared / "data").mkdir(parents=True)
    (prepared / "spm.model").write_bytes(b"spm")
    (prepared / "data-stats.json").write_text("{}")
    unpacked = gpu_weights.unpack(tmp_path / "packed", tmp_path / "work", prepared)
    assert unpacked == tmp_path / "work" / "run-en-de"
    assert (tmp_path / "work" / "spm.model").read_bytes() == b"spm"
    snapshot = torch.load(unpacked / "weights-0000020.pt", weights_only=True)
    average = {k: v + 0.15 for k, v in weights.items()}
    assert set(snapshot) == set(weights)
    for name, value in snapshot.items():
        if value.dim() == 2 and "embed_positions" not in name:
            step = average[name].abs().amax(dim=1, keepdim=True) / 127
            assert torch.all((value - average[name]).abs() <= step / 2 + 1e-6), name
            # Quantized again as CTranslate2 does (absmax / 127 per row), the same integers come back.
            again = torch.round(value * 127 / value.abs().amax(dim=1, keepdim=True))
            assert torch.equal(again.to(torch.int8), packed["tensors"][packed["aliases"].get(name, name)])
        else:
            assert torch.allclose(value, average[name]), name
    assert json.loads((unpacked / "state.json").read_text())["step"] == 20
    args = json.loads((unpacked / "args.json").read_text())
    assert args["trained_on"] == "cuda" and args["run"] == str(unpacked)
    assert json.loads((unpacked / "snapshots.json").read_text()) == ["weights-0000010.pt", "weights-0000020.pt"]


def test_the_length_penalty_is_chosen_on_news_without_a_loss_on_the_recipe_dev_set() -> None:
    sweep = recipe_module("decoding_sweep")
    rows = sweep.length_penalty_rows()
    penalties = sorted(sweep.options_for(sweep.SETTINGS[n - 1][1]).length_penalty for n in rows)
    assert penalties == [0.8, 1.0, 1.2, 1.5, 2.0]
    news = {0.8: 14.0, 1.0: 14.3, 1.2: 14.4, 1.5: 14.5, 2.0: 14.6}
    # 2.0 is best on news but loses on the recipe dev set; 1.5 is the best that does not.
    assert sweep.choose_length_penalty(news, {0.8: 41.0, 1.0: 41.6, 1.2: 41.8, 1.5: 41.9, 2.0: 41.5}) == 1.5
    assert sweep.choose_length_penalty(news, {0.8: 41.7, 1.0: 41.6, 1.2: 41.0, 1.5: 41.0, 2.0: 41.0}) == 1.0
    # A tie on news goes to the penalty nearest 1.0.
    tie = {0.8: 14.0, 1.0: 14.3, 1.2: 14.5, 1.5: 14.5, 2.0: 14.5}
    assert sweep.choose_length_penalty(tie, dict.fromkeys(tie, 41.6)) == 1.2
    # The Multi30k val guard, measured at each penalty: 2.0 and 1.5 fall below it, 1.2 is the best that holds.
    val = {0.8: 38.0, 1.0: 38.3, 1.2: 38.0, 1.5: 37.1, 2.0: 36.9}
    recipe = dict.fromkeys(news, 41.6)
    assert sweep.choose_length_penalty(news, recipe) == 2.0
    assert sweep.choose_length_penalty(news, recipe, val, 37.17) == 1.2
    # 1.0 stays allowed even below the guard (the release rule measured it there first).
    assert sweep.choose_length_penalty(news, recipe, dict.fromkeys(news, 30.0), 37.17) == 1.0


def test_the_model_card_of_a_release_fine_tuned_from_a_fine_tuned_release_names_the_whole_lineage() -> None:
    card = recipe_module("card")
    report = json.loads((RECIPE.parent / "en-de" / "eval.json").read_text())
    scratch = report["base"]
    while scratch.get("base"):  # back to the caption model, trained from scratch
        scratch = scratch["base"]
    args = {**report["train_args"], "init_step": "0"}
    once = card.model_card({**report, "base": scratch, "train_args": args})
    assert "trained from scratch" in once and "itself fine-tuned" not in once
    assert "--init-step" not in once

    previous = {"model": "models/en-de", "commit": "abc1234", **{k: report[k] for k in ("pair", "train_state")}}
    previous["base"] = scratch
    chained = {**report, "base": previous, "train_args": {**args, "init_step": "8220"}}
    text = card.model_card(chained)
    assert "commit abc1234" in text and "itself fine-tuned from the\ncaption model" in text
    assert f"step {scratch['train_state']['step']}" in text  # the from-scratch model's training is still told
    assert "git worktree add /tmp/base abc1234" in text and "--init-step 8220" in text
