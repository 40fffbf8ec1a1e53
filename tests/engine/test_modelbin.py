"""Reading a model.bin's layout without its weights (translator.engine.modelbin), on the committed models."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from tests.conftest import MODELS
from translator.engine.metadata import ModelMetadata
from translator.engine.modelbin import ModelBinError, max_positions, read_layout


@pytest.mark.parametrize("pair", ["en-de", "de-en"])
def test_the_layout_covers_the_whole_file_and_names_the_position_table(pair: str) -> None:
    path = MODELS / pair / "model.bin"
    layout = read_layout(path)
    assert layout.spec == "TransformerSpec"
    variables = sorted(layout.variables.values(), key=lambda v: v.offset)
    # Data blocks follow one another in the file, each after its own header, none overlapping.
    for before, after in itertools.pairwise(variables):
        assert before.offset + before.size < after.offset
    assert variables[-1].offset + variables[-1].size < path.stat().st_size  # the aliases come last
    assert all(target in layout.variables for target in layout.aliases.values())
    embeddings = layout.variables["decoder/embeddings/weight"]
    assert embeddings.dtype == "int8" and embeddings.size == embeddings.shape[0] * embeddings.shape[1]
    assert max_positions(path) == ModelMetadata.load(MODELS / pair).max_positions


def test_a_file_that_is_not_a_model_is_refused_and_has_no_positions(tmp_path: Path) -> None:
    for name, content in (("short.bin", b"\x05\x00"), ("old.bin", b"\x04\x00\x00\x00" + b"\x00" * 40)):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ModelBinError):
            read_layout(tmp_path / name)
        assert max_positions(tmp_path / name) is None
    assert max_positions(tmp_path / "missing.bin") is None
