from pathlib import Path

import pytest

from translator.engine.metadata import METADATA_FILE, MetadataError, ModelMetadata


def test_round_trip(tmp_path: Path) -> None:
    meta = ModelMetadata(
        name="multi",
        source_languages=("en",),
        target_languages=("de", "fr"),
        tag_style="source_prefix",
        language_tokens={"de": ">>deu<<", "fr": ">>fra<<"},
    )
    meta.save(tmp_path)
    assert ModelMetadata.load(tmp_path) == meta
    assert meta.pairs() == [("en", "de"), ("en", "fr")]


def test_length_penalty_defaults_to_one_and_round_trips(tmp_path: Path) -> None:
    (tmp_path / METADATA_FILE).write_text('{"name": "x", "source_languages": ["en"], "target_languages": ["de"]}')
    assert ModelMetadata.load(tmp_path).length_penalty == 1.0
    ModelMetadata("x", ("en",), ("de",), length_penalty=1.5).save(tmp_path)
    assert ModelMetadata.load(tmp_path).length_penalty == 1.5


def test_tagged_model_needs_a_token_per_language() -> None:
    with pytest.raises(MetadataError, match="no language token for fr"):
        ModelMetadata("m", ("en",), ("de", "fr"), tag_style="source_prefix", language_tokens={"de": ">>deu<<"})


def test_nllb_style_needs_source_tokens_too() -> None:
    with pytest.raises(MetadataError, match="en"):
        ModelMetadata("m", ("en",), ("de",), tag_style="nllb", language_tokens={"de": "deu_Latn"})


def test_unknown_tag_style() -> None:
    with pytest.raises(MetadataError, match="tag_style"):
        ModelMetadata("m", ("en",), ("de",), tag_style="prefix")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"name": "x"}', "source_languages"),
        ('{"format": 99, "name": "x", "source_languages": ["en"], "target_languages": ["de"]}', "unsupported format"),
        ('{"name": "x", "source_languages": ["en"], "target_languages": ["de"], "max_positions": 4}', "at least 16"),
        ('{"name": "x", "source_languages": ["en"], "target_languages": ["de"], "max_positions": "9"}', "at least 16"),
        ('{"name": "x", "source_languages": ["en"], "target_languages": ["de"], "length_penalty": "2"}', "0 to 10"),
        ('{"name": "x", "source_languages": ["en"], "target_languages": ["de"], "length_penalty": -1}', "0 to 10"),
        ('{"name": "x", "source_languages": ["en"], "target_languages": ["de"], "length_penalty": true}', "0 to 10"),
    ],
)
def test_load_errors_are_clear(tmp_path: Path, content: str | None, message: str) -> None:
    if content is not None:
        (tmp_path / METADATA_FILE).write_text(content)
    with pytest.raises(MetadataError, match=message):
        ModelMetadata.load(tmp_path)


def test_truecase_tables_are_for_source_languages(tmp_path: Path) -> None:
    meta = ModelMetadata("m", ("de",), ("en",), truecase={"de": "truecase.de.tsv.gz"})
    meta.save(tmp_path)
    assert ModelMetadata.load(tmp_path).truecase == {"de": "truecase.de.tsv.gz"}
    with pytest.raises(MetadataError, match="truecase"):
        ModelMetadata("m", ("de",), ("en",), truecase={"en": "truecase.en.tsv.gz"})
