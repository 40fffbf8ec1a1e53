"""Captions: WebVTT and SRT cues from timed final translations, and caption files read back into their
cues (to translate a file, cue timing kept). Pure formatting, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Cue:
    start: float  # seconds from the start of the session
    end: float
    text: str


def timestamp(seconds: float, separator: str = ".") -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"


def _clean(text: str) -> str:
    # A blank line would end the cue early; "-->" would be read as timing.
    return "\n".join(line for line in text.replace("-->", "→").splitlines() if line.strip()) or " "


def vtt_header() -> str:
    return "WEBVTT\n\n"


def vtt_cue(cue: Cue) -> str:
    return f"{timestamp(cue.start)} --> {timestamp(cue.end)}\n{_clean(cue.text)}\n\n"


def srt_cue(index: int, cue: Cue) -> str:
    return f"{index}\n{timestamp(cue.start, ',')} --> {timestamp(cue.end, ',')}\n{_clean(cue.text)}\n\n"


# Reading caption files -----------------------------------------------------------------------------

_BLANK_LINES = re.compile(r"((?:\r?\n)(?:[ \t]*\r?\n)+)")
_TIMING = re.compile(r"^\s*(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3}\s*-->\s*(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3}")


@dataclass(frozen=True)
class CueBlock:
    """One cue of a caption file: ``head`` (identifier and timing lines, as they were) and its text lines."""

    head: str
    lines: tuple[str, ...]
    newline: str = "\n"

    def with_lines(self, lines: list[str]) -> str:
        return self.newline.join([self.head, *lines])


class CaptionError(ValueError):
    """A file that is not the caption format it claims to be."""


def parse_captions(text: str, *, vtt: bool) -> list[str | CueBlock]:
    """The blocks of a WebVTT (``vtt``) or SRT file, in order: cues, and everything else (the header,
    ``NOTE``, ``STYLE`` and ``REGION`` blocks, the blank lines between blocks) as the text it was.
    Joining the blocks (a cue as ``cue.with_lines(cue.lines)``) gives the file back."""
    body = text.removeprefix("\ufeff")
    if vtt and not re.match(r"WEBVTT(?:[ \t]|\r?\n|$)", body):
        raise CaptionError("a WebVTT file starts with the line WEBVTT")
    newline = "\r\n" if "\r\n" in body else "\n"
    blocks: list[str | CueBlock] = [text[: len(text) - len(body)]] if len(body) != len(text) else []
    cues = 0
    for n, part in enumerate(_BLANK_LINES.split(body)):
        if n % 2:  # the blank lines between blocks
            blocks.append(part)
            continue
        lines = part.split(newline) if newline == "\r\n" else part.split("\n")
        timing = next((i for i, line in enumerate(lines) if _TIMING.match(line)), None)
        if timing is None or (vtt and lines[0].startswith(("NOTE", "STYLE", "REGION"))) or timing > 1:
            blocks.append(part)
            continue
        blocks.append(CueBlock(newline.join(lines[: timing + 1]), tuple(lines[timing + 1 :]), newline))
        cues += 1
    if not cues and body.strip() and not vtt:
        raise CaptionError("no cues found (an SRT cue is a number, a line 'start --> end', then its text)")
    return blocks


def wrap(text: str, lines: int) -> list[str]:
    """``text`` on ``lines`` lines of about equal length (fewer if it has fewer words)."""
    words = text.split()
    if lines <= 1 or len(words) <= 1:
        return [" ".join(words)]
    lines = min(lines, len(words))
    total = sum(len(w) for w in words) + len(words) - 1
    out: list[list[str]] = [[]]
    length = 0
    for i, word in enumerate(words):
        left = len(words) - i  # words still to place, this one included
        if (
            out[-1]
            and len(out) < lines
            and (length + len(word) / 2 > total * len(out) / lines or left < lines - len(out) + 1)
        ):
            out.append([])
        out[-1].append(word)
        length += len(word) + 1
    return [" ".join(line) for line in out]
