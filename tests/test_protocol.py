import json

import pytest

from translator.protocol import (
    ClientMessage,
    Error,
    Final,
    Partial,
    Pong,
    ProtocolError,
    Ready,
    ViewerReady,
    encode,
    parse_client_message,
)


def test_valid_messages() -> None:
    assert parse_client_message('{"type": "append", "text": "Hello "}') == ClientMessage("append", "Hello ")
    assert parse_client_message('{"type": "replace", "text": ""}') == ClientMessage("replace", "")
    assert parse_client_message('{"type": "commit"}') == ClientMessage("commit")
    assert parse_client_message('{"type": "ping", "extra": 1}') == ClientMessage("ping")


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "invalid_json"),
        ("{", "invalid_json"),
        ("[" * 100_000, "invalid_json"),
        ('"text"', "invalid_message"),
        ("null", "invalid_message"),
        ('{"text": "x"}', "unknown_type"),
        ('{"type": "APPEND", "text": "x"}', "unknown_type"),
        ('{"type": "append"}', "invalid_text"),
        ('{"type": "replace", "text": null}', "invalid_text"),
        ('{"type": "append", "text": ["a"]}', "invalid_text"),
    ],
)
def test_invalid_messages(raw: str, code: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_client_message(raw)
    assert info.value.code == code
    assert str(info.value)


def test_lone_surrogates_become_replacement_characters() -> None:
    message = parse_client_message('{"type": "append", "text": "a\\ud800b"}')
    assert message.text == "a\ufffdb"
    message.text.encode("utf-8")


def test_error_message_shape() -> None:
    assert Error("x", "y", segment=3).to_dict() == {"type": "error", "code": "x", "message": "y", "segment": 3}
    assert Error("x", "y").to_dict() == {"type": "error", "code": "x", "message": "y"}


def test_client_messages_round_trip() -> None:
    for message in (ClientMessage("append", "a "), ClientMessage("replace", ""), ClientMessage("commit")):
        assert parse_client_message(json.dumps(message.to_dict())) == message
    assert ClientMessage("commit").to_dict() == {"type": "commit"}


def test_server_messages_are_todays_json() -> None:
    """Keys, their order and the optional fields are the wire format: these strings are what clients get."""
    ready = Ready("en", "de", "en-de", max_text_chars=10000, partials=True, max_messages_per_second=1000)
    assert ready.to_json() == (
        '{"type": "ready", "source": "en", "target": "de", "model": "en-de", "protocol": 1, '
        '"max_text_chars": 10000, "partials": true, "max_messages_per_second": 1000}'
    )
    with_session = Ready("en", "de", "en-de", 10, False, 5, session="talk")
    assert list(with_session.to_dict())[-1] == "session" and with_session.to_dict()["session"] == "talk"
    assert ViewerReady("talk").to_json() == '{"type": "ready", "role": "viewer", "session": "talk", "protocol": 1}'
    assert Pong().to_json() == '{"type": "pong"}'
    assert Partial(0, "A man", "Ein", " Mann").to_json() == (
        '{"type": "partial", "segment": 0, "source": "A man", "stable": "Ein", "unstable": " Mann"}'
    )
    assert Final(1, "Two.", "Zwei.", False, 7.349).to_json() == (
        '{"type": "final", "segment": 1, "source": "Two.", "text": "Zwei.", "cached": false, "latency_ms": 7.3}'
    )
    assert Final(1, "Two.", "", False, 1.0, failed=True).to_dict()["failed"] is True
    assert "failed" not in Final(1, "Two.", "Zwei.", True, 1.0).to_dict()
    assert Error("translation_failed", "no", segment=2).to_json() == (
        '{"type": "error", "code": "translation_failed", "message": "no", "segment": 2}'
    )


def test_encode_keeps_non_ascii_text() -> None:
    assert encode(Partial(0, "Straße", "Straße", "")) == Partial(0, "Straße", "Straße", "").to_json()
    assert "ß" in encode({"type": "final", "text": "Straße"})


def test_ack_and_the_resume_fields() -> None:
    from translator.protocol import ResumeInfo

    assert parse_client_message('{"type": "ack", "segment": 3}') == ClientMessage("ack", segment=3)
    assert ClientMessage("ack", segment=-1).to_dict() == {"type": "ack", "segment": -1}
    for bad in ('{"type": "ack"}', '{"type": "ack", "segment": true}', '{"type": "ack", "segment": -2}'):
        with pytest.raises(ProtocolError) as info:
            parse_client_message(bad)
        assert info.value.code == "invalid_segment"
    ready = Ready("en", "de", "en-de", 100, True, 10, resume=ResumeInfo("TOKEN", 60.0))
    assert ready.to_dict()["resume"] == "TOKEN" and ready.to_dict()["resume_seconds"] == 60
    assert "resumed" not in ready.to_dict() and "resume" not in Ready("en", "de", "m", 1, True, 1).to_dict()
    resumed = ResumeInfo("T", 1.5, resumed=True, segment=3, received=17, open_text_chars=12).to_dict()
    assert resumed == {
        "resume": "T",
        "resume_seconds": 1.5,
        "resumed": True,
        "segment": 3,
        "received": 17,
        "open_text_chars": 12,
    }
    error = Error("resume_failed", "cannot resume", reason="expired").to_dict()
    assert error == {"type": "error", "code": "resume_failed", "message": "cannot resume", "reason": "expired"}


def test_detected_message() -> None:
    from translator.protocol import Detected

    message = Detected("en", 0.98765, "en-de")
    assert message.to_dict() == {"type": "detected", "language": "en", "confidence": 0.988, "model": "en-de"}
    assert message.to_json() == '{"type": "detected", "language": "en", "confidence": 0.988, "model": "en-de"}'
