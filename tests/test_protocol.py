import pytest

from translator.protocol import ClientMessage, ProtocolError, error_message, parse_client_message


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
    assert error_message("x", "y", segment=3) == {"type": "error", "code": "x", "message": "y", "segment": 3}
