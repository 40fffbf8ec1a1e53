"""Bring trained weights back from a GPU machine within what it returns, and set them up here for release.

    python models/recipe/gpu_weights.py pack RUN DEST --average 3       # on the GPU machine, after training
    python models/recipe/gpu_weights.py unpack DEST WORK --prepared P  # here: WORK/run-SRC-TGT, ready for release.py
    python models/recipe/gpu_weights.py choose WORK SRC TGT              # the WORK/gpu-* run best on dev

The lent GPU machine has PyTorch and Transformers but not CTranslate2 (nor this project's serving
dependencies), and returns at most 64 MiB in files of at most 16 MiB. So it only trains; the release (int8
conversion, evaluation, model card) runs here. ``pack`` averages the run's last snapshots
(``train.average_snapshots``, as ``train.py --export`` does) and stores every matrix as int8 rows with one
float32 scale per row (absmax / 127, the quantization CTranslate2 itself applies to int8 models, so that
converting the unpacked weights to int8 gives the same integers back); the sinusoidal position tables and
the vectors (biases, norms) stay float32. A 20 M-parameter model packs into about 20 MB instead of 80.
With it go the run's ``args.json``, its training state (step, epoch, seconds) and the snapshots' names.

``unpack`` writes the dequantized average as the only snapshot of ``WORK/run-SRC-TGT`` with the run's
``args.json`` and ``state.json``, and links the prepared data (``--prepared``: the work directory the
carried data was packed from, with the same SentencePiece model), so that ``release.py --work WORK
--average 1`` (and ``--dev``) work as for a run trained here. The float32 comparison model of such a release
carries the int8 rounding (it is no longer a float32 reference).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from train import average_snapshots  # models/recipe/train.py

KEEP_FLOAT = ("embed_positions",)
LINKED = ("spm.model", "data", "data-stats.json")


def quantize_rows(weights: dict[str, torch.Tensor]) -> dict[str, object]:
    """Matrices as int8 rows plus ``NAME.scale`` (float32, one per row); everything else as float32. A
    tensor equal to one already stored (the tied embeddings and output projection) is stored once and named
    in ``aliases``."""
    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    originals: dict[str, torch.Tensor] = {}
    for name, value in weights.items():
        value = value.float()
        same = next((n for n, v in originals.items() if v.shape == value.shape and torch.equal(v, value)), None)
        if same is not None:
            aliases[name] = same
            continue
        originals[name] = value
        if value.dim() == 2 and not any(key in name for key in KEEP_FLOAT):
            amax = value.abs().amax(dim=1, keepdim=True).clamp(min=1e-12)
            scale = 127.0 / amax
            tensors[name] = torch.round(value * scale).clamp(-127, 127).to(torch.int8)
            tensors[f"{name}.scale"] = scale.squeeze(1)
        else:
            tensors[name] = value
    return {"tensors": tensors, "aliases": aliases}


def dequantize_rows(packed: dict[str, object]) -> dict[str, torch.Tensor]:
    """The inverse of ``quantize_rows`` (up to the int8 rounding), every name of the original back."""
    tensors = packed["tensors"]
    aliases = packed["aliases"]
    assert isinstance(tensors, dict) and isinstance(aliases, dict)
    weights: dict[str, torch.Tensor] = {}
    for name, value in tensors.items():
        if name.endswith(".scale"):
            continue
        weights[name] = value.float() / tensors[f"{name}.scale"].unsqueeze(1) if value.dtype == torch.int8 else value
    for name, same in aliases.items():
        weights[name] = weights[same].clone()
    return weights


def pack(run: Path, dest: Path, average: int) -> None:
    weights, snaps = average_snapshots(run, average)
    dest.mkdir(parents=True, exist_ok=True)
    torch.save(quantize_rows(weights), dest / "weights.int8.pt")
    checkpoint = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=False)
    (dest / "state.json").write_text(json.dumps(dict(checkpoint["state"]), indent=2))
    (dest / "args.json").write_text((run / "args.json").read_text())
    (dest / "snapshots.json").write_text(json.dumps([s.name for s in snaps]))
    size = (dest / "weights.int8.pt").stat().st_size / 1e6
    print(f"packed {len(snaps)} averaged snapshot(s) of {run} into {dest} ({size:.1f} MB)")


def unpack(packed_dir: Path, work: Path, prepared: Path) -> Path:
    args = json.loads((packed_dir / "args.json").read_text())
    state = json.loads((packed_dir / "state.json").read_text())
    run = work / f"run-{args['source']}-{args['target']}"
    run.mkdir(parents=True, exist_ok=True)
    for name in LINKED:
        link = work / name
        if not link.exists():
            link.symlink_to((prepared / name).resolve())
    weights = dequantize_rows(torch.load(packed_dir / "weights.int8.pt", map_location="cpu", weights_only=True))
    for old in run.glob("weights-*.pt"):
        old.unlink()
    torch.save(weights, run / f"weights-{int(state['step']):07d}.pt")
    # The run as trained (its size and settings, read by export and the model card), with this machine's paths.
    trained_on = {"trained_on": args.get("device", "cuda"), "work": str(work), "run": str(run)}
    (run / "args.json").write_text(json.dumps({**args, **trained_on}, indent=2))
    (run / "state.json").write_text(json.dumps(state, indent=2))
    (run / "snapshots.json").write_text((packed_dir / "snapshots.json").read_text())
    print(f"unpacked {packed_dir} into {run} (step {state['step']})")
    return run


def choose(work: Path, source: str, target: str) -> Path:
    """Of the unpacked runs (``WORK/gpu-*``) measured with ``release.py --dev``, the one with the best
    newstest2020 dev BLEU for the direction (each run's latest measurement); each is printed to stderr."""
    scores: dict[Path, float] = {}
    for log in sorted(work.glob(f"gpu-*/dev-{source}-{target}.jsonl")):
        latest = json.loads(log.read_text().splitlines()[-1])
        scores[log.parent] = float(latest["newstest2020-dev"]["bleu"])
        print(f"{log.parent.name} {source}-{target}: newstest2020 dev BLEU {scores[log.parent]}", file=sys.stderr)
    if not scores:
        raise SystemExit(f"no dev measurement of {source}-{target} under {work}/gpu-*")
    return max(scores, key=lambda run_work: scores[run_work])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    p = verbs.add_parser("pack", help="average a run's snapshots and store them as int8 rows")
    p.add_argument("run", type=Path)
    p.add_argument("dest", type=Path)
    p.add_argument("--average", type=int, default=3)
    u = verbs.add_parser("unpack", help="a packed run as a run directory for release.py")
    u.add_argument("packed", type=Path)
    u.add_argument("work", type=Path)
    u.add_argument("--prepared", type=Path, required=True, help="the work directory the training data came from")
    c = verbs.add_parser("choose", help="the unpacked run with the best newstest2020 dev BLEU")
    c.add_argument("work", type=Path)
    c.add_argument("source")
    c.add_argument("target")
    args = parser.parse_args()
    if args.verb == "pack":
        pack(args.run, args.dest, args.average)
    elif args.verb == "unpack":
        unpack(args.packed, args.work, args.prepared)
    else:
        print(choose(args.work, args.source, args.target))


if __name__ == "__main__":
    main()
