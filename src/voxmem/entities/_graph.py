"""The per-caller entity graph, extracted offline from a call's turns by rules.

Entities: reference numbers (ticket, order, invoice, account, policy), devices (with a
brand, model or serial when said), people and pets (with their relation to the caller),
addresses and appointments. Two entities mentioned in the same turn are related (a
ticket is *about* the device mentioned with it); every entity remembers the memory
items (turns) that mention it, which is what ``mode="accurate"`` brings back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..models import Turn
from ..store._entities import EdgeRow, EntityRow, Graph, MentionRow
from ._identifiers import normalize_identifier
from ._speech import spoken_to_digits

__all__ = ["GRAPH_CONFIDENCE", "entity_terms", "extract_graph"]

#: Confidence of a rule-extracted entity; mentions in several turns add up at read time.
GRAPH_CONFIDENCE = 0.8

_REF = re.compile(
    r"\b(ticket|case|incident|order|invoice|account|policy|claim|booking|reservation)"
    r"\s*(?:number|no\.?|#|id)?[\s,:]*(?:is|was)?\s*([A-Za-z]{0,4}[\s-]?\d[\d\s-]{2,}\d|\d{3,})",
    re.I)
_REF_KIND = {"case": "ticket", "incident": "ticket", "claim": "ticket",
             "booking": "appointment", "reservation": "appointment"}
DEVICES = frozenset({
    "modem", "router", "laptop", "computer", "pc", "printer", "phone", "iphone", "tablet",
    "ipad", "tv", "television", "fridge", "refrigerator", "freezer", "washer", "dryer",
    "dishwasher", "oven", "stove", "microwave", "thermostat", "boiler", "furnace", "heater",
    "car", "truck", "bike", "camera", "speaker", "headphones", "watch", "console", "meter",
    "set-top", "box", "charger", "battery", "monitor", "keyboard", "hub", "extender",
    "alarm", "doorbell", "lock", "sim", "handset"})
_DEVICE = re.compile(
    r"\b(?:(?:my|the|our|a|new|old)\s+)?((?:[A-Z][\w-]+\s+){0,2})("
    + "|".join(sorted((re.escape(d) for d in DEVICES), key=len, reverse=True)) + r")s?\b",
    re.I)
_MODEL = re.compile(r"\bmodel\s*(?:number|no\.?)?\s*(?:is\s+)?([A-Z0-9][A-Z0-9-]{2,})", re.I)
_SERIAL = re.compile(r"\bserial\s*(?:number|no\.?)?\s*(?:is\s+)?([A-Z0-9][A-Z0-9-]{3,})", re.I)
RELATIVES = ("wife", "husband", "partner", "son", "daughter", "mother", "mom", "mum",
             "father", "dad", "brother", "sister", "grandmother", "grandma", "grandfather",
             "grandpa", "aunt", "uncle", "friend", "boss", "colleague", "neighbor", "neighbour")
PETS = ("dog", "cat", "puppy", "kitten", "parrot", "rabbit", "hamster", "horse", "bird")
_PERSON = re.compile(r"\bmy\s+(" + "|".join(RELATIVES) + r")(?:'s\s+name\s+is|,?\s+"
                     r"(?:named|called))?\s*,?\s+([A-Z][a-z]+)\b")
_PET = re.compile(r"\bmy\s+(" + "|".join(PETS) + r")(?:'s\s+name\s+is|,?\s+(?:named|called))?"
                  r"\s*,?\s+([A-Z][a-z]+)\b")
_ADDRESS = re.compile(
    r"\b(\d{1,5}\s+(?:[A-Z][a-z]+\s+){1,3}(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|"
    r"Way|Court|Ct|Boulevard|Blvd|Place|Pl|Close|Crescent|Terrace))\b")
_APPOINTMENT = re.compile(
    r"\b(?:appointment|visit|booking|technician|engineer|call\s*back)\b[^.?!]{0,40}?\b"
    r"(?:on|for|at)\s+((?:next\s+)?(?:monday|tuesday|wednesday|thursday|friday|saturday|"
    r"sunday|tomorrow|today)|(?:january|february|march|april|may|june|july|august|"
    r"september|october|november|december)\s+\d{1,2}(?:st|nd|rd|th)?|\d{1,2}(?:st|nd|rd|th)"
    r"\s+of\s+\w+)", re.I)
_NOT_NAME = frozenset({"And", "But", "The", "She", "He", "They", "It", "Is", "Was", "Has",
                       "Just", "Who", "Will", "Can"})


def _found(text: str) -> list[tuple[str, str, str, dict[str, str]]]:
    """(id, kind, label, attrs) of the entities one text mentions."""
    out: list[tuple[str, str, str, dict[str, str]]] = []
    digits = spoken_to_digits(text)
    for m in _REF.finditer(digits):
        word = m.group(1).lower()
        kind = _REF_KIND.get(word, word)
        value = normalize_identifier(kind if kind != "appointment" else "order", m.group(2))
        if value:
            out.append((f"{kind}:{value}", kind, f"{word} {m.group(2).strip()}", {}))
    for m in _DEVICE.finditer(text):
        device = m.group(2).lower()
        brand = " ".join(w for w in m.group(1).split() if w[:1].isupper()
                         and w.lower() not in {"my", "the", "our", "new", "old"})
        attrs: dict[str, str] = {}
        if brand:
            attrs["brand"] = brand
        model, serial = _MODEL.search(text), _SERIAL.search(text)
        if model:
            attrs["model"] = model.group(1).upper()
        if serial:
            attrs["serial"] = serial.group(1).upper()
        out.append((f"device:{device}", "device", f"{brand} {device}".strip(), attrs))
    for m in _PERSON.finditer(text):
        if m.group(2) not in _NOT_NAME:
            name = m.group(2)
            out.append((f"person:{name.lower()}", "person", name,
                        {"relation": m.group(1).lower()}))
    for m in _PET.finditer(text):
        if m.group(2) not in _NOT_NAME:
            out.append((f"pet:{m.group(2).lower()}", "pet", m.group(2),
                        {"species": m.group(1).lower()}))
    for m in _ADDRESS.finditer(text):
        out.append((f"address:{m.group(1).lower()}", "address", m.group(1), {}))
    for m in _APPOINTMENT.finditer(text):
        when = m.group(1).lower()
        out.append((f"appointment:{when}", "appointment", f"appointment {when}", {}))
    return out


def _relation(a_kind: str, b_kind: str) -> str:
    if a_kind in {"ticket", "order", "invoice", "appointment"} and b_kind == "device":
        return "about"
    if b_kind in {"person", "pet"}:
        return "involves"
    return "mentioned_with"


def extract_graph(turns: Sequence[Turn]) -> Graph:
    """The entity graph of one call (entities, same-turn relations, turn mentions)."""
    entities: dict[str, EntityRow] = {}
    edges: dict[tuple[str, str, str], EdgeRow] = {}
    mentions: list[MentionRow] = []
    for turn in turns:
        found = _found(f"{turn.user_text}\n{turn.assistant_text}")
        ids: list[str] = []
        for eid, kind, label, attrs in found:
            old = entities.get(eid)
            if old is None:
                entities[eid] = EntityRow(id=eid, kind=kind, label=label, attrs=attrs,
                                          confidence=GRAPH_CONFIDENCE, mentions=1,
                                          first_seen=turn.created_at, last_seen=turn.created_at)
            else:
                entities[eid] = EntityRow(
                    id=eid, kind=kind, label=old.label if len(old.label) >= len(label)
                    else label, attrs={**old.attrs, **attrs}, confidence=old.confidence,
                    mentions=old.mentions + (eid not in ids), first_seen=old.first_seen,
                    last_seen=turn.created_at)
            if eid not in ids:
                ids.append(eid)
                mentions.append(MentionRow(entity_id=eid, item_id=turn.event_id,
                                           session_id=turn.session_id, at=turn.created_at))
        kinds = {eid: kind for eid, kind, _l, _a in found}
        for i, a in enumerate(ids):
            for b in ids[i + 1:]:
                src, dst = (a, b) if _relation(kinds[a], kinds[b]) != "mentioned_with" or \
                    a < b else (b, a)
                rel = _relation(kinds[src], kinds[dst])
                edges.setdefault((src, rel, dst), EdgeRow(
                    source_id=src, relation=rel, target_id=dst, confidence=GRAPH_CONFIDENCE,
                    created_at=turn.created_at))
    return Graph(entities=list(entities.values()), edges=list(edges.values()),
                 mentions=mentions)


def entity_terms(text: str) -> list[str]:
    """Entity ids a query mentions (what accurate recall starts its walk from)."""
    return [eid for eid, _k, _l, _a in _found(text)]
