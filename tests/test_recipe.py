"""The training recipe's recovery of Marian weights from a converted model (models/recipe/from_ct2.py)."""

from __future__ import annotations

import importlib.util
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
