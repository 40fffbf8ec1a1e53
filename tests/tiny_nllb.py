"""Build a tiny random NLLB-style M2M100 model with its own SentencePiece model, entirely offline."""

from __future__ import annotations

from pathlib import Path

import sentencepiece as spm

from tests.tiny_marian import CORPUS, TINY_SHAPE, train_spm

CORPUS_FR = [
    "Un homme fait du vélo.",
    "Deux chiens jouent dans la neige.",
    "Il fait beau aujourd'hui.",
    "Où est la gare?",
] * 4
# NLLB's fairseq layout: these four come first, and the SentencePiece pieces follow them.
SPECIALS = ("<s>", "<pad>", "</s>", "<unk>")


def _vocab_and_merges(sp: spm.SentencePieceProcessor) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """The BPE vocabulary and merges of a SentencePiece BPE model, as the tokenizers library wants them.

    transformers derives these with protobuf, which the test environment need not have; the
    SentencePiece API gives the same pieces and ranks.
    """
    vocab = {token: i for i, token in enumerate(SPECIALS)}
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size()) if not (sp.is_unknown(i) or sp.is_control(i))]
    for piece in pieces:
        vocab.setdefault(piece, len(vocab))
    rank = {piece: i for i, piece in enumerate(pieces)}
    merges = []
    for piece in pieces:
        splits = [(piece[:i], piece[i:]) for i in range(1, len(piece))]
        merges += sorted(((a, b) for a, b in splits if a in rank and b in rank), key=lambda m: (rank[m[0]], rank[m[1]]))
    merges.sort(key=lambda m: rank[m[0] + m[1]])
    return vocab, merges


def make_tiny_nllb(out: Path, seed: int = 0) -> Path:
    """Write a Hugging Face NLLB model directory (M2M100 weights, NllbTokenizer) to ``out``."""
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer

    out.mkdir(parents=True, exist_ok=True)
    train_spm(
        out,
        "sentencepiece.bpe",
        CORPUS + CORPUS_FR,
        vocab_size=80,
        model_type="bpe",
        normalization_rule_name="identity",
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
    )
    sp = spm.SentencePieceProcessor(model_file=str(out / "sentencepiece.bpe.model"))
    vocab, merges = _vocab_and_merges(sp)
    # The language codes (eng_Latn, deu_Latn, ...) and <mask> are added after the pieces.
    tokenizer = NllbTokenizer(vocab=vocab, merges=merges, src_lang="eng_Latn", tgt_lang="deu_Latn")
    tokenizer.save_pretrained(out)

    torch.manual_seed(seed)
    config = M2M100Config(
        vocab_size=len(tokenizer),
        **TINY_SHAPE,
        scale_embedding=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        tokenizer_class="NllbTokenizer",
    )
    M2M100ForConditionalGeneration(config).save_pretrained(out)
    return out
