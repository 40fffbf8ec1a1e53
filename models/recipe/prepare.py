"""Prepare training data for the default en<->de models.

Reads the parallel text in ``../shared/data`` (Tatoeba deu-eng, Multi30k and the general-domain news
and dialogue pairs in ``general/``), writes a weighted training mix and the dev/test sets into the work
directory and trains one joint SentencePiece model.

The mix (weights are flags): Multi30k training set repeated ``--multi30k-repeat`` times, Tatoeba once
(optionally capped), human general-domain pairs repeated ``--general-human-repeat`` times, machine-
translated general pairs (test-suite sources with one research system's output) ``--general-mt-repeat``
times, plus *prefix pairs* for streaming-aware training: for a share ``--prefix-share`` of the
multi-word pairs, a source prefix cut after a random word with the target cut at the same proportion of
its words, with sentence-final punctuation removed, so that the model learns to translate a growing
sentence as a prefix instead of completing it with an invented ending.

The Tatoeba split is made *by sentence*: every pair is assigned to train, dev or test by a
hash of its normalized English sentence, and a training pair is also dropped when its German
side occurs in dev or test. No test sentence, in either language, is seen in training, so the
same split serves both directions.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
from pathlib import Path

import sentencepiece as spm

from translator.engine.corpus import MULTI30K_TEST, SHARED_DATA, multi30k, read_lines, read_pairs

DEFAULT_DATA = SHARED_DATA
DEFAULT_WORK = Path.home() / ".cache" / "translator" / "train"
LANGS = ("en", "de")


def normalize(text: str) -> str:
    return " ".join(text.lower().split())


def bucket(text: str) -> str:
    digest = hashlib.sha1(normalize(text).encode("utf-8")).digest()
    value = int.from_bytes(digest[:4], "big") % 1000
    if value < 10:
        return "dev"
    if value < 25:
        return "test"
    return "train"


def write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def split_tatoeba(path: Path) -> dict[str, list[tuple[str, str]]]:
    pairs: list[tuple[str, str]] = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            if len(fields) >= 2 and fields[0].strip() and fields[1].strip():
                pairs.append((fields[0].strip(), fields[1].strip()))
    parts: dict[str, list[tuple[str, str]]] = {"train": [], "dev": [], "test": []}
    for en, de in pairs:
        parts[bucket(en)].append((en, de))
    held_out_de = {normalize(de) for name in ("dev", "test") for _, de in parts[name]}
    parts["train"] = [(en, de) for en, de in parts["train"] if normalize(de) not in held_out_de]
    return parts


def one_per_source(pairs: list[tuple[str, str]], source_index: int) -> list[tuple[str, str]]:
    """Keep the first pair of each distinct source sentence (single-reference test sets)."""
    seen: set[str] = set()
    kept = []
    for pair in pairs:
        key = normalize(pair[source_index])
        if key not in seen:
            seen.add(key)
            kept.append(pair)
    return kept


SENTENCE_END = ".!?…;:"


def prefix_pair(en: str, de: str, rng: random.Random) -> tuple[str, str] | None:
    """A source prefix and the target prefix at the same proportion of words (None if too short)."""
    en_words, de_words = en.split(), de.split()
    if len(en_words) < 4 or len(de_words) < 4:
        return None
    cut = rng.randint(2, len(en_words) - 1)
    tgt_cut = max(1, round(cut / len(en_words) * len(de_words)))
    src = " ".join(en_words[:cut]).rstrip(SENTENCE_END + ",")
    tgt = " ".join(de_words[:tgt_cut]).rstrip(SENTENCE_END + ",")
    if not src or not tgt:
        return None
    return src, tgt


def read_general(data: Path) -> dict[str, list[tuple[str, str]]]:
    """The general-domain training pairs split by origin (human / mt), and the dev/test sets."""
    general = data / "general"
    meta = [line.split("\t") for line in read_lines(general / "train.meta.gz")]
    pairs = read_pairs(general / "train.en.gz", general / "train.de.gz")
    out: dict[str, list[tuple[str, str]]] = {"human": [], "mt": []}
    for (en, de), fields in zip(pairs, meta, strict=True):
        out[fields[1]].append((en, de))
    out["newstest2020.en-de"] = read_pairs(general / "dev.en.gz", general / "dev.de.gz")
    out["newstest2020.de-en"] = read_pairs(general / "dev_deen.en.gz", general / "dev_deen.de.gz")
    out["bcontrast-test"] = read_pairs(general / "test_bcontrast.en.gz", general / "test_bcontrast.de.gz")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--vocab-size", type=int, default=10000)
    parser.add_argument(
        "--multi30k-repeat", type=int, default=2, help="oversampling of the in-domain Multi30k training set"
    )
    parser.add_argument("--general-human-repeat", type=int, default=2, help="repeats of human general pairs")
    parser.add_argument("--general-mt-repeat", type=int, default=1, help="repeats of machine-translated pairs")
    parser.add_argument("--tatoeba-max", type=int, default=0, help="cap on Tatoeba training pairs (0: all)")
    parser.add_argument("--prefix-share", type=float, default=0.1, help="share of pairs that add a prefix pair")
    parser.add_argument("--no-general", action="store_true", help="the old mix: Tatoeba and Multi30k only")
    parser.add_argument(
        "--spm", type=Path, help="reuse this SentencePiece model (fine-tuning a released model) instead of training one"
    )
    args = parser.parse_args()
    work: Path = args.work
    (work / "data").mkdir(parents=True, exist_ok=True)
    data = work / "data"

    tatoeba = split_tatoeba(args.data / "tatoeba" / "deu-eng.tsv")
    m30k = {
        split: read_pairs(multi30k(name, "en", args.data), multi30k(name, "de", args.data))
        for split, name in (("train", "train"), ("dev", "val"), ("test", MULTI30K_TEST))
    }

    rng = random.Random(1234)
    tatoeba_train = list(tatoeba["train"])
    if args.tatoeba_max:
        rng.shuffle(tatoeba_train)
        tatoeba_train = tatoeba_train[: args.tatoeba_max]
    general = {"human": [], "mt": []} if args.no_general else read_general(args.data)
    base = m30k["train"] + general["human"] + general["mt"]
    prefixes = [p for en, de in base if rng.random() < args.prefix_share and (p := prefix_pair(en, de, rng))]
    train = (
        tatoeba_train
        + m30k["train"] * args.multi30k_repeat
        + general["human"] * args.general_human_repeat
        + general["mt"] * args.general_mt_repeat
        + prefixes
    )
    rng.shuffle(train)
    sets = {
        "train": train,
        "dev": one_per_source(tatoeba["dev"], 0)[:500] + m30k["dev"][:500],
        "multi30k-test2016": m30k["test"],
        "tatoeba-test.en-de": one_per_source(tatoeba["test"], 0),
        "tatoeba-test.de-en": one_per_source(tatoeba["test"], 1),
    }
    for name in ("newstest2020.en-de", "newstest2020.de-en", "bcontrast-test"):
        if name in general:
            sets[name] = general[name]
    for name, pairs in sets.items():
        for index, lang in enumerate(LANGS):
            write_lines(data / f"{name}.{lang}", [pair[index] for pair in pairs])

    if args.spm is not None:
        shutil.copy(args.spm, work / "spm.model")
    else:
        train_sentencepiece(work, sorted({s for en, de in tatoeba_train + base for s in (en, de)}), args.vocab_size)
    stats = {name: len(pairs) for name, pairs in sets.items()}
    stats["tatoeba-train-pairs"] = len(tatoeba_train)
    stats["general-human-pairs"] = len(general["human"])
    stats["general-mt-pairs"] = len(general["mt"])
    stats["prefix-pairs"] = len(prefixes)
    stats["prepare-args"] = {k: str(v) for k, v in vars(args).items()}
    (work / "data-stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    print(json.dumps(stats, indent=2))


def train_sentencepiece(work: Path, distinct: list[str], vocab_size: int) -> None:
    """One joint SentencePiece unigram model on the distinct training sentences of both languages."""
    spm_text = work / "spm-train.txt"
    write_lines(spm_text, distinct)
    spm.SentencePieceTrainer.train(
        input=str(spm_text),
        model_prefix=str(work / "spm"),
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,
        unk_id=0,
        eos_id=1,
        bos_id=-1,
        pad_id=-1,
        input_sentence_size=2_000_000,
        shuffle_input_sentence=True,
        minloglevel=2,
    )


if __name__ == "__main__":
    main()
