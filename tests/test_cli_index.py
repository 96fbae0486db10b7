"""`voxmem index upload|list|show|delete`: text, Markdown and PDF files indexed in batches
under the per-call cap, re-runs skipping unchanged files, a summary table at the end."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._pdf import make_pdf
from voxmem import Settings, VoiceClientSync
from voxmem._knowledge_files import content_hash
from voxmem.cli import main

PROJECT = "support"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VOXMEM_EMBEDDER", "hashing")
    # Small caps so one long file needs several calls, as a large manual does by default.
    monkeypatch.setenv("VOXMEM_INDEX_MAX_BYTES", "4000")
    monkeypatch.setenv("VOXMEM_INDEX_MAX_DOCUMENTS", "3")
    return tmp_path / "vm"


@pytest.fixture
def library(tmp_path: Path) -> Path:
    root = tmp_path / "library"
    (root / "faq").mkdir(parents=True)
    (root / "faq" / "returns.md").write_text(
        "# Returns\n\nUnopened boxes can be returned within thirty days.\n")
    (root / "faq" / "shipping.txt").write_text("Parcels to Norway take five working days.\n")
    (root / "warranty.pdf").write_bytes(make_pdf(
        ["The modem warranty lasts twenty-four months.", "Routers: one year."]))
    (root / "manual.md").write_text("\n\n".join(
        f"Step {i}: press the reset button for {i} seconds and wait." for i in range(300)))
    (root / "photo.png").write_bytes(b"\x89PNG not text")
    return root


def run(data_dir: Path, *args: str) -> int:
    return main(["index", *args, "--project", PROJECT, "--embedded", "--data-dir",
                 str(data_dir)])


def client(data_dir: Path) -> VoiceClientSync:
    return VoiceClientSync(project_id=PROJECT, agent_id="test", embedded=True,
                           settings=Settings.from_env({"data_dir": str(data_dir)}))


def test_upload_indexes_text_markdown_and_pdf_in_capped_batches(
        data_dir: Path, library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(data_dir, "upload", "kb", str(library / "faq"), str(library / "warranty.pdf"),
               str(library / "manual.md"), str(library / "photo.png"), "--recursive")
    out = capsys.readouterr().out
    assert code == 1  # the PNG failed; everything else went in
    assert "4 indexed, 0 unchanged, 1 failed" in out
    assert "photo.png" in out and "faq/returns.md" in out
    with client(data_dir) as vm:
        listing = vm.list_documents("kb")
        ids = {d["documentId"] for d in listing["documents"]}
        assert {"faq/returns.md", "faq/shipping.txt", "warranty.pdf", "manual.md"} <= ids
        parts = [i for i in ids if i.startswith("manual.md")]
        assert len(parts) > 4  # ~17 kB of text under a 4 kB cap
        assert listing["index"]["version"] >= 3  # one version per create_index call
        for query, text in (("modem warranty", "twenty-four months"),
                            ("returned unopened", "thirty days"),
                            ("reset button 299 seconds", "Step 299")):
            chunks = vm.search_index(query, name="kb")
            assert any(text in c["text"] for c in chunks), query


def test_a_second_run_skips_unchanged_files_and_reindexes_changed_ones(
        data_dir: Path, library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(data_dir, "upload", "kb", str(library / "faq"), "-r") == 0
    capsys.readouterr()
    (library / "faq" / "shipping.txt").write_text("Parcels to Norway now take three days.\n")
    assert run(data_dir, "upload", "kb", str(library / "faq"), "-r") == 0
    assert "1 indexed, 1 unchanged, 0 failed" in capsys.readouterr().out
    with client(data_dir) as vm:
        assert any("three days" in c["text"] for c in vm.search_index("Norway parcels"))
        assert not any("five working" in c["text"] for c in vm.search_index("Norway parcels"))


def test_a_file_whose_upload_stopped_part_way_is_uploaded_again(
        data_dir: Path, library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manual = library / "manual.md"
    digest = content_hash(manual.read_bytes())
    with client(data_dir) as vm:  # as if the run died after the first of several calls
        vm.create_index("kb", [{"id": "manual.md", "text": "Step 0 only",
                                "metadata": {"contentHash": digest, "parts": 5, "part": 1}}])
    assert run(data_dir, "upload", "kb", str(manual)) == 0
    assert "1 indexed, 0 unchanged" in capsys.readouterr().out
    assert run(data_dir, "upload", "kb", str(manual)) == 0
    assert "0 indexed, 1 unchanged" in capsys.readouterr().out


def test_list_show_and_delete(data_dir: Path, library: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    run(data_dir, "upload", "kb", str(library / "faq"))
    capsys.readouterr()
    assert run(data_dir, "list") == 0
    assert "kb  version 1  2 documents" in capsys.readouterr().out
    assert run(data_dir, "show", "kb") == 0
    out = capsys.readouterr().out
    assert "faq/returns.md" in out and "faq/shipping.txt" in out
    assert run(data_dir, "delete", "kb", "--document", "faq/returns.md") == 0
    assert "removed 1 documents" in capsys.readouterr().out
    assert run(data_dir, "delete", "kb") == 2  # the whole index needs --yes
    assert run(data_dir, "delete", "kb", "--yes") == 0
    assert "deleted index kb (1 documents)" in capsys.readouterr().out
    assert run(data_dir, "show", "kb") == 1
    assert "index_not_found" in capsys.readouterr().err


def test_nothing_to_upload_is_an_error(data_dir: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert run(data_dir, "upload", "kb", str(tmp_path / "empty")) == 1
    assert "no .txt, .md or .pdf files" in capsys.readouterr().err
    assert run(data_dir, "upload", "kb", str(tmp_path / "missing")) == 1
    assert "no such file or folder" in capsys.readouterr().err


@pytest.mark.slow
def test_upload_into_a_new_index_through_the_runtime(
        tmp_path: Path, library: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Regression: over HTTP a missing index came back as a bare VoxmemError, which the
    upload's "index does not exist yet" check did not recognise."""
    from tests._browser import serve

    monkeypatch.setenv("VOXMEM_EMBEDDER", "hashing")
    with serve(tmp_path / "rt", "18410-18419") as runtime:
        args = ["--project", PROJECT, "--data-dir", str(runtime.data_dir)]
        assert main(["index", "upload", "kb", str(library / "faq"), *args]) == 0
        assert "2 indexed, 0 unchanged, 0 failed" in capsys.readouterr().out
        assert main(["index", "show", "kb", *args]) == 0
        assert "2 documents" in capsys.readouterr().out
        assert main(["index", "show", "nope", *args]) == 1
        assert "index_not_found" in capsys.readouterr().err


def test_deleting_a_document_id_that_is_not_there_says_so(
        data_dir: Path, library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Found from outside: the docs uploaded `manuals/*.pdf` and deleted
    # `manuals/old.pdf`, whose id is `old.pdf`; the CLI removed nothing and exited 0.
    run(data_dir, "upload", "kb", str(library / "manual.md"), str(library / "faq"))
    capsys.readouterr()
    assert run(data_dir, "delete", "kb", "--document", "library/manual.md") == 1
    captured = capsys.readouterr()
    assert "removed 0 documents" in captured.out
    assert "1 of the 1 named documents are not in kb" in captured.err
    assert run(data_dir, "delete", "kb", "--document", "manual.md",
               "--document", "faq/nope.md") == 1
    assert "removed 1 documents" in capsys.readouterr().out
    assert run(data_dir, "delete", "kb", "--document", "faq/returns.md") == 0
