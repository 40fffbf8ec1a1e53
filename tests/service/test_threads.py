"""Operating-system names of the service's threads: the workers show as translate_N, the model's threads do not."""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import MODELS
from translator.engine import Registry
from translator.service.service import TranslationService
from translator.service.threads import name_os_thread

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread names are read from /proc")


def _os_names() -> list[str]:
    tasks = Path("/proc/self/task")
    names = []
    for task in tasks.iterdir():
        try:
            names.append((task / "comm").read_text().strip())
        except OSError:  # the thread ended meanwhile
            pass
    return names


@linux_only
def test_a_thread_gets_its_python_name_or_a_given_one_cut_to_fifteen_bytes() -> None:
    seen: list[tuple[bool, str]] = []

    def run(name: str | None) -> None:
        done = name_os_thread(name)
        seen.append((done, Path(f"/proc/self/task/{threading.get_native_id()}/comm").read_text().strip()))

    for name in (None, "a-name-longer-than-fifteen"):
        thread = threading.Thread(target=run, args=(name,), name="worker_7")
        thread.start()
        thread.join()
    assert seen == [(True, "worker_7"), (True, "a-name-longer-t")]


@linux_only
async def test_the_service_workers_are_named_and_the_model_threads_are_not() -> None:
    registry = Registry(MODELS / "en-de", device="cpu", inter_threads=2)
    service = TranslationService(registry, cache_size=0, threads=2)
    await service.start()
    try:
        texts = ["A man is riding a bike.", "Two dogs play in the snow."]
        results = await asyncio.gather(*(service.translate_batch_cached("en", "de", [t]) for t in texts))
        assert all(r[0] for r in results)
        workers = [n for n in _os_names() if n.startswith("translate_")]
        # The two workers, and none of CTranslate2's threads (they are not started from a worker).
        assert len(workers) == 2
        assert len(_os_names()) > len(workers) + 1
    finally:
        await service.close()
