"""Files to translate (plain text, HTML, SRT, WebVTT): each cut into the texts a model translates, and put
back together around their translations. Pure: no model and no I/O.

``prepare(filename, text)`` gives an object with ``texts`` (to translate, in order) and
``render(translations)`` (the file again). Plain text: each line on its own (a line may hold several
sentences), empty lines and indentation kept. HTML: ``translator.markup``. Captions: every block but the
cues' text stays as it was (header, notes, styles, cue identifiers, timing and settings); a cue's lines are
translated together as one text and wrapped back onto as many lines; cues whose lines all start with
``-`` (two speakers) are translated line by line; tags in a cue (``<i>``, ``<v Name>``) are kept by
``translator.markup``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath
from typing import Protocol

from translator.markup import parse as parse_html
from translator.subtitles import CueBlock, parse_captions, wrap

# The file types served, by extension, with their media types.
MEDIA_TYPES = {
    ".txt": "text/plain; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".srt": "application/x-subrip; charset=utf-8",
    ".vtt": "text/vtt; charset=utf-8",
}


class UnsupportedFormat(ValueError):
    pass


class Prepared(Protocol):
    texts: list[str]

    def render(self, translations: Sequence[str]) -> str: ...


def extension(filename: str) -> str:
    return PurePath(filename).suffix.lower()


def prepare(filename: str, text: str) -> Prepared:
    """The texts of a file to translate (ValueError: a format not served, or a malformed caption file)."""
    kind = extension(filename)
    if kind == ".txt":
        return _Lines(text)
    if kind in (".html", ".htm"):
        return parse_html(text)
    if kind in (".srt", ".vtt"):
        return _Captions(text, vtt=kind == ".vtt")
    raise UnsupportedFormat(f"file format {kind or '(none)'} is not supported; send {', '.join(MEDIA_TYPES)}")


class _Lines:
    def __init__(self, text: str) -> None:
        self._lines = text.splitlines(keepends=True)
        self.texts = [line.strip() for line in self._lines if line.strip()]

    def render(self, translations: Sequence[str]) -> str:
        given = iter(translations)
        out = []
        for line in self._lines:
            body = line.rstrip("\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029")
            if body.strip():
                out.append(body[: len(body) - len(body.lstrip())] + next(given) + line[len(body) :])
            else:
                out.append(line)
        return "".join(out)


class _Piece:
    """One text of a cue: plain, or with tags (translated by translator.markup)."""

    def __init__(self, text: str, *, escape: bool, prefix: str = "") -> None:
        self.source, self.prefix = text, prefix
        self._document = parse_html(text, escape=escape) if "<" in text or (escape and "&" in text) else None
        if self._document is not None:
            self.texts = self._document.texts
        else:
            self.texts = [text] if any(c.isalpha() for c in text) else []

    def render(self, translations: Sequence[str]) -> str:
        if self._document is not None:
            return self._document.render(translations)
        return translations[0] if translations else self.source


class _Captions:
    def __init__(self, text: str, *, vtt: bool) -> None:
        self._blocks = parse_captions(text, vtt=vtt)
        self.texts: list[str] = []
        # For each cue: its pieces (one, or one per speaker line), the lines it had, its trailing empty lines.
        self._cues: list[tuple[list[_Piece], int, int, bool]] = []
        for block in self._blocks:
            if not isinstance(block, CueBlock):
                continue
            lines = list(block.lines)
            empty = 0
            while lines and not lines[-1].strip():
                lines.pop()
                empty += 1
            speakers = len(lines) > 1 and all(line.lstrip().startswith("-") for line in lines)
            if speakers:  # "- " stays in front of each line
                sources = [(line[: len(line) - len(line.lstrip("-– \t"))], line.lstrip("-– \t")) for line in lines]
            else:
                sources = [("", " ".join(line.strip() for line in lines))]
            pieces = [_Piece(source.strip(), escape=vtt, prefix=dash) for dash, source in sources]
            self._cues.append((pieces, len(lines), empty, speakers))
            for piece in pieces:
                self.texts.extend(piece.texts)

    def render(self, translations: Sequence[str]) -> str:
        out: list[str] = []
        position = 0
        cues = iter(self._cues)
        for block in self._blocks:
            if not isinstance(block, CueBlock):
                out.append(block)
                continue
            pieces, count, empty, speakers = next(cues)
            rendered = []
            for piece in pieces:
                rendered.append(piece.prefix + piece.render(translations[position : position + len(piece.texts)]))
                position += len(piece.texts)
            if speakers or not rendered:
                lines = rendered
            elif "<" in rendered[0]:
                lines = [rendered[0]]  # wrapping could cut a tag
            else:
                lines = wrap(rendered[0], count)
            out.append(block.with_lines([*lines, *[""] * empty]))
        return "".join(out)
