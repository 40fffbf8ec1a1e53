"""What the app shares between its endpoints, typed: one object on ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from starlette.applications import Starlette

from translator.server.auth import ApiKeys
from translator.server.filestore import FileStore
from translator.server.resume import ResumeRegistry
from translator.server.settings import ServerConfig
from translator.service.service import TranslationService
from translator.service.sessions import SessionHub


class OpenStream(Protocol):
    """What admission and drain need of an open stream (translator.server.connection.Connection)."""

    client: str

    async def drain(self, *, handover: bool = False) -> None: ...


@dataclass
class AppState:
    config: ServerConfig
    api_keys: ApiKeys
    sessions: SessionHub = field(default_factory=SessionHub)
    connections: set[OpenStream] = field(default_factory=set)
    # Set by the lifespan once the models are loaded.
    service: TranslationService | None = None
    # Resume tokens: connected streams and dropped ones kept for a resume (translator.server.resume).
    resumes: ResumeRegistry = field(init=False)
    # Translated files waiting for download (POST /translate_file).
    files: FileStore = field(init=False)

    def __post_init__(self) -> None:
        config = self.config
        self.files = FileStore(config.file_ttl)
        self.resumes = ResumeRegistry(
            config.resume_seconds,
            max_streams=config.resume_max_streams,
            max_finals=config.resume_max_finals,
            max_chars=config.max_text_chars,
        )

    def started(self) -> TranslationService:
        """The service; the app only routes requests after its lifespan has started it."""
        if self.service is None:
            raise RuntimeError("the translation service is not started")
        return self.service


def app_state(app: Starlette) -> AppState:
    """The AppState of a Starlette app (``request.app`` / ``websocket.app``)."""
    state = app.state.translator
    if not isinstance(state, AppState):
        raise RuntimeError("not an app made by translator.server.app.create_app")
    return state
