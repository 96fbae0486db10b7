"""What a question is about, apart from whom: topic features for the learned fusion.

"What instruments does Melanie play?" is answered by "I play clarinet" and "playing my
violin" in separate calls. BM25 sees neither (no shared word besides the name), and the
query's vector leans towards every turn of Melanie's: the name is part of the question
and of every turn she speaks ("Melanie: ..."). Two features look at the topic alone:

- ``topic_cosine``: the turn's cosine to the mean vector of the question's topic words
  (its words without stopwords, question words and the speaker names it names);
- ``topic_match``: for each topic word, the most similar word of the turn (static token
  vectors, cosine), averaged over the topic words weighted by their idf. A long turn
  that mentions "violin" once scores as high as a short one: a mean over the turn's
  words would dilute it.

Both need an embedder with a table of token vectors (the bundled static model): the
turn's word vectors are rows of that table, looked up per token rather than embedded.
Each indexed turn's content tokens are read once and kept in a flat array per index (an
index only appends, so a position's text never changes): for a loaded caller on a worker
thread right after the load (:meth:`TopicModel.prime`), for a row added later on the
first query that has it as a candidate.

A third signal is the question's form: a list question ("what books has Melanie read?",
"how many times...", "which ... has") collects facts told across calls, so the call
features should weigh less for it. :func:`is_list_question` detects it from the words.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from ..embeddings import Embedder, query_side
from ._analysis import STOPWORDS, analyze
from ._index import HybridIndex, IntArray
from ._per_index import PerIndex
from ._ranked import distinct as _distinct
from ._speakers import note_label, prime_labels, speaker_label

__all__ = ["TokenEmbedder", "TokenVectors", "TopicModel", "TurnEmbedding", "distinct_tokens",
           "is_list_question", "topic_model", "topic_words"]

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]
#: Token ids (2-byte for a vocabulary that fits, see ``TopicModel``).
Tokens = npt.NDArray[np.integer[Any]]


#: Question words: part of how a question is asked, not of what it is about.
_QUESTION_WORDS = frozenset({
    "what", "which", "who", "whom", "whose", "where", "when", "why", "how", "many", "much",
    "kind", "kinds", "type", "types", "sort", "ever", "did", "does", "do"})
_WORDS = re.compile(r"[^\W_][\w'-]*")
# "What books has ...", "which LGBTQ+ events has ...": a plural noun asked about.
_PLURAL_ASKED = re.compile(
    r"^\s*(?:what|which)\s+(?:[\w+/'-]+\s+){0,3}?[\w/+'-]*s\s+"
    r"(?:has|have|did|does|do|is|are|was|were)\b", re.IGNORECASE)
# "Where has Melanie camped?", "what has she painted": the present perfect sums up.
_PERFECT = re.compile(
    r"\b(?:has|have)\s+(?:[A-Z]\w*\s+(?:and\s+[A-Z]\w*\s+)?|(?:he|she|they|i|you|we)\s+)"
    r"(?:\w+\s+)?\w+(?:ed|en|t|ne|wn|ught)\b", re.IGNORECASE)
_LIST_WORDS = re.compile(
    r"\b(?:how many|what kinds?|what types?|in what ways|what ways|both|all the)\b",
    re.IGNORECASE)


def is_list_question(text: str) -> bool:
    """Whether the question asks for several things, probably told in several calls."""
    return bool(_PLURAL_ASKED.search(text) or _PERFECT.search(text)
                or _LIST_WORDS.search(text))


def topic_words(text: str, names: frozenset[str]) -> list[str]:
    """The words of ``text`` that say what it is about: not stopwords, not question
    words, not one of ``names`` (lower-cased; a possessive "'s" is ignored)."""
    out = []
    for word in _WORDS.findall(text):
        low = word.lower()
        bare = low[:-2] if low.endswith("'s") else low
        if bare in names or low in STOPWORDS or low in _QUESTION_WORDS:
            continue
        out.append(word)
    return out


@runtime_checkable
class TokenVectors(Protocol):
    """An embedder whose text vector is the mean of per-token vectors (the static model)."""

    def token_table(self) -> F32:
        """The token vectors, one row per token id."""

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """The token ids each of ``texts`` embeds from, in order."""


@runtime_checkable
class TokenEmbedder(TokenVectors, Protocol):
    """A :class:`TokenVectors` embedder that hands out the ids a text's vector pooled."""

    def embed_with_token_ids(self, texts: Sequence[str]) -> tuple[F32, list[list[int]]]:
        """The vectors of ``texts`` and the token ids each was pooled from."""


#: Embeds saved turns' texts: (their vectors, their content tokens for the topic features).
TurnEmbedding = Callable[[Sequence[str]], tuple[F32, list[Tokens]]]


#: Topic words whose token ids are kept (a few MB at most).
_WORD_CACHE_MAX = 20_000
#: Up to this many candidate tokens, their distinct ones are found by sorting; above, by
#: a table over the vocabulary (~30k entries). Measured, CPU per call, sort against
#: table: 50 tokens 4.0 / 9.3 us, 300 tokens 7.0 / 10.3 us, 1,000 tokens 19 / 14 us.
_SORTED_TOKENS_MAX = 400


#: OpenBLAS splits a product over its threads from about this many multiply-adds
#: (gemm; its gemv from far fewer). On a busy host those threads wait for a core and the
#: calling thread spins meanwhile: measured, the topic features cost 2 ms a query with
#: the products threaded against 0.8 ms without. Products this small gain nothing from
#: threads, so they are cut into row blocks each under the threshold.
_BLAS_THREADED_MACS = 65_536


def _one_thread_matmul(a: F32, b: F32) -> F32:
    """``a @ b`` in row blocks small enough that the BLAS runs each on this thread."""
    rows = max(1, _BLAS_THREADED_MACS // max(1, a.shape[1] * b.shape[1]))
    if a.shape[0] <= rows:
        small: F32 = a @ b
        return small
    out = np.empty((a.shape[0], b.shape[1]), dtype=np.result_type(a, b))
    for start in range(0, a.shape[0], rows):
        np.matmul(a[start:start + rows], b, out=out[start:start + rows])
    return out


#: Token rows gathered per block by :func:`_token_sims`: ~350 kB at 384 dimensions, so
#: a block is still in cache when it is multiplied, and its product stays under the
#: size from which OpenBLAS splits a product over threads (a 691k multiply-add product
#: ran on one thread here, 1.4M on two).
_GATHER_MACS = 262_144


def _token_sims(table: F32, inv_norm: F32, tokens: npt.NDArray[np.intp],
                units: F32) -> F32:
    """Cosine of each of ``tokens``' rows of ``table`` to each column of ``units``.

    ``table[tokens] @ units`` gathered and multiplied block by block: gathering a
    query's ~3,000 distinct candidate tokens at once made a fresh ~4 MB array per query
    (its page faults and cache misses were a quarter of the permanent lane; measured
    with py-spy on benchmarks/recall_latency.py's caller), while a block is reused
    from cache. A row's product does not depend on the block it is in.
    """
    rows = max(1, _GATHER_MACS // max(1, table.shape[1] * units.shape[1]))
    out = np.empty((tokens.shape[0], units.shape[1]), dtype=np.result_type(table, units))
    for start in range(0, tokens.shape[0], rows):
        np.matmul(table[tokens[start:start + rows]], units, out=out[start:start + rows])
    out *= inv_norm[tokens][:, None]
    return out


def distinct_tokens(flat: Tokens, vocabulary: int, sort_max: int = _SORTED_TOKENS_MAX,
                    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.integer[Any]]]:
    """(the distinct ids of ``flat``, ascending; where each of ``flat`` is among them).

    A table over the vocabulary finds them (np.unique sorts, several times slower on
    thousands of tokens); up to ``sort_max`` tokens (a few candidates'), sorting them is
    cheaper than the table's two vocabulary-sized arrays. Both give the same answer.
    """
    if flat.shape[0] <= sort_max:
        ids = _distinct(flat).astype(np.intp)
        return ids, np.searchsorted(ids, flat)
    seen = np.zeros(vocabulary, dtype=np.bool_)
    seen[flat] = True
    found = np.flatnonzero(seen)
    slot = np.empty(vocabulary, dtype=np.int32)
    slot[found] = np.arange(found.shape[0], dtype=np.int32)
    return found, slot[flat]


class _Tokens:
    """Per position of one index: its distinct content tokens, as a slice of ``flat``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.start = np.zeros(0, dtype=np.int64)
        self.length = np.full(0, -1, dtype=np.int32)  # -1: not read yet
        self.flat: Tokens = np.zeros(0, dtype=np.uint16)
        self.used = 0


_tokens_of: PerIndex[_Tokens] = PerIndex(_Tokens)


class TopicModel:
    """Topic features over one embedder's token vectors."""

    def __init__(self, model: TokenVectors) -> None:
        self._model = model
        table = np.asarray(model.token_table(), dtype=np.float32)
        self._table = table
        # Row norms once (120 kB), not a normalised copy of the table (tens of MB).
        norms = np.linalg.norm(table, axis=1)
        self._inv_norm: F32 = np.where(norms > 0, 1.0 / np.maximum(norms, 1e-12),
                                       0.0).astype(np.float32)
        # A turn's tokens are kept as 2-byte ids when the vocabulary allows (~30k).
        self._token_dtype = np.dtype(np.uint16 if table.shape[0] <= 1 << 16 else np.int32)
        self._stop = np.zeros(table.shape[0], dtype=np.bool_)
        for ids in model.token_ids(sorted(STOPWORDS | _QUESTION_WORDS)):
            self._stop[ids] = True
        # A query's topic words' token ids: a word asked about comes back often, and
        # the tokenizer costs microseconds a call. Bounded: cleared when full.
        self._words: dict[str, list[int]] = {}
        self._units: dict[str, F32 | None] = {}
        self._words_lock = threading.Lock()

    def _word_ids(self, words: list[str]) -> list[list[int]]:
        with self._words_lock:
            missing = [w for w in dict.fromkeys(words) if w not in self._words]
            if missing:
                if len(self._words) > _WORD_CACHE_MAX:
                    self._words.clear()
                self._words.update(zip(missing, self._model.token_ids(missing), strict=True))
            return [self._words[w] for w in words]

    def _word_unit(self, word: str, ids: Sequence[int]) -> F32 | None:
        """:meth:`_unit` of one topic word's ids, kept with its ids: a small caller's
        query spent a quarter of its topic features on these means."""
        with self._words_lock:
            if word in self._units:
                return self._units[word]
        unit = self._unit(ids)
        with self._words_lock:
            if len(self._units) > _WORD_CACHE_MAX:
                self._units.clear()
            self._units[word] = unit
        return unit

    def _content(self, texts: Sequence[str],
                 ids: Sequence[list[int]] | None = None) -> list[Tokens]:
        """Each text's distinct content tokens (its speaker label, stopwords and question
        words left out), ascending.

        ``ids``: the texts' own token ids (what the embedder pooled, see
        :meth:`embed_turns`), reused for a text without a speaker label, whose content is
        the whole text; a labelled text's content is tokenised here.
        """
        labelled = [i for i, t in enumerate(texts) if speaker_label(t)]
        if ids is None:
            # The speaker label is who spoke, not what about.
            ids = self._model.token_ids(
                [t.partition(":")[2] if speaker_label(t) else t for t in texts])
        elif labelled:
            ids = list(ids)
            for i, tokens in zip(labelled, self._model.token_ids(
                    [texts[i].partition(":")[2] for i in labelled]), strict=True):
                ids[i] = tokens
        read: list[Tokens] = []
        for tokens in ids:
            unique = np.unique(np.asarray(tokens, dtype=np.int32))
            read.append(unique[~self._stop[unique]])
        return read

    @staticmethod
    def _grow(cache: _Tokens, top: int) -> None:
        if top > cache.length.shape[0]:
            grown = max(top, 2 * cache.length.shape[0])
            extra = grown - cache.length.shape[0]
            cache.start = np.concatenate([cache.start, np.zeros(extra, dtype=np.int64)])
            cache.length = np.concatenate([cache.length, np.full(extra, -1, dtype=np.int32)])

    def _room(self, cache: _Tokens, total: int) -> None:
        """Make room in ``cache.flat`` for ``total`` more tokens (its lock held)."""
        if cache.flat.dtype != self._token_dtype or cache.used + total > cache.flat.shape[0]:
            # A quarter's headroom rather than doubling: a loaded caller is read in one
            # go, and only this call's few turns come after.
            size = max(cache.used + total, cache.flat.shape[0] * 5 // 4, 1024)
            flat = np.zeros(size, dtype=self._token_dtype)
            flat[:cache.used] = cache.flat[:cache.used]
            cache.flat = flat

    def _keep(self, cache: _Tokens, positions: Sequence[int], read: Sequence[Tokens]) -> None:
        """Store ``read`` as the tokens of ``positions`` (unread, its lock held)."""
        lengths = np.fromiter(map(len, read), dtype=np.int32, count=len(read))
        total = int(lengths.sum())
        self._room(cache, total)
        if total:
            cache.flat[cache.used:cache.used + total] = np.concatenate(read)
        at = np.asarray(positions, dtype=np.int64)
        cache.start[at] = cache.used + np.cumsum(lengths) - lengths
        cache.length[at] = lengths
        cache.used += total

    def _read(self, index: HybridIndex, cache: _Tokens, positions: IntArray) -> None:
        """Tokenise the ``positions`` not read yet into ``cache`` (its lock held)."""
        self._grow(cache, int(positions.max(initial=-1)) + 1)
        unread = positions[cache.length[positions] < 0].tolist()
        if not unread:
            return
        texts = [getattr(index.payload_at(pos), "text", None) or "" for pos in unread]
        self._keep(cache, unread, self._content(texts))

    def turn_embedding(self, embedder: object) -> TurnEmbedding | None:
        """:meth:`embed_turns`, when ``embedder`` embeds the saved turns with the token
        vectors of this model (the write path's embedder is this model's own)."""
        if embedder is self._model and isinstance(embedder, TokenEmbedder):
            return self.embed_turns
        return None

    def embed_turns(self, texts: Sequence[str]) -> tuple[F32, list[Tokens]]:
        """The vectors of saved turns' ``texts`` and their content tokens, from the
        tokenizer pass the embedding makes anyway (the store writer's thread).

        A turn saved during a call was tokenised a second time on the event loop by the
        first search that had it as a candidate: a sixth of a small caller's search
        (``benchmarks/request_cpu.py``). :meth:`keep_turn` stores these tokens instead;
        they are the ones :meth:`_read` would compute.
        """
        model = self._model
        assert isinstance(model, TokenEmbedder)
        vectors, ids = model.embed_with_token_ids(texts)
        return vectors, self._content(texts, ids)

    def keep_turn(self, index: HybridIndex, position: int, text: str, tokens: Tokens) -> None:
        """Keep the content ``tokens`` of the turn at ``position`` (from
        :meth:`embed_turns`) and read its speaker label, unless a search read them first."""
        cache = _tokens_of(index)
        with cache.lock:
            self._grow(cache, position + 1)
            if cache.length[position] < 0:
                # :meth:`_keep` for one row, with plain indexing in place of its array
                # calls (the lengths, their sums, a concatenation): the same slice, start
                # and length. Every saved turn comes here, on the event loop.
                total = len(tokens)
                self._room(cache, total)
                cache.flat[cache.used:cache.used + total] = tokens
                cache.start[position] = cache.used
                cache.length[position] = total
                cache.used += total
        note_label(index, position, text)

    def prime(self, index: HybridIndex, positions: Sequence[int]) -> None:
        """Read the content tokens of ``positions`` now, off the hot path.

        The warm load calls this on a worker thread once a caller's rows are indexed,
        one slice at a time: tokenising a candidate on its first search was a quarter
        of the topic features' cost there. The speaker labels are read too. Rows added
        later (this call's turns) are still read on their first search. Removed rows
        are skipped (never candidates).
        """
        wanted = np.asarray(positions, dtype=np.int64)
        if not wanted.shape[0]:
            return
        wanted = wanted[index.alive_at(wanted)]
        cache = _tokens_of(index)
        with cache.lock:
            self._read(index, cache, wanted)
        # The speaker features read each turn's label the same way, for the same fusion.
        prime_labels(index, wanted[index.groups_at(wanted) > 0])

    def _candidate_tokens(self, index: HybridIndex,
                          positions: IntArray) -> tuple[Tokens, IntArray]:
        """(the candidates' content tokens, concatenated; how many per candidate)."""
        cache = _tokens_of(index)
        with cache.lock:
            self._read(index, cache, positions)
            lengths: IntArray = cache.length[positions].astype(np.int64)
            starts = cache.start[positions]
            total = int(lengths.sum())
            # The slices' indices at once: each candidate's start, repeated over its length,
            # plus the offset inside the slice.
            offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
            flat = cache.flat[offsets + np.arange(total)]
        return flat, lengths

    def _unit(self, ids: Sequence[int]) -> F32 | None:
        if not ids:
            return None
        v = self._table[list(ids)].mean(axis=0)
        norm = float(np.linalg.norm(v))
        return v / norm if norm > 0 else None

    def features(self, index: HybridIndex, positions: IntArray, vectors: F32,
                 query_text: str, names: frozenset[str]) -> tuple[F64, F64]:
        """(topic_cosine, topic_match) per candidate; ``vectors`` are the candidates'
        stored unit vectors, ``names`` the speaker names to leave out of the topic."""
        n = positions.shape[0]
        cosine, match = np.zeros(n), np.zeros(n)
        said = topic_words(query_text, names)
        kept = [(w, ids) for w, ids in zip(said, self._word_ids(said), strict=True) if ids]
        if not n or not kept:
            return cosine, match
        words = [ids for _, ids in kept]
        topic = self._unit([i for ids in words for i in ids])
        if topic is not None and vectors.shape[0] == n:
            cosine = np.maximum(_one_thread_matmul(vectors, topic[:, None])[:, 0],
                                0.0).astype(np.float64)
        # Each topic word weighs by its rarity in the caller's memory (BM25's idf; a
        # word the memory lacks weighs most): "activities" and "family" say more than
        # "done" in "what activities has Melanie done with her family?". Measured
        # against the plain mean, held out: LoCoMo recall@10 +0.006, and LongMemEval's
        # session recall@5 kept its question.
        units, weights = [], []
        for (word, ids), idf in zip(kept, index.idf(
                [(analyze(w) or [""])[0] for w, _ in kept]), strict=True):
            unit = self._word_unit(word, ids)
            if unit is not None:
                units.append(unit)
                weights.append(idf)
        if not units:
            return cosine, match
        flat, lengths = self._candidate_tokens(index, positions)
        if not flat.shape[0]:
            return cosine, match
        # Each distinct token once: a query's candidates share most of their words.
        distinct, at = distinct_tokens(flat, self._table.shape[0])
        sims = _token_sims(self._table, self._inv_norm, distinct, np.stack(units, axis=1))
        per_token = sims[at]
        has = lengths > 0
        starts = (np.cumsum(lengths) - lengths)[has]
        best = np.maximum.reduceat(per_token, starts, axis=0)
        share = np.asarray(weights) / sum(weights)
        match[has] = np.maximum(best, 0.0) @ share
        return cosine, match


def topic_model(embedder: Embedder) -> TopicModel | None:
    """The topic features' model for ``embedder``, or None when it has no token vectors
    (the ONNX and remote embedders: their vectors are not a mean of word vectors). For a
    ``PairedEmbedder`` it is the query model's: the features compare the query's words."""
    words = query_side(embedder)
    return TopicModel(words) if isinstance(words, TokenVectors) else None
