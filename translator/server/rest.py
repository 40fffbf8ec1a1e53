"""LibreTranslate-compatible REST endpoints: ``/translate`` and ``/languages``."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from translator.engine import UnknownPairError
from translator.server.state import app_state

LANGUAGE_NAMES = {
    "ar": "Arabic", "cs": "Czech", "da": "Danish", "de": "German", "el": "Greek", "en": "English",
    "es": "Spanish", "fi": "Finnish", "fr": "French", "hu": "Hungarian", "it": "Italian", "ja": "Japanese",
    "ko": "Korean", "nl": "Dutch", "pl": "Polish", "pt": "Portuguese", "ro": "Romanian", "ru": "Russian",
    "sv": "Swedish", "tr": "Turkish", "uk": "Ukrainian", "zh": "Chinese",
}  # fmt: skip


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _fields(request: Request, max_bytes: int) -> dict[str, Any]:
    body = await request.body()
    if len(body) > max_bytes:
        raise BadRequest(f"request body exceeds {max_bytes} bytes", 413)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json" or (not content_type and body[:1] in (b"{", b"[")):
        try:
            data = json.loads(body or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BadRequest(f"invalid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise BadRequest("the JSON body must be an object")
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


async def translate(request: Request) -> Response:
    state = app_state(request.app)
    service, config = state.started(), state.config
    try:
        data = await _fields(request, max_bytes=config.max_text_chars * 4 + 65536)
        keys = state.api_keys
        key = str(data.get("api_key") or "")
        if not keys.valid(key):
            raise BadRequest("Invalid API key", 403)
        if not keys.allow(key):
            raise BadRequest("Too many requests for this API key", 429)
        q = data.get("q")
        source = str(data.get("source") or "").strip().lower()
        target = str(data.get("target") or "").strip().lower()
        text_format = str(data.get("format") or "text")
        if q is None:
            raise BadRequest("invalid request: missing q parameter")
        if not source:
            raise BadRequest("invalid request: missing source parameter")
        if not target:
            raise BadRequest("invalid request: missing target parameter")
        if source == "auto":
            raise BadRequest("source 'auto' (language detection) is not supported: name the source language")
        if text_format != "text":
            raise BadRequest(f"format {text_format!r} is not supported; use 'text'")
        texts = q if isinstance(q, list) else [q]
        if not all(isinstance(t, str) for t in texts):
            raise BadRequest("q must be a string or a list of strings")
        too_long = [i for i, t in enumerate(texts) if len(t) > config.max_text_chars]
        if too_long:
            raise BadRequest(f"q[{too_long[0]}] exceeds {config.max_text_chars} characters", 413)
        try:
            service.model(source, target)
        except UnknownPairError as exc:
            raise BadRequest(str(exc)) from exc
        translated = await service.translate_batch_cached(source, target, texts)
    except BadRequest as exc:
        service.metrics.rest_requests.inc(1, str(exc.status))
        return _error(str(exc), exc.status)
    except Exception as exc:  # the model failed: an honest 500, the server carries on
        service.metrics.rest_requests.inc(1, "500")
        return _error(f"translation failed: {exc}", 500)
    service.metrics.rest_requests.inc(1, "200")
    return JSONResponse({"translatedText": translated if isinstance(q, list) else translated[0]})


async def languages(request: Request) -> Response:
    service = app_state(request.app).started()
    targets: dict[str, list[str]] = {}
    for source, target in service.pairs():
        targets.setdefault(source, []).append(target)
    body = [
        {"code": code, "name": LANGUAGE_NAMES.get(code, code), "targets": sorted(targets.get(code, []))}
        for code in sorted({lang for pair in service.pairs() for lang in pair})
    ]
    return JSONResponse(body)
