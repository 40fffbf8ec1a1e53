"""LibreTranslate's file translation: ``POST /translate_file`` (multipart ``file``, ``source``, ``target``,
``api_key``) answers ``{"translatedFileUrl": ...}``; ``GET /download_file/{name}`` serves the translated file
from a temporary directory until it is ``file_ttl`` seconds old."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

import translator.documents as documents
from translator.engine.langid import UNDETERMINED
from translator.server.rest import BadRequest, check_key, detect_sources, pair_error
from translator.server.state import app_state

# Texts per model request while a file is translated: other requests get their turn in between.
CHUNK = 32


async def _limited(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise BadRequest(f"the file exceeds {limit} bytes", 413)
        yield chunk


async def translate_file(request: Request) -> Response:
    state = app_state(request.app)
    service, config = state.started(), state.config
    limit = config.max_file_bytes
    try:
        if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
            raise BadRequest("Invalid request: send the file as multipart/form-data (field file)")
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit + 65536:
            raise BadRequest(f"the file exceeds {limit} bytes", 413)
        try:
            form = await MultiPartParser(request.headers, _limited(request, limit + 65536)).parse()
        except MultiPartException as exc:
            raise BadRequest(f"Invalid request: {exc}") from exc
        check_key(state, form.get("api_key"))
        upload = form.get("file")
        source = str(form.get("source") or "").strip().lower()
        target = str(form.get("target") or "").strip().lower()
        if not isinstance(upload, UploadFile):
            raise BadRequest("Invalid request: missing file parameter")
        if not source:
            raise BadRequest("Invalid request: missing source parameter")
        if not target:
            raise BadRequest("Invalid request: missing target parameter")
        filename = upload.filename or ""
        if not filename:
            raise BadRequest("Invalid request: empty file")
        if documents.extension(filename) not in documents.MEDIA_TYPES:
            formats = ", ".join(documents.MEDIA_TYPES)
            raise BadRequest(f"Invalid request: file format not supported (supported: {formats})")
        content = await upload.read()
        await upload.close()
        if len(content) > limit:
            raise BadRequest(f"the file exceeds {limit} bytes", 413)
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise BadRequest(f"Invalid request: the file is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
        try:
            # Off the event loop: a large file takes a while to cut up and to put back together.
            prepared = await asyncio.to_thread(documents.prepare, filename, text)
        except ValueError as exc:
            raise BadRequest(f"Invalid request: {exc}") from exc
        if source == "auto":
            if target not in {t for _, t in service.pairs()}:
                raise pair_error(service, source, target)
            [(source, _)] = await detect_sources(service, ["\n".join(prepared.texts)[:4000]])
        elif (source, target) not in service.pairs():
            raise pair_error(service, source, target)
        if source in (target, UNDETERMINED):
            translated = text  # already in the target language
        else:
            if (source, target) not in service.pairs():
                raise pair_error(service, source, target)
            translations: list[str] = []
            for start in range(0, len(prepared.texts), CHUNK):
                chunk = prepared.texts[start : start + CHUNK]
                translations += await service.translate_batch_cached(source, target, chunk)
            translated = await asyncio.to_thread(prepared.render, translations)
        name = state.files.save(filename, translated.encode("utf-8"))
    except BadRequest as exc:
        service.metrics.rest_requests.inc(1, str(exc.status))
        return JSONResponse({"error": str(exc)}, status_code=exc.status)
    except Exception as exc:  # the model failed: an honest 500, the server carries on
        service.metrics.rest_requests.inc(1, "500")
        return JSONResponse({"error": f"Cannot translate file: {exc}"}, status_code=500)
    service.metrics.rest_requests.inc(1, "200")
    return JSONResponse({"translatedFileUrl": str(request.url_for("download_file", filename=name))})


async def download_file(request: Request) -> Response:
    state = app_state(request.app)
    name = request.path_params["filename"]
    path = state.files.path(name)
    if path is None:
        ttl = f"{state.files.ttl:g}"
        return JSONResponse({"error": f"no such file (translated files are kept for {ttl} seconds)"}, status_code=404)
    original = name.split(".", 1)[1]
    return FileResponse(path, media_type=documents.MEDIA_TYPES[documents.extension(original)], filename=original)
