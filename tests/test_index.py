"""The real index: MiniLM embeddings in Chroma through LlamaIndex, local and on a `chroma run` server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import wait_for

from index.settings import IndexSettings
from index.store import build_index, current_stamp, open_index

WIRING_QA = str(Path(sys.executable).with_name("wiring-qa"))
# The line a build prints on stderr when it starts writing the new index aside (index/store.py).
WRITING = "wiring-qa: writing the index"


def _top_ids(index, text, k=3):
    return [hit.record_id for hit in index.search(text, k)]


def test_build_and_query_embedded_chroma(built_index):
    assert built_index.count() >= 300  # every record has at least one window
    top = _top_ids(built_index, "Policy Innovation Fund")
    assert {"3.24.1", "2.12"} & set(top), top


def test_collection_is_stamped(built_index, settings):
    meta = built_index.collection.metadata
    stamp = current_stamp(settings.index)
    assert meta["stamp_report_sha256"] == stamp.report_sha256 == built_index.stamp.report_sha256
    assert meta["stamp_parser_version"] == stamp.parser_version
    assert meta["stamp_model_id"].startswith("sentence-transformers/all-MiniLM-L6-v2")
    assert meta["complete"] is True


def test_long_records_are_windowed_not_truncated(built_index):
    got = built_index.collection.get(where={"record_id": "3.25.1"}, include=["documents"])
    text = " ".join(got["documents"])
    assert len(got["ids"]) >= 2
    assert "Science Research Investment Fund" in text and "nuclear safety" in text


def test_stamp_mismatch_rebuilds(tmp_path, built_index):
    settings = IndexSettings(path=tmp_path / "idx")
    first = build_index(settings)
    assert first["built"]
    again = build_index(settings)
    assert not again["built"]
    # A different window size is a different index: the stamp no longer matches, so it is rebuilt.
    changed = IndexSettings(path=tmp_path / "idx", window_tokens=128)
    assert open_index(changed).stamp.window_tokens == 128
    pointer = json.loads((tmp_path / "idx" / "CURRENT").read_text())
    assert pointer["stamp"]["window_tokens"] == 128


def test_index_command_prints_counts(index_dir, built_index):
    out = subprocess.run([WIRING_QA, "index"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "records: 300" in out.stdout and "conclusion: 42" in out.stdout and "paragraph: 190" in out.stdout
    assert "already current in" in out.stdout


class _StderrLines:
    """A process's stderr, read on a thread, so a test can wait for the line that marks an event."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._closed = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def wait_for(self, text: str, timeout: float) -> None:
        """Return once a line holds text; fail with the stderr tail if the process ends or time runs out first."""
        with self._changed:
            self._changed.wait_for(lambda: self._closed or self._seen(text), timeout)
            if not self._seen(text):
                why = "closed its stderr" if self._closed else f"ran {timeout:.0f} s"
                raise AssertionError(f"the build {why} without printing {text!r}; stderr tail: {self.tail()}")

    def all(self, timeout: float = 30) -> list[str]:
        """Every line, once the process has closed its stderr."""
        self._reader.join(timeout)
        return self.lines

    def _seen(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def tail(self) -> str:
        return " | ".join(self.lines[-8:]) or "(empty)"


def _start_rebuild(path: Path) -> tuple[subprocess.Popen, _StderrLines]:
    env = {**os.environ, "WIRING_QA_INDEX__PATH": str(path)}
    proc = subprocess.Popen(
        [WIRING_QA, "index", "--rebuild"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    return proc, _StderrLines(proc)


def _half_written(path: Path) -> list[Path]:
    return [p for p in (path / "builds").iterdir() if p.name.startswith(".tmp-")]


def test_interrupted_build_leaves_previous_index_answering(tmp_path, built_index):
    path = tmp_path / "idx"
    build_index(IndexSettings(path=path))
    before = json.loads((path / "CURRENT").read_text())
    proc, err = _start_rebuild(path)
    try:
        err.wait_for(WRITING, timeout=300)
        # Killed once the new build's folder exists: the write has begun and not been swapped in.
        try:
            wait_for(lambda: _half_written(path) or proc.poll() is not None, timeout=60, interval=0.01)
        except TimeoutError:
            raise AssertionError(f"no build folder 60 s after the write began; stderr: {err.tail()}") from None
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, f"the build ended by itself before the kill; stderr: {err.tail()}"
    assert json.loads((path / "CURRENT").read_text()) == before
    assert _half_written(path), "the kill left no half-written build behind: it came after the swap"
    reopened = open_index(IndexSettings(path=path), build_if_missing=False)
    assert {"3.24.1", "2.12"} & set(_top_ids(reopened, "Policy Innovation Fund"))
    # The next build clears the half-written directory away.
    build_index(IndexSettings(path=path), force=True)
    assert not _half_written(path)


def test_sigint_during_build_keeps_previous_index(tmp_path, built_index):
    path = tmp_path / "idx"
    build_index(IndexSettings(path=path))
    before = (path / "CURRENT").read_text()
    proc, err = _start_rebuild(path)
    try:
        err.wait_for(WRITING, timeout=300)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    # Interrupted mid-build: the CLI's own exit code and line, not a finished build nor a death by the signal.
    assert proc.returncode == 130, f"exit {proc.returncode}: the interrupt came too late; stderr: {err.tail()}"
    lines = err.all()
    assert lines[-1] == "wiring-qa: interrupted" and not any("Traceback" in line for line in lines), lines
    assert (path / "CURRENT").read_text() == before
    reopened = open_index(IndexSettings(path=path), build_if_missing=False)
    assert {"3.24.1", "2.12"} & set(_top_ids(reopened, "Policy Innovation Fund"))


def test_two_builds_at_once_do_not_corrupt(tmp_path, built_index):
    path = tmp_path / "idx"
    env = {**os.environ, "WIRING_QA_INDEX__PATH": str(path)}
    procs = [
        subprocess.Popen([WIRING_QA, "index", "--rebuild"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for proc in procs:
        proc.wait(timeout=300)
        assert proc.returncode == 0, proc.stderr.read()
    index = open_index(IndexSettings(path=path), build_if_missing=False)
    assert {"3.24.1", "2.12"} & set(_top_ids(index, "Policy Innovation Fund"))
    finished = [p for p in (path / "builds").iterdir() if not p.name.startswith(".tmp-")]
    assert 1 <= len(finished) <= 2


def test_corrupt_index_is_rebuilt_with_a_message(tmp_path, built_index, capsys):
    path = tmp_path / "idx"
    build_index(IndexSettings(path=path))
    pointer = json.loads((path / "CURRENT").read_text())
    db = path / "builds" / pointer["build"] / "chroma.sqlite3"
    db.write_bytes(b"this is not a database" * 100)
    index = open_index(IndexSettings(path=path))
    assert {"3.24.1", "2.12"} & set(_top_ids(index, "Policy Innovation Fund"))
    assert "rebuilding" in capsys.readouterr().err


def test_missing_index_directory_is_rebuilt(tmp_path, built_index):
    path = tmp_path / "idx"
    build_index(IndexSettings(path=path))
    shutil.rmtree(path)
    assert open_index(IndexSettings(path=path)).count() > 0


@pytest.mark.server
def test_chroma_server_mode(chroma_server, built_index):
    settings = IndexSettings(chroma_host=chroma_server["host"], chroma_port=chroma_server["port"])
    result = build_index(settings)
    assert result["built"] and result["location"].startswith("chroma://127.0.0.1")
    index = open_index(settings, build_if_missing=False)
    assert index.location.startswith("chroma://127.0.0.1")
    assert {"3.24.1", "2.12"} & set(_top_ids(index, "Policy Innovation Fund"))
    assert not build_index(settings)["built"]  # stamped and current: reused
    build_index(settings, force=True)  # a rebuild swaps collections and drops the old one
    import chromadb

    client = chromadb.HttpClient(
        host=chroma_server["host"], port=chroma_server["port"], settings=chromadb.Settings(anonymized_telemetry=False)
    )
    names = sorted(c.name for c in client.list_collections())
    # The pointer, the live collection and its predecessor (a replica may still be reading it).
    assert len(names) == 3 and "wiring-qa-current" in names
    build_index(settings, force=True)  # older ones than the predecessor are dropped
    assert len(client.list_collections()) == 3


def test_unreachable_server_is_one_clear_error(built_index):
    from conftest import free_port

    from index.store import IndexUnavailable

    settings = IndexSettings(chroma_host="127.0.0.1", chroma_port=free_port())
    with pytest.raises(IndexUnavailable) as err:
        open_index(settings)
    assert "not reachable" in str(err.value) and "\n" not in str(err.value)


def test_telemetry_is_off(built_index):
    assert os.environ.get("ANONYMIZED_TELEMETRY") == "False"
    from index.store import chroma_settings

    assert chroma_settings().anonymized_telemetry is False
