"""Sentence splitting: pure text logic, no model and no I/O."""

from __future__ import annotations

import re

# Tokens ending in "." that usually do not end a sentence.
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st vs etc e.g i.e z.b u.a d.h bzw ca evtl ggf nr usw vgl hr fr no".split()
)
# German ordinals are written "3. Mai"; a number and a dot before a month name do not end a sentence.
_MONTHS = frozenset("januar jänner februar märz april mai juni juli august september oktober november dezember".split())
_BOUNDARY = re.compile(r"([.!?…]+[\"'”’»)\]]*)(\s+)(?=\S)")


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences; line breaks always end a sentence.

    Sentences are returned stripped, and empty ones are dropped. Concatenating the result with
    spaces gives back the text up to whitespace.
    """
    sentences: list[str] = []
    for line in text.splitlines():
        start = 0
        for match in _BOUNDARY.finditer(line):
            end = match.end(1)
            candidate = line[start:end]
            if _is_boundary(candidate, line[match.end() :]):
                sentences.append(candidate.strip())
                start = match.end()
        rest = line[start:].strip()
        if rest:
            sentences.append(rest)
    return [s for s in sentences if s]


def _is_boundary(before: str, after: str) -> bool:
    words = before.split()
    last = words[-1] if words else ""
    if last.endswith(".") and not last.endswith(".."):
        stem = last.rstrip(".").lower().lstrip("(\"'")
        if stem in _ABBREVIATIONS:
            return False
        if len(stem) == 1 and stem.isalpha():  # an initial: "J. Smith"
            return False
        if stem.isdigit():
            next_word = after.split(maxsplit=1)[0].lower().rstrip(".,;:") if after.strip() else ""
            if after[:1].islower() or next_word in _MONTHS:  # "am 3. Mai", "der 2. und"
                return False
    return not after[:1].islower()
