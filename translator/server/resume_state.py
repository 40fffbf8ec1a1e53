"""What a stream keeps for a resume, and how a stream travels to another replica. Pure: no I/O.

``Kept`` is a stream's record besides its ``StreamState``: its finals until the client acknowledges them
(``ack``, or ``?ack=N`` when resuming), within ``resume-max-finals`` finals and ``max-text-chars``
characters (the oldest go first), its newest partial, and how many client messages it has read.
``snapshot``/``restore`` turn a stream (its ``StreamState`` and ``Kept``) into JSON and back, written
generically over the dataclass fields (``dump``/``load``), so that the streaming state can change without
this module: a field added later gets its default when an older replica's state is read, a field removed
is ignored, and a value the codec does not know fails the hand-over (TypeError), never silently.
The registry of dropped streams is ``translator.server.resume``.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import importlib
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from translator.protocol import Final, Partial, ServerMessage
from translator.streaming import StreamState

# Fields the codec leaves out (they are set again where the stream is resumed).
TRANSIENT = {"resume_transient": True}


def key_digest(key: str | None) -> str | None:
    """What a stream remembers of its API key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest() if key else None


def _final_size(final: Final) -> int:
    return len(final.source) + len(final.text)


@dataclass
class Kept:
    """What a stream keeps for a resume besides its ``StreamState``. ``max_finals`` 0: nothing (resume off)."""

    source: str
    target: str
    partials: bool
    session: str | None
    key: str | None  # key_digest of the stream's API key
    max_finals: int
    max_chars: int
    # Finals not acknowledged yet, in segment order (sent or waiting to be sent), and their characters.
    finals: deque[Final] = field(default_factory=deque)
    chars: int = 0
    acked: int = -1
    # Client messages read (every frame but those refused while draining): the client resends the later ones.
    received: int = 0
    partial: Partial | None = None
    token: str | None = field(default=None, metadata=TRANSIENT)
    handed_over: bool = field(default=False, metadata=TRANSIENT)
    on_evict: Callable[[], None] | None = field(default=None, metadata=TRANSIENT, repr=False, compare=False)

    @classmethod
    def off(cls, source: str, target: str, partials: bool, session: str | None) -> Kept:
        return cls(source, target, partials, session, None, 0, 0)

    def keep(self, message: ServerMessage) -> None:
        """A message the stream sends: finals are kept until acknowledged, and the newest partial."""
        if not self.max_finals:
            return
        if isinstance(message, Final):
            if self.partial is not None and self.partial.segment <= message.segment:
                self.partial = None
            if message.segment <= self.acked:
                return
            self.finals.append(message)
            self.chars += _final_size(message)
            while len(self.finals) > self.max_finals or (self.chars > self.max_chars and len(self.finals) > 1):
                self.chars -= _final_size(self.finals.popleft())
                if self.on_evict is not None:
                    self.on_evict()
        elif isinstance(message, Partial):
            self.partial = message

    def ack(self, segment: int) -> None:
        """The client has the finals of every segment up to ``segment``: they need not be kept."""
        self.acked = max(self.acked, segment)
        while self.finals and self.finals[0].segment <= self.acked:
            self.chars -= _final_size(self.finals.popleft())

    def replay(self, ack: int, open_segment: int) -> list[Final | Partial]:
        """What a resuming client missed: the finals after ``ack``, in order, then the open segment's partial."""
        self.ack(ack)
        messages: list[Final | Partial] = list(self.finals)
        if self.partials and self.partial is not None and self.partial.segment == open_segment:
            messages.append(self.partial)
        return messages


# The codec: a stream's state as JSON, generically over dataclass fields ----------------------------


def snapshot(state: StreamState, kept: Kept, expires_at: float) -> str:
    """A stream's state and record as text, for the resume store; TypeError for a value it cannot write."""
    return json.dumps({"v": 1, "expires_at": expires_at, "state": dump(state), "kept": dump(kept)})


def restore(text: str) -> tuple[StreamState, Kept, float]:
    """``snapshot``'s text back; ValueError (or TypeError, KeyError) for anything else."""
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("v") != 1:
        raise ValueError("not a stream snapshot of this version")
    state, kept = load(data["state"]), load(data["kept"])
    if not isinstance(state, StreamState) or not isinstance(kept, Kept):
        raise ValueError("not a stream snapshot")
    return state, kept, float(data["expires_at"])


def dump(value: Any) -> Any:
    """``value`` as JSON: plain values as they are; dataclasses (all their attributes but TRANSIENT
    fields), ``str`` subclasses with attributes, enums, tuples, sets, deques and dicts as tagged objects.
    TypeError for anything else."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, enum.Enum):
        return {"$enum": _path(type(value)), "name": value.name}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"$dataclass": _path(type(value)), "fields": {k: dump(v) for k, v in _attributes(value).items()}}
    if isinstance(value, str):
        attrs = vars(value) if hasattr(value, "__dict__") else {}
        return {"$str": _path(type(value)), "text": str(value), "attrs": {k: dump(v) for k, v in attrs.items()}}
    if isinstance(value, deque):
        return {"$deque": [dump(v) for v in value], "maxlen": value.maxlen}
    if isinstance(value, list):
        return [dump(v) for v in value]
    if isinstance(value, tuple):
        return {"$tuple": [dump(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"$set": [dump(v) for v in value], "frozen": isinstance(value, frozenset)}
    if isinstance(value, dict):
        return {"$dict": [[dump(k), dump(v)] for k, v in value.items()]}
    raise TypeError(f"a {type(value).__name__} cannot be kept for a resume")


def load(data: Any) -> Any:
    """``dump``'s JSON back. A dataclass field the JSON lacks gets its default; classes are looked up
    in the ``translator`` package only."""
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [load(v) for v in data]
    if not isinstance(data, dict):
        raise ValueError(f"unexpected {type(data).__name__} in a stream snapshot")
    if "$dataclass" in data:
        cls = _class(data["$dataclass"])
        if not dataclasses.is_dataclass(cls):
            raise ValueError(f"{data['$dataclass']} is not a dataclass")
        given = {k: load(v) for k, v in data["fields"].items()}
        obj = cls.__new__(cls)
        for f in dataclasses.fields(cls):
            if f.name in given:
                value = given.pop(f.name)
            elif f.default is not dataclasses.MISSING:
                value = f.default
            elif f.default_factory is not dataclasses.MISSING:
                value = f.default_factory()
            else:
                raise ValueError(f"{cls.__name__}.{f.name} is missing and has no default")
            object.__setattr__(obj, f.name, value)
        if hasattr(obj, "__dict__"):  # attributes that are not fields (set by __post_init__, say)
            for name, value in given.items():
                object.__setattr__(obj, name, value)
        return obj
    if "$str" in data:
        cls = _class(data["$str"])
        if not issubclass(cls, str):
            raise ValueError(f"{data['$str']} is not a str type")
        # Built by its own constructor, so that an attribute added later has its default when an older
        # replica's snapshot does not carry it (as a dataclass field does); then the attributes it carried.
        text = cls(data["text"])
        for name, value in data["attrs"].items():
            object.__setattr__(text, name, load(value))
        return text
    if "$enum" in data:
        cls = _class(data["$enum"])
        if not issubclass(cls, enum.Enum):
            raise ValueError(f"{data['$enum']} is not an enum")
        return cls[data["name"]]
    if "$deque" in data:
        return deque((load(v) for v in data["$deque"]), data["maxlen"])
    if "$tuple" in data:
        return tuple(load(v) for v in data["$tuple"])
    if "$set" in data:
        items = [load(v) for v in data["$set"]]
        return frozenset(items) if data["frozen"] else set(items)
    if "$dict" in data:
        return {load(k): load(v) for k, v in data["$dict"]}
    raise ValueError("unknown object in a stream snapshot")


def _attributes(obj: Any) -> dict[str, Any]:
    transient = {f.name for f in dataclasses.fields(obj) if f.metadata.get("resume_transient")}
    if hasattr(obj, "__dict__"):
        attrs = dict(vars(obj))
    else:
        attrs = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    return {k: v for k, v in attrs.items() if k not in transient}


def _path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _class(path: str) -> type:
    module, _, qualname = path.partition(":")
    if not (module == "translator" or module.startswith("translator.")) or not qualname:
        raise ValueError(f"{path} is not a translator class")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    if not isinstance(obj, type):
        raise ValueError(f"{path} is not a class")
    return obj
