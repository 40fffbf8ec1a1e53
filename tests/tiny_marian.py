"""Build a tiny random MarianMTModel with its own SentencePiece model, entirely offline."""

from __future__ import annotations

import json
from pathlib import Path

import sentencepiece as spm

CORPUS = [
    "A man is riding a bicycle.",
    "Ein Mann fährt Fahrrad.",
    "Two dogs play in the snow.",
    "Zwei Hunde spielen im Schnee.",
    "The weather is nice today.",
    "Das Wetter ist heute schön.",
    "Where is the train station?",
    "Wo ist der Bahnhof?",
    "Children are playing in the park near the water.",
    "Kinder spielen im Park am Wasser.",
] * 4


# The transformer shape of every tiny test model: small enough to build and convert in a second.
TINY_SHAPE = dict(
    d_model=16,
    encoder_layers=1,
    decoder_layers=1,
    encoder_attention_heads=2,
    decoder_attention_heads=2,
    encoder_ffn_dim=32,
    decoder_ffn_dim=32,
    max_position_embeddings=64,
)


def train_spm(directory: Path, prefix: str, lines: list[str], **options: object) -> Path:
    """Train a SentencePiece model on ``lines`` into ``directory/prefix.model`` (nothing else is left)."""
    text = directory / "corpus.txt"
    text.write_text("\n".join(lines) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(text), model_prefix=str(directory / prefix), character_coverage=1.0, minloglevel=2, **options
    )
    text.unlink()
    (directory / f"{prefix}.vocab").unlink()
    return directory / f"{prefix}.model"


def make_tiny_marian(out: Path, tags: tuple[str, ...] = (), seed: int = 0) -> Path:
    """Write a Hugging Face Marian model directory to ``out``; ``tags`` adds ">>xxx<<" tokens."""
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    out.mkdir(parents=True, exist_ok=True)
    train_spm(
        out,
        "spm",
        CORPUS,
        vocab_size=60,
        model_type="unigram",
        unk_id=0,
        eos_id=1,
        bos_id=-1,
        pad_id=-1,
        user_defined_symbols=list(tags),
    )
    sp = spm.SentencePieceProcessor(model_file=str(out / "spm.model"))
    vocab = [sp.id_to_piece(i) for i in range(sp.get_piece_size())] + ["<pad>"]
    (out / "vocab.json").write_text(json.dumps({p: i for i, p in enumerate(vocab)}), encoding="utf-8")
    for name in ("source.spm", "target.spm"):
        (out / name).write_bytes((out / "spm.model").read_bytes())
    (out / "spm.model").unlink()
    torch.manual_seed(seed)
    config = MarianConfig(
        vocab_size=len(vocab),
        decoder_vocab_size=len(vocab),
        **TINY_SHAPE,
        pad_token_id=len(vocab) - 1,
        eos_token_id=1,
        decoder_start_token_id=len(vocab) - 1,
        share_encoder_decoder_embeddings=True,
    )
    model = MarianMTModel(config)
    with torch.no_grad():  # Marian (and OPUS-MT) models start the decoder from a zero <pad> embedding
        model.get_input_embeddings().weight[config.pad_token_id].zero_()
    model.save_pretrained(out)
    tokenizer = MarianTokenizer(
        source_spm=str(out / "source.spm"),
        target_spm=str(out / "target.spm"),
        vocab=str(out / "vocab.json"),
        unk_token="<unk>",
        eos_token="</s>",
        pad_token="<pad>",
    )
    tokenizer.save_pretrained(out)
    return out
