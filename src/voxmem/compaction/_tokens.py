"""Token counts with a real tokenizer that ships with voxmem (no download, no network).

The WordPiece tokenizer of all-MiniLM-L6-v2 is already package data (the default
embedder uses it), so counting costs no extra install. Its counts differ from a given
LLM's BPE tokenizer by a few percent either way; reductions (before / after) compare
like with like. Counts are cached per text because a live call re-counts the same turns
on every compaction.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["TOKENIZER_NAME", "count_tokens"]

#: What :func:`count_tokens` counts with, for tables and logs.
TOKENIZER_NAME = "all-MiniLM-L6-v2 WordPiece (bundled)"
_CACHE_SIZE = 8192
#: The default embedder's tokenizer (package data). Named here rather than imported from
#: ``voxmem.embeddings``, which would load numpy into a process that only compacts.
TOKENIZER_FILE = (Path(__file__).resolve().parent.parent / "embeddings" / "data"
                  / "static-minilm-384" / "tokenizer.json")


@functools.cache
def _tokenizer() -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(TOKENIZER_FILE))
    # The artifact may carry the embedder's truncation; a count must see the whole text.
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


@functools.lru_cache(maxsize=_CACHE_SIZE)
def count_tokens(text: str) -> int:
    """Number of tokens in ``text`` (no special tokens).

    Example::

        count_tokens("My account number is four four two one")  # -> 8
    """
    if not text:
        return 0
    return _counter()(text)


@functools.cache
def _counter() -> Callable[[str], int]:
    tokenizer = _tokenizer()
    fast = getattr(tokenizer, "encode_batch_fast", None)
    if fast is None:  # tokenizers < 0.20
        def exact(text: str) -> int:
            return len(tokenizer.encode(text, add_special_tokens=False).ids)
    else:
        # The batch "fast" path skips character offsets, which a count does not need.
        def exact(text: str) -> int:
            return len(fast([text], add_special_tokens=False)[0])
    vocab = _wordpiece()[0]

    def count(text: str) -> int:
        # Exact shortcut for plain text (see _SLOW), where the BERT normaliser only lower-cases
        # and the pre-tokenizer splits on whitespace and on every punctuation character;
        # WordPiece then splits each piece on its own, and most pieces are whole words
        # of the vocabulary (one token, one set lookup). A 20-minute call is counted
        # several times faster this way than by encoding it, which builds token strings,
        # ids and offsets. Anything else goes to the tokenizer as a whole.
        if _SLOW.search(text) is not None:
            # The tokenizer takes valid Unicode only: a lone surrogate (half an emoji, from
            # a reply streamed in pieces) is counted as the one character it stands for.
            return exact(_LONE_SURROGATE.sub("\ufffd", text))
        pieces = _PIECE.findall(text.lower())
        return len(pieces) + sum(_split(piece) - 1 for piece in pieces if piece not in vocab)

    return count


@functools.cache
def _wordpiece() -> tuple[frozenset[str], int, str]:
    """The WordPiece model's vocabulary, longest piece and continuation prefix."""
    tokenizer = _tokenizer()
    limit = getattr(tokenizer.model, "max_input_chars_per_word", None)
    prefix = getattr(tokenizer.model, "continuing_subword_prefix", None)
    return (frozenset(tokenizer.get_vocab()), int(limit) if isinstance(limit, int) else 100,
            prefix or "##")


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _split(piece: str) -> int:
    """Tokens WordPiece makes of one pre-tokenized piece: the model's own algorithm.

    Greedy longest match first from the left, continuations prefixed; a piece with a part
    the vocabulary cannot cover, or longer than the model's limit, is one unknown token.
    """
    vocab, max_chars, prefix = _wordpiece()
    if len(piece) > max_chars:
        return 1
    count, start = 0, 0
    while start < len(piece):
        end = len(piece)
        while end > start:
            part = piece[start:end] if start == 0 else prefix + piece[start:end]
            if part in vocab:
                break
            end -= 1
        else:
            return 1  # the whole piece becomes the unknown token
        count += 1
        start = end
    return count


def warm_up() -> None:
    """Load the tokenizer and its vocabulary now, so the first count does not pay it.

    Loading takes tens of milliseconds; an agent calls this when a call opens rather than
    on the caller's first turn.
    """
    _counter()
    _wordpiece()


def clear_caches() -> None:
    """Forget every cached count (a benchmark uses it to time a cold start)."""
    count_tokens.cache_clear()
    _split.cache_clear()


# Text the shortcut covers: printable ASCII with tab, newline and carriage return, plus
# the typographic punctuation of transcripts (dashes, curly quotes, ellipsis), which the
# BERT normaliser leaves alone and the pre-tokenizer splits off like ASCII punctuation.
# Anything else (control characters it deletes, accents it strips, other scripts, other
# spaces) takes the tokenizer's own path.
_SLOW = re.compile("[^\t\n\r\x20-\x7e\u2013\u2014\u2018\u2019\u201c\u201d\u2026]")
# The BERT pre-tokenizer on that text, lower-cased: runs of letters and digits, and every
# other non-space character on its own.
_PIECE = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
