"""Caption output: WebVTT and SRT cues from timed final translations. Pure formatting, no I/O."""

from __future__ import annotations

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
