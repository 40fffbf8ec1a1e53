"""The LibreTranslate drop-in against a real server: the libretranslatepy client, Mastodon's request, /detect,
source=auto, format=html, alternatives, file translation, /frontend/settings, /suggest and the error bodies."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest
from libretranslatepy import LibreTranslateAPI

from tests.conftest import Server, html_signature, multipart, post_json, request

TOOTS = [
    '<p>Hello <a href="https://x.org/@a" class="u-url mention">@<span>a</span></a> how are you?</p>'
    "<p>Second paragraph<br>line two</p>",
    '<p><span class="h-card" translate="no"><a href="https://m.s/@bob" class="u-url mention">@<span>bob</span>'
    '</a></span> Two dogs are playing in the snow. <a href="https://m.s/tags/dogs" class="mention hashtag" '
    'rel="tag">#<span>dogs</span></a></p>',
    "<p>Ein Mann fährt mit dem <b>Fahrrad</b> durch den Park.</p>",
]


def test_the_libretranslatepy_client(server: Server) -> None:
    lt = LibreTranslateAPI(server.http)
    translated = lt.translate("A man is riding a bicycle.", "en", "de")
    assert isinstance(translated, str) and translated and translated != "A man is riding a bicycle."
    assert {lang["code"]: lang["targets"] for lang in lt.languages()} == {"de": ["en"], "en": ["de"]}
    detected = lt.detect("Zwei Hunde spielen im Schnee.")
    assert detected[0]["language"] == "de" and detected[0]["confidence"] > 80
    assert [d["language"] for d in detected] == ["de", "en"]
    auto = lt.translate("Zwei Hunde spielen im Schnee.", "auto", "en")
    assert isinstance(auto, str) and auto and auto != "Zwei Hunde spielen im Schnee."


def test_mastodon_request_keeps_the_markup(server: Server) -> None:
    # What Mastodon's LibreTranslate client posts: JSON, a list of HTML texts, source auto, format html.
    status, body = post_json(server, {"q": TOOTS, "source": "auto", "target": "de", "format": "html", "api_key": ""})
    assert status == 200, body
    assert [d["language"] for d in body["detectedLanguage"]] == ["en", "en", "de"]
    assert all(isinstance(d["confidence"], float) for d in body["detectedLanguage"])
    english, second, german = body["translatedText"]
    assert html_signature(english) == html_signature(TOOTS[0]) and "how are you" not in english
    assert '<a href="https://x.org/@a" class="u-url mention">@<span>a</span></a>' in english
    assert html_signature(second) == html_signature(TOOTS[1]) and "#<span>dogs</span>" in second
    assert german == TOOTS[2]  # already in the target language: as it was
    status, body = post_json(server, {"q": TOOTS[2], "source": "de", "target": "en", "format": "html"})
    assert status == 200 and html_signature(body["translatedText"]) == html_signature(TOOTS[2])
    assert "detectedLanguage" not in body


def test_detect(server: Server) -> None:
    form = urllib.parse.urlencode({"q": "A man is riding a bicycle down the street."}).encode()
    status, body, _ = request(server, "/detect", form, "application/x-www-form-urlencoded")
    assert status == 200 and body[0] == {"confidence": body[0]["confidence"], "language": "en"}
    assert body[0]["confidence"] >= 90
    status, body, _ = request(
        server, "/detect", json.dumps({"q": ["Ein Hund.", "Er läuft."]}).encode(), "application/json"
    )
    assert status == 200 and body[0]["language"] == "de"
    for undetermined in ("😀", "Un homme dort sur un canapé dans une chambre verte."):
        status, body, _ = request(server, "/detect", json.dumps({"q": undetermined}).encode(), "application/json")
        assert status == 200 and body[0] == {"confidence": 0.0, "language": "und"}, body
    status, body, _ = request(server, "/detect", b"{}", "application/json")
    assert status == 400 and body == {"error": "Invalid request: missing q parameter"}


def test_auto_per_text(server: Server) -> None:
    q = ["Two dogs are playing in the snow.", "Ein Hund läuft über die Wiese.", ""]
    status, body = post_json(server, {"q": q, "source": "auto", "target": "en"})
    assert status == 200
    assert body["translatedText"][0] == q[0] and body["translatedText"][2] == ""
    assert body["translatedText"][1] and body["translatedText"][1] != q[1]
    assert [d["language"] for d in body["detectedLanguage"][:2]] == ["en", "de"]
    status, body = post_json(server, {"q": "Un homme dort sur un canapé.", "source": "auto", "target": "en"})
    assert status == 400 and "Could not detect the language" in body["error"]


def test_alternatives(server: Server) -> None:
    status, body = post_json(
        server, {"q": "A man is riding a bicycle.", "source": "en", "target": "de", "alternatives": 2}
    )
    assert status == 200
    assert isinstance(body["alternatives"], list) and 1 <= len(body["alternatives"]) <= 2
    assert body["translatedText"] not in body["alternatives"] and len(set(body["alternatives"])) == len(
        body["alternatives"]
    )
    status, body = post_json(
        server, {"q": ["A dog runs.", "Two women are talking."], "source": "en", "target": "de", "alternatives": "1"}
    )
    assert status == 200 and [len(a) for a in body["alternatives"]] == [1, 1]
    status, body = post_json(
        server, {"q": "<p>A dog runs.</p>", "source": "en", "target": "de", "format": "html", "alternatives": 2}
    )
    assert status == 200 and body["alternatives"] == []


def test_frontend_settings_and_suggest(server: Server) -> None:
    status, body, _ = request(server, "/frontend/settings")
    assert status == 200
    assert body["charLimit"] == 10_000 and body["apiKeys"] is False and body["keyRequired"] is False
    assert body["suggestions"] is False and body["filesTranslation"] is True
    assert body["supportedFilesFormat"] == [".txt", ".html", ".htm", ".srt", ".vtt"]
    assert body["language"]["source"] == {"code": "auto", "name": "Auto Detect"}
    assert body["language"]["target"]["code"] in ("en", "de") and isinstance(body["frontendTimeout"], int)
    form = urllib.parse.urlencode({"q": "a", "s": "b", "source": "en", "target": "de"}).encode()
    status, body, _ = request(server, "/suggest", form, "application/x-www-form-urlencoded")
    assert status == 403 and body == {"error": "Suggestions are disabled on this server."}


FILES = {
    "notes.txt": "A man is riding a bicycle.\n\n  Two dogs are playing in the snow. Where is the station?\n",
    "page.html": "<!DOCTYPE html><html><head><title>A small page</title><style>p { color: red }</style></head>"
    '<body><p>A woman is <a href="/read?a=1&amp;b=2">reading a book</a> in the park.</p>'
    "<pre>do not translate</pre></body></html>",
    "talk.srt": "1\n00:00:01,000 --> 00:00:02,500\nA man is riding\na bicycle.\n\n"
    "2\n00:00:03,000 --> 00:00:04,000\n<i>Two dogs</i> are playing.\n",
    "talk.vtt": "WEBVTT\n\nNOTE kept as it is\n\n"
    "intro\n00:01.000 --> 00:02.000 align:start\n<v Anna>Where is the station?</v>\n\n"
    "00:03.000 --> 00:04.500\nA woman is reading\na book in the park.\n",
}


def upload(server: Server, name: str, content: bytes, **fields: str) -> tuple[int, dict[str, str]]:
    body, content_type = multipart({"source": "en", "target": "de", **fields}, {"file": (name, content)})
    status, answer, _ = request(server, "/translate_file", body, content_type)
    return status, answer


def download(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode(), response.headers.get("content-disposition", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), ""


@pytest.mark.parametrize("name", list(FILES))
def test_a_file_round_trips(server: Server, name: str) -> None:
    source = FILES[name]
    status, answer = upload(server, name, source.encode())
    assert status == 200, answer
    assert answer["translatedFileUrl"].startswith(f"{server.http}/download_file/")
    status, translated, disposition = download(answer["translatedFileUrl"])
    assert status == 200 and f'filename="{name}"' in disposition
    assert translated != source
    if name.endswith(".html"):
        assert html_signature(translated) == html_signature(source) and "<pre>do not translate</pre>" in translated
    elif name.endswith(".txt"):
        assert translated.count("\n") == source.count("\n") and "\n\n  " in translated
    else:  # captions in, captions out: every line but the cue text as it was, cue timing kept
        kept = [line for line in source.splitlines() if "-->" in line or line.isdigit() or line.isupper() or not line]
        assert [line for line in translated.splitlines() if line in kept] == kept
        assert len(translated.splitlines()) == len(source.splitlines())
    assert "<i>" in translated or not name.endswith(".srt")


def test_a_file_in_auto(server: Server) -> None:
    status, answer = upload(server, "de.txt", b"Zwei Hunde spielen im Schnee.\n", source="auto", target="en")
    assert status == 200, answer
    assert download(answer["translatedFileUrl"])[1] not in ("", "Zwei Hunde spielen im Schnee.\n")


@pytest.mark.parametrize(
    ("name", "content", "fields", "status", "message"),
    [
        ("a.docx", b"x", {}, 400, "file format not supported"),
        ("a.txt", b"\xff\xfe bad", {}, 400, "not UTF-8"),
        ("a.srt", b"no cues here\n", {}, 400, "no cues found"),
        ("a.vtt", b"00:01.000 --> 00:02.000\nHi\n", {}, 400, "WEBVTT"),
        ("a.txt", b"A dog.", {"target": "xx"}, 400, "not supported"),
        ("a.txt", b"A dog.", {"source": ""}, 400, "missing source"),
    ],
)
def test_file_errors(
    server: Server, name: str, content: bytes, fields: dict[str, str], status: int, message: str
) -> None:
    got, answer = upload(server, name, content, **fields)
    assert got == status and message in answer["error"], answer


def test_file_requests_that_are_not_files(server: Server) -> None:
    status, body, _ = request(server, "/translate_file", b"q=x", "application/x-www-form-urlencoded")
    assert status == 400 and "multipart/form-data" in body["error"]
    body_bytes, content_type = multipart({"source": "en", "target": "de"}, {})
    status, body, _ = request(server, "/translate_file", body_bytes, content_type)
    assert status == 400 and body == {"error": "Invalid request: missing file parameter"}
    status, body, _ = request(server, "/download_file/../../etc/passwd")
    assert status == 404
    status, body, _ = request(server, "/download_file/0123456789abcdef0123456789abcdef.x.txt")
    assert status == 404 and "no such file" in body["error"]


@pytest.fixture(scope="module")
def limited() -> Iterator[Server]:
    srv = Server(
        "--max-file-bytes", "2000", "--file-ttl", "2", "--key-rate", "4", env={"TRANSLATOR_API_KEYS": "sesame"}
    )
    yield srv
    srv.stop()


def test_keys_rates_and_limits(limited: Server) -> None:
    for path in ("/translate", "/detect"):
        status, body, _ = request(limited, path, json.dumps({"q": "A dog."}).encode(), "application/json")
        assert status == 403 and body == {"error": "Invalid API key"}
    status, answer = upload(limited, "a.txt", b"A dog.")
    assert status == 403 and answer == {"error": "Invalid API key"}
    status, body, _ = request(limited, "/frontend/settings")
    assert body["apiKeys"] is True and body["keyRequired"] is True
    status, answer = upload(limited, "big.txt", b"A dog runs.\n" * 200, api_key="sesame")
    assert status == 413 and "2000 bytes" in answer["error"]
    statuses = [
        post_json(limited, {"q": "A dog.", "source": "en", "target": "de", "api_key": "sesame"})[0] for _ in range(8)
    ]
    assert statuses[0] == 200 and 429 in statuses
    status, body = post_json(limited, {"q": "A dog.", "source": "en", "target": "de", "api_key": "sesame"})
    assert status == 429 and body["error"].startswith("Slowdown:")


def test_translated_files_expire(limited: Server) -> None:
    time.sleep(1.1)  # the key's budget refills
    status, answer = upload(limited, "a.txt", b"A dog runs.", api_key="sesame")
    assert status == 200, answer
    assert download(answer["translatedFileUrl"])[0] == 200
    time.sleep(2.5)
    status, body, _ = download(answer["translatedFileUrl"])
    assert status == 404 and "kept for 2 seconds" in body
