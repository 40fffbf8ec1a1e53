"""``translator models stability``: what a streaming stability policy costs and buys, engine-level.

Feeds a test set word by word through the same ``StreamState`` the server uses (one stream per sentence,
all side by side, so each step is one batch), translating with the engine in-process, and records every
update a client would see. Reports, per policy: normalized erasure of the displayed and of the stable
text, AL / LAAL / DAL of both in source words (``translator.cli.stability_metrics``), BLEU and chrF of
the finals and of offline translations of the same sentences, the share of finals identical to the
offline ones, how often the final's free hypotheses all contradicted the stable text, and engine CPU
milliseconds per update. ``--sweep`` runs a list of policies and draws quality against lag (a PNG, with
matplotlib installed: the ``plot`` extra). ``--unpunctuated`` measures lowercase unpunctuated input cut
by pauses and by length against the same sentences punctuated.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import sacrebleu

from translator.cli.common import CLIError, engine_from_args, test_files
from translator.cli.stability_metrics import LatencyQuality, Trace, Update, score_traces
from translator.decoding import Hypotheses
from translator.engine.corpus import read_lines
from translator.engine.engine import Engine, texts_only
from translator.protocol import Final, Partial
from translator.server.settings import ServerConfig
from translator.streaming import FinalJob, PartialJob, StabilityPolicy, StreamState

# Policies compared by --sweep (README, Stability policy). "before" is the policy this project shipped
# until the sweep: forced stable prefix, agreement of two hypotheses, final forced, display unfiltered.
BEFORE = StabilityPolicy(
    display_agreed=False, strip_end=False, free_final=False, final_boundary=False, partial_fallback=False
)
# The sweep's policies as measured then: a contradicted free final decoded forced (no partial fallback).
MASK = StabilityPolicy(display_agreed=False, partial_fallback=False)
POLICIES: dict[str, StabilityPolicy] = {
    "before": BEFORE,
    "strip": replace(BEFORE, strip_end=True),
    "free final": replace(BEFORE, strip_end=True, free_final=True),
    "free final+alternatives": replace(BEFORE, strip_end=True, free_final=True, final_boundary=True),
    "mask1": replace(MASK, mask=1),
    "mask2": replace(MASK, mask=2),
    "mask3": replace(MASK, mask=3),
    "agreed (default)": StabilityPolicy(),
    # A contradicted free final decoded forced rather than taken from the last partial (the default before).
    "agreed forced fallback": StabilityPolicy(partial_fallback=False),
    "agreed mask1": StabilityPolicy(mask=1),
    # A word that ended the previous hypothesis becomes stable once the newest keeps it and goes on.
    "agreed follow-newest": StabilityPolicy(follow="newest"),
    # Partials decoded with a narrower beam than the finals (StabilityPolicy.partial_beam).
    "agreed beam2": StabilityPolicy(partial_beam=2),
    "agreed beam1": StabilityPolicy(partial_beam=1),
    "la3": replace(MASK, agreement=3),
    "nbest3": replace(MASK, hypotheses=3),
    "free la2": replace(MASK, anchor="none"),
    "free la3": replace(MASK, anchor="none", agreement=3),
    "free nbest3": replace(MASK, anchor="none", hypotheses=3),
    "bias0.5": replace(MASK, anchor="bias", bias=0.5),
    "bias0.5 mask1": replace(MASK, anchor="bias", bias=0.5, mask=1),
    "bias0.8": replace(MASK, anchor="bias", bias=0.8),
}

# (kind, text): "append" text, "pause" (no input for a while), "commit".
Event = tuple[str, str]


def _typed(words: Iterable[str]) -> list[Event]:
    """The events of typing ``words`` one by one."""
    return [("append", word + " ") for word in words]


@dataclass
class _Run:
    """What one stream saw: (source words read, message) for every message, in order."""

    seen: list[tuple[int, Partial | Final]]
    kept: list[bool | None]  # per final with stable text: whether a free hypothesis kept it


def drive(
    engine: Engine,
    streams: Sequence[Sequence[Event]],
    source: str,
    target: str,
    policy: StabilityPolicy,
    *,
    max_words: int = 0,
    max_uncased_words: int = 0,
    revisions: bool = False,
) -> tuple[list[_Run], dict[str, float]]:
    """Play every stream's events side by side (one step each at a time), translating what the states
    ask for after each step: finals in one batch, then partials in one batch."""
    states = [
        StreamState(policy=policy, max_words=max_words, max_uncased_words=max_uncased_words, revisions=revisions)
        for _ in streams
    ]
    runs = [_Run([], []) for _ in streams]
    read = [0] * len(streams)
    cpu = 0.0
    translations = 0

    def translate(jobs: Sequence[tuple[int, PartialJob | FinalJob]]) -> list[str]:
        nonlocal cpu, translations
        start = time.process_time()
        texts = texts_only(engine, source, target, [j.input for _, j in jobs], [j.decoding for _, j in jobs])
        cpu += time.process_time() - start
        translations += len(jobs)
        return texts

    def work() -> None:
        finals = [(i, job) for i, state in enumerate(states) for job in state.take_finals()]
        for (i, job), text in zip(finals, translate(finals) if finals else [], strict=True):
            runs[i].seen.append((read[i], StreamState.final_result(job, text)))
            if len(job.prefix) > 0:
                runs[i].kept.append(text.kept if isinstance(text, Hypotheses) else None)
        partials = [(i, p) for i, state in enumerate(states) if (p := state.next_partial()) is not None]
        for (i, partial), text in zip(partials, translate(partials) if partials else [], strict=True):
            message = states[i].partial_result(partial, text)
            if message is not None:
                runs[i].seen.append((read[i], message))

    for step in range(max((len(s) for s in streams), default=0)):
        for i, (state, events) in enumerate(zip(states, streams, strict=True)):
            if step < len(events):
                kind, text = events[step]
                if kind == "append":
                    state.append(text)
                    read[i] += len(text.split())
                elif kind == "pause":
                    state.pause()
                else:
                    state.commit()
        work()
    for state in states:
        state.commit()
    work()
    stats = {
        "cpu_ms_per_update": 1000 * cpu / max(1, translations),
        "contradicted_partials": sum(s.contradictions for s in states),
    }
    return runs, stats


def traces_of(run: _Run, source_words: int, reference: str | None) -> Trace:
    """One sentence's updates: finished segments' finals followed by the open segment's display."""
    done: list[str] = []
    trace = Trace(source_words, reference=reference)
    for n, message in run.seen:
        if isinstance(message, Final):
            done.append(message.text)
            text = " ".join(done)
            trace.updates.append(Update(n, text, text))
        else:
            head = " ".join(done)
            trace.updates.append(Update(n, f"{head} {message.text}".strip(), f"{head} {message.stable}".strip()))
    return trace


@dataclass(frozen=True)
class StabilityResult(LatencyQuality):
    """A policy's erasure and lag (``LatencyQuality``), the quality of its finals, and its cost."""

    policy: str
    sentences: int
    bleu_offline: float
    bleu_finals: float
    bleu_delta: float
    chrf_offline: float
    chrf_finals: float
    identical_to_offline: float
    # Finals with stable text whose free hypotheses all contradicted it (then the stable text was forced).
    final_contradicted: float
    # Finals marked revised (only with revisions): they do not start with the stable text shown.
    revised: float
    # Share of final words that were already stable before the sentence ended.
    stable_before_end: float
    contradicted_partials: int
    cpu_ms_per_update: float
    seconds: float

    def row(self) -> dict[str, Any]:
        """The flat row of ``--output``, ``--json`` and the printed lines, in the published key order: the
        fields above up to ``revised``, the erasure and lag, ``stable_before_end`` just before the lag's
        ``updates_per_sentence``, then the rest."""
        values = asdict(self)
        lag = [f.name for f in fields(LatencyQuality)]
        own = [k for k in values if k not in lag]
        at = own.index("stable_before_end")
        order = [*own[:at], *lag[:-1], "stable_before_end", lag[-1], *own[at + 1 :]]
        return {k: values[k] for k in order}


def measure(
    engine: Engine,
    sentences: list[str],
    refs: list[str],
    source: str,
    target: str,
    policy: StabilityPolicy | None = None,
    name: str = "default",
    offline: list[str] | None = None,
    *,
    revisions: bool = False,
) -> StabilityResult:
    policy = policy or StabilityPolicy()
    start = time.perf_counter()
    if offline is None:
        offline = [t.text for t in engine.translate(sentences, source=source, target=target)]
    streams = [_typed(s.split()) for s in sentences]
    runs, stats = drive(engine, streams, source, target, policy, revisions=revisions)
    traces = [traces_of(r, len(s.split()), ref) for r, s, ref in zip(runs, sentences, refs, strict=True)]
    finals = [t.updates[-1].display if t.updates else "" for t in traces]
    scores = score_traces([t for t in traces if t.updates])
    final_words = max(1, sum(len(f.split()) for f in finals))
    stable_before = sum(_stable_at_end(t) for t in traces)
    kept = [k for r in runs for k in r.kept if k is not None]
    final_messages = [m for r in runs for _, m in r.seen if isinstance(m, Final)]
    bleu_finals = sacrebleu.corpus_bleu(finals, [refs]).score
    bleu_offline = sacrebleu.corpus_bleu(offline, [refs]).score
    return StabilityResult(
        policy=name,
        sentences=len(sentences),
        bleu_offline=round(bleu_offline, 2),
        bleu_finals=round(bleu_finals, 2),
        bleu_delta=round(bleu_finals - bleu_offline, 2),
        chrf_offline=round(sacrebleu.corpus_chrf(offline, [refs]).score, 2),
        chrf_finals=round(sacrebleu.corpus_chrf(finals, [refs]).score, 2),
        identical_to_offline=round(sum(a == b for a, b in zip(offline, finals, strict=True)) / len(sentences), 3),
        final_contradicted=round(sum(not k for k in kept) / max(1, len(kept)), 3),
        revised=round(sum(m.revised for m in final_messages) / max(1, len(final_messages)), 3),
        **asdict(scores),
        stable_before_end=round(stable_before / final_words, 3),
        contradicted_partials=int(stats["contradicted_partials"]),
        cpu_ms_per_update=round(stats["cpu_ms_per_update"], 2),
        seconds=round(time.perf_counter() - start, 1),
    )


def _stable_at_end(trace: Trace) -> int:
    """Final words stable before the final itself."""
    partials = trace.updates[:-1]
    return len(partials[-1].stable.split()) if partials else 0


def unpunctuated(text: str) -> str:
    """``text`` as a speech recognizer writes it: lowercase, no punctuation."""
    kept = "".join(c if c.isalnum() or c.isspace() or c in "'-" else " " for c in text.lower())
    return " ".join(kept.split())


def measure_unpunctuated(
    engine: Engine,
    sentences: list[str],
    refs: list[str],
    source: str,
    target: str,
    policy: StabilityPolicy | None = None,
    *,
    document: int = 10,
    max_words: int | None = None,
    max_uncased_words: int | None = None,
) -> dict[str, Any]:
    """Documents of ``document`` consecutive sentences, each one stream fed word by word: punctuated;
    lowercase unpunctuated with a pause after each sentence (speech); and unpunctuated without pauses
    (cut by length only). BLEU and chrF of each document's concatenated finals against its concatenated
    references, and the longest run of source words between two finals."""
    policy = policy or StabilityPolicy()
    config = ServerConfig()  # the server's cuts unless told otherwise
    max_words = config.max_segment_words if max_words is None else max_words
    max_uncased_words = config.max_uncased_segment_words if max_uncased_words is None else max_uncased_words
    docs = [(sentences[i : i + document], refs[i : i + document]) for i in range(0, len(sentences), document)]
    references = [" ".join(r) for _, r in docs]
    variants: dict[str, list[list[Event]]] = {
        "punctuated": [_typed(w for s in d for w in s.split()) for d, _ in docs],
        "unpunctuated, pauses": [
            [e for s in d for e in [*_typed(unpunctuated(s).split()), ("pause", "")]] for d, _ in docs
        ],
        "unpunctuated, no pauses": [_typed(w for s in d for w in unpunctuated(s).split()) for d, _ in docs],
    }
    rows: dict[str, Any] = {
        "documents": len(docs),
        "sentences_per_document": document,
        "max_words": max_words,
        "max_uncased_words": max_uncased_words,
    }
    for name, streams in variants.items():
        runs, _ = drive(
            engine, streams, source, target, policy, max_words=max_words, max_uncased_words=max_uncased_words
        )
        hyps = [" ".join(m.text for _, m in r.seen if isinstance(m, Final)) for r in runs]
        gaps = []
        for run in runs:
            last = 0
            for n, message in run.seen:
                if isinstance(message, Final):
                    gaps.append(n - last)
                    last = n
        rows[name] = {
            "bleu": round(sacrebleu.corpus_bleu(hyps, [references]).score, 2),
            "chrf": round(sacrebleu.corpus_chrf(hyps, [references]).score, 2),
            "finals": sum(isinstance(m, Final) for r in runs for _, m in r.seen),
            "longest_words_between_finals": max(gaps, default=0),
        }
    return rows


def sweep(
    engine: Engine,
    sentences: list[str],
    refs: list[str],
    source: str,
    target: str,
    names: Sequence[str],
) -> list[StabilityResult]:
    offline = [t.text for t in engine.translate(sentences, source=source, target=target)]
    results = []
    for name in names:
        results.append(measure(engine, sentences, refs, source, target, POLICIES[name], name, offline))
    return results


def plot(rows: Sequence[dict[str, Any]], path: Path) -> bool:
    """BLEU of finals minus offline against LAAL of the display, erasure as each point's label, one panel
    per data set (``rows`` carry a ``set`` key). False when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    sets = list(dict.fromkeys(str(r["set"]) for r in rows))
    fig, axes = plt.subplots(1, len(sets), figsize=(6.5 * len(sets), 5.2), squeeze=False)
    floor = -4.0  # policies that lose more are drawn on the floor, their loss in the label
    for ax, name in zip(axes[0], sets, strict=True):
        mine = sorted((r for r in rows if r["set"] == name), key=lambda r: (r["bleu_delta"], r["laal_display"]))
        ys = [max(float(r["bleu_delta"]), floor) for r in mine]
        points = ax.scatter(
            [r["laal_display"] for r in mine],
            ys,
            c=[r["ne_display"] for r in mine],
            cmap="viridis_r",
            vmin=0,
            vmax=1.5,
            s=[70 if "default" in r["policy"] else 36 for r in mine],
            edgecolors=["red" if "default" in r["policy"] else "none" for r in mine],
        )
        for k, (r, y) in enumerate(zip(mine, ys, strict=True)):
            clipped = f", Δ {r['bleu_delta']:+.1f}" if y > r["bleu_delta"] else ""
            ax.annotate(
                f"{r['policy']} ({r['ne_display']:.2f}{clipped})",
                (r["laal_display"], y),
                fontsize=6.5,
                rotation=30,
                xytext=(4, 3 + 7 * (k % 3)),
                textcoords="offset points",
            )
        ax.axhline(-0.3, color="grey", lw=0.7, ls="--")
        ax.axvline(3.0, color="grey", lw=0.7, ls="--")
        ax.set_ylim(floor - 0.4, max(1.0, max(ys) + 1.0))
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("LAAL of the display (source words)")
        ax.set_ylabel("BLEU of finals − offline (labels: policy (NE display))")
    fig.colorbar(points, ax=axes[0].tolist(), label="normalized erasure of the display")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return True


def _policy(args: argparse.Namespace) -> tuple[str, StabilityPolicy]:
    name = args.policy or "agreed (default)"
    if name not in POLICIES:
        raise CLIError(f"unknown policy {name!r}; known: {', '.join(POLICIES)}")
    return name, POLICIES[name]


def run_stability_bench(args: argparse.Namespace) -> int:
    src_path, ref_path = test_files(args)
    sentences, refs = read_lines(src_path), read_lines(ref_path)
    if args.limit:
        sentences, refs = sentences[: args.limit], refs[: args.limit]
    engine = engine_from_args(args)
    name, policy = _policy(args)
    if args.revisions:
        name = f"{name}, revisions"
    report: Any
    if args.unpunctuated:
        report = measure_unpunctuated(engine, sentences, refs, args.source, args.target, policy)
    elif args.sweep:
        names = [n.strip() for n in args.sweep.split(",")] if args.sweep != "all" else list(POLICIES)
        unknown = [n for n in names if n not in POLICIES]
        if unknown:
            raise CLIError(f"unknown policies {', '.join(unknown)}; known: {', '.join(POLICIES)}")
        label = args.label or f"{src_path.name} {args.source}→{args.target}"
        report = [{"set": label, **r.row()} for r in sweep(engine, sentences, refs, args.source, args.target, names)]
        if args.output:
            rows: list[dict[str, Any]] = []
            out = Path(args.output)
            if out.exists() and args.append:
                rows = [r for r in json.loads(out.read_text(encoding="utf-8")) if r["set"] != label]
            rows += report
            out.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            if args.plot and not plot(rows, Path(args.plot)):
                print("matplotlib is not installed (pip install 'translator[plot]'): no plot drawn")
    else:
        report = measure(
            engine, sentences, refs, args.source, args.target, policy, name, revisions=args.revisions
        ).row()
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    elif isinstance(report, list):
        for row in report:
            print("  ".join(f"{k} {v}" for k, v in row.items() if k != "set"))
    else:
        for key, value in report.items():
            print(f"{key:<28} {value}")
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--src-file", type=Path, help="default: Multi30k test2016")
    parser.add_argument("--ref-file", type=Path)
    parser.add_argument("--limit", type=int, default=0, help="only the first N sentences")
    parser.add_argument("--policy", help=f"one of: {', '.join(POLICIES)} (default: agreed (default))")
    parser.add_argument(
        "--revisions", action="store_true", help="finals as with ?revisions=true: offline translations, marked revised"
    )
    parser.add_argument("--sweep", help="comma-separated policies to compare, or all")
    parser.add_argument("--label", help="the data set's name in the sweep's rows and plot")
    parser.add_argument("--output", type=Path, help="write the sweep's rows (JSON) here")
    parser.add_argument("--append", action="store_true", help="add to --output's rows (other data sets)")
    parser.add_argument("--plot", type=Path, help="draw the rows of --output as this PNG (needs matplotlib)")
    parser.add_argument(
        "--unpunctuated", action="store_true", help="lowercase unpunctuated input vs punctuated, by documents"
    )
    parser.add_argument("--json", action="store_true")
