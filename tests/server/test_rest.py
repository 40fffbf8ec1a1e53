"""LibreTranslate-compatible REST, health, readiness and metrics against a real server process."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest

from tests.conftest import Server, metric, post_json, request


def test_translate_a_string(server: Server) -> None:
    status, body = post_json(
        server, {"q": "A man is riding a bicycle.", "source": "en", "target": "de", "format": "text"}
    )
    assert status == 200
    assert isinstance(body["translatedText"], str) and body["translatedText"]


def test_translate_a_list_keeps_order_and_length(server: Server) -> None:
    q = ["A dog runs.", "", "Two women are talking. They laugh.", "A dog runs."]
    status, body = post_json(server, {"q": q, "source": "en", "target": "de"})
    assert status == 200
    out = body["translatedText"]
    assert isinstance(out, list) and len(out) == 4
    assert out[1] == "" and out[0] == out[3] and out[2]


def test_form_fields_and_multipart_work_like_libretranslate(server: Server) -> None:
    form = urllib.parse.urlencode({"q": "Ein Hund läuft.", "source": "de", "target": "en", "api_key": ""}).encode()
    status, body, _ = request(server, "/translate", form, "application/x-www-form-urlencoded")
    assert status == 200 and body["translatedText"]
    boundary = "xYzBoUnDaRy"
    parts = (
        "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
            for k, v in {"q": "Ein Hund läuft.", "source": "de", "target": "en"}.items()
        )
        + f"--{boundary}--\r\n"
    )
    status, multipart, _ = request(server, "/translate", parts.encode(), f"multipart/form-data; boundary={boundary}")
    assert status == 200 and multipart["translatedText"] == body["translatedText"]


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"source": "en", "target": "de"}, 400, "missing q"),
        ({"q": "x", "target": "de"}, 400, "missing source"),
        ({"q": "x", "source": "en"}, 400, "missing target"),
        ({"q": "x", "source": "en", "target": "xx"}, 400, "available pairs"),
        ({"q": "x", "source": "auto", "target": "xx"}, 400, "not supported as a target language"),
        ({"q": "x", "source": "en", "target": "de", "format": "markdown"}, 400, "format is not supported"),
        ({"q": "x", "source": "en", "target": "de", "alternatives": "many"}, 400, "not a number"),
        ({"q": "x", "source": "en", "target": "de", "alternatives": 4}, 400, "must be <= 3"),
        ({"q": ["ok", 3], "source": "en", "target": "de"}, 400, "list of strings"),
        ({"q": "x" * 10_001, "source": "en", "target": "de"}, 400, "request (10001) exceeds text limit (10000)"),
    ],
)
def test_errors_are_400_with_an_error_field(server: Server, data: dict[str, Any], status: int, message: str) -> None:
    got_status, body = post_json(server, data)
    assert got_status == status
    assert message in body["error"]


def test_malformed_bodies(server: Server) -> None:
    status, body, _ = request(server, "/translate", b"{broken", "application/json")
    assert status == 400 and "Invalid JSON" in body["error"]
    status, body, _ = request(server, "/translate", b"[1]", "application/json")
    assert status == 400 and "object" in body["error"]
    status, body, _ = request(server, "/translate", b"<q>x</q>", "application/xml")
    assert status == 415 and "content type" in body["error"]
    status, _, _ = request(server, "/translate", method="GET")
    assert status == 405


def test_languages(server: Server) -> None:
    status, body, _ = request(server, "/languages")
    assert status == 200
    by_code = {lang["code"]: lang for lang in body}
    assert by_code["en"] == {"code": "en", "name": "English", "targets": ["de"]}
    assert by_code["de"]["targets"] == ["en"]


def test_health_and_readiness(server: Server) -> None:
    status, body, _ = request(server, "/healthz")
    assert status == 200 and body == {"status": "ok"}
    status, body, _ = request(server, "/readyz")
    assert status == 200 and body["status"] == "ready" and "en-de" in body["pairs"]


def test_metrics_count_translations_and_cache_hits(server: Server) -> None:
    _, before, ctype = request(server, "/metrics")
    assert ctype.startswith("text/plain")
    for name in (
        "translator_connections_active",
        "translator_cache_hits_total",
        "translator_batch_size",
        "translator_final_latency_seconds",
    ):
        assert f"# TYPE {name}" in before
    sentence = "A boy in a yellow shirt is jumping over a fence."
    for _ in range(2):
        assert post_json(server, {"q": sentence, "source": "en", "target": "de"})[0] == 200
    _, after, _ = request(server, "/metrics")
    assert metric(after, "translator_cache_hits_total") >= metric(before, "translator_cache_hits_total") + 1
    assert metric(after, 'translator_rest_requests_total{status="200"}') >= (
        metric(before, 'translator_rest_requests_total{status="200"}') + 2
    )
