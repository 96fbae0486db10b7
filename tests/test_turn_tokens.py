"""A saved turn's topic tokens come from the write path's embedding, not a second read.

The store writer embeds each saved turn, which tokenises it; ``TopicModel.embed_turns``
keeps those ids (a labelled turn's content is tokenised there too) and the caller cache
stores them with the turn's vector, so the first search that has the turn as a candidate
does not tokenise it again on the event loop. The tokens must be the ones that search
would have read, or the learned fusion's topic features would change.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voxmem import Settings
from voxmem.embeddings.static import StaticEmbedder
from voxmem.engine import MemoryEngine
from voxmem.engine._analysis import analyze
from voxmem.engine._caller_memory import Doc
from voxmem.engine._index import HybridIndex
from voxmem.engine._speakers import _labels, prime_labels
from voxmem.engine._topic import TopicModel, _tokens_of
from voxmem.models import Caller

NOW = 1_780_000_000.0

TEXTS = [
    "I play the clarinet and my sister plays violin",
    "Melanie: I love painting sunsets by the lake\nThat sounds lovely.",
    "Caroline: we went camping; it rained: a lot!",
    "Dr. Alvarez: take one tablet twice a day",
    "Melanie:",
    ":leading colon then words",
    "",
    "   ",
    "the and of what which how",  # stopwords and question words only
    "Café naïve résumé über Straße 東京 タワー",
    "call me at 555-0134 re: ticket #8842",
    "word " * 3000,  # past the embedder's token and character bounds
    "Melanie: " + "violin " * 2000,
]


def _tokens(topic: TopicModel, index: HybridIndex, position: int) -> list[int]:
    cache = _tokens_of(index)
    read = position < cache.length.shape[0] and int(cache.length[position]) >= 0
    assert read, f"position {position} was never read"
    start, length = int(cache.start[position]), int(cache.length[position])
    out: list[int] = cache.flat[start:start + length].tolist()
    return out


def _index(embedder: StaticEmbedder, texts: list[str]) -> HybridIndex:
    index = HybridIndex(embedder.dimensions)
    for n, text in enumerate(texts):
        index.add(f"t{n}", analyze(text), created_at=NOW, group=1,
                  payload=Doc(kind="turn", text=text, created_at=NOW))
    return index


def test_embed_with_token_ids_is_embed_and_token_ids(embedder: StaticEmbedder) -> None:
    vectors, ids = embedder.embed_with_token_ids(TEXTS)
    assert np.array_equal(vectors, embedder.embed(TEXTS))
    assert ids == embedder.token_ids(TEXTS)
    for text, row in zip(TEXTS, vectors, strict=True):
        # A single text takes embed's one-text path: the same bits.
        assert np.array_equal(embedder.embed([text])[0], row)


def test_turn_tokens_are_the_ones_a_search_reads(embedder: StaticEmbedder,
                                                 topic: TopicModel) -> None:
    assert topic.turn_embedding(embedder) == topic.embed_turns
    assert topic.turn_embedding(StaticEmbedder()) is None  # another model's tokens
    vectors, tokens = topic.embed_turns(TEXTS)
    assert np.array_equal(vectors, embedder.embed(TEXTS))
    read = _index(embedder, TEXTS)
    topic.prime(read, range(read.rows))  # read from the payloads, as a search would
    kept = _index(embedder, TEXTS)
    for position, (text, found) in enumerate(zip(TEXTS, tokens, strict=True)):
        topic.keep_turn(kept, position, text, found)
    assert any(len(t) for t in tokens) and not len(tokens[6])
    for position in range(len(TEXTS)):
        assert _tokens(topic, kept, position) == _tokens(topic, read, position), TEXTS[position]
    # The speaker labels noted from the text are the ones read from the payload.
    every = np.arange(len(TEXTS))
    prime_labels(read, every)
    labels_read, labels_kept = _labels(read), _labels(kept)
    assert labels_read.names == labels_kept.names
    assert np.array_equal(labels_read.ids[every], labels_kept.ids[every])
    assert np.array_equal(labels_read.first[every], labels_kept.first[every])


def test_a_turn_read_by_a_search_first_is_not_stored_twice(embedder: StaticEmbedder,
                                                           topic: TopicModel) -> None:
    index = _index(embedder, TEXTS[:3])
    topic.prime(index, [1])
    cache = _tokens_of(index)
    used, before = cache.used, _tokens(topic, index, 1)
    _, tokens = topic.embed_turns(TEXTS[:3])
    topic.keep_turn(index, 1, TEXTS[1], tokens[1])
    assert cache.used == used and _tokens(topic, index, 1) == before
    topic.keep_turn(index, 2, TEXTS[2], tokens[2])
    assert cache.used == used + len(tokens[2])


async def test_saved_turns_get_their_tokens_from_the_write_path(
        tmp_path: Path, store_url: str, embedder: StaticEmbedder, topic: TopicModel) -> None:
    engine = MemoryEngine(Settings(data_dir=str(tmp_path / "data"), embedder="static",
                                   store_url=store_url))
    await engine.start()
    try:
        scope = engine.scope(project_id="p", agent_id="a", user_id="mel")
        who = Caller("mel", "Melanie")
        await engine.start_session(scope, who)
        mem = engine.callers.get(scope)
        await mem.primed.wait()
        saved = TEXTS[:5]
        for text in saved:
            await engine.save_response(scope, who, user_text=text, assistant_text="Noted.")
        assert await engine.flush(60)
        assert engine.callers.peek(scope) is mem  # not reloaded (and primed) meanwhile
        # No search ran: every saved turn's tokens came with its vector.
        positions = [p for t in mem.turn_items
                     if (p := mem.index.position_of(mem.turn_items[t])) is not None]
        assert len(positions) == len(saved)
        fresh = _index(embedder, [mem.index.payload_at(p).text for p in positions])
        topic.prime(fresh, range(fresh.rows))
        engine_topic = engine.params.topic
        assert engine_topic is not None
        for n, position in enumerate(positions):
            assert _tokens(engine_topic, mem.index, position) == _tokens(topic, fresh, n)
        found = await engine.search_memory(scope, "What does Melanie love painting?",
                                           timeout_ms=5000)
        assert not found.trace["degraded"] and found.working
    finally:
        await engine.close()
