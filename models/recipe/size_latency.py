"""What a model size costs on this CPU, before training it: the latency budget for choosing a size.

    python models/recipe/size_latency.py --sizes 256x1024x4:6-2,512x2048x8:6-2 --vocab-sizes 8001,16001

Each size (``D_MODEL x FFN x HEADS : ENCODER-DECODER`` layers, with a vocabulary of V entries) is built
with random weights by the recipe's own ``model_config``, saved as the recipe saves a trained model,
converted to int8 by ``translator models convert`` and timed with CTranslate2 at one inter and one intra
thread, beam 4, the shipped repetition guard. A model with random weights does not know when to stop, so
every sentence is decoded to exactly the length of its reference translation (in the shipped model's
SentencePiece pieces): each size does the same work per sentence as a trained one would. Sizes are timed
in turn, round after round (``--rounds``), so that a machine that drifts affects all alike; the shipped
model itself is timed the same way as the reference row (``--reference``), which also checks that a
random model of the shipped size costs what the trained one does.

Prints one Markdown row per size: parameters, int8 ``model.bin`` size, ms per sentence one at a time
(median over rounds of the round's mean), sentences per second in length-sorted batches of 32, and both as
ratios to the reference. Needs the ``train`` extra (torch, transformers). Speed only: which size
translates best per millisecond is a training question (see the recipe README).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import ctranslate2
import sentencepiece as spm
import torch
from train import build_vocab, model_config, save_marian, zero_start_embedding  # models/recipe/train.py
from transformers import MarianMTModel

from translator.engine.convert import convert
from translator.engine.corpus import benchmark_pairs
from translator.engine.engine import TranslationOptions
from translator.engine.metadata import ModelMetadata

MODELS = Path(__file__).resolve().parents[1]
DEFAULT_SIZES = "256x1024x4:6-2,256x1024x4:10-2,384x1536x6:6-2,512x2048x8:6-2,512x2048x8:8-1"


@dataclass(frozen=True)
class Size:
    d_model: int
    ffn: int
    heads: int
    encoder_layers: int
    decoder_layers: int
    vocab: int

    @classmethod
    def parse(cls, spec: str, vocab: int) -> Size:
        """``256x1024x4:6-2`` (d_model x ffn x heads : encoder-decoder layers)."""
        dims, _, layers = spec.partition(":")
        d_model, ffn, heads = (int(n) for n in dims.split("x"))
        encoder, _, decoder = layers.partition("-")
        return cls(d_model, ffn, heads, int(encoder), int(decoder), vocab)

    def label(self) -> str:
        return f"{self.d_model}x{self.ffn}x{self.heads}:{self.encoder_layers}-{self.decoder_layers}, vocab {self.vocab}"


def build(size: Size, spm_model: Path, out: Path, seed: int) -> tuple[Path, int]:
    """A random-weight model of ``size`` as an int8 served model directory; its parameter count."""
    sp = spm.SentencePieceProcessor(model_file=str(spm_model))
    pieces = build_vocab(sp)[:-1]
    if size.vocab < len(pieces) + 1:
        raise SystemExit(f"vocab {size.vocab} is smaller than the SentencePiece model's {len(pieces) + 1} entries")
    # Entries past the SentencePiece pieces are never produced by the tokenizer; they cost what a larger
    # vocabulary costs (the embedding and the output projection), which is what is measured.
    vocab = [*pieces, *(f"<extra_{i}>" for i in range(size.vocab - len(pieces) - 1)), "<pad>"]
    args = argparse.Namespace(
        d_model=size.d_model,
        ffn=size.ffn,
        heads=size.heads,
        encoder_layers=size.encoder_layers,
        decoder_layers=size.decoder_layers,
        dropout=0.1,
    )
    torch.manual_seed(seed)
    model = MarianMTModel(model_config(len(vocab), args))
    zero_start_embedding(model, len(vocab) - 1)
    hf = out / "hf"
    save_marian(model, vocab, spm_model, hf, "en", "de")
    convert(str(hf), out / "int8", quantization="int8", source_languages=["en"], target_languages=["de"], force=True)
    return out / "int8", sum(p.numel() for p in model.parameters())


def time_model(
    translator: ctranslate2.Translator, sources: list[list[str]], lengths: list[int], options: TranslationOptions
) -> tuple[float, float]:
    """(ms per sentence one at a time, sentences/s in length-sorted batches of 32), each sentence decoded to
    its given length."""
    common = {"beam_size": options.beam_size, "no_repeat_ngram_size": options.no_repeat_ngram_size}
    start = time.perf_counter()
    for tokens, length in zip(sources, lengths, strict=True):
        translator.translate_batch([tokens], min_decoding_length=length, max_decoding_length=length, **common)
    single_ms = (time.perf_counter() - start) * 1000 / len(sources)
    order = sorted(range(len(sources)), key=lambda i: lengths[i])
    start = time.perf_counter()
    for i in range(0, len(order), 32):
        batch = order[i : i + 32]
        length = max(lengths[j] for j in batch)
        translator.translate_batch(
            [sources[j] for j in batch], min_decoding_length=length, max_decoding_length=length, **common
        )
    batched = len(sources) / (time.perf_counter() - start)
    return single_ms, batched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="comma-separated D_MODELxFFNxHEADS:ENC-DEC")
    parser.add_argument("--vocab-sizes", default="8001", help="comma-separated vocabulary sizes, each with every size")
    parser.add_argument("--reference", type=Path, default=MODELS / "en-de", help="the trained model to compare with")
    parser.add_argument("--sentences", type=int, default=150, help="Multi30k test2016 en→de sentences timed")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, help="keep the built models here (default: a temporary directory)")
    args = parser.parse_args()

    meta = ModelMetadata.load(args.reference)
    spm_model = args.reference / meta.source_spm
    sp = spm.SentencePieceProcessor(model_file=str(spm_model))
    pairs = [(s, r) for s, r in benchmark_pairs("en", "de") if r is not None][: args.sentences]
    sources = [[*sp.encode(s, out_type=str), "</s>"] for s, _ in pairs]
    lengths = [len(sp.encode(r, out_type=str)) + 1 for _, r in pairs]
    options = TranslationOptions()

    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        models: list[tuple[str, Path, int | None]] = [("reference: " + str(args.reference), args.reference, None)]
        for vocab in (int(v) for v in args.vocab_sizes.split(",")):
            for spec in args.sizes.split(","):
                size = Size.parse(spec, vocab)
                path, params = build(size, spm_model, work / size.label().replace(", vocab ", "-v"), args.seed)
                models.append((size.label(), path, params))
        translators = [ctranslate2.Translator(str(p), inter_threads=1, intra_threads=1) for _, p, _ in models]
        for translator in translators:  # warm-up
            time_model(translator, sources[:8], lengths[:8], options)
        runs: list[list[tuple[float, float]]] = [[] for _ in models]
        for _ in range(args.rounds):
            for i, translator in enumerate(translators):
                runs[i].append(time_model(translator, sources, lengths, options))
        single = [statistics.median(r[0] for r in rs) for rs in runs]
        batched = [statistics.median(r[1] for r in rs) for rs in runs]
        print(
            f"{len(sources)} Multi30k test2016 en→de sentences decoded to their reference length; 1×1 threads, "
            f"beam {options.beam_size}, no_repeat_ngram {options.no_repeat_ngram_size}; median of {args.rounds} rounds."
        )
        print()
        print("| size | parameters | model.bin | ms per sentence, 1 by 1 | × ref. | sent/s, batches of 32 | × ref. |")
        print("|---|---|---|---|---|---|---|")
        for (label, path, params), ms, rate in zip(models, single, batched, strict=True):
            mb = (path / "model.bin").stat().st_size / 1e6
            count = "–" if params is None else f"{params / 1e6:.1f} M"
            cells = [label, count, f"{mb:.1f} MB", f"{ms:.2f}", f"{ms / single[0]:.2f}", f"{rate:.1f}"]
            print("| " + " | ".join([*cells, f"{rate / batched[0]:.2f}"]) + " |")


if __name__ == "__main__":
    main()
