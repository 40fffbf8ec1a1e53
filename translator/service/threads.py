"""Names for the service's threads where the operating system shows them (``top -H``, ``/proc/PID/task``)."""

from __future__ import annotations

import ctypes
import sys
import threading

_PR_SET_NAME = 15
_NAME_BYTES = 15  # Linux keeps 15 bytes of a thread's name


def name_os_thread(name: str | None = None) -> bool:
    """Give the calling thread ``name`` (default: its Python name) as its operating-system name, so that
    per-thread CPU can be told apart from outside the process. Linux only; elsewhere, or if it fails,
    nothing happens and False is returned."""
    if not sys.platform.startswith("linux"):
        return False
    text = (name or threading.current_thread().name).encode("utf-8", "replace")[:_NAME_BYTES]
    try:
        libc = ctypes.CDLL(None)  # the process's own symbols, libc's among them
        return bool(libc.prctl(_PR_SET_NAME, ctypes.c_char_p(text), 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False
