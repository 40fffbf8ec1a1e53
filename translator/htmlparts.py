"""HTML cut into the pieces translator.markup works with: the standard library's parser, every token with
its raw text (so that what is not translated comes back byte for byte), block boundaries, verbatim
elements, atoms and the tags that only wrap them. Pure: no model, no I/O."""

from __future__ import annotations

import html
from dataclasses import dataclass
from html.parser import HTMLParser

from translator.align import atom_ranges

INLINE = frozenset(
    "a abbr acronym b bdi bdo big cite data del dfn em font i ins label mark q rb rp rt ruby s small span "
    "strike strong sub sup time tt u var v lang c".split()
)
INLINE_VOID = frozenset(("img", "wbr", "input"))
VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
# Kept verbatim with their content: inline ones stand in the sentence as atoms, the others cut it.
VERBATIM_INLINE = frozenset(("code", "kbd", "samp"))
VERBATIM_BLOCK = frozenset(("pre", "script", "style", "textarea", "template", "svg", "math"))


def _is_inline(tag: str) -> bool:
    return tag in INLINE or tag.startswith("c.")  # WebVTT's <c.class>


def _untranslated(attrs: list[tuple[str, str | None]]) -> bool:
    for key, value in attrs:
        if key == "translate" and (value or "").strip().lower() == "no":
            return True
        if key == "class" and "notranslate" in (value or "").split():
            return True
    return False


class _Collector(HTMLParser):
    """Every token with where it starts in the source (a token's raw text runs to the next token)."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=False)
        self.tokens: list[tuple[str, str, list[tuple[str, str | None]], int, str]] = []
        self._lines = [0]
        for line in source.split("\n")[:-1]:
            self._lines.append(self._lines[-1] + len(line) + 1)

    def _add(self, kind: str, tag: str = "", attrs: list[tuple[str, str | None]] | None = None, data: str = "") -> None:
        line, column = self.getpos()
        self.tokens.append((kind, tag, attrs or [], self._lines[line - 1] + column, data))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._add("start", tag, attrs)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._add("startend", tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        self._add("end", tag)

    def handle_data(self, data: str) -> None:
        self._add("text", data=data)

    def handle_entityref(self, name: str) -> None:
        self._add("entity", data=f"&{name};")

    def handle_charref(self, name: str) -> None:
        self._add("entity", data=f"&#{name};")

    def handle_comment(self, data: str) -> None:
        self._add("other")

    def handle_decl(self, decl: str) -> None:
        self._add("other")

    def handle_pi(self, data: str) -> None:
        self._add("other")

    def unknown_decl(self, data: str) -> None:
        self._add("other")


@dataclass
class Item:
    kind: str  # "text", "open", "close" or "atom"
    raw: str
    text: str = ""  # a text's decoded characters; an atom's visible text
    name: str = ""
    partner: int = -1  # the matching open or close tag in the unit
    glued: bool = False  # a white-space entity: no space of its own on either side


def split(source: str) -> tuple[list[str | list[Item]], dict[str, str]]:
    """``source`` as pieces kept verbatim (block tags, verbatim elements, white space between blocks) and
    units (the items between block boundaries); and the entities its text used, by the character they stand for."""
    collector = _Collector(source)
    collector.feed(source)
    collector.close()
    tokens = collector.tokens
    pieces: list[str | list[Item]] = []
    unit: list[Item] = []
    entities: dict[str, str] = {}

    def cut() -> None:
        nonlocal unit
        if unit:
            pieces.append(unit)
            unit = []

    verbatim: list[str] = []
    verbatim_tag, depth, verbatim_inline = "", 0, False
    for n, (kind, tag, attrs, start, data) in enumerate(tokens):
        raw = source[start : tokens[n + 1][3] if n + 1 < len(tokens) else len(source)]
        if depth:
            verbatim.append(raw)
            if tag == verbatim_tag and kind in ("start", "end"):
                depth += 1 if kind == "start" else -1
            if not depth:
                if verbatim_inline:
                    unit.append(Item("atom", "".join(verbatim)))
                else:
                    pieces.append("".join(verbatim))
            continue
        if kind in ("start", "startend"):
            inline = _is_inline(tag) or tag in INLINE_VOID or tag in VERBATIM_INLINE
            if tag in VERBATIM_INLINE or tag in VERBATIM_BLOCK or _untranslated(attrs):
                if (kind == "startend" or tag in VOID) and inline:
                    unit.append(Item("atom", raw))
                elif kind == "startend" or tag in VOID:
                    cut()
                    pieces.append(raw)
                else:
                    if not inline:
                        cut()
                    verbatim, verbatim_tag, depth, verbatim_inline = [raw], tag, 1, inline
            elif _is_inline(tag) and kind == "start":
                unit.append(Item("open", raw, name=tag))
            elif inline:
                unit.append(Item("atom", raw))
            else:
                cut()
                pieces.append(raw)
        elif kind == "end":
            if _is_inline(tag):
                unit.append(Item("close", raw, name=tag))
            elif tag in VERBATIM_INLINE or tag in INLINE_VOID:
                unit.append(Item("atom", raw))
            else:
                cut()
                pieces.append(raw)
        elif kind == "text":
            if data and raw.startswith(data):
                unit.append(Item("text", data, data))
                if len(raw) > len(data):  # something the parser skipped: kept as it was
                    unit.append(Item("atom", raw[len(data) :]))
            else:
                unit.append(Item("atom", raw))
        elif kind == "entity":
            reference = data if raw.startswith(data) else data[:-1]
            decoded = html.unescape(reference)
            if decoded == reference:  # not an entity the parser knows: kept as it was
                unit.append(Item("atom", raw))
            elif decoded.isspace():
                unit.append(Item("atom", raw, " ", glued=True))
            else:
                unit.append(Item("text", reference, decoded))
                if len(decoded) == 1:
                    entities.setdefault(decoded, reference)
                if len(raw) > len(reference):
                    unit.append(Item("atom", raw[len(reference) :]))
        elif unit:
            unit.append(Item("atom", raw))
        else:
            pieces.append(raw)
    if depth:  # an element left open at the end: the rest is verbatim
        unit.append(Item("atom", "".join(verbatim))) if verbatim_inline else pieces.append("".join(verbatim))
    cut()
    return pieces, entities


def pair(items: list[Item]) -> None:
    open_tags: list[int] = []
    for i, item in enumerate(items):
        item.partner = -1
        if item.kind == "open":
            open_tags.append(i)
        elif item.kind == "close":
            for depth in range(len(open_tags) - 1, -1, -1):
                if items[open_tags[depth]].name == item.name:
                    item.partner, items[open_tags[depth]].partner = open_tags[depth], i
                    del open_tags[depth:]
                    break


def merge_atoms(items: list[Item]) -> list[Item]:
    """Cut text items at the atoms in their text, then make each atom (with the tags that only wrap it)
    one atom item."""
    text = "".join(i.text for i in items if i.kind == "text")
    ranges = atom_ranges(text)
    if not ranges:
        return items
    cuts = {p for r in ranges for p in r}
    split: list[Item] = []
    offset = 0
    for item in items:
        if item.kind == "text" and item.raw == item.text:
            inner = sorted(c - offset for c in cuts if offset < c < offset + len(item.text))
            for a, b in zip([0, *inner], [*inner, len(item.text)], strict=True):
                split.append(Item("text", item.text[a:b], item.text[a:b]))
        else:
            split.append(item)
        offset += len(item.text) if item.kind == "text" else 0
    items, starts, offset = split, [], 0
    for item in items:
        starts.append(offset)
        offset += len(item.text) if item.kind == "text" else 0
    pair(items)
    groups: list[tuple[int, int]] = []
    for a, b in ranges:
        inside = [
            i
            for i, item in enumerate(items)
            if (item.kind == "text" and starts[i] < b and starts[i] + len(item.text) > a)
            or (item.kind != "text" and a < starts[i] < b)
        ]
        if not inside:
            continue
        lo, hi = inside[0], inside[-1] + 1
        changed = True
        while changed:
            changed = False
            for k in range(lo, hi):
                partner = items[k].partner
                if partner != -1 and not lo <= partner < hi:
                    lo, hi, changed = min(lo, partner), max(hi, partner + 1), True
            while lo > 0 and hi < len(items) and items[lo - 1].kind == "open" and items[lo - 1].partner == hi:
                lo, hi, changed = lo - 1, hi + 1, True
        while groups and lo < groups[-1][1]:  # it grew over earlier atoms: one atom
            lo, hi = min(lo, groups[-1][0]), max(hi, groups[-1][1])
            groups.pop()
        groups.append((lo, hi))
    out: list[Item] = []
    last = 0
    for lo, hi in groups:
        out.extend(items[last:lo])
        group = items[lo:hi]
        out.append(Item("atom", "".join(i.raw for i in group), "".join(i.text for i in group if i.kind == "text")))
        last = hi
    return out + items[last:]
