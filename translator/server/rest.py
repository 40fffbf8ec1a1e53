"""LibreTranslate-compatible REST endpoints: ``/translate``, ``/detect``, ``/languages``,
``/frontend/settings`` and ``/suggest`` (files: translator.server.files)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from translator.documents import MEDIA_TYPES
from translator.engine.langid import UNDETERMINED, Detection
from translator.markup import Document
from translator.markup import parse as parse_html
from translator.server.state import AppState, app_state
from translator.service.service import TranslationService

LANGUAGE_NAMES = {
    "ar": "Arabic", "cs": "Czech", "da": "Danish", "de": "German", "el": "Greek", "en": "English",
    "es": "Spanish", "fi": "Finnish", "fr": "French", "hu": "Hungarian", "it": "Italian", "ja": "Japanese",
    "ko": "Korean", "nl": "Dutch", "pl": "Polish", "pt": "Portuguese", "ro": "Romanian", "ru": "Russian",
    "sv": "Swedish", "tr": "Turkish", "uk": "Ukrainian", "zh": "Chinese",
}  # fmt: skip
# LibreTranslate's default limit on ``alternatives``.
ALTERNATIVES_LIMIT = 3
# source=auto with an undetermined language: the best candidate is still taken from this confidence on.
GUESS_FLOOR = 0.05
FRONTEND_TIMEOUT_MS = 500


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


async def _fields(request: Request, max_bytes: int) -> dict[str, Any]:
    body = await request.body()
    if len(body) > max_bytes:
        raise BadRequest(f"request body exceeds {max_bytes} bytes", 413)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json" or (not content_type and body[:1] in (b"{", b"[")):
        try:
            data = json.loads(body or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BadRequest(f"Invalid JSON format: {exc}") from exc
        if not isinstance(data, dict):
            raise BadRequest("Invalid JSON format: the JSON body must be an object")
        return data
    if content_type in ("application/x-www-form-urlencoded", ""):
        try:
            parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError as exc:
            raise BadRequest("the form body is not UTF-8") from exc
        return {k: v if len(v) > 1 else v[0] for k, v in parsed.items()}
    if content_type == "multipart/form-data":
        form = await request.form()
        fields: dict[str, Any] = {}
        for key in form:
            values = [v for v in form.getlist(key) if isinstance(v, str)]
            fields[key] = values if len(values) > 1 else (values[0] if values else "")
        return fields
    raise BadRequest(f"unsupported content type {content_type!r}; send JSON or form fields", 415)


def check_key(state: AppState, key: object) -> None:
    """LibreTranslate's answers: 403 for a missing or wrong key, 429 past the key's rate."""
    text = str(key or "")
    if not state.api_keys.valid(text):
        raise BadRequest("Invalid API key", 403)
    if not state.api_keys.allow(text):
        raise BadRequest("Slowdown: too many requests for this API key", 429)


def texts_of(q: object, limit: int) -> list[str]:
    if q is None or q == "" or q == []:
        raise BadRequest("Invalid request: missing q parameter")
    items = q if isinstance(q, list) else [q]
    texts = [t for t in items if isinstance(t, str)]
    if len(texts) != len(items):
        raise BadRequest("Invalid request: q must be a string or a list of strings")
    for text in texts:
        if len(text) > limit:
            raise BadRequest(f"Invalid request: request ({len(text)}) exceeds text limit ({limit})")
    return texts


def pair_error(service: TranslationService, source: str, target: str) -> BadRequest:
    """Why no model translates ``source`` to ``target``, in LibreTranslate's words plus the pairs there are."""
    pairs = service.pairs()
    available = ", ".join(f"{s}->{t}" for s, t in pairs)
    known = {s for s, _ in pairs} | {t for _, t in pairs}
    if source != "auto" and source not in known:
        return BadRequest(f"{source} is not supported; available pairs: {available}")
    if target not in known or source == "auto":
        return BadRequest(f"{target} is not supported as a target language; available pairs: {available}")
    return BadRequest(
        f"{language_name(target)} ({target}) is not available as a target language from "
        f"{language_name(source)} ({source}); available pairs: {available}"
    )


def detection_json(detection: Detection) -> list[dict[str, Any]]:
    """LibreTranslate's ``/detect`` answer: candidates best first, confidence 0-100; ``und`` first when the
    text says too little to tell."""
    candidates = [{"confidence": round(c * 100, 1), "language": lang} for lang, c in detection.candidates]
    if not detection.known:
        return [{"confidence": 0.0, "language": UNDETERMINED}, *candidates]
    return candidates


def guess(detection: Detection) -> tuple[str, float] | None:
    """The source language to translate from: the detected one, else the best candidate with some support."""
    if detection.known:
        return detection.language, detection.confidence
    if detection.candidates and detection.candidates[0][1] >= GUESS_FLOOR:
        return detection.candidates[0]
    return None


async def detect_sources(service: TranslationService, texts: Sequence[str]) -> list[tuple[str, float]]:
    """source=auto: each text's language; texts too short to tell take that of all the texts together."""
    detections = await service.detect([*texts, "\n".join(texts)])
    together = guess(detections[-1])
    out = []
    for i, (text, detection) in enumerate(zip(texts, detections, strict=False)):
        found = guess(detection) if detection.known or together is None else together
        if found is None:
            if text.strip():
                languages = ", ".join(service.languages.languages if service.languages else ())
                raise BadRequest(
                    f"Could not detect the language of q[{i}]: it does not look like a language translated "
                    f"from here ({languages}); name the source language"
                )
            found = (UNDETERMINED, 0.0)
        out.append(found)
    return out


# Given a source language and the indexes of the texts in it: their translations.
Translate = Callable[[str, list[int]], Awaitable[list[str]]]


async def translate_by_source(
    service: TranslationService, sources: Sequence[str], target: str, texts: Sequence[str], translate: Translate
) -> list[str]:
    """Each text from its own source language; a text already in the target language, or empty, as it is."""
    out = list(texts)
    for source in dict.fromkeys(sources):
        indexes = [i for i, s in enumerate(sources) if s == source and texts[i].strip()]
        if source in (target, UNDETERMINED) or not indexes:
            continue
        if (source, target) not in service.pairs():
            raise pair_error(service, source, target)
        for i, translated in zip(indexes, await translate(source, indexes), strict=True):
            out[i] = translated
    return out


async def translate_documents(
    service: TranslationService, source: str, target: str, documents: Sequence[Document]
) -> list[str]:
    """HTML texts, all in one batch."""
    flat = [t for d in documents for t in d.texts]
    translated = await service.translate_batch_cached(source, target, flat) if flat else []
    out, position = [], 0
    for document in documents:
        out.append(document.render(translated[position : position + len(document.texts)]))
        position += len(document.texts)
    return out


def _alternatives(data: dict[str, Any]) -> int:
    try:
        count = max(0, int(data.get("alternatives") or 0))
    except (TypeError, ValueError) as exc:
        raise BadRequest("Invalid request: alternatives parameter is not a number") from exc
    if count > ALTERNATIVES_LIMIT:
        raise BadRequest(f"Invalid request: alternatives parameter must be <= {ALTERNATIVES_LIMIT}")
    return count


async def translate(request: Request) -> Response:
    state = app_state(request.app)
    service, config = state.started(), state.config
    try:
        data = await _fields(request, max_bytes=config.max_text_chars * 4 + 65536)
        check_key(state, data.get("api_key"))
        q = data.get("q")
        texts = texts_of(q, config.max_text_chars)
        source = str(data.get("source") or "").strip().lower()
        target = str(data.get("target") or "").strip().lower()
        if not source:
            raise BadRequest("Invalid request: missing source parameter")
        if not target:
            raise BadRequest("Invalid request: missing target parameter")
        text_format = str(data.get("format") or "text").strip().lower()
        if text_format not in ("text", "html"):
            raise BadRequest(f"{text_format} format is not supported; use text or html")
        count = _alternatives(data)
        documents = [parse_html(t) for t in texts] if text_format == "html" else None
        detected = None
        if source == "auto":
            if target not in {t for _, t in service.pairs()}:
                raise pair_error(service, source, target)
            detected = await detect_sources(service, [d.text for d in documents] if documents is not None else texts)
            sources = [lang for lang, _ in detected]
        else:
            if (source, target) not in service.pairs():
                raise pair_error(service, source, target)
            sources = [source] * len(texts)
        alternatives: list[list[str]] = [[] for _ in texts]

        async def plain(lang: str, indexes: list[int]) -> list[str]:
            return await service.translate_batch_cached(lang, target, [texts[i] for i in indexes])

        async def markup_texts(lang: str, indexes: list[int]) -> list[str]:
            assert documents is not None
            return await translate_documents(service, lang, target, [documents[i] for i in indexes])

        async def with_alternatives(lang: str, indexes: list[int]) -> list[str]:
            results = await service.translate_alternatives(lang, target, [texts[i] for i in indexes], count)
            for i, (_, others) in zip(indexes, results, strict=True):
                alternatives[i] = others
            return [best for best, _ in results]

        # LibreTranslate gives no alternatives for HTML either.
        how = markup_texts if documents is not None else (with_alternatives if count else plain)
        translated = await translate_by_source(service, sources, target, texts, how)
    except BadRequest as exc:
        service.metrics.rest_requests.inc(1, str(exc.status))
        return _error(str(exc), exc.status)
    except Exception as exc:  # the model failed: an honest 500, the server carries on
        service.metrics.rest_requests.inc(1, "500")
        return _error(f"Cannot translate text: {exc}", 500)
    service.metrics.rest_requests.inc(1, "200")
    many = isinstance(q, list)
    body: dict[str, Any] = {"translatedText": translated if many else translated[0]}
    if detected is not None:
        found_json = [{"confidence": round(c * 100, 1), "language": lang} for lang, c in detected]
        body["detectedLanguage"] = found_json if many else found_json[0]
    if count:
        body["alternatives"] = alternatives if many else alternatives[0]
    return JSONResponse(body)


async def detect(request: Request) -> Response:
    state = app_state(request.app)
    service, config = state.started(), state.config
    try:
        data = await _fields(request, max_bytes=config.max_text_chars * 4 + 65536)
        check_key(state, data.get("api_key"))
        texts = texts_of(data.get("q"), config.max_text_chars)
        [detection] = await service.detect(["\n".join(texts)])
    except BadRequest as exc:
        service.metrics.rest_requests.inc(1, str(exc.status))
        return _error(str(exc), exc.status)
    service.metrics.rest_requests.inc(1, "200")
    return JSONResponse(detection_json(detection))


async def languages(request: Request) -> Response:
    service = app_state(request.app).started()
    targets: dict[str, list[str]] = {}
    for source, target in service.pairs():
        targets.setdefault(source, []).append(target)
    body = [
        {"code": code, "name": language_name(code), "targets": sorted(targets.get(code, []))}
        for code in sorted({lang for pair in service.pairs() for lang in pair})
    ]
    return JSONResponse(body)


async def frontend_settings(request: Request) -> Response:
    state = app_state(request.app)
    pairs = state.started().pairs()
    target = pairs[0][1] if pairs else ""
    return JSONResponse(
        {
            "charLimit": state.config.max_text_chars,
            "frontendTimeout": FRONTEND_TIMEOUT_MS,
            "apiKeys": state.api_keys.required,
            "keyRequired": state.api_keys.required,
            "suggestions": False,
            "filesTranslation": True,
            "supportedFilesFormat": list(MEDIA_TYPES),
            "language": {
                "source": {"code": "auto", "name": "Auto Detect"},
                "target": {"code": target, "name": language_name(target)},
            },
        }
    )


async def suggest(request: Request) -> Response:
    """Suggestions are not collected here: LibreTranslate's answer when they are off."""
    return _error("Suggestions are disabled on this server.", 403)
