"""Sentence splitting: pure text logic, no model and no I/O."""

from __future__ import annotations

import re

from translator.truecase import is_all_caps, is_caseless

# Tokens ending in "." that usually do not end a sentence.
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st vs etc e.g i.e z.b u.a d.h bzw ca evtl ggf nr usw vgl hr fr no".split()
)
# German ordinals are written "3. Mai"; a number and a dot before a month name do not end a sentence.
_MONTHS = frozenset("januar jänner februar märz april mai juni juli august september oktober november dezember".split())
_BOUNDARY = re.compile(r"([.!?…]+[\"'”’»)\]]*)(\s+)(?=\S)")


# The characters str.splitlines() breaks on.
_LINE_BREAK = re.compile("[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences; line breaks always end a sentence.

    Sentences are returned stripped, and empty ones are dropped. Concatenating the result with
    spaces gives back the text up to whitespace.
    """
    sentences: list[str] = []
    for line in text.splitlines():
        complete, rest = _split_line(line)
        sentences.extend(complete)
        if rest.strip():
            sentences.append(rest.strip())
    return sentences


def cut_complete(text: str) -> tuple[list[str], str]:
    """Split off the sentences of a growing text that the text after them shows to be complete.

    A sentence is complete when a line break follows it, or when sentence-final punctuation, white
    space and the start of a new sentence follow it. Returns the complete sentences (stripped) and
    the rest of the text, unchanged, which may still grow into a sentence.
    """
    breaks = list(_LINE_BREAK.finditer(text))
    complete: list[str] = []
    if breaks:
        complete.extend(split_sentences(text[: breaks[-1].start()]))
        text = text[breaks[-1].end() :]
    done, rest = _split_line(text)
    return complete + done, rest


def _split_line(line: str) -> tuple[list[str], str]:
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(line):
        candidate = line[start : match.end(1)]
        if _is_boundary(candidate, line[match.end() :]):
            if candidate.strip():
                sentences.append(candidate.strip())
            start = match.end()
    return sentences, line[start:]


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


_ENDS_SENTENCE = re.compile(r"[.!?…][\"'”’»)\]]*$")


def model_input(source: str, *, final: bool) -> str:
    """What the model translates for a segment's ``source``. Text written with case is unchanged. Text
    without a single capital letter (a speech recognizer's) gets a capital first letter, as the models saw
    in training, and, like text all in capitals (a broadcast caption's; the engine restores its case), for
    a final a full stop if it has no sentence end: an uncased, unpunctuated segment is then translated as
    the sentence it stands for."""
    if not source or not is_caseless(source):
        return source
    text = source if is_all_caps(source) else source[0].upper() + source[1:]
    if final and text[-1:].isalnum() and not _ENDS_SENTENCE.search(text):
        text += "."
    return text
