"""Recover Hugging Face Marian weights from a converted CTranslate2 model, to fine-tune it.

The shipped models are kept only as CTranslate2 ``model.bin`` files (int8 weights with one float scale
per output row). This reads that file, dequantizes each weight (``int8 / scale``), undoes the
converter's fusions (query/key/value in one matrix) and its removal of the ``<pad>`` token (the
decoder-start token, whose embedding is zero), and saves a ``MarianMTModel`` state dict for
``train.py --init``:

    python models/recipe/from_ct2.py models/en-de ~/.cache/translator/train-ft/init-en-de.pt

A round trip (Hugging Face -> float32 CTranslate2 -> this) gives back the original tensors; from int8
the weights carry the quantization's rounding (at most half a step of each row's scale).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import torch

from translator.engine.modelbin import read_layout


def read_model_bin(path: Path) -> dict[str, np.ndarray]:
    """All variables of a CTranslate2 ``model.bin`` (aliases resolved), int8 weights dequantized."""
    layout = read_layout(path)
    blob = path.read_bytes()
    raw: dict[str, np.ndarray] = {}
    for name, variable in layout.variables.items():
        if variable.dtype == "bfloat16":
            raise ValueError(f"{path}: {name} is bfloat16; convert the model to float32 or int8 first")
        dtype = np.dtype(variable.dtype)
        values = np.frombuffer(blob, dtype=dtype, count=variable.size // dtype.itemsize, offset=variable.offset)
        raw[name] = values.reshape(variable.shape)
    for alias, target in layout.aliases.items():
        raw[alias] = raw[target]
    out: dict[str, np.ndarray] = {}
    for name, value in raw.items():
        if name.endswith("_scale"):
            continue
        scale = raw.get(name + "_scale")
        if scale is not None and value.dtype != np.float32:
            value = value.astype(np.float32) / scale.astype(np.float32).reshape(-1, *([1] * (value.ndim - 1)))
        out[name] = np.asarray(value, dtype=np.float32) if value.dtype.kind == "f" else value
    return out


def _split(state: dict[str, torch.Tensor], hf: list[str], ct2: dict[str, np.ndarray], name: str) -> None:
    """A converted linear layer as the ``len(hf)`` Hugging Face layers the converter fused into it (row-wise)."""
    weights = np.split(np.array(ct2[f"{name}/weight"]), len(hf))
    biases = np.split(np.array(ct2[f"{name}/bias"]), len(hf))
    for prefix, weight, bias in zip(hf, weights, biases, strict=True):
        state[f"{prefix}.weight"] = torch.from_numpy(weight)
        state[f"{prefix}.bias"] = torch.from_numpy(bias)


def _linear(state: dict[str, torch.Tensor], hf: str, ct2: dict[str, np.ndarray], name: str) -> None:
    _split(state, [hf], ct2, name)


def _norm(state: dict[str, torch.Tensor], hf: str, ct2: dict[str, np.ndarray], name: str) -> None:
    state[f"{hf}.weight"] = torch.from_numpy(np.array(ct2[f"{name}/gamma"]))
    state[f"{hf}.bias"] = torch.from_numpy(np.array(ct2[f"{name}/beta"]))


def marian_state_dict(ct2: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """The ``MarianMTModel`` state dict (post-norm, tied embeddings, ``<pad>`` last) of converted weights."""
    embeddings = np.array(ct2["decoder/embeddings/weight"])
    shared = torch.from_numpy(np.concatenate([embeddings, np.zeros((1, embeddings.shape[1]), np.float32)]))
    state: dict[str, torch.Tensor] = {
        "model.shared.weight": shared,
        "model.encoder.embed_tokens.weight": shared,
        "model.decoder.embed_tokens.weight": shared,
        "lm_head.weight": shared,
        "final_logits_bias": torch.zeros(1, shared.shape[0]),
    }
    positions = torch.from_numpy(np.array(ct2["decoder/position_encodings/encodings"]))
    for side in ("encoder", "decoder"):  # Marian's fixed sinusoids, stored once by the converter
        state[f"model.{side}.embed_positions.weight"] = positions
    bias = ct2.get("decoder/projection/bias")
    if bias is not None:
        state["final_logits_bias"][0, : bias.shape[0]] = torch.from_numpy(np.array(bias))
    layer = re.compile(r"^(encoder|decoder)/layer_(\d+)/")
    for side, index in sorted({(m[1], int(m[2])) for name in ct2 if (m := layer.match(name))}):
        hf, ct = f"model.{side}.layers.{index}", f"{side}/layer_{index}"
        attn = [f"{hf}.self_attn.{p}_proj" for p in "qkv"]
        _split(state, attn, ct2, f"{ct}/self_attention/linear_0")
        _linear(state, f"{hf}.self_attn.out_proj", ct2, f"{ct}/self_attention/linear_1")
        _norm(state, f"{hf}.self_attn_layer_norm", ct2, f"{ct}/self_attention/layer_norm")
        if side == "decoder":
            _linear(state, f"{hf}.encoder_attn.q_proj", ct2, f"{ct}/attention/linear_0")
            _split(state, [f"{hf}.encoder_attn.k_proj", f"{hf}.encoder_attn.v_proj"], ct2, f"{ct}/attention/linear_1")
            _linear(state, f"{hf}.encoder_attn.out_proj", ct2, f"{ct}/attention/linear_2")
            _norm(state, f"{hf}.encoder_attn_layer_norm", ct2, f"{ct}/attention/layer_norm")
        _linear(state, f"{hf}.fc1", ct2, f"{ct}/ffn/linear_0")
        _linear(state, f"{hf}.fc2", ct2, f"{ct}/ffn/linear_1")
        _norm(state, f"{hf}.final_layer_norm", ct2, f"{ct}/ffn/layer_norm")
    return state


def _last_commit(model: Path) -> str | None:
    """The commit that last changed the model's weights, when it is a checked-in model."""
    try:
        done = subprocess.run(
            ["git", "log", "-1", "--format=%h", "--", "model.bin"], cwd=model, capture_output=True, text=True
        )
    except OSError:
        return None
    return done.stdout.strip() or None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="a converted model directory (with model.bin)")
    parser.add_argument("out", type=Path, help="where to write the state dict (.pt)")
    args = parser.parse_args()
    state = marian_state_dict(read_model_bin(args.model / "model.bin"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.clone() for k, v in state.items()}, args.out)
    # What the weights were: the model card of a fine-tuned release names its base (release.py reads it).
    card = args.model / "eval.json"
    base = json.loads(card.read_text()) if card.exists() else {}
    keep = ("pair", "train_args", "train_state", "data_stats", "base")  # "base": a fine-tuned base's own base
    described = {"model": str(args.model), "commit": _last_commit(args.model)}
    described.update({key: base[key] for key in keep if key in base})
    args.out.with_suffix(".json").write_text(json.dumps(described, indent=2) + "\n")
    print(f"wrote {len(state)} tensors ({state['model.shared.weight'].shape[0]} tokens) to {args.out}")


if __name__ == "__main__":
    main()
