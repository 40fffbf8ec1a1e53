"""Discover the models under a directory and answer "which model translates X to Y"."""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from translator.engine.engine import Engine, TranslationOptions
from translator.engine.metadata import MetadataError, ModelMetadata

MODEL_FILE = "model.bin"
_WHOLE_FILE_BYTES = 4 * 1024 * 1024
_EDGE_BYTES = 1024 * 1024


def default_models_dir() -> Path:
    """``$TRANSLATOR_MODELS``, else the ``models/`` directory shipped beside the package."""
    env = os.environ.get("TRANSLATOR_MODELS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "models"


class UnknownPairError(LookupError):
    def __init__(self, source: str, target: str, available: list[tuple[str, str]]) -> None:
        self.source, self.target, self.available = source, target, available
        pairs = ", ".join(f"{s}->{t}" for s, t in available) or "none"
        super().__init__(f"no model translates {source}->{target}; available pairs: {pairs}")


@dataclass(frozen=True)
class ModelEntry:
    path: Path
    metadata: ModelMetadata

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def size_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.path.iterdir() if f.is_file())

    @cached_property
    def fingerprint(self) -> str:
        """A short hash of the model's files, the same on every machine that has the same model.

        The model card (Markdown) is left out. Small files are hashed whole; large ones (the weights) by
        size and their first and last MiB, so that a multi-gigabyte model costs milliseconds, not a read.
        """
        digest = hashlib.blake2b(digest_size=8)
        for file in sorted(f for f in self.path.iterdir() if f.is_file() and f.suffix != ".md"):
            size = file.stat().st_size
            digest.update(f"{file.name}\0{size}\0".encode())
            with open(file, "rb") as handle:
                if size <= _WHOLE_FILE_BYTES:
                    digest.update(handle.read())
                else:
                    digest.update(handle.read(_EDGE_BYTES))
                    handle.seek(size - _EDGE_BYTES)
                    digest.update(handle.read(_EDGE_BYTES))
        return digest.hexdigest()


def discover(root: Path) -> tuple[list[ModelEntry], list[str]]:
    """Every directory under ``root`` (itself included) holding a model and its metadata.

    Returns the models sorted by path, and a warning for each model directory that could not be read.
    """
    root = Path(root)
    if not root.is_dir():
        return [], [f"{root} is not a directory"]
    entries: list[ModelEntry] = []
    problems: list[str] = []
    for model_file in sorted(root.rglob(MODEL_FILE)):
        directory = model_file.parent
        try:
            entries.append(ModelEntry(directory, ModelMetadata.load(directory)))
        except MetadataError as exc:
            problems.append(f"skipped {directory}: {exc} (convert it with `translator models convert`)")
    return entries, problems


class Registry:
    """The models found under one directory; engines are loaded on first use and then shared."""

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        device: str = "auto",
        compute_type: str | None = None,
        inter_threads: int = 1,
        intra_threads: int = 1,
        options: TranslationOptions | None = None,
    ) -> None:
        self.root = Path(root) if root is not None else default_models_dir()
        self.entries, self.problems = discover(self.root)
        self._engine_args = dict(
            device=device,
            compute_type=compute_type,
            inter_threads=inter_threads,
            intra_threads=intra_threads,
            options=options,
        )
        self._engines: dict[Path, Engine] = {}
        self._lock = threading.Lock()
        # Looked up on every request: computed once (the entries do not change after discovery).
        self._pairs: tuple[tuple[str, str], ...] | None = None
        self._found: dict[tuple[str, str], ModelEntry] = {}

    @property
    def options(self) -> TranslationOptions | None:
        """The decoding options every engine of this registry uses (None: the engine's defaults)."""
        return self._engine_args["options"]  # type: ignore[return-value]

    def pairs(self) -> list[tuple[str, str]]:
        if self._pairs is None:
            seen: dict[tuple[str, str], None] = {}
            for entry in self.entries:
                for pair in entry.metadata.pairs():
                    seen.setdefault(pair, None)
            self._pairs = tuple(sorted(seen))
        return list(self._pairs)

    def languages(self) -> list[str]:
        return sorted({lang for pair in self.pairs() for lang in pair})

    def find(self, source: str, target: str) -> ModelEntry:
        """The model for ``source``->``target``: a single-pair model is preferred over a multilingual one."""
        found = self._found.get((source, target))
        if found is not None:
            return found
        source, target = source.strip().lower(), target.strip().lower()
        candidates = [e for e in self.entries if (source, target) in e.metadata.pairs()]
        if not candidates:
            raise UnknownPairError(source, target, self.pairs())
        found = self._found[(source, target)] = min(candidates, key=lambda e: len(e.metadata.pairs()))
        return found

    def engine(self, source: str, target: str) -> Engine:
        entry = self.find(source, target)
        with self._lock:
            engine = self._engines.get(entry.path)
            if engine is None:
                engine = Engine(entry.path, **self._engine_args)  # type: ignore[arg-type]
                self._engines[entry.path] = engine
            return engine
