"""Helpers the extraction rule tests share: one call made of (caller, agent) turns."""

from __future__ import annotations

from voxmem.extraction import ExtractedFact, RuleExtractor, Transcript, TranscriptTurn

__all__ = ["call_of", "extract", "has", "said"]


def call_of(*turns: tuple[str, str]) -> Transcript:
    """A call whose turns are the (caller, agent) pairs, a second apart."""
    return Transcript("s1", "u1", [TranscriptTurn(f"t{i}", u, a, float(i))
                                   for i, (u, a) in enumerate(turns, 1)])


def extract(*turns: tuple[str, str]) -> list[ExtractedFact]:
    """What the default rule extractor learns from the call."""
    return RuleExtractor().extract_sync(call_of(*turns))


def said(*turns: tuple[str, str], kind: str | None = None) -> list[str]:
    """The texts of the facts learned from the call (of one kind, if given)."""
    return [f.text for f in extract(*turns) if kind is None or f.kind == kind]


def has(found: list[str], *words: str) -> bool:
    """Whether one of ``found`` holds every word (case aside)."""
    return any(all(w.lower() in t.lower() for w in words) for t in found)
