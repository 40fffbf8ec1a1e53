"""translator.documents: files cut into texts to translate and put back together, format kept."""

from __future__ import annotations

import pytest

from translator.documents import MEDIA_TYPES, UnsupportedFormat, prepare
from translator.subtitles import CaptionError

SRT = (
    "1\n00:00:01,000 --> 00:00:02,500\nA man is riding\na bicycle.\n\n"
    "2\n00:00:03,000 --> 00:00:04,000\n- Hi.\n- <i>Hello</i> there.\n\n"
    "3\n00:00:05,000 --> 00:00:06,000\n♪\n"
)
VTT = (
    "WEBVTT - a title\n\nNOTE not a cue\n\nSTYLE\n::cue { color: yellow }\n\n"
    "intro\n00:01.000 --> 00:02.000 align:start line:0\n<v Bob>Hello there &amp; you</v>\n\n"
    "00:03.000 --> 00:04.500\nTwo dogs\nplay in the snow.\n"
)


def upper(texts: list[str]) -> list[str]:
    return [t.upper() for t in texts]


def timing_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "-->" in line]


def test_srt_keeps_numbers_timing_and_line_count() -> None:
    prepared = prepare("talk.srt", SRT)
    assert prepared.texts == ["A man is riding a bicycle.", "Hi.", "Hello there.", "Hello"]
    out = prepared.render(upper(prepared.texts))
    assert timing_lines(out) == timing_lines(SRT)
    assert out.startswith("1\n00:00:01,000 --> 00:00:02,500\nA MAN IS RIDING\nA BICYCLE.\n\n2\n")
    assert "- HI.\n- <i>HELLO</i> THERE.\n" in out and out.endswith("3\n00:00:05,000 --> 00:00:06,000\n♪\n")


def test_vtt_keeps_header_notes_styles_identifiers_and_settings() -> None:
    prepared = prepare("talk.vtt", VTT)
    assert prepared.texts == ["Hello there & you", "Two dogs play in the snow."]
    out = prepared.render(upper(prepared.texts))
    assert out.startswith("WEBVTT - a title\n\nNOTE not a cue\n\nSTYLE\n::cue { color: yellow }\n\nintro\n")
    assert "00:01.000 --> 00:02.000 align:start line:0\n<v Bob>HELLO THERE &amp; YOU</v>\n" in out
    assert timing_lines(out) == timing_lines(VTT) and out.endswith("TWO DOGS PLAY\nIN THE SNOW.\n")


def test_text_lines_and_html() -> None:
    text = "A dog runs.\n\n   An indented line. Two sentences.\r\nLast"
    prepared = prepare("notes.TXT", text)
    assert prepared.render(upper(prepared.texts)) == "A DOG RUNS.\n\n   AN INDENTED LINE. TWO SENTENCES.\r\nLAST"
    page = prepare("page.html", "<html><body><p>A <b>dog</b>.</p></body></html>")
    assert page.render(upper(page.texts)) == "<html><body><p>A <b>DOG</b>.</p></body></html>"


def test_errors() -> None:
    with pytest.raises(UnsupportedFormat, match=r"\.docx"):
        prepare("a.docx", "x")
    with pytest.raises(CaptionError, match="WEBVTT"):
        prepare("a.vtt", "00:01.000 --> 00:02.000\nHi\n")
    with pytest.raises(CaptionError, match="no cues"):
        prepare("a.srt", "just some text\n")
    assert set(MEDIA_TYPES) == {".txt", ".html", ".htm", ".srt", ".vtt"}
