"""Fact extraction: turn a finished call into a few durable facts about the caller.

Two extractors implement the :class:`Extractor` protocol:

- :class:`RuleExtractor` (``"rules-v1"``): offline patterns, the default;
- :class:`LLMExtractor` (``"llm:<model>"``): any OpenAI-compatible chat endpoint.

Both drop anything the sensitive-data detector (:mod:`voxmem.extraction.sensitive`)
flags. :mod:`voxmem.extraction.redaction` applies the same detector, with the
conversation's context, to everything the write path stores (turns, tool calls, metadata,
profile values, reports). The package is pure logic: it imports neither the engine nor
the store.
"""

from __future__ import annotations

from ._base import (
    FACT_KINDS,
    MAX_FACT_CHARS,
    MAX_FACTS,
    ExtractedFact,
    Extractor,
    Transcript,
    TranscriptTurn,
)
from .llm import PROMPT_VERSION, LLMExtractor, prompt_v1
from .rules import RuleExtractor
from .sensitive import (
    DEFAULT_POLICY,
    Finding,
    SensitivePolicy,
    find_sensitive,
    is_sensitive,
    redact,
)

__all__ = [
    "DEFAULT_POLICY",
    "FACT_KINDS",
    "MAX_FACTS",
    "MAX_FACT_CHARS",
    "PROMPT_VERSION",
    "ExtractedFact",
    "Extractor",
    "Finding",
    "LLMExtractor",
    "RuleExtractor",
    "SensitivePolicy",
    "Transcript",
    "TranscriptTurn",
    "find_sensitive",
    "is_sensitive",
    "prompt_v1",
    "redact",
]
