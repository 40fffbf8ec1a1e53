from translator.subtitles import Cue, srt_cue, timestamp, vtt_cue, vtt_header


def test_timestamps() -> None:
    assert timestamp(0) == "00:00:00.000"
    assert timestamp(3661.5) == "01:01:01.500"
    assert timestamp(59.9996, ",") == "00:01:00,000"
    assert timestamp(-1) == "00:00:00.000"


def test_vtt_and_srt() -> None:
    cues = [Cue(0.5, 2.0, "Ein Mann fährt Fahrrad."), Cue(2.5, 4.25, "Zwei Hunde\n\nspielen --> im Schnee.")]
    # What `translator stream --format vtt|srt` writes: the header once, then one cue per final.
    assert vtt_header() + "".join(vtt_cue(c) for c in cues) == (
        "WEBVTT\n\n"
        "00:00:00.500 --> 00:00:02.000\nEin Mann fährt Fahrrad.\n\n"
        "00:00:02.500 --> 00:00:04.250\nZwei Hunde\nspielen → im Schnee.\n\n"
    )
    srt = "".join(srt_cue(i, c) for i, c in enumerate(cues, start=1))
    assert srt.startswith("1\n00:00:00,500 --> 00:00:02,000\nEin Mann fährt Fahrrad.\n\n2\n00:00:02,500")


def test_empty_text_keeps_the_cue_well_formed() -> None:
    assert srt_cue(1, Cue(0, 1, "")) == "1\n00:00:00,000 --> 00:00:01,000\n \n\n"


def test_caption_files_read_back_into_their_blocks() -> None:
    from translator.subtitles import CueBlock, parse_captions

    srt = "\ufeff1\r\n00:00:01,000 --> 00:00:02,000\r\nHello\r\nthere\r\n\r\n"
    srt += "2\r\n00:00:03,000 --> 00:00:04,000\r\nBye\r\n"
    blocks = parse_captions(srt, vtt=False)
    cues = [b for b in blocks if isinstance(b, CueBlock)]
    assert [c.lines for c in cues] == [("Hello", "there"), ("Bye", "")]
    assert cues[0].head == "1\r\n00:00:01,000 --> 00:00:02,000"
    assert "".join(b if isinstance(b, str) else b.with_lines(list(b.lines)) for b in blocks) == srt


def test_wrap_balances_lines() -> None:
    from translator.subtitles import wrap

    assert wrap("Ein Mann fährt auf einem Fahrrad durch den Park", 2) == [
        "Ein Mann fährt auf einem",
        "Fahrrad durch den Park",
    ]
    assert wrap("Hallo", 3) == ["Hallo"] and wrap("a b", 5) == ["a", "b"] and wrap("", 2) == [""]
