"""Compare language-identification libraries on short English and German snippets (dev data only).

    pip install py3langid lingua-language-detector langdetect pycld2
    python models/recipe/langid_compare.py [--per-corpus 300] [--libraries py3langid,lingua,langdetect,pycld2]

Snippets of 1, 2, 3 and 5 consecutive words and whole sentences are drawn (fixed seed) from Multi30k
val and newstest2020 dev (``../shared/data``), for English and German, plus French from Multi30k val
as text no model serves. For each library it prints, as Markdown:

- ``top-1``: the library's best guess over all its languages is the right one;
- ``en/de``: the better of English and German by the library's scores is the right one (what a
  detector restricted to the served languages answers);
- ``fr → other``: French sentences whose best guess is neither English nor German (an honest detector
  says "not a served language" here);
- the time per snippet (sentences and 3-word snippets), load time and resident memory added;
- for the server's detector (``translator.engine.langid``, py3langid with its two thresholds): the share
  of snippets it answers (the rest are "undetermined"), the accuracy of those answers, and the French
  snippets it calls English or German.

No library downloads anything: each one's model ships in its wheel.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import random
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
LENGTHS: tuple[int | None, ...] = (1, 2, 3, 5, None)  # None: the whole sentence
# text -> scores by ISO 639-1 code (higher is more likely; missing: not a candidate)
Scorer = Callable[[str], dict[str, float]]


def read_lines(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [line.strip() for line in handle if line.strip()]


def snippets(lines: list[str], words: int | None, count: int, rng: random.Random) -> list[str]:
    chosen = [line.split() for line in rng.sample(lines, min(count, len(lines)))]
    out = []
    for tokens in chosen:
        if words is None or len(tokens) <= words:
            out.append(" ".join(tokens))
        else:
            start = rng.randrange(len(tokens) - words + 1)
            out.append(" ".join(tokens[start : start + words]))
    return [s for s in out if s]


def rss_mb() -> float:
    """The process's resident memory now, in MB."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 1e6


def load_py3langid() -> Scorer:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    def score(text: str) -> dict[str, float]:
        return {lang: float(p) for lang, p in identifier.rank(text)}

    return score


def load_lingua() -> Scorer:
    from lingua import LanguageDetectorBuilder

    detector = LanguageDetectorBuilder.from_all_languages().with_preloaded_language_models().build()

    def score(text: str) -> dict[str, float]:
        return {
            c.language.iso_code_639_1.name.lower(): c.value for c in detector.compute_language_confidence_values(text)
        }

    return score


def load_langdetect() -> Scorer:
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0

    def score(text: str) -> dict[str, float]:
        try:
            return {r.lang: r.prob for r in detect_langs(text)}
        except LangDetectException:
            return {}

    return score


def load_pycld2() -> Scorer:
    import pycld2

    def score(text: str) -> dict[str, float]:
        try:
            _, _, details = pycld2.detect(text, bestEffort=True)
        except pycld2.error:
            return {}
        return {code: float(percent) for _, code, percent, _ in details if code != "un" and percent > 0}

    return score


LIBRARIES: dict[str, Callable[[], Scorer]] = {
    "py3langid": load_py3langid,
    "lingua": load_lingua,
    "langdetect": load_langdetect,
    "pycld2": load_pycld2,
}


def best(scores: dict[str, float], among: tuple[str, ...] | None = None) -> str | None:
    candidates = {k: v for k, v in scores.items() if among is None or k in among}
    return max(candidates, key=lambda k: candidates[k]) if candidates else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--per-corpus", type=int, default=300, help="snippets per corpus, language and length")
    parser.add_argument("--libraries", default=",".join(LIBRARIES))
    args = parser.parse_args()
    rng = random.Random(14)
    corpora = {
        lang: [
            *read_lines(args.data / "multi30k" / f"val.{lang}.gz"),
            *(read_lines(args.data / "general" / f"dev.{lang}.gz") if lang != "fr" else []),
        ]
        for lang in ("en", "de", "fr")
    }
    sets: dict[tuple[str, int | None], list[str]] = {}
    for lang in ("en", "de"):
        m30k = read_lines(args.data / "multi30k" / f"val.{lang}.gz")
        news = read_lines(args.data / "general" / f"dev.{lang}.gz")
        for n in LENGTHS:
            sets[(lang, n)] = snippets(m30k, n, args.per_corpus, rng) + snippets(news, n, args.per_corpus, rng)
    french = snippets(corpora["fr"], None, args.per_corpus, rng)
    served = ("en", "de")
    accuracy = ["| library | measure | " + " | ".join(f"{n} words" if n else "sentence" for n in LENGTHS) + " |"]
    accuracy.append("|---|---" + "|---" * len(LENGTHS) + "|")
    costs = ["| library | fr → other | ms/sentence | ms/3 words | load s | +MB resident |", "|---|---|---|---|---|---|"]
    for name in args.libraries.split(","):
        gc.collect()
        before = rss_mb()
        started = time.perf_counter()
        scorer = LIBRARIES[name]()
        scorer("warm up")
        load = time.perf_counter() - started
        rows: dict[str, list[str]] = {"top-1 (all its languages)": [], "en/de: English": [], "en/de: German": []}
        timings: dict[int | None, float] = {}
        for n in LENGTHS:
            top1 = total = 0
            elapsed = 0.0
            for lang in served:
                texts = sets[(lang, n)]
                t0 = time.perf_counter()
                results = [scorer(t) for t in texts]
                elapsed += time.perf_counter() - t0
                top1 += sum(best(r) == lang for r in results)
                restricted = statistics.mean(best(r, served) == lang for r in results)
                rows["en/de: English" if lang == "en" else "en/de: German"].append(f"{100 * restricted:.1f}")
                total += len(texts)
            timings[n] = elapsed / total * 1000
            rows["top-1 (all its languages)"].append(f"{100 * top1 / total:.1f}")
        other = statistics.mean(best(scorer(t)) not in served for t in french)
        added = rss_mb() - before
        accuracy += [f"| {name} | {measure} | " + " | ".join(cells) + " |" for measure, cells in rows.items()]
        costs.append(
            f"| {name} | {100 * other:.1f} | {timings[None]:.3f} | {timings[3]:.3f} | {load:.2f} | {added:.0f} |"
        )
    print("\n".join(accuracy))
    print()
    print("\n".join(costs))
    print()
    print(ours(sets, {n: snippets(corpora["fr"], n, args.per_corpus, rng) for n in LENGTHS}))


def ours(sets: dict[tuple[str, int | None], list[str]], french: dict[int | None, list[str]]) -> str:
    """The server's detector: answered share, accuracy of the answers, French taken for English or German."""
    from translator.engine.langid import LanguageIdentifier

    identifier = LanguageIdentifier(["en", "de"])
    rows = ["| translator.engine.langid | " + " | ".join(f"{n} words" if n else "sentence" for n in LENGTHS) + " |"]
    rows.append("|---" * (len(LENGTHS) + 1) + "|")
    answered, correct, french_taken = [], [], []
    for n in LENGTHS:
        results = [(lang, identifier.detect(t)) for lang in ("en", "de") for t in sets[(lang, n)]]
        known = [(lang, d) for lang, d in results if d.known]
        answered.append(f"{100 * len(known) / len(results):.0f} %")
        correct.append(f"{100 * statistics.mean(d.language == lang for lang, d in known):.1f} %" if known else "–")
        french_taken.append(f"{100 * statistics.mean(identifier.detect(t).known for t in french[n]):.0f} %")
    rows.append("| answered (not `und`) | " + " | ".join(answered) + " |")
    rows.append("| accuracy of the answers | " + " | ".join(correct) + " |")
    rows.append("| French answered as en/de | " + " | ".join(french_taken) + " |")
    return "\n".join(rows)


if __name__ == "__main__":
    main()
