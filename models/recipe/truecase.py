"""Build a model's truecasing table (``translator.truecase``) from the recipe's training text.

Counts how each word is written where its case is not positional, in the source-language side of the
training data (Multi30k train, the Tatoeba training split, ``general/train``; never a dev or test set),
keeps the words whose most frequent form has capitals, writes ``truecase.<lang>.tsv.gz`` into the model
directory and names it in ``translator.json``. A model translates lowercase input (a speech
recognizer's) with it; see the README's "Unpunctuated, pause-delimited input".

    python models/recipe/truecase.py models/de-en          # the model's source languages
    python models/recipe/truecase.py models/en-de --min-share 0.65 --min-count 2
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from prepare import DEFAULT_DATA, split_tatoeba

from translator.engine.corpus import multi30k, read_lines
from translator.engine.metadata import METADATA_FILE, ModelMetadata
from translator.truecase import MIN_COUNT, MIN_SHARE, build, count_forms

LANGS = ("en", "de")


def training_text(language: str, data: Path) -> list[str]:
    """The training side of every corpus of the recipe in ``language``."""
    if language not in LANGS:
        raise SystemExit(f"the recipe has training text in {', '.join(LANGS)}, not {language}")
    lines = read_lines(multi30k("train", language, data))
    lines += [pair[LANGS.index(language)] for pair in split_tatoeba(data / "tatoeba" / "deu-eng.tsv")["train"]]
    lines += read_lines(data / "general" / f"train.{language}.gz")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="model directory (its translator.json is updated)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--min-count", type=int, default=MIN_COUNT, help="occurrences a form needs")
    parser.add_argument("--min-share", type=float, default=MIN_SHARE, help="share of a word's occurrences")
    args = parser.parse_args()
    meta = ModelMetadata.load(args.model)
    tables = dict(meta.truecase)
    for language in meta.source_languages:
        counts: Counter[str] = count_forms(training_text(language, args.data))
        truecaser = build(counts, min_count=args.min_count, min_share=args.min_share)
        name = f"truecase.{language}.tsv.gz"
        truecaser.save(args.model / name)
        tables[language] = name
        print(f"{args.model / name}: {len(truecaser.table)} words", flush=True)
    data = json.loads((args.model / METADATA_FILE).read_text(encoding="utf-8"))
    data["truecase"] = tables
    (args.model / METADATA_FILE).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
