"""Hostile input and faults: a clear one-line error or a graceful fallback, and nothing lost."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant import BadInput, ReportAssistant
from assistant.answering.citations import citation_is_valid
from assistant.settings import Settings
from index.settings import IndexSettings
from index.store import build_index
from index.text import fold, normalize

WIRING_QA = str(Path(sys.executable).with_name("wiring-qa"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=st.text(max_size=400))
def test_no_string_makes_ask_raise_or_cite_outside_the_report(qa, question):
    answer = _answer_or_one_line_error(qa, question)
    if answer is not None:
        _assert_cites_the_report(qa, answer)
        assert isinstance(answer.refused, bool)


def _answer_or_one_line_error(qa, question: str):
    """The answer, or None when the question was rejected with a one-line BadInput."""
    try:
        return qa.ask(question)
    except BadInput as err:
        assert "\n" not in str(err)
        return None


def _assert_cites_the_report(qa, answer) -> None:
    """Every citation quotes its record, and its offsets in the report file hold that quote."""
    for citation in answer.citations:
        assert citation_is_valid(citation, qa.by_id)
        assert 0 <= citation.start <= citation.end <= len(qa.report.source)
        span = normalize(qa.report.source[citation.start : citation.end])  # the file's markup left out
        assert fold(span) == fold(citation.quote)


def test_every_sentence_an_answer_can_quote_has_offsets_that_hold_it(qa):
    from assistant.answering.citations import cite

    wrong = []
    for record in qa.records:
        for sentence in qa.answerer.sentences_of(record.id):
            citation = cite(sentence, qa.report.source)
            if fold(normalize(qa.report.source[citation.start : citation.end])) != fold(citation.quote):
                wrong.append((record.id, sentence.position))
    assert wrong == []


def _question_parts() -> tuple[list[str], list[str]]:
    """The report's own words and its abbreviations and names: what users' questions are made of."""
    from index.report import load_report

    records = load_report().records
    words = sorted({w for r in records for w in r.text.split() if w.isalpha() and len(w) > 3})
    terms = sorted({r.id.removeprefix("Abbreviation: ") for r in records if r.kind == "abbreviation"})
    return words, terms


_WORDS, _TERMS = _question_parts()
# Question-like text: the report's words, its abbreviations, figures, question words and a little noise.
QUESTION_LIKE = st.lists(
    st.one_of(
        st.sampled_from(_WORDS),
        st.sampled_from(_TERMS),
        st.sampled_from(["how much", "when was", "who runs", "what is", "conclusion", "by when", "and", "?"]),
        st.from_regex(r"£?\d{1,3}(%| million)?", fullmatch=True),
        st.text(max_size=4),
    ),
    min_size=1,
    max_size=10,
).map(" ".join)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=QUESTION_LIKE)
def test_no_question_like_text_cites_outside_the_report(qa, question):
    answer = _answer_or_one_line_error(qa, question)
    if answer is not None:
        assert answer.refused or answer.citations  # an answer always cites
        _assert_cites_the_report(qa, answer)


def test_most_question_like_draws_reach_the_citation_checks(qa):
    """The property test above is worth little if nearly every draw is refused."""
    import random

    rng = random.Random(7)
    draws = [" ".join(rng.choice(_WORDS + _TERMS) for _ in range(rng.randint(2, 8))) for _ in range(40)]
    answered = sum(1 for q in draws if qa.ask(q).citations)
    assert answered >= 20, f"only {answered} of 40 question-like draws were answered with citations"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    history=st.lists(
        st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant"]), "content": st.text(max_size=200)}),
        max_size=6,
    ),
    question=st.sampled_from(["and when was it launched?", "what about conclusion 19?", "how much?", "who runs it?"]),
)
def test_any_well_formed_history_is_safe(qa, history, question):
    answer = qa.ask(question, history=history)
    assert all(citation_is_valid(c, qa.by_id) for c in answer.citations)


def _server_settings(server) -> Settings:
    return Settings(index=IndexSettings(chroma_host=server["host"], chroma_port=server["port"]))


def _restart(server):
    port, data = server["port"], server["data"]
    chroma = Path(sys.executable).with_name("chroma")
    log = data.parent / "chroma-restarted.log"
    with open(log, "w") as out:  # the child holds its own copy of the file
        proc = subprocess.Popen(
            [str(chroma), "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
    import chromadb

    _wait_ready(lambda: chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat(), proc, log, "chroma run", 120)
    return proc


def _wait_ready(check, proc: subprocess.Popen, log: Path, what: str, timeout: float) -> None:
    """Poll check() until it holds; fail at once if the process exits, or at the timeout, with its log's tail."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):  # not listening yet
            if check():
                return
        if proc.poll() is not None or time.monotonic() > deadline:
            state = f"exited with {proc.returncode}" if proc.poll() is not None else f"not ready after {timeout:.0f} s"
            tail = " | ".join(log.read_text(errors="replace").splitlines()[-8:]) or "(empty)"
            raise AssertionError(f"{what} {state}; its output ends: {tail}")
        time.sleep(0.25)


@pytest.mark.server
def test_chroma_server_going_away_and_coming_back(chroma_server, built_index):
    settings = _server_settings(chroma_server)
    build_index(settings.index)
    qa = ReportAssistant(settings=settings)
    before = qa.ask("How much is the Policy Innovation Fund?")
    assert not before.notice
    chroma_server["proc"].terminate()
    chroma_server["proc"].wait(timeout=20)
    qa.forget_answers()  # else the kept first answer is served again, and neither outage nor recovery is tried
    during = qa.ask("How much is the Policy Innovation Fund?")  # keyword search carries on
    assert "vector index is unavailable" in during.notice and "\n" not in during.notice
    assert all(citation_is_valid(c, qa.by_id) for c in during.citations)
    chroma_server["proc"] = _restart(chroma_server)
    after = qa.ask("How much is the Policy Innovation Fund?")
    assert not after.notice
    assert [c.id for c in after.citations] == [c.id for c in before.citations]


@pytest.mark.server
def test_two_processes_share_one_chroma_server_and_agree(chroma_server, built_index):
    env = {
        **os.environ,
        "WIRING_QA_INDEX__CHROMA_HOST": chroma_server["host"],
        "WIRING_QA_INDEX__CHROMA_PORT": str(chroma_server["port"]),
    }
    built = subprocess.run([WIRING_QA, "index"], env=env, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    question = "What did conclusion 18 recommend and what happened?"
    procs = [
        subprocess.Popen(
            [WIRING_QA, "ask", question, "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        outputs.append(json.loads(out))
    assert [o["notice"] for o in outputs] == ["", ""]  # both searched the shared vector index, neither fell back
    assert outputs[0]["answer"] == outputs[1]["answer"]
    assert outputs[0]["citations"] == outputs[1]["citations"]
    assert [s["id"] for s in outputs[0]["sources"]] == [s["id"] for s in outputs[1]["sources"]]


def test_index_directory_deleted_while_running(tmp_path, built_index):
    path = tmp_path / "idx"
    settings = Settings(index=IndexSettings(path=path))
    build_index(settings.index)
    qa = ReportAssistant(settings=settings)
    assert not qa.ask("How much is the Policy Innovation Fund?").refused
    shutil.rmtree(path)
    qa.forget_answers()  # else the kept answer is served again and the deleted index is never searched
    answer = qa.ask("How much is the Policy Innovation Fund?")  # still answers from what it holds, or says why
    assert "\n" not in answer.notice
    assert (not answer.refused and answer.citations and "£50" in answer.text) or (answer.refused and answer.notice)
    assert all(citation_is_valid(c, qa.by_id) for c in answer.citations)
    rebuilt = subprocess.run(
        [WIRING_QA, "index"],
        env={**os.environ, "WIRING_QA_INDEX__PATH": str(path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rebuilt.returncode == 0 and "built in" in rebuilt.stdout
    assert not ReportAssistant(settings=settings).ask("How much is the Policy Innovation Fund?").notice


def test_index_filled_with_garbage_while_running(tmp_path, built_index):
    path = tmp_path / "idx"
    settings = Settings(index=IndexSettings(path=path))
    build_index(settings.index)
    qa = ReportAssistant(settings=settings)
    for file in path.rglob("*"):
        if file.is_file() and file.name != "CURRENT":
            file.write_bytes(os.urandom(256))
    answer = qa.ask("How much is the Policy Innovation Fund?")
    assert "keyword search" in answer.notice and "\n" not in answer.notice  # says it fell back, in one line
    assert not answer.refused and answer.citations and "£50" in answer.text
    assert all(citation_is_valid(c, qa.by_id) for c in answer.citations)
    fresh = ReportAssistant(settings=settings)  # a new process would rebuild the damaged index
    assert not fresh.ask("How much is the Policy Innovation Fund?").refused


def test_report_that_does_not_match_its_stamp(tmp_path, built_index):
    bad = tmp_path / "report.txt"
    bad.write_text("1. Introduction\n\nA different report.\n", encoding="utf-8")
    env = {**os.environ, "WIRING_QA_INDEX__REPORT_PATH": str(bad), "WIRING_QA_INDEX__PATH": str(tmp_path / "i")}
    out = subprocess.run([WIRING_QA, "ask", "PSX?"], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "expected b7f2d1040ae7" in out.stderr and out.stderr.strip().count("\n") == 0


@pytest.mark.server
def test_two_app_processes_share_one_chroma_server(chroma_server, built_index, tmp_path):
    """Two `python app.py` replicas over one Chroma server give the same answers through the Gradio API."""
    import urllib.request

    from conftest import free_port
    from gradio_client import Client

    env = {
        **os.environ,
        "WIRING_QA_INDEX__CHROMA_HOST": chroma_server["host"],
        "WIRING_QA_INDEX__CHROMA_PORT": str(chroma_server["port"]),
    }
    ports = [free_port(), free_port()]
    app = str(Path(__file__).resolve().parents[1] / "app.py")
    logs = [tmp_path / f"app-{port}.log" for port in ports]
    procs = []
    for port, log in zip(ports, logs, strict=True):
        with open(log, "w") as out:  # the child holds its own copy of the file
            procs.append(
                subprocess.Popen(
                    [sys.executable, app],
                    env={**env, "WIRING_QA_APP__PORT": str(port)},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    try:
        for port, proc, log in zip(ports, procs, logs, strict=True):

            def serving(p=port):
                with urllib.request.urlopen(f"http://127.0.0.1:{p}/", timeout=5) as page:
                    return page.status == 200

            _wait_ready(serving, proc, log, f"python app.py on port {port}", 300)
        question = "What did conclusion 18 recommend and what happened?"
        answers = [
            Client(f"http://127.0.0.1:{port}/", verbose=False).predict(question, "[]", 0, "", api_name="/ask")
            for port in ports
        ]
        assert [a["notice"] for a in answers] == ["", ""]  # both used the shared vector index
        assert answers[0]["answer"] == answers[1]["answer"] and answers[0]["citations"] == answers[1]["citations"]
        assert [s["id"] for s in answers[0]["sources"]] == [s["id"] for s in answers[1]["sources"]]
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
