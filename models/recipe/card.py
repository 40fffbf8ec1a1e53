"""The model card (models/SRC-TGT/README.md) of a release, from its eval.json report (release.py writes both;
``release.py --card-only`` rewrites the card alone, e.g. after ``decoding_sweep.py --save``)."""

from __future__ import annotations

import math
import re

# Snapshots release.py averages into a release unless told otherwise (the card names other counts).
DEFAULT_AVERAGE = 3

LANGUAGE_NAMES = {"en": "English", "de": "German"}


def general_data(report: dict) -> str:
    """The model card's lines on the general-domain data, when the release was trained on it."""
    stats = report["data_stats"]
    if not stats.get("general-human-pairs"):
        return ""
    a = stats.get("prepare-args", {})
    return f"""- **General-domain news and dialogue** (`general/`; see its README for how the pairs were made):
  {stats["general-human-pairs"]:,} human translations — WMT news test sets 2008–2019, 2021, 2023 (WMT's terms:
  research use; cite that year's WMT findings paper) and BConTrasT dialogue (Unbabel; CC-BY-SA-4.0, Farajian
  et al. 2020) — repeated {a.get("general_human_repeat", "2")}×, and {stats["general-mt-pairs"]:,} **machine-translated** pairs:
  WMT21/WMT23 test-suite sources with one research system's output each, chosen by consensus (Akhbardeh et al.
  2021; Kocmi et al. 2023), repeated {a.get("general_mt_repeat", "1")}×. Part of what this model learned is
  therefore machine translation output.
- **Prefix pairs** for streaming: {stats.get("prefix-pairs", 0):,} source prefixes cut after a random word, with
  the target cut at the same proportion of its words and no sentence-final punctuation, so that a growing
  sentence is translated as a prefix rather than completed with an invented ending.
"""


def general_table(report: dict) -> str:
    """General-domain BLEU/chrF and repetition loops (newstest2020 dev, BConTrasT test), when measured."""
    rows = []
    for label in ("int8", "float32"):
        r = report["results"][label]
        if "newstest2020-dev" not in r:
            return ""
        news, chat = r["newstest2020-dev"], r.get("bcontrast-test", {})
        rows.append(
            f"| {label} | {news['bleu']} / {news['chrf']} | {chat.get('bleu', '–')} / {chat.get('chrf', '–')} "
            f"| {100 * news.get('loops', 0):.1f} % |"
        )
    return (
        "\n| | newstest2020 (dev) BLEU / chrF | BConTrasT test BLEU / chrF | outputs with a repetition loop (dev) |\n"
        "|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )


SWEEP_SETS = {"news": "newstest2020", "recipe": "recipe dev"}


def sweep_table(report: dict) -> str:
    """The decoding sweep on the dev sets (decoding_sweep.py --save), when it was run on this release."""
    sweeps = report.get("decoding_sweep", {})
    if not sweeps:
        return ""
    names = [name for name in SWEEP_SETS if name in sweeps]
    first = sweeps[names[0]]
    head = "| setting | " + " | ".join(f"{SWEEP_SETS[n]} BLEU / chrF | loops | sent/s" for n in names) + " |"
    lines = [head, "|---|" + "---|---|---|" * len(names)]
    for i, row in enumerate(first["rows"]):
        label = f"**{row['setting']}** (shipped)" if row["shipped"] else row["setting"]
        cells = []
        for name in names:
            r = sweeps[name]["rows"][i] if i < len(sweeps[name]["rows"]) else None
            cells.append(
                f"{r['bleu']} / {r['chrf']} | {100 * r['loops']:.1f} % | {r['sent_per_s']}" if r else "– | – | –"
            )
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return (
        f"""
## Decoding settings (dev)

`python models/recipe/decoding_sweep.py --source SRC --target TGT --set news|recipe --save`, int8, batches of 32
on one thread ({first["signature"]}); "loops" = outputs with a repetition loop; "recipe dev" = the
recipe's dev split (Tatoeba dev + Multi30k val). Dev sets only: the shipped settings are chosen here, never on
the test sets. The model's own length penalty (`translator.json`) is chosen by `decoding_sweep.py --choose` on
the candidate before its release: the best newstest2020 BLEU among the penalties that lose nothing on the recipe
dev set against 1.0 and (`--min-multi30k-val`) keep the release rule's Multi30k val guard at that penalty.

"""
        + "\n".join(lines)
        + "\n"
    )


TRUECASE_NOTE = """A truecasing table (`{file}`, from `models/recipe/truecase.py`) gives input written without capitals
its capitals back before translation (a speech recognizer's lowercase text): how each {language} word is
written most often in running text, counted on the {language} side of Multi30k train, the Tatoeba
training split and `general/train` (news and dialogue, part of it machine-translated; see `SOURCES.md`)."""


def model_card(report: dict) -> str:
    """The model card, without the blank lines that absent optional sections leave."""
    return re.sub(r"\n{3,}", "\n\n", _model_card(report))


def _model_card(report: dict) -> str:
    pair = report["pair"]
    source, target = pair.split("-")
    r, a, st = report["results"], report["train_args"], report["train_state"]
    i8, f32 = r["int8"], r["float32"]
    hours = st["seconds"] / 3600
    return f"""# {pair}: {LANGUAGE_NAMES.get(source, source)} → {LANGUAGE_NAMES.get(target, target)}

The default {pair} model of `translator`: a small Marian transformer {origin(report)} by the recipe
in [`models/recipe`](../recipe/README.md), converted to CTranslate2 with int8 weights.

## Data

Trained only on the parallel text in `../shared/data` (see its `SOURCES.md`):

- **Tatoeba** English–German pairs (CC-BY 2.0; attribution: www.manythings.org/anki and tatoeba.org),
  split into train/dev/test by sentence: a pair's split is decided by a hash of its English sentence, and
  training pairs whose German sentence occurs in dev or test are dropped. {
        report["data_stats"]["tatoeba-train-pairs"]:,}
  training pairs; the test split has {i8["tatoeba-test"]["sentences"]:,} distinct {
        LANGUAGE_NAMES.get(source, source)
    } sentences here.
- **Multi30k** task 1 (research and education use; Elliott et al. 2016, *Multi30K: Multilingual
  English-German Image Descriptions*): the 29,000 training pairs{multi30k_repeat(report)};
  `val` for development; `test_2016_flickr` only for the figures below.

{general_data(report)}
A joint SentencePiece unigram model ({
        report.get("vocabulary", 8000):,} pieces) over both languages is the source and target tokenizer{
        " (the base model's, reused)" if report.get("base") else ""
    }.

{TRUECASE_NOTE.format(file=f"truecase.{source}.tsv.gz", language=LANGUAGE_NAMES.get(source, source))}

## Model

`MarianMTModel` (Hugging Face `transformers`), post-norm transformer with a deep encoder and a shallow
decoder for fast decoding: d_model {a["d_model"]}, {a["encoder_layers"]} encoder layers, {
        a["decoder_layers"]
    } decoder layers,
{a["heads"]} heads, feed-forward {a["ffn"]}, shared and tied embeddings{parameters(report)}. Trained with Adam
(peak learning rate {a["lr"]}, {a["warmup"]} warm-up steps, inverse-square-root decay), label smoothing {
        a["label_smoothing"]
    },
dropout {a["dropout"]}, batches of ≤ {a["max_tokens"]} padded tokens, {
        "bfloat16 autocast" if a.get("bf16") == "True" else "float32"
    }, on {a["threads"]} {a.get("device", "cpu").upper()} thread{"s" if a["threads"] != "1" else ""}.
This release: step {st["step"]} (epoch {st["epoch"]}, {hours:.1f} h of training{
        ", after the base model's" if report.get("base") else ""
    }), average of the last
{len(report["snapshots"])} snapshots. Converted with `translator models convert --quantization int8`.
{base_note(report)}

## Quality and the cost of quantization

sacrebleu defaults ({i8["bleu_signature"]}), beam 4, the shipped decoding settings (length penalty {
        decoding_note(report)
    }); CPU, {
        machine_note(report)
    }. Speed: sentences per second on the first 300 Multi30k test sentences, one at a time and in
batches of 32, one thread (median of 3 runs, both compute types measured in the same run).

| | BLEU Multi30k test2016 | chrF Multi30k | BLEU Tatoeba test | chrF Tatoeba | sent/s batch 1 | sent/s batch 32 | model.bin |
|---|---|---|---|---|---|---|---|
| int8 (shipped) | {i8["multi30k-test2016"]["bleu"]} | {i8["multi30k-test2016"]["chrf"]} | {
        i8["tatoeba-test"]["bleu"]
    } | {i8["tatoeba-test"]["chrf"]} | {i8["speed"]["batch1"]} | {i8["speed"]["batch32"]} | {i8["model_bin_mb"]} MB |
| float32 | {f32["multi30k-test2016"]["bleu"]} | {f32["multi30k-test2016"]["chrf"]} | {f32["tatoeba-test"]["bleu"]} | {
        f32["tatoeba-test"]["chrf"]
    } | {f32["speed"]["batch1"]} | {f32["speed"]["batch32"]} | {f32["model_bin_mb"]} MB |

{general_table(report)}
{sweep_table(report)}
{gpu_note(report)}All numbers are in [`eval.json`](eval.json).

## Reproduce

```sh
pip install -e '.[train]'
{reproduce(report)}
python models/recipe/release.py --source {source} --target {target}{work_flag(report)}{length_penalty_flag(report)}
translator models eval --source {source} --target {target}        # Multi30k test2016, shipped settings
```
"""


def machine_note(report: dict) -> str:
    """Where the release was measured: the CPU release.py recorded, or (older releases) the first VM."""
    return report.get("machine") or "this project's 2-core development VM"


def decoding_note(report: dict) -> str:
    penalty = report.get("length_penalty", 1.0)
    return f"{penalty}, chosen on the dev sets below" if penalty != 1.0 else f"{penalty}"


def gpu_note(report: dict) -> str:
    """Weights trained on a GPU machine came back as int8 rows (gpu_weights.py): the float32 row carries that."""
    if not report["train_args"].get("trained_on"):
        return ""
    return (
        "Trained on a lent GPU machine and brought back as int8 rows (`models/recipe/gpu_weights.py`), so the\n"
        "float32 row is the int8 weights in float32, not a float32 reference.\n\n"
    )


def parameters(report: dict) -> str:
    count = report.get("parameters")
    return f", {count / 1e6:.1f} M parameters" if count else ""


def multi30k_repeat(report: dict) -> str:
    repeat = report["data_stats"].get("prepare-args", {}).get("multi30k_repeat", "2")
    return "" if repeat == "1" else f", repeated {repeat}× (in-domain oversampling)"


def origin(report: dict) -> str:
    return "fine-tuned from the previous release" if report.get("base") else "trained from scratch"


def base_note(report: dict) -> str:
    """How a fine-tuned release started: the base model, its training and how its weights were recovered."""
    base = report.get("base")
    if not base:
        return ""
    chain = [base]  # the base, its base, ... back to the model trained from scratch
    while chain[-1].get("base"):
        chain.append(chain[-1]["base"])
    root = chain[-1]
    st, stats = root.get("train_state", {}), root.get("data_stats", {})
    scratch = f"""trained from scratch
on Tatoeba, {stats.get("tatoeba-train-pairs", 0):,} pairs, and Multi30k only: step {st.get("step", "?")}, epoch
{st.get("epoch", "?")}, {st.get("seconds", 0) / 3600:.1f} h"""
    if len(chain) == 1:
        started = f"the previous release of this model ({scratch})"
    else:
        bst = base.get("train_state", {})
        started = (
            f"the previous release of this model\n(commit {base.get('commit', '?')}: step {bst.get('step', '?')},"
            f" {bst.get('seconds', 0) / 3600:.1f} h of fine-tuning after its base), itself fine-tuned from the"
            f"\ncaption model ({scratch})"
        )
    return f"""
**Base model.** The weights were initialized from {started}, recovered from its int8 CTranslate2 weights by
`models/recipe/from_ct2.py` (dequantized, with the converter's fusions undone), with a fresh optimizer.{
        mixed_note(report)
    }
Fine-tuning, because this release was trained on the 2-core development CPU, where one epoch of the
general-domain mix from scratch takes about 2.8 h per direction; with a GPU the from-scratch recipe
(`gpu.sh`, sizes chosen on dev) is the way to train.
"""


def mixed_note(report: dict) -> str:
    weight = report.get("base_weight") or 0.0
    if not weight:
        return ""
    return (
        f"\nThe released weights are {1 - weight:g} × the fine-tuned average + {weight:g} × the base weights"
        " (weight-space interpolation, chosen on the dev sets: it keeps more of the base model's caption and"
        " phrase-book quality for a little of the news gain)."
    )


def _prepare_flags(report: dict) -> str:
    a = report["data_stats"].get("prepare-args", {})
    defaults = {"multi30k_repeat": "2", "general_human_repeat": "2", "general_mt_repeat": "1", "tatoeba_max": "0"}
    flags = [f"--{k.replace('_', '-')} {a[k]}" for k, default in defaults.items() if a.get(k, default) != default]
    return "".join(" " + flag for flag in flags)


def work_flag(report: dict) -> str:
    """The release command's flags for a fine-tuned model: its work directory, base weight and averaging."""
    if not report.get("base"):
        return ""
    weight = report.get("base_weight") or 0.0
    average = len(report["snapshots"])
    return (
        " --work $W"
        + (f" --base-weight {weight:g}" if weight else "")
        + (f" --average {average}" if average != DEFAULT_AVERAGE else "")
    )


def length_penalty_flag(report: dict) -> str:
    """The release command's ``--length-penalty``, for a model released with one other than 1.0."""
    penalty = report.get("length_penalty", 1.0)
    return f" --length-penalty {penalty:g}" if penalty != 1.0 else ""


def init_step_flag(report: dict) -> str:
    """``--init-step N`` where the run continued its base's step count (and learning-rate schedule)."""
    step = report["train_args"].get("init_step", "0")
    return f" --init-step {step}" if step not in ("0", "None") else ""


def _minutes(report: dict) -> int:
    """The run's whole training time in minutes (a run resumed N times had N budgets, one per invocation)."""
    return math.ceil(report["train_state"]["seconds"] / 60)


def reproduce(report: dict) -> str:
    a = report["train_args"]
    source, target = a["source"], a["target"]
    train = f"python models/recipe/train.py --source {source} --target {target} --warmup {a['warmup']}"
    if a.get("trained_on"):  # trained on a GPU machine by gpu.sh, released here
        size = f"{a['d_model']}x{a['ffn']}x{a['heads']}:{a['encoder_layers']}-{a['decoder_layers']}"
        return (
            "bash models/recipe/gpu.sh pack                       # here: prepare, carry .gpu/\n"
            f'SIZES="{size}" MINUTES={_minutes(report)} bash models/recipe/gpu.sh train   # on the GPU machine\n'
            "bash models/recipe/gpu.sh release PARTS_DIR          # here: unpack, choose on dev, release"
        )
    if not report.get("base"):
        return f"python models/recipe/prepare.py\n{train}   # resumable; --device cuda --bf16 on a GPU"
    pair = f"{source}-{target}"
    commit = report["base"].get("commit") or "BASE"
    return (
        f"W=~/.cache/translator/train-ft\n"
        f"git worktree add /tmp/base {commit}   # the base release\n"
        f"python models/recipe/from_ct2.py /tmp/base/models/{pair} $W/init-{pair}.pt\n"
        f"python models/recipe/prepare.py --work $W --spm /tmp/base/models/{pair}/source.spm{_prepare_flags(report)}\n"
        f"{train} --work $W --init $W/init-{pair}.pt{init_step_flag(report)} --lr {a['lr']}"
        f" --max-minutes {_minutes(report)}"
        "   # resumable"
    )
