"""Restoring the capitals of lowercase input (a speech recognizer's, or someone typing in lowercase).

The models learned from text written with capitals; German nouns and names in both languages keep them.
Lowercase ``ein mann fährt fahrrad`` then reads to the model as a string of unknown words. A
:class:`Truecaser` is a table from a lowercase word to the form it is written in most often in running
text (words right after a sentence end are not counted: their capital says nothing about the word),
built from a language's training text with :func:`count_forms` and :func:`build`, and shipped beside a
model (``translator.json``'s ``truecase``). It only ever adds capitals, to words that are written all in
lowercase, so text that already has them keeps them; text written all in capitals (broadcast captions) is
lowered first.
"""

from __future__ import annotations

import gzip
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# A word: letters, joined by hyphens or apostrophes ("E-Mail", "don't"); digits and punctuation are not.
_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
# What makes the next word's capital positional: a sentence end, a colon, an opening quote or bracket.
_OPENS = frozenset('.!?:;…"„“”«»‘‚([–—-')


def count_forms(lines: Iterable[str]) -> Counter[str]:
    """How often each written form of each word occurs where its case is not positional."""
    counts: Counter[str] = Counter()
    for line in lines:
        end = 0  # of the previous word: what lies between it and this one decides
        for match in _WORD.finditer(line):
            gap = line[end : match.start()].rstrip()
            positional = gap[-1] in _OPENS if gap else end == 0  # right after a word: not positional
            end = match.end()
            if not positional:
                counts[match.group()] += 1
    return counts


@dataclass(frozen=True)
class Truecaser:
    """Lowercase word → the capitalized form to write it in (only words whose best form has capitals)."""

    table: dict[str, str]

    def case(self, text: str) -> str:
        """``text`` with each all-lowercase word in its table form; everything else as it was."""
        if not self.table:
            return text

        def form(match: re.Match[str]) -> str:
            word = match.group()
            return self.table.get(word, word) if word.islower() else word

        return _WORD.sub(form, text)

    def restore(self, text: str) -> str:
        """Uncased ``text`` (all in capitals, :func:`is_all_caps`, or lowercase, :func:`is_lowercase_text`) as
        written text: all capitals are lowered first and the first letter keeps its capital; text with case
        is returned as it is."""
        if is_all_caps(text):
            cased = self.case(text.lower())
            first = next((i for i, c in enumerate(cased) if c.isalpha()), None)
            if first is None or len(cased[first].upper()) != 1:
                return cased
            return cased[:first] + cased[first].upper() + cased[first + 1 :]
        return self.case(text) if is_lowercase_text(text) else text

    def save(self, path: str | Path) -> None:
        """A gzip TSV, one ``lowercase<TAB>form`` line per word, sorted (so that rebuilds diff cleanly)."""
        lines = "".join(f"{lower}\t{cased}\n" for lower, cased in sorted(self.table.items()))
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(lines)

    @classmethod
    def load(cls, path: str | Path) -> Truecaser:
        table: dict[str, str] = {}
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                lower, tab, cased = line.rstrip("\r\n").partition("\t")
                if not tab or not lower or cased.lower() != lower:
                    raise ValueError(f"{path}:{number}: expected 'lowercase<TAB>form' of the same word")
                table[lower] = cased
        return cls(table)


# Chosen on Multi30k val, lowercase unpunctuated input (README, unpunctuated input): 0.5–0.9 lie within
# 0.5 BLEU; below 0.65 ambiguous words (sie/Sie, leben/Leben) take their capital more often than not.
MIN_COUNT = 2
MIN_SHARE = 0.65


def build(counts: Counter[str], *, min_count: int = MIN_COUNT, min_share: float = MIN_SHARE) -> Truecaser:
    """The table from :func:`count_forms`: a word gets its most frequent form when that form has capitals,
    occurs at least ``min_count`` times and makes up at least ``min_share`` of the word's occurrences."""
    by_word: dict[str, Counter[str]] = {}
    for written, n in counts.items():
        by_word.setdefault(written.lower(), Counter())[written] += n
    table: dict[str, str] = {}
    for lower, forms in by_word.items():
        best, n = forms.most_common(1)[0]
        if best != lower and n >= min_count and n >= min_share * sum(forms.values()) and best.lower() == lower:
            table[lower] = best
    return Truecaser(table)


def is_lowercase_text(text: str) -> bool:
    """Text written without capitals, except perhaps its first letter (the capital a segment gets for the
    model): the input the truecaser is for."""
    stripped = text.lstrip()
    return not any(c.isupper() for c in stripped[1:]) and any(c.isalpha() for c in stripped)


def is_all_caps(text: str) -> bool:
    """Text of at least two words written all in capitals (``A MAN IS RIDING``: broadcast captions)."""
    if any(c.islower() for c in text):  # first: written text has a small letter within its first word
        return False
    return sum(1 for w in text.split() if any(c.isalpha() for c in w)) >= 2


def is_caseless(text: str) -> bool:
    """Text written without case: not a single capital letter (a speech recognizer's), or nothing but
    capitals (see :func:`is_all_caps`)."""
    return not any(c.isupper() for c in text) or is_all_caps(text)
