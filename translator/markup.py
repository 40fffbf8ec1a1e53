"""HTML translated with its markup kept: pure, no model and no I/O.

``parse(html)`` reads a fragment (or a whole document) with the standard library's HTML parser and cuts its
text into *units*, the text between block boundaries (``<p>``, ``<div>``, ``<li>``, ``<br>``, …). Inline
elements (``<a>``, ``<span>``, ``<b>``, …) do not cut, so a sentence that runs through a link is translated
as one sentence. ``Document.texts`` are what to translate: each unit's plain text, then the text of each
inline element inside a unit (to find where the element's words went). ``Document.render(translations)``
gives the HTML back with every tag (attributes and all), comment and entity outside the translated text
byte for byte as it was, in the same order, each inline element around the words that translate its words.

Never sent to the model, kept verbatim: ``<code>``, ``<pre>``, ``<script>``, ``<style>`` (and ``kbd``,
``samp``, ``textarea``, ``template``, ``svg``, ``math``) with their content; elements marked
``translate="no"`` or ``class="notranslate"``; and *atoms* in the text: URLs, e-mail addresses,
@mentions, #hashtags, emoji and white-space entities such as ``&nbsp;``. An inline element that holds
nothing but an atom (a Mastodon mention, ``<a …>@<span>user</span></a>``) is kept whole.

Where a tag goes in the translation: where the element's own translation is found in the unit's
translation; otherwise words that are the same on both sides (names, numbers, punctuation) anchor the
positions and the rest is interpolated between them. Translated text is escaped, and a character that the
source wrote as an entity (``&#39;``, ``&quot;``) is written as that entity again.
"""

from __future__ import annotations

import bisect
import html
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from translator.align import TOKEN, boundary_map, find_run, tokens
from translator.htmlparts import Item, merge_atoms, pair, split


@dataclass
class _Marker:
    item: Item
    boundary: int  # between source tokens boundary-1 and boundary
    space_before: bool = True
    space_after: bool = True
    partner: int = -1  # index of the matching marker
    position: int = 0  # between target tokens


@dataclass
class _Unit:
    items: list[Item]
    text: str = ""  # what the model translates ("" : nothing to translate, kept verbatim)
    source: str = ""  # the unit's text as it is in the source (white space and all)
    spans: list[tuple[int, int]] = field(default_factory=list)  # its tokens, in source
    tokens: list[str] = field(default_factory=list)
    markers: list[_Marker] = field(default_factory=list)
    lead: str = ""
    trail: str = ""
    index: int = -1  # of its text in Document.texts
    hints: list[tuple[int, int]] = field(default_factory=list)  # (open marker, index in Document.texts)


class Document:
    """A parsed HTML text: ``texts`` to translate, then ``render`` with their translations."""

    def __init__(self, pieces: list[str | _Unit], entities: dict[str, str], escape: bool) -> None:
        self._pieces, self._entities, self._escape = pieces, entities, escape
        self.texts: list[str] = []
        self.units = [p for p in pieces if isinstance(p, _Unit)]
        for unit in self.units:
            _prepare(unit)
            if unit.text:
                unit.index = len(self.texts)
                self.texts.append(unit.text)
        for unit in self.units:
            for opener, (start, end) in _element_spans(unit):
                hint = " ".join(unit.tokens[start:end])
                if any(c.isalpha() for c in hint):
                    unit.hints.append((opener, len(self.texts)))
                    self.texts.append(" ".join(unit.source[unit.spans[start][0] : unit.spans[end - 1][1]].split()))

    @property
    def text(self) -> str:
        """The text that would be translated, one unit a line (for language identification)."""
        return "\n".join(u.text for u in self.units if u.text)

    def render(self, translations: Sequence[str]) -> str:
        if len(translations) != len(self.texts):
            raise ValueError(f"{len(self.texts)} translations expected, {len(translations)} given")
        out = []
        for piece in self._pieces:
            if isinstance(piece, str):
                out.append(piece)
            elif not piece.text:
                out.extend(item.raw for item in piece.items)
            else:
                hints = {opener: translations[i] for opener, i in piece.hints}
                out.append(self._render(piece, translations[piece.index], hints))
        return "".join(out)

    def _escaped(self, text: str) -> str:
        if not self._escape:
            return text
        return "".join(self._entities.get(c) or html.escape(c, quote=False) for c in text)

    def _render(self, unit: _Unit, translation: str, hints: dict[int, str]) -> str:
        spans = [m for m in TOKEN.finditer(translation)]
        target = [m.group() for m in spans]
        gaps = [""] + [" " if translation[a.end() : b.start()] else "" for a, b in itertools.pairwise(spans)]
        _place(unit, target, gaps, hints)
        by_position: dict[int, list[_Marker]] = {}
        for marker in unit.markers:
            by_position.setdefault(marker.position, []).append(marker)
        out: list[str] = []
        last = ""  # the last character written ("" at the start of the unit)

        def write(text: str) -> None:
            nonlocal last
            if text:
                out.append(text)
                last = text[-1]

        def space() -> None:
            if last and not last.isspace():
                write(" ")

        write(unit.lead)
        for k in range(len(target) + 1):
            group = by_position.get(k, [])
            split = 0  # closing tags stay with the word before them
            while k > 0 and split < len(group) and group[split].item.kind == "close":
                split += 1
            for marker in group[:split]:
                write(marker.item.raw)
            right = group[split:]
            if k > 0:
                if right and right[0].item.kind == "atom":
                    if right[0].space_before:
                        space()
                elif k < len(target) and gaps[k]:
                    space()
            pending = False  # an atom wants a space after it
            for marker in right:
                if pending and marker.item.kind != "close":
                    space()
                write(marker.item.raw)
                pending = marker.item.kind == "atom" and marker.space_after
            if k < len(target):
                if pending:
                    space()
                write(self._escaped(target[k]))
        write(unit.trail)
        return "".join(out)


def parse(source: str, *, escape: bool = True) -> Document:
    """Parse HTML (a fragment or a document). ``escape=False`` writes translated text unescaped (SRT cues)."""
    pieces, entities = split(source)
    return Document([p if isinstance(p, str) else _Unit(p) for p in pieces], entities, escape)


def translate_html(source: str, translate: Callable[[list[str]], list[str]], *, escape: bool = True) -> str:
    """``source`` translated by ``translate`` (texts in, their translations out, in order), markup kept."""
    document = parse(source, escape=escape)
    return document.render(translate(document.texts) if document.texts else [])


# Preparing a unit ---------------------------------------------------------------------------------


def _prepare(unit: _Unit) -> None:
    unit.items = items = merge_atoms(unit.items)
    pair(items)
    parts: list[str] = []
    offsets: list[int] = []  # each marker's offset in the text
    markers: list[_Marker] = []
    index_of: dict[int, int] = {}
    length = 0
    for i, item in enumerate(items):
        if item.kind == "text":
            parts.append(item.text)
            length += len(item.text)
            continue
        index_of[i] = len(markers)
        markers.append(_Marker(item, 0))
        offsets.append(length)
        if item.kind == "atom":
            parts.append(" ")
            length += 1
    text = "".join(parts)
    if not any(c.isalpha() for c in text):
        return
    unit.source = text
    unit.spans = spans = [m.span() for m in TOKEN.finditer(text)]
    unit.tokens = [text[a:b] for a, b in spans]
    ends = [b for _, b in spans]
    for marker, offset in zip(markers, offsets, strict=True):
        before = bisect.bisect_right(ends, offset)
        inside = before < len(spans) and spans[before][0] < offset
        marker.boundary = before + 1 if inside and marker.item.kind == "close" else before
        if marker.item.kind == "atom":
            marker.space_before = not marker.item.glued and (offset == 0 or text[offset - 1].isspace())
            marker.space_after = not marker.item.glued and (offset + 1 >= len(text) or text[offset + 1].isspace())
    for i, item in enumerate(items):
        if item.kind == "open" and item.partner != -1:
            markers[index_of[i]].partner = index_of[item.partner]
    unit.markers = markers
    unit.text = " ".join(text.split())
    first, last = items[0], items[-1]
    if first.kind == "text" and first.raw == first.text:
        unit.lead = first.text[: len(first.text) - len(first.text.lstrip())]
    if last.kind == "text" and last.raw == last.text:
        unit.trail = last.text[len(last.text.rstrip()) :]


def _element_spans(unit: _Unit) -> list[tuple[int, tuple[int, int]]]:
    """Each inline element's words, as (its open marker, source token range), for those that hold some of
    the unit's words but not all."""
    spans = []
    for i, marker in enumerate(unit.markers):
        if marker.item.kind == "open" and marker.partner != -1:
            start, end = marker.boundary, unit.markers[marker.partner].boundary
            if 0 < end - start < len(unit.tokens):
                spans.append((i, (start, end)))
    return spans


# Placing the markers in the translation -----------------------------------------------------------


def _place(unit: _Unit, target: list[str], gaps: list[str], hints: dict[int, str]) -> None:
    m = len(target)
    mapped = boundary_map(unit.tokens, target)
    for marker in unit.markers:
        marker.position = mapped(marker.boundary)
        if marker.item.kind != "close":  # what opens, or stands alone, goes after punctuation glued to a word
            while 0 < marker.position < m and not gaps[marker.position] and not target[marker.position][:1].isalnum():
                marker.position += 1
    for opener, hint in hints.items():
        found = find_run(target, tokens(hint), unit.markers[opener].position)
        if found is not None:
            unit.markers[opener].position, unit.markers[unit.markers[opener].partner].position = found
    _monotonic(unit.markers)
    for marker in unit.markers:  # an element that held words holds at least one in the translation
        closer = unit.markers[marker.partner] if marker.partner != -1 else None
        if closer is not None and closer.boundary > marker.boundary and closer.position == marker.position:
            if closer.position < m:
                closer.position += 1
            elif marker.position > 0:
                marker.position -= 1
    _monotonic(unit.markers)


def _monotonic(markers: list[_Marker]) -> None:
    for previous, marker in itertools.pairwise(markers):
        marker.position = max(marker.position, previous.position)
