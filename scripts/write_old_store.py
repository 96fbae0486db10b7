"""Write a data directory (and optionally a Postgres database) the way an older voxmem
release left it, to check that this release upgrades it.

Run it with an older checkout first on the path, e.g.::

    git worktree add --detach ../voxmem-old <commit>
    PYTHONPATH=../voxmem-old/src python scripts/write_old_store.py OUT_DIR [--store-url URL]

It uses only the client API every release since the caller directory has (saves,
ended calls with learning, a linked identifier, a caller merge, an org index; before
the caller directory, ``merge_users`` and no identifier), records
the answers that release gave to a few searches in ``OUT_DIR/answers.json``, then saves
two more turns while the store is held back and ends the process without closing
anything (as ``kill -9`` during a store outage would): those two turns are acknowledged
and live only in the journal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from voxmem import Settings, VoiceClient

VERA = "+14155550101"
GUEST = "guest-77"
CALLS: dict[str, list[list[tuple[str, str]]]] = {
    VERA: [[("Hi, my name is Vera Lind.", "Hello Vera, how can I help?"),
            ("I'm allergic to peanuts, please note that.", "Noted: a peanut allergy."),
            ("I always want a window seat on long flights.", "Window seats, got it."),
            ("My dog Biscuit travels with me in the cabin.", "Biscuit is welcome.")],
           [("I moved to Portland last spring.", "Portland, noted."),
            ("Please send the invoices to my office address.", "Will do.")]],
    GUEST: [[("I will need a wheelchair at the gate.", "A wheelchair is booked."),
             ("My booking reference is QX7PLM.", "Thanks, found it.")]],
}
DOCUMENTS = [
    {"id": "baggage.md", "text": "Checked baggage: each passenger may check two bags of up "
     "to 23 kg. Overweight bags cost 75 dollars each. Sports equipment travels free."},
    {"id": "pets.md", "text": "Pets in the cabin: small dogs and cats under 8 kg may travel "
     "in a soft carrier under the seat. Book the pet place at least 48 hours ahead."},
    {"id": "refunds.md", "text": "Refunds: a cancelled flight is refunded in full within "
     "seven business days, to the card used for the booking."},
]
QUERIES = ["what am I allergic to", "which seat do I like", "what is my dog called",
           "where do I live now", "do I need a wheelchair", "what is my booking reference"]
ORG_QUERIES = ["how heavy can my checked bag be", "can my dog fly in the cabin",
               "when do I get my refund"]
UNAPPLIED = [("My new frequent flyer number is on the heron card.", "Saved."),
             ("The spare house key is under the blue flowerpot.", "Noted.")]


def _client(settings: Settings) -> VoiceClient:
    return VoiceClient(project_id="airline", agent_id="desk", embedded=True,
                       settings=settings)


async def _ids(client: VoiceClient, query: str, user: str) -> list[str]:
    result = await client.search_memory(query, user_id=user, timeout_ms=60_000)
    return [str(source.get("id")) for source in result.sources]


async def _learned(client: VoiceClient, user: str) -> None:
    """Wait (at most a minute) until the caller's facts stop changing for 3 s."""
    seen, still = -1, 0.0
    for _ in range(120):
        count = len(await client.list_memories(user_id=user))
        still = still + 0.5 if count == seen else 0.0
        if still >= 3:
            return
        seen = count
        await asyncio.sleep(0.5)


async def write(settings: Settings, out: Path) -> None:
    client = _client(settings)
    try:
        for user, calls in CALLS.items():
            for n, call in enumerate(calls):
                session = f"{user}-call-{n}"
                await client.start_session(user_id=user, session_id=session)
                for said, answered in call:
                    await client.save_response(user_id=user, user_text=said,
                                               assistant_text=answered)
                try:
                    await client.end_session(user_id=user, session_id=session, wait=True)
                except TypeError:  # a release before wait=True: learning in the background
                    await client.end_session(user_id=user, session_id=session)
                    await _learned(client, user)
        await client.create_index("faq", DOCUMENTS)
        if hasattr(client, "link_identifier"):
            await client.link_identifier("email", "vera.lind@example.com", user_id=VERA)
            merged = await client.merge_callers(GUEST, VERA, reason="same traveller")
        else:  # a release before the caller directory (migration 0004)
            merged = await client.merge_users(GUEST, VERA)
        await client.flush(60)
        answers: dict[str, Any] = {
            "merge": merged,
            "memory": {q: await _ids(client, q, VERA) for q in QUERIES},
            "org": {q: [c.get("documentId") or c.get("document_id")
                        for c in await client.search_index(q, name="faq")]
                    for q in ORG_QUERIES},
            "facts": sorted(str(f.get("content") or f.get("text"))
                            for f in await client.list_memories(user_id=VERA)),
        }
    finally:
        await client.aclose()
    (out / "answers.json").write_text(json.dumps(answers, indent=1, default=str))


async def unapplied(settings: Settings) -> None:
    """Save UNAPPLIED with the store held back, then end the process at once."""
    from voxmem.store.postgres import PostgresStore
    from voxmem.store.sqlite import SQLiteStore

    async def held_back(self: Any, batch: Any) -> None:
        await asyncio.Event().wait()

    SQLiteStore.write = held_back  # type: ignore[method-assign]
    PostgresStore.write = held_back  # type: ignore[method-assign]
    client = _client(settings)
    session = f"{VERA}-call-unapplied"
    await client.start_session(user_id=VERA, session_id=session)
    for said, answered in UNAPPLIED:
        await client.save_response(user_id=VERA, user_text=said, assistant_text=answered)
    sys.stdout.flush()
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for data/ and answers.json")
    parser.add_argument("--store-url", default="")
    parser.add_argument("--step", choices=["write", "unapplied"], default="write")
    parser.add_argument("--embedder", default="static",
                        help="hashing: small vectors, for a fixture the tests commit")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    settings = Settings(data_dir=str(args.out / "data"), store_url=args.store_url,
                        embedder=args.embedder)
    if args.step == "write":
        asyncio.run(write(settings, args.out))
    else:
        asyncio.run(unapplied(settings))


if __name__ == "__main__":
    main()
