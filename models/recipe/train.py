"""Train a small Marian transformer (Hugging Face ``MarianMTModel``) on the prepared data.

Resumable: the trainer writes ``checkpoint.pt`` (model, optimizer, step, data position) into its
run directory every ``--checkpoint-minutes`` and continues from it when started again, so a
long run can be spread over several sessions. ``--export DIR`` writes the latest (or averaged)
weights as a Hugging Face model directory with Marian tokenizer files, ready for
``translator models convert``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import sentencepiece as spm
import torch
from transformers import MarianConfig, MarianMTModel, MarianTokenizer

DEFAULT_WORK = Path.home() / ".cache" / "translator" / "train"


def build_vocab(sp: spm.SentencePieceProcessor) -> list[str]:
    """Marian layout: the SentencePiece pieces in id order, then ``<pad>`` as the last token."""
    return [sp.id_to_piece(i) for i in range(sp.get_piece_size())] + ["<pad>"]


def model_config(vocab_size: int, args: argparse.Namespace) -> MarianConfig:
    return MarianConfig(
        vocab_size=vocab_size,
        decoder_vocab_size=vocab_size,
        d_model=args.d_model,
        encoder_layers=args.encoder_layers,
        decoder_layers=args.decoder_layers,
        encoder_attention_heads=args.heads,
        decoder_attention_heads=args.heads,
        encoder_ffn_dim=args.ffn,
        decoder_ffn_dim=args.ffn,
        activation_function="relu",
        dropout=args.dropout,
        attention_dropout=0.0,
        activation_dropout=0.0,
        max_position_embeddings=256,
        scale_embedding=True,
        share_encoder_decoder_embeddings=True,
        tie_word_embeddings=True,
        pad_token_id=vocab_size - 1,
        eos_token_id=1,
        decoder_start_token_id=vocab_size - 1,
        forced_eos_token_id=1,
        num_beams=4,
        max_length=256,
    )


def encode_file(sp: spm.SentencePieceProcessor, path: Path, cache: Path, max_len: int) -> list[np.ndarray]:
    if cache.exists():
        data = np.load(cache, allow_pickle=True)
        return list(data["ids"])
    lines = path.read_text(encoding="utf-8").splitlines()
    ids = [np.asarray([*x[: max_len - 1], 1], dtype=np.int16) for x in sp.encode(lines)]
    arr = np.empty(len(ids), dtype=object)
    arr[:] = ids
    # Written whole or not at all, so that trainers started side by side can share (or each make) the cache.
    partial = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
    with partial.open("wb") as handle:
        np.savez(handle, ids=arr)
    partial.replace(cache)
    return ids


def make_batches(src: list[np.ndarray], tgt: list[np.ndarray], max_tokens: int, seed: int) -> list[list[int]]:
    """Token-bounded batches of similar length, in a seeded random order."""
    rng = random.Random(seed)
    order = list(range(len(src)))
    rng.shuffle(order)
    # Sort within large chunks to group similar lengths without losing randomness.
    chunk = max_tokens * 20
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: (len(src[i]), len(tgt[i])))
        batch: list[int] = []
        longest = 0
        for i in part:
            longest_next = max(longest, len(src[i]), len(tgt[i]))
            if batch and longest_next * (len(batch) + 1) > max_tokens:
                batches.append(batch)
                batch, longest_next = [], max(len(src[i]), len(tgt[i]))
            batch.append(i)
            longest = longest_next
        if batch:
            batches.append(batch)
    rng.shuffle(batches)
    return batches


def collate(seqs: list[np.ndarray], pad: int) -> torch.Tensor:
    width = max(len(s) for s in seqs)
    out = torch.full((len(seqs), width), pad, dtype=torch.long)
    for row, s in enumerate(seqs):
        out[row, : len(s)] = torch.from_numpy(s.astype(np.int64))
    return out


def zero_start_embedding(model: MarianMTModel, pad: int) -> None:
    """Keep the <pad> embedding at zero.

    The Marian decoder starts from <pad>; CTranslate2's Marian converter (like Marian itself) starts
    the decoder from a zero embedding instead. The tied output projection gives the <pad> row a
    gradient, so it is reset after every step to keep training and inference the same.
    """
    with torch.no_grad():
        model.get_input_embeddings().weight[pad].zero_()


def lr_at(step: int, args: argparse.Namespace) -> float:
    step = max(step, 1)
    return args.lr * min(step / args.warmup, math.sqrt(args.warmup / step))


def progress(state: dict[str, float], args: argparse.Namespace, started: float, start_step: int) -> str:
    """``step N/M (p %), ETA`` from this run's pace, bounded by --max-steps and --max-minutes."""
    done = state["step"] - start_step
    elapsed = time.time() - started
    total = args.max_steps
    left_steps = (total - state["step"]) * elapsed / done if done else float("inf")
    left = min(left_steps, args.max_minutes * 60 - elapsed) if args.max_minutes else left_steps
    eta = "?" if left == float("inf") else time.strftime("%H:%M:%S", time.gmtime(max(left, 0)))
    return f"step {state['step']}/{total} ({100 * state['step'] / total:.1f} %) ETA {eta}"


def train(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    work: Path = args.work
    run: Path = args.run
    run.mkdir(parents=True, exist_ok=True)
    sp = spm.SentencePieceProcessor(model_file=str(work / "spm.model"))
    vocab = build_vocab(sp)
    pad = len(vocab) - 1
    src_lang, tgt_lang = args.source, args.target
    data = work / "data"
    src = encode_file(sp, data / f"train.{src_lang}", work / f"train.{src_lang}.npz", args.max_len)
    tgt = encode_file(sp, data / f"train.{tgt_lang}", work / f"train.{tgt_lang}.npz", args.max_len)

    torch.manual_seed(args.seed)
    config = model_config(len(vocab), args)
    model = MarianMTModel(config).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.98), eps=1e-9)
    state = {"step": 0, "epoch": 0, "batch_index": 0, "seconds": 0.0}
    ckpt_path = run / "checkpoint.pt"
    if not ckpt_path.exists() and args.init is not None:
        # Continue from saved weights (a state dict) with a fresh optimizer.
        model.load_state_dict({k: v.float() for k, v in torch.load(args.init, map_location=device).items()})
        state["step"] = args.init_step
        print(f"initialized from {args.init} at step {state['step']}", flush=True)
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location=device, weights_only=False)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        state = ckpt["state"]
        print(f"resumed from step {state['step']} (epoch {state['epoch']})", flush=True)
    zero_start_embedding(model, pad)
    (run / "args.json").write_text(json.dumps({k: str(v) for k, v in vars(args).items()}, indent=2))
    n_params = sum(p.numel() for p in model.parameters())
    print(f"parameters: {n_params / 1e6:.2f} M, vocab {len(vocab)}", flush=True)

    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))

    def save() -> None:
        tmp = run / "checkpoint.pt.tmp"
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "state": state}, tmp)
        tmp.replace(ckpt_path)
        # Keep a few weight-only snapshots for checkpoint averaging.
        snap = run / f"weights-{state['step']:07d}.pt"
        torch.save({k: v.cpu() for k, v in model.state_dict().items()}, snap)
        for old in sorted(run.glob("weights-*.pt"))[: -args.keep]:
            old.unlink()

    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=pad, label_smoothing=args.label_smoothing, reduction="sum")
    model.train()
    started, start_step = time.time(), state["step"]
    out_of_time = False
    last_save = time.time()
    report_tokens, report_loss, report_start = 0, 0.0, time.time()
    while state["step"] < args.max_steps and not stop["now"] and not out_of_time:
        batches = make_batches(src, tgt, args.max_tokens, args.seed + state["epoch"])
        while state["batch_index"] < len(batches) and not stop["now"]:
            if args.max_minutes and time.time() - started > args.max_minutes * 60:
                out_of_time = True
                break
            idx = batches[state["batch_index"]]
            state["batch_index"] += 1
            t0 = time.time()
            input_ids = collate([src[i] for i in idx], pad).to(device)
            labels = collate([tgt[i] for i in idx], pad).to(device)
            decoder_input = torch.cat([torch.full((labels.shape[0], 1), pad, device=device), labels[:, :-1]], dim=1)
            for group in optimizer.param_groups:
                group["lr"] = lr_at(state["step"] + 1, args)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16):
                out = model(
                    input_ids=input_ids,
                    attention_mask=input_ids.ne(pad),
                    decoder_input_ids=decoder_input,
                )
            logits = out.logits.float()
            ntok = int(labels.ne(pad).sum())
            loss = loss_fn(logits.view(-1, logits.shape[-1]), labels.view(-1))
            optimizer.zero_grad(set_to_none=True)
            (loss / ntok).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            zero_start_embedding(model, pad)
            state["step"] += 1
            state["seconds"] += time.time() - t0
            report_tokens += ntok
            report_loss += float(loss.detach())
            if state["step"] % args.report_every == 0:
                elapsed = time.time() - report_start
                print(
                    f"{progress(state, args, started, start_step)} epoch {state['epoch']} "
                    f"loss/tok {report_loss / report_tokens:.3f} lr {lr_at(state['step'], args):.2e} "
                    f"tgt-tok/s {report_tokens / elapsed:.0f}",
                    flush=True,
                )
                report_tokens, report_loss, report_start = 0, 0.0, time.time()
            if time.time() - last_save > args.checkpoint_minutes * 60:
                save()
                last_save = time.time()
            if state["step"] >= args.max_steps:
                break
        else:
            if not stop["now"] and not out_of_time:
                state["epoch"] += 1
                state["batch_index"] = 0
    save()
    print(f"saved step {state['step']}", flush=True)


def save_marian(model: MarianMTModel, vocab: list[str], spm_model: Path, out: Path, source: str, target: str) -> None:
    """A Hugging Face Marian model directory (weights, vocabulary, SentencePiece files, tokenizer), as
    ``translator models convert`` and CTranslate2's converter read it."""
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    (out / "vocab.json").write_text(json.dumps({p: i for i, p in enumerate(vocab)}, ensure_ascii=False))
    for name in ("source.spm", "target.spm"):
        shutil.copy(spm_model, out / name)
    tokenizer = MarianTokenizer(
        source_spm=str(out / "source.spm"),
        target_spm=str(out / "target.spm"),
        vocab=str(out / "vocab.json"),
        source_lang=source,
        target_lang=target,
        unk_token="<unk>",
        eos_token="</s>",
        pad_token="<pad>",
        model_max_length=256,
    )
    tokenizer.save_pretrained(out)


def average_snapshots(run: Path, count: int) -> tuple[dict[str, torch.Tensor], list[Path]]:
    """The float32 mean of the run's last ``count`` weight snapshots, and which they were."""
    snaps = sorted(run.glob("weights-*.pt"))[-count:]
    if not snaps:
        raise SystemExit(f"no snapshots in {run}")
    avg: dict[str, torch.Tensor] = {}
    for snap in snaps:
        weights = torch.load(snap, map_location="cpu", weights_only=True)
        for key, value in weights.items():
            avg[key] = avg.get(key, 0) + value.float() / len(snaps)
    return avg, snaps


def export(args: argparse.Namespace) -> None:
    """Write averaged weights of the last ``--average`` snapshots as a HF Marian model directory."""
    work: Path = args.work
    sp = spm.SentencePieceProcessor(model_file=str(work / "spm.model"))
    vocab = build_vocab(sp)
    avg, snaps = average_snapshots(args.run, args.average)
    # The architecture the run was trained with (its args.json), so that export needs no size flags; and the
    # weights it started from, for --base-weight.
    saved = args.run / "args.json"
    trained = json.loads(saved.read_text()) if saved.exists() else {}
    for name in ("d_model", "ffn", "heads", "encoder_layers", "decoder_layers"):
        if name in trained:
            setattr(args, name, int(trained[name]))
    if args.base_weight:
        # Weight-space interpolation with the weights the run started from (--init): keeps more of what the
        # base model knew (its domain) for a little of what fine-tuning added; the weight is chosen on dev.
        init = args.init or (Path(trained["init"]) if trained.get("init") not in (None, "None") else None)
        if init is None:
            raise SystemExit("--base-weight needs the weights the run started from (--init, or a run made with it)")
        base = torch.load(init, map_location="cpu", weights_only=True)
        avg = {key: (1 - args.base_weight) * value + args.base_weight * base[key].float() for key, value in avg.items()}
    model = MarianMTModel(model_config(len(vocab), args))
    model.load_state_dict(avg)
    zero_start_embedding(model, len(vocab) - 1)
    out: Path = args.export
    save_marian(model, vocab, work / "spm.model", out, args.source, args.target)
    # Weights brought back from another machine (gpu_weights.py) are one file averaging the snapshots it names.
    averaged = args.run / "snapshots.json"
    names = json.loads(averaged.read_text()) if averaged.exists() and len(snaps) == 1 else [s.name for s in snaps]
    (out / "export.json").write_text(
        json.dumps(
            {
                "snapshots": names,
                "base_weight": args.base_weight,
                "parameters": sum(p.numel() for p in model.parameters()),
                "source": args.source,
                "target": args.target,
            },
            indent=2,
        )
    )
    print(f"exported {len(snaps)} averaged snapshot(s) to {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--run", type=Path, help="run directory (default WORK/run-SRC-TGT)")
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--ffn", type=int, default=1024)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--encoder-layers", type=int, default=6)
    parser.add_argument("--decoder-layers", type=int, default=2)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--max-tokens", type=int, default=4096)
    parser.add_argument("--max-len", type=int, default=128)
    parser.add_argument("--max-steps", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="cpu, or cuda for a GPU (then --bf16 uses its bfloat16)")
    parser.add_argument("--max-minutes", type=float, default=0.0, help="stop (and save) after this long; 0: no limit")
    parser.add_argument(
        "--bf16", action="store_true", help="bfloat16 autocast (GPUs; CPUs with AVX512-BF16/AMX only, else slow)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--report-every", type=int, default=50)
    parser.add_argument("--checkpoint-minutes", type=float, default=10.0)
    parser.add_argument("--keep", type=int, default=5)
    parser.add_argument("--init", type=Path, help="start a new run from these weights (a .pt state dict)")
    parser.add_argument("--init-step", type=int, default=0, help="step count to continue from with --init")
    parser.add_argument("--export", type=Path, help="export a HF model directory instead of training")
    parser.add_argument("--average", type=int, default=3, help="snapshots to average on export")
    parser.add_argument(
        "--base-weight",
        type=float,
        default=0.0,
        help="on export: mix this share of the --init weights back in (0: none)",
    )
    args = parser.parse_args()
    if args.run is None:
        args.run = args.work / f"run-{args.source}-{args.target}"
    if args.export:
        export(args)
    else:
        train(args)


if __name__ == "__main__":
    main()
