"""Translated files, kept for download in a private temporary directory for a while (``file_ttl``)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path

_NAME = re.compile(r"^[0-9a-f]{32}\.[\w.-]{1,200}$")


class FileStore:
    """Translated files in a private temporary directory (made at the first file), each removed once it is
    ``ttl`` seconds old; ``close`` removes the directory."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._dir: Path | None = None
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def directory(self) -> Path:
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="translator-files-"))
        return self._dir

    def save(self, filename: str, content: bytes) -> str:
        """Store ``content`` under a new name (random, then the original file name made safe)."""
        safe = re.sub(r"[^\w.-]", "_", Path(filename).name)[-200:].lstrip(".") or "file"
        name = f"{uuid.uuid4().hex}.{safe}"
        (self.directory / name).write_bytes(content)
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())
        return name

    def path(self, name: str) -> Path | None:
        """The stored file ``name``, unless it is unknown or expired."""
        if not _NAME.match(name) or self._dir is None:
            return None
        path = self._dir / name
        try:
            if time.time() - path.stat().st_mtime > self.ttl:
                path.unlink(missing_ok=True)
                return None
        except OSError:
            return None
        return path

    def sweep(self) -> int:
        """Remove the expired files; how many went."""
        if self._dir is None:
            return 0
        removed = 0
        for path in self._dir.iterdir():
            with contextlib.suppress(OSError):
                if time.time() - path.stat().st_mtime > self.ttl:
                    path.unlink()
                    removed += 1
        return removed

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(min(max(self.ttl / 4, 1.0), 60.0))
            self.sweep()

    def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
