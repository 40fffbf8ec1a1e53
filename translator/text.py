"""Text rules shared by every layer: whitespace normalization, the stable-prefix rule, word erasure. Pure."""

from __future__ import annotations


def normalize_spaces(text: str) -> str:
    """Runs of white space as one space, no leading or trailing space: how sentences are compared and keyed."""
    return " ".join(text.split())


def keep_prefix(prefix: str, text: str) -> str:
    """``text``, made to start with ``prefix`` word for word (the stability promise: what was shown as
    stable stays, and no stable word is extended, e.g. ``Land`` to ``Lande``).

    A translation forced to start with ``prefix`` already does; this is the safety net that keeps the
    promise if a tokenizer does not reproduce the prefix exactly: the words that differ are replaced by
    the prefix.
    """
    if starts_with_words(text, prefix):
        return text
    prefix_words = len(prefix.split())
    rest = text.split()[prefix_words:]
    return " ".join([prefix, *rest]) if rest else prefix


def starts_with_words(text: str, prefix: str) -> bool:
    """Whether ``text`` starts with ``prefix`` and the prefix ends where a word of ``text`` ends."""
    if not text.startswith(prefix):
        return False
    after = text[len(prefix) : len(prefix) + 1]
    return prefix == "" or prefix[-1].isspace() or after == "" or after.isspace()


def starts_with_prefix(text: str, prefix: str) -> bool:
    """Whether ``text`` keeps the promise for ``prefix`` (a cached or shared translation may be reused)."""
    return starts_with_words(text, prefix)


def common_prefix_words(a: str, b: str) -> int:
    """How many words two texts share from the start."""
    x, y = a.split(), b.split()
    n = 0
    while n < min(len(x), len(y)) and x[n] == y[n]:
        n += 1
    return n


def erased(previous: str, current: str) -> int:
    """Words of ``previous`` that are not kept at the start of ``current`` (what a caption takes back)."""
    return len(previous.split()) - common_prefix_words(previous, current)
