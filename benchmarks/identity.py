"""Caller identity: link precision and recall on labelled cases, normalisation accuracy on
spoken numbers and e-mails, and what ``mode="accurate"`` adds on LoCoMo multi-hop.

    python benchmarks/identity.py                 # all three parts
    python benchmarks/identity.py --part links    # links | normalise | accurate

Every identity case is written here (generated from templates with a fixed seed) and
run through the real engine (embedded, SQLite): known callers are set up with their
identifiers and a past call, then the new call resolves its start identifiers and says
its utterances; the call's final caller is compared with the label. A wrong link leaks
one caller's memory to another, so precision is the number that must not drop.
Writes ``benchmarks/results/identity.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT / "benchmarks"))

SEED = 20261129
FIRST = ["John", "Priya", "Catherine", "Steven", "Sean", "Maria", "Ahmed", "Lena", "Tom",
         "Grace", "Olu", "Mei", "Diego", "Hannah", "Ravi", "Sofia", "Ivan", "Chloe", "Marcus",
         "Aisha", "Noah", "Elena", "Kwame", "Yuki", "Liam"]
STT_NAME = {"John": "Jon", "Priya": "Pria", "Catherine": "Kathryn", "Steven": "Stephen",
            "Sean": "Shawn", "Maria": "Mariah", "Hannah": "Hanna", "Sofia": "Sophia",
            "Chloe": "Khloe", "Marcus": "Markus", "Aisha": "Ayesha", "Elena": "Alena"}
LAST = ["Smith", "Okafor", "Lee", "Patel", "Garcia", "Novak", "Khan", "Brown", "Tanaka"]
DOMAINS = ["gmail.com", "outlook.com", "yahoo.com", "example.org", "mail.co.uk"]
ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
        "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
        "seventeen", "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
LETTER_WORDS = {"s": "sam", "m": "mike", "b": "bravo", "p": "peter", "n": "nancy",
                "d": "david", "f": "frank", "t": "tango"}


# --- speaking numbers and e-mails the way STT writes them ---------------------------------

def say_digit(d: str, rng: random.Random) -> str:
    return "oh" if d == "0" and rng.random() < 0.5 else ONES[int(d)]


def say_pair(pair: str, rng: random.Random) -> str:
    n = int(pair)
    if pair[0] == "0":
        return f"{say_digit('0', rng)} {ONES[n]}"
    if n < 20:
        return ONES[n]
    tens, ones = divmod(n, 10)
    return TENS[tens] + (f"-{ONES[ones]}" if ones and rng.random() < 0.5
                         else f" {ONES[ones]}" if ones else "")


def say_number(digits: str, style: str, rng: random.Random) -> str:
    """``digits`` as a caller says it, in one of several styles."""
    if style == "pairs" and len(digits) % 2 == 0:
        return " ".join(say_pair(digits[i:i + 2], rng) for i in range(0, len(digits), 2))
    if style == "double":
        out, i = [], 0
        while i < len(digits):
            if i + 1 < len(digits) and digits[i] == digits[i + 1]:
                out.append(f"double {say_digit(digits[i], rng)}")
                i += 2
            else:
                out.append(say_digit(digits[i], rng))
                i += 1
        return " ".join(out)
    if style == "grouped":
        cut = [digits[i:i + 3] for i in range(0, len(digits), 3)]
        return ", ".join(" ".join(say_digit(d, rng) for d in g) for g in cut)
    if style == "numerals":
        return " ".join(digits[i:i + rng.choice([2, 3, 4])]
                        for i in range(0, len(digits), 3)).replace("  ", " ")
    if style == "spaced":
        return " ".join(digits)
    return " ".join(say_digit(d, rng) for d in digits)


NUMBER_STYLES = ("words", "pairs", "double", "grouped", "spaced")


def spell(word: str, rng: random.Random) -> str:
    out = []
    for ch in word:
        if ch.isdigit():
            out.append(ONES[int(ch)])
        elif ch in LETTER_WORDS and rng.random() < 0.2:
            out.append(f"{ch} as in {LETTER_WORDS[ch]}")
        else:
            out.append(ch)
    return " ".join(out)


def say_email(local: str, domain: str, rng: random.Random) -> str:
    parts = []
    for i, chunk in enumerate(local.replace("_", ".").split(".")):
        sep = "underscore" if "_" in local else "dot"
        if i:
            parts.append(sep)
        parts.append(spell(chunk, rng) if rng.random() < 0.6 else chunk)
    host = " dot ".join(domain.split("."))
    return f"{' '.join(parts)} at {host}"


# --- identity cases ------------------------------------------------------------------------

@dataclasses.dataclass
class Known:
    user_id: str
    name: str
    identifiers: list[tuple[str, str]]


@dataclasses.dataclass
class Case:
    category: str
    known: list[Known]
    start: list[tuple[str, str, str]]
    utterances: list[str]
    expect: str | None
    start_name: str | None = None
    start_as: str | None = None  # the call starts as this known caller (their own phone)
    tenant: str = "default"


def phone(rng: random.Random) -> str:
    return f"+1{rng.choice('23456789')}{rng.randint(10, 99)}555{rng.randint(0, 9999):04d}"


def build_cases(seed: int = SEED) -> list[Case]:
    rng = random.Random(seed)
    cases: list[Case] = []

    def person(uid: str, first: str | None = None, **extra: str) -> Known:
        name = first or rng.choice(FIRST)
        ids = [("phone", phone(rng))]
        ids += [(k, v) for k, v in extra.items()]
        return Known(uid, f"{name} {rng.choice(LAST)}", ids)

    for _ in range(25):  # same caller, new number, e-mail given at start or spoken
        local = f"{rng.choice(FIRST).lower()}.{rng.choice(LAST).lower()}{rng.randint(1, 99)}"
        domain = rng.choice(DOMAINS)
        k = person("a", email=f"{local}@{domain}")
        if rng.random() < 0.5:
            cases.append(Case("new number, e-mail at start", [k],
                              [("phone", phone(rng), "sip"), ("email", local.upper()
                                                              + "@" + domain, "crm")], [], "a"))
        elif rng.random() < 0.5:  # with the caller's name: attaches the call
            cases.append(Case("new number, e-mail + name spoken", [k],
                              [("phone", phone(rng), "sip")],
                              [f"hi, this is {k.name.split()[0]}, my email is "
                               f"{say_email(local, domain, rng)}"], "a"))
        else:  # an e-mail said aloud is no proof alone: a merge is only proposed
            cases.append(Case("new number, e-mail alone spoken", [k],
                              [("phone", phone(rng), "sip")],
                              [f"my email is {say_email(local, domain, rng)}"], None))
    for i in range(40):  # spoken account numbers, STT style
        digits = str(rng.randint(10**5, 10**8 - 1))
        if i % 4 == 0:
            digits = digits[:2] + digits[1] + digits[3:]  # a doubled digit
        k = person("a", account=f"ACCT-{digits}")
        said = say_number(digits, NUMBER_STYLES[i % len(NUMBER_STYLES)], rng)
        text = rng.choice(["hi, my account number is {}", "account number {}",
                           "it's about my account, it's {}"]).format(said)
        if i % 2:  # alone, a number said aloud only proposes a merge
            cases.append(Case("spoken account number alone", [k],
                              [("phone", phone(rng), "sip")], [text], None))
        else:
            cases.append(Case("spoken account number + name", [k],
                              [("phone", phone(rng), "sip")],
                              [f"this is {k.name.split()[0]}. {text}"], "a"))
    for _ in range(25):  # name-only claims
        k = person("a")
        first = k.name.split()[0]
        cases.append(Case("name only", [k], [("phone", phone(rng), "sip")],
                          [rng.choice(["hi, this is {}", "my name is {}", "it's {} here"])
                           .format(k.name if rng.random() < 0.5 else first)], None))
    for i in range(30):  # two Johns
        inv_a, inv_b = str(rng.randint(1000, 9999)), str(rng.randint(1000, 9999))
        a = person("john-a", "John", invoice=f"INV-{inv_a}")
        b = person("john-b", "John", invoice=f"INV-{inv_b}")
        if i < 20:
            said = say_number(inv_b, rng.choice(NUMBER_STYLES), rng)
            cases.append(Case("two Johns, invoice", [a, b], [("phone", phone(rng), "sip")],
                              [f"this is John, the one who called about invoice {said}"],
                              "john-b"))
        else:
            cases.append(Case("two Johns, name only", [a, b], [("phone", phone(rng), "sip")],
                              ["hi, this is John, I called last week"], None))
    for i in range(30):  # family members calling for each other
        digits = str(rng.randint(10**5, 10**7))
        son = person("son", rng.choice(["Tom", "Liam", "Noah"]), account=digits)
        mum = person("mum", rng.choice(["Grace", "Elena", "Maria"]))
        said = say_number(digits, rng.choice(NUMBER_STYLES), rng)
        if i % 3 == 0:
            cases.append(Case("family, on behalf", [son, mum], [("phone", phone(rng), "sip")],
                              [f"I'm calling about my son's account, it's {said}"], None))
        elif i % 3 == 1:
            cases.append(Case("family, known parent", [son, mum], [], [
                f"this is {mum.name.split()[0]}, account number {said}"], "mum",
                start_as="mum"))
        else:
            cases.append(Case("family, name contradicts", [son, mum],
                              [("phone", phone(rng), "sip")],
                              [f"hi it's {mum.name.split()[0]}, account number {said}"], None))
    for first, typo in list(STT_NAME.items()) * 2 + [("Priya", "Pria")]:  # STT name typos
        inv = str(rng.randint(1000, 99999))
        k = person("a", first, invoice=inv)
        said = say_number(inv, rng.choice(NUMBER_STYLES), rng)
        cases.append(Case("STT name variant + invoice", [k], [("phone", phone(rng), "sip")],
                          [f"hello this is {typo}, calling about invoice {said}"], "a"))
    for _ in range(8):  # a misheard digit: the truth is a link we cannot make safely
        digits = str(rng.randint(10**6, 10**7 - 1))
        wrong = digits[:-1] + str((int(digits[-1]) + 1) % 10)
        k = person("a", account=digits)
        cases.append(Case("misheard account digit", [k], [("phone", phone(rng), "sip")],
                          [f"my account number is {say_number(wrong, 'words', rng)}"], "a"))
    for _ in range(15):  # a shared phone
        shared = phone(rng)
        a, b = person("a"), person("b")
        a.identifiers.append(("phone", shared))
        b.identifiers.append(("phone", shared))
        cases.append(Case("shared phone", [a, b], [("phone", shared, "sip")], [], None))
    for _ in range(10):  # identifiers of two callers at start
        a, b = person("a", email="a@x.org"), person("b", email="b@x.org")
        cases.append(Case("conflicting identifiers", [a, b],
                          [("phone", a.identifiers[0][1], "sip"), ("email", "b@x.org", "crm")],
                          [], None))
    for _ in range(10):  # the same phone in another tenant
        k = person("a")
        cases.append(Case("other tenant", [k], [("phone", k.identifiers[0][1], "sip")], [],
                          None, tenant="other"))
    for _ in range(15):  # SIP formats of a known phone
        k = person("a")
        e164 = k.identifiers[0][1]
        national = f"({e164[2:5]}) {e164[5:8]}-{e164[8:]}"
        raw = rng.choice([f"sip:{e164}@trunk.example;user=phone", f"tel:+1-{e164[2:5]}-"
                          f"{e164[5:8]}-{e164[8:]}", f"00{e164[1:]}", national,
                          f"1 {national}"])
        cases.append(Case("SIP phone formats", [k], [("phone", raw, "sip")], [], "a"))
    for _ in range(10):  # a known caller reads out another caller's account
        a, b = person("a"), person("b", account=str(rng.randint(10**5, 10**7)))
        acct = b.identifiers[-1][1]
        cases.append(Case("known caller, other's account", [a, b], [], [
            f"the account is {say_number(acct, 'words', rng)}"], "a", start_as="a"))
    for _ in range(10):  # a corroborating identifier with no name
        order = str(rng.randint(1000, 99999))
        k = person("a", order=order)
        cases.append(Case("order number, no name", [k], [("phone", phone(rng), "sip")],
                          [f"I'm calling about order {say_number(order, 'words', rng)}"], None))
    return cases


async def run_links(cases: list[Case]) -> dict[str, Any]:
    from voxmem import Settings
    from voxmem.engine import MemoryEngine
    from voxmem.models import Caller

    tmp = tempfile.TemporaryDirectory(prefix="voxmem-identity-")
    engine = MemoryEngine(Settings(data_dir=tmp.name, embedder="hashing", extractor="off",
                                   journal_fsync="never"))
    await engine.start()
    rows = []
    started = time.perf_counter()
    try:
        for i, case in enumerate(cases):
            project = f"case{i}"

            def scope(uid: str, tenant: str = "default", project: str = project) -> Any:
                return engine.scope(project_id=project, agent_id="bench", user_id=uid,
                                    tenant_id=tenant)

            for k in case.known:
                s = scope(k.user_id)
                await engine.directory.resolve(
                    s, [(kind, value, "crm") for kind, value in k.identifiers],
                    user_id=k.user_id, name=k.name)
                await engine.start_session(s, Caller(k.user_id, k.name))
                await engine.save_response(s, Caller(k.user_id), user_text="hello",
                                           assistant_text="hi")
                await engine.end_session(s, learn=False)
            await engine.flush(30)
            if case.start_as is not None:
                user_id = case.start_as
            else:
                found = await engine.directory.resolve(
                    scope("-", case.tenant), case.start, name=case.start_name,
                    default_user_id=f"new-{i}")
                user_id = found["userId"]
            s = scope(user_id, case.tenant)
            await engine.start_session(s, Caller(user_id))
            for text in case.utterances:
                await engine.save_response(scope(user_id, case.tenant), Caller(user_id),
                                           user_text=text, assistant_text="Let me check.")
                await engine.directory.idle()
            final = scope(user_id, case.tenant).user_id
            known = {k.user_id for k in case.known} if case.tenant == "default" else set()
            predicted = final if final in known else None
            rows.append({"category": case.category, "expect": case.expect,
                         "predicted": predicted,
                         "utterances": case.utterances})
    finally:
        await engine.close()
        tmp.cleanup()
    wall = time.perf_counter() - started
    tp = sum(1 for r in rows if r["predicted"] is not None and r["predicted"] == r["expect"])
    predicted = sum(1 for r in rows if r["predicted"] is not None)
    positives = sum(1 for r in rows if r["expect"] is not None)
    by_cat: dict[str, dict[str, int]] = {}
    for r in rows:
        c = by_cat.setdefault(str(r["category"]), {"cases": 0, "correct": 0, "wrong_links": 0})
        c["cases"] += 1
        c["correct"] += int(r["predicted"] == r["expect"])
        c["wrong_links"] += int(r["predicted"] is not None and r["predicted"] != r["expect"])
    return {"cases": len(rows), "link_precision": round(tp / predicted, 4) if predicted else 1.0,
            "link_recall": round(tp / positives, 4) if positives else 1.0,
            "wrong_links": predicted - tp, "by_category": by_cat, "wall_s": round(wall, 1),
            "errors": [r for r in rows if r["predicted"] != r["expect"]]}


# --- normalisation accuracy ------------------------------------------------------------------

def normalisation_items(seed: int = SEED) -> list[tuple[str, str, str]]:
    """(kind, as spoken, expected normal form)."""
    rng = random.Random(seed + 1)
    items: list[tuple[str, str, str]] = []
    for i in range(150):
        digits = str(rng.randint(10**3, 10**9))
        if i % 5 == 2:
            j = rng.randrange(len(digits) - 1)
            digits = digits[:j] + digits[j] + digits[j + 1:]
        style = NUMBER_STYLES[i % len(NUMBER_STYLES)]
        items.append(("account", f"account number {say_number(digits, style, rng)}", digits))
    for i in range(50):
        e164 = phone(rng)
        national = e164[2:]
        style = ("grouped", "words", "pairs", "double", "spaced")[i % 5]
        spoken = ", ".join(say_number(part, style, rng) for part in
                           (national[:3], national[3:6], national[6:]))
        items.append(("phone", spoken, e164))
    for _ in range(100):
        local = rng.choice([f"{rng.choice(FIRST).lower()}.{rng.choice(LAST).lower()}",
                            f"{rng.choice(FIRST).lower()}{rng.randint(1, 99)}",
                            f"{rng.choice(FIRST).lower()}_{rng.choice(LAST).lower()}"])
        domain = rng.choice(DOMAINS)
        items.append(("email", say_email(local, domain, rng), f"{local}@{domain}"))
    return items


def run_normalise() -> dict[str, Any]:
    from voxmem.entities._identifiers import normalize_identifier

    items = normalisation_items()
    by_kind: dict[str, list[int]] = {}
    errors = []
    for kind, spoken, expected in items:
        got = normalize_identifier(kind, spoken, "US")
        ok = got == (expected if kind != "account" else normalize_identifier(
            "account", expected))
        by_kind.setdefault(kind, []).append(int(ok))
        if not ok:
            errors.append({"kind": kind, "spoken": spoken, "expected": expected, "got": got})
    total = [x for v in by_kind.values() for x in v]
    return {"items": len(total), "accuracy": round(sum(total) / len(total), 4),
            "by_kind": {k: round(sum(v) / len(v), 4) for k, v in by_kind.items()},
            "errors": errors}


# --- accurate mode on LoCoMo multi-hop -------------------------------------------------------

def run_accurate(locomo: bool = True) -> dict[str, Any]:
    import retrieval_quality as rq

    class GraphAdapter(rq.VoxmemAdapter):
        def __init__(self, mode: str) -> None:
            super().__init__("static")
            self.mode = mode
            self.name = f"voxmem[{mode}]"
            self.graph_ms: list[float] = []
            self.total_ms: list[float] = []

        def ingest(self, user_id: str, session_id: str, timestamp_iso: str,
                   turns: list[dict[str, str]]) -> None:
            super().ingest(user_id, session_id, timestamp_iso, turns)
            self._loop.run_until_complete(self._engine.directory.learn_graph(
                self._scope(user_id), f"{user_id}:{session_id}"))

        def search(self, user_id: str, query: str, k: int, now_iso: str) -> list[str]:
            self.now = rq._ts(now_iso)
            result = self._loop.run_until_complete(self._engine.search_memory(
                self._scope(user_id), query, lanes=["permanent"], top_k={"permanent": k},
                timeout_ms=5000, mode=self.mode))
            graph = result.trace.get("graph")
            if graph is not None:
                self.graph_ms.append(float(graph["ms"]))
            self.total_ms.append(float(result.trace["totalMs"]))
            return [h["turnId"] for h in result.permanent if h.get("turnId")]

    out: dict[str, Any] = {}
    for mode in ("fast", "accurate"):
        adapter = GraphAdapter(mode)
        res = rq.run("locomo", adapter, None)["results"]
        cat1 = next(v for key, v in res["by_category"].items() if key.startswith("1"))
        out[mode] = {"cat1_recall@5": cat1["recall@5"], "cat1_recall@10": cat1["recall@10"],
                     "overall_recall@10": res["overall_cat1-4"]["recall@10"],
                     "search_p50_ms": round(statistics.median(adapter.total_ms), 3),
                     "search_p95_ms": round(_p95(adapter.total_ms), 3)}
        if adapter.graph_ms:
            out[mode]["graph_step_p95_ms"] = round(_p95(adapter.graph_ms), 3)
        adapter.close()
    out["support_multihop"] = asyncio.run(run_support_multihop())
    out["cat1_gain@10"] = round(out["accurate"]["cat1_recall@10"]
                                - out["fast"]["cat1_recall@10"], 4)
    out["added_p95_ms"] = round(out["accurate"]["search_p95_ms"]
                                - out["fast"]["search_p95_ms"], 3)
    return out


DEVICES = ["modem", "router", "printer", "thermostat", "dishwasher", "laptop", "boiler",
           "tablet"]
BRANDS = ["Netgear", "Arris", "Canon", "Nest", "Bosch", "Lenovo", "Vaillant", "Samsung"]
ISSUES = ["keeps dropping the connection every evening", "shows a blinking orange light",
          "makes a loud clicking noise", "will not turn on after the storm",
          "is showing error code E42", "restarts on its own at night"]
FILLER = ["can I change my billing date to the fifteenth", "what are your opening hours",
          "I moved house last month", "please send the bill by email from now on",
          "is there a discount for paying yearly", "my daughter will call for me next time",
          "I was charged twice last month", "can you update my address"]


async def run_support_multihop(n_callers: int = 40, k: int = 3) -> dict[str, Any]:
    """Multi-hop questions over support calls written here: the question names a ticket,
    the answer is an earlier call that names only the device the ticket is about."""
    from voxmem import Settings
    from voxmem.engine import MemoryEngine
    from voxmem.models import Caller

    rng = random.Random(SEED + 2)
    tmp = tempfile.TemporaryDirectory(prefix="voxmem-multihop-")
    clock = [1.7e9]
    engine = MemoryEngine(Settings(data_dir=tmp.name, embedder="static", extractor="off",
                                   journal_fsync="never", memory_retention_days=0),
                          clock=lambda: clock[0])
    await engine.start()
    hits = {"fast": 0, "accurate": 0}
    graph_ms: list[float] = []
    try:
        for c in range(n_callers):
            s = engine.scope(project_id="mh", agent_id="bench", user_id=f"c{c}")
            devices = rng.sample(range(len(DEVICES)), 3)
            issue_ids: list[str] = []
            ticket = str(rng.randint(1000, 9999))
            calls = []
            for j, d in enumerate(devices):  # earlier calls about three devices
                calls.append([f"my {BRANDS[d]} {DEVICES[d]} {rng.choice(ISSUES)}",
                              rng.choice(FILLER)])
                if j == 0:
                    target = d
            calls.append([rng.choice(FILLER), f"I want to follow up on ticket {ticket} "
                          f"about the {DEVICES[target]}"])
            calls.extend([[rng.choice(FILLER)] for _ in range(3)])
            for turns in calls:
                clock[0] += 86_400 * rng.randint(1, 6)
                info = await engine.start_session(s, Caller(s.user_id))
                for text in turns:
                    event = await engine.save_response(s, Caller(s.user_id), user_text=text,
                                                       assistant_text="I have noted that.")
                    if turns is calls[0] and text is turns[0]:
                        issue_ids.append(str(event))
                await engine.end_session(s, learn=False)
                await engine.directory.learn_graph(s, info.id)
            await engine.flush(30)
            query = f"what was the problem behind ticket {ticket}?"
            for mode in ("fast", "accurate"):
                result = await engine.search_memory(s, query, lanes=["permanent"],
                                                    top_k={"permanent": k}, timeout_ms=5000,
                                                    mode=mode)
                ids = [h["id"] for h in result.permanent[:k]]
                hits[mode] += int(issue_ids[0] in ids)
                if mode == "accurate":
                    graph_ms.append(float(result.trace["graph"]["ms"]))
    finally:
        await engine.close()
        tmp.cleanup()
    return {"questions": n_callers, "k": k,
            "fast_hit@k": round(hits["fast"] / n_callers, 4),
            "accurate_hit@k": round(hits["accurate"] / n_callers, 4),
            "graph_step_p95_ms": round(_p95(graph_ms), 3)}


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["links", "normalise", "accurate", "all"],
                        default="all")
    parser.add_argument("--json", default=str(RESULTS / "identity.json"))
    parser.add_argument("--show-errors", action="store_true")
    args = parser.parse_args()
    out: dict[str, Any] = {}
    if args.part in ("links", "all"):
        out["links"] = asyncio.run(run_links(build_cases()))
        links = out["links"]
        print(f"identity cases: {links['cases']}  link precision {links['link_precision']:.3f}"
              f"  recall {links['link_recall']:.3f}  wrong links {links['wrong_links']}")
        print(f"{'category':<34}{'cases':>6}{'correct':>9}{'wrong links':>13}")
        for cat, c in links["by_category"].items():
            print(f"{cat:<34}{c['cases']:>6}{c['correct']:>9}{c['wrong_links']:>13}")
    if args.part in ("normalise", "all"):
        out["normalise"] = run_normalise()
        n = out["normalise"]
        print(f"normalisation: {n['items']} spoken items, accuracy {n['accuracy']:.3f} "
              + " ".join(f"{k} {v:.3f}" for k, v in n["by_kind"].items()))
    if args.part in ("accurate", "all"):
        out["accurate"] = run_accurate()
        a = out["accurate"]
        print(f"{'LoCoMo dev, cat. 1 multi-hop':<30}{'r@5':>8}{'r@10':>8}{'all r@10':>10}"
              f"{'p50 ms':>9}{'p95 ms':>9}")
        for mode in ("fast", "accurate"):
            m = a[mode]
            print(f"{mode:<30}{m['cat1_recall@5']:>8.3f}{m['cat1_recall@10']:>8.3f}"
                  f"{m['overall_recall@10']:>10.3f}{m['search_p50_ms']:>9.2f}"
                  f"{m['search_p95_ms']:>9.2f}")
        m = a["support_multihop"]
        print(f"support calls written here ({m['questions']} ticket -> device -> earlier "
              f"issue questions): hit@{m['k']} fast {m['fast_hit@k']:.3f}, accurate "
              f"{m['accurate_hit@k']:.3f} (graph step p95 {m['graph_step_p95_ms']:.2f} ms)")
        print(f"gain on cat. 1 r@10: {a['cat1_gain@10']:+.4f}; added p95 "
              f"{a['added_p95_ms']:+.2f} ms (graph step p95 "
              f"{a['accurate'].get('graph_step_p95_ms', 0):.2f} ms)")
    if args.show_errors:
        for part in ("links", "normalise"):
            for e in out.get(part, {}).get("errors", []):
                print(json.dumps(e))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
