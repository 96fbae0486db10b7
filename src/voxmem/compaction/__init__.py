"""In-call compaction: keep a long call's context small without losing what matters.

A 20-minute call sends every "uh-huh" and "can you repeat that?" to the LLM on every
turn. :func:`compact_transcript` keeps the last turns verbatim and folds the older ones
into one compact record of the durable signal (who the caller is, identifiers, amounts,
dates, times, addresses, commitments, decisions, open questions), offline and in well
under a millisecond per turn. :class:`Compactor` does the same incrementally for a live
call; :class:`LLMSummariser` optionally rewrites the record with an OpenAI-compatible
model, guarded by the offline record.

Example::

    from voxmem import compact_transcript

    result = compact_transcript(turns)          # [{"role": "user", "text": ...}, ...]
    print(f"{result.tokens_before} -> {result.tokens_after} tokens")
"""

from ._compactor import DEFAULT_KEEP_LAST_TURNS, CompactedTranscript, Compactor, compact_transcript
from ._items import KeyItem
from ._tokens import TOKENIZER_NAME, count_tokens
from .llm import LLMSummariser

__all__ = [
    "DEFAULT_KEEP_LAST_TURNS",
    "TOKENIZER_NAME",
    "CompactedTranscript",
    "Compactor",
    "KeyItem",
    "LLMSummariser",
    "compact_transcript",
    "count_tokens",
]
