"""The layout of a CTranslate2 ``model.bin``: each variable's name, shape, type and place in the file, read
without loading the weights (the file is walked header by header, seeking past the data).

The engine reads one fact from it, the number of positions the model has encodings for, when the model's
``translator.json`` does not say (a model converted elsewhere or by an older converter): decoding past the
last position is an error in CTranslate2, not a longer output. The training recipe reads the weights
themselves through it (``models/recipe/from_ct2.py``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# CTranslate2's DataType enum, in its order (include/ctranslate2/types.h).
DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
POSITION_ENCODINGS = "position_encodings/encodings"


class ModelBinError(ValueError):
    """The file is not a ``model.bin`` this reader knows."""


@dataclass(frozen=True)
class Variable:
    name: str
    shape: tuple[int, ...]
    dtype: str  # one of DTYPES
    offset: int  # where its data starts in the file
    size: int  # bytes


@dataclass(frozen=True)
class Layout:
    spec: str
    variables: dict[str, Variable]
    aliases: dict[str, str]  # alias -> the variable it names


def read_layout(path: str | Path) -> Layout:
    """The variables and aliases of a ``model.bin`` (binary version 5 or later)."""
    with open(path, "rb") as file:
        try:
            return _read(file)
        except (struct.error, UnicodeDecodeError, IndexError) as exc:
            raise ModelBinError(f"{path}: not a CTranslate2 model.bin this reader knows ({exc})") from exc


def _read(file: BinaryIO) -> Layout:
    def take(fmt: str) -> int:
        (value,) = struct.unpack(fmt, file.read(struct.calcsize(fmt)))
        return int(value)

    def text() -> str:
        return file.read(take("H"))[:-1].decode("utf-8")  # NUL-terminated

    version = take("I")
    if version < 5:
        raise ModelBinError(f"binary version {version} is older than this reader knows")
    spec = text()
    take("I")  # spec revision
    variables: dict[str, Variable] = {}
    for _ in range(take("I")):
        name = text()
        shape = tuple(take("I") for _ in range(take("B")))
        dtype = DTYPES[take("B")]
        size = take("I")
        variables[name] = Variable(name, shape, dtype, file.tell(), size)
        file.seek(size, 1)
    aliases = {}
    for _ in range(take("I")):
        alias = text()
        aliases[alias] = text()
    return Layout(spec, variables, aliases)


def max_positions(path: str | Path) -> int | None:
    """How many positions the model has encodings for (the fewest of its encoder's and decoder's), or None when
    it has no such table (relative positions, rotary embeddings) or the file cannot be read."""
    try:
        layout = read_layout(path)
    except (OSError, ModelBinError):
        return None
    counts = [v.shape[0] for name, v in layout.variables.items() if name.endswith(POSITION_ENCODINGS) and v.shape]
    return min(counts) if counts else None
