"""Word alignment between a text and its translation, and the atoms of a text that are never translated
(URLs, e-mail addresses, @mentions, #hashtags, emoji). Pure: no model, no I/O; used by translator.markup to
put inline tags back into translated text."""

from __future__ import annotations

import bisect
import difflib
import re
import unicodedata
from collections.abc import Callable, Sequence

_LONG = 2000  # tokens
_WINDOW = 50  # tokens
# Words (with inner apostrophes and hyphens) and single punctuation marks.
TOKEN = re.compile(r"\w+(?:['’-]\w+)*|[^\w\s]")
# Atoms in the text: never translated, kept where they were.
ATOM = re.compile(
    r"(?:https?://|www\.)[^\s<>\"]*[^\s<>\".,;:!?)\]}'’”]"  # a URL, not its closing punctuation
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # an e-mail address
    r"|@\w[\w.-]*(?<![.-])(?:@[\w-]+(?:\.[\w-]+)+)?"  # @user, @user@instance
    r"|#\w+"  # a hashtag
    r"|<[\d:.]+>"  # a WebVTT timestamp
)
_TOKEN = re.compile(r"\w+(?:['’-]\w+)*|[^\w\s]")
_EMOJI_JOINERS = frozenset("\u200d\ufe0e\ufe0f\u20e3")


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


def atom_ranges(text: str) -> list[tuple[int, int]]:
    """The atoms of ``text`` as (start, end) ranges, sorted, not overlapping."""
    ranges = [m.span() for m in ATOM.finditer(text)]
    i = 0
    while i < len(text):  # runs of emoji and other symbols
        if unicodedata.category(text[i]) in ("So", "Cs", "Co"):
            j = i + 1
            while j < len(text) and (
                unicodedata.category(text[j]) in ("So", "Sk", "Cs", "Co", "Mn") or text[j] in _EMOJI_JOINERS
            ):
                j += 1
            ranges.append((i, j))
            i = j
        else:
            i += 1
    merged: list[tuple[int, int]] = []
    for a, b in sorted(ranges):
        if merged and a < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def boundary_map(source: Sequence[str], target: Sequence[str]) -> Callable[[int], int]:
    """Maps a boundary between source tokens (0 … len(source)) to one between target tokens: tokens that are
    the same on both sides (case aside) anchor it, and boundaries between anchors are interpolated."""
    n, m = len(source), len(target)
    anchors = {(0, 0), (n, m)}
    # Long texts (a whole file's paragraph): the library's heuristic for frequent tokens keeps it fast.
    matcher = difflib.SequenceMatcher(
        None, [t.casefold() for t in source], [t.casefold() for t in target], autojunk=m > _LONG
    )
    for a, b, size in matcher.get_matching_blocks():
        anchors.update((a + d, b + d) for d in range(size + 1))
    ordered = sorted(anchors)  # increasing in both: matching blocks come in order

    def mapped(boundary: int) -> int:
        lo = ordered[bisect.bisect_right(ordered, (boundary, m + 1)) - 1]
        hi = ordered[min(bisect.bisect_left(ordered, (boundary, -1)), len(ordered) - 1)]
        if hi[0] <= lo[0]:
            return lo[1]
        return lo[1] + int((boundary - lo[0]) * (hi[1] - lo[1]) / (hi[0] - lo[0]) + 0.5)

    return mapped


def find_run(tokens: Sequence[str], wanted: Sequence[str], near: int) -> tuple[int, int] | None:
    """Where ``wanted`` (without punctuation at its ends) is in ``tokens``, case aside: the occurrence
    nearest ``near``; else its longest run found there, if that is at least half of it. Searched near
    ``near`` only (a long text has the same words in many places)."""
    wanted = [t.casefold() for t in wanted]
    while wanted and not wanted[0][:1].isalnum():
        wanted = wanted[1:]
    while wanted and not wanted[-1][:1].isalnum():
        wanted = wanted[:-1]
    if not wanted:
        return None
    size = len(wanted)
    first = max(0, near - 4 * size - _WINDOW)
    window = [t.casefold() for t in tokens[first : near + 5 * size + _WINDOW]]
    exact = [first + i for i in range(len(window) - size + 1) if window[i : i + size] == wanted]
    if exact:
        start = min(exact, key=lambda i: abs(i - near))
        return start, start + size
    match = difflib.SequenceMatcher(None, window, wanted, autojunk=False).find_longest_match(0, len(window), 0, size)
    if match.size and 2 * match.size >= size and any(t[:1].isalnum() for t in window[match.a : match.a + match.size]):
        return first + match.a, first + match.a + match.size
    return None
