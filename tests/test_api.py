"""The doors for programs, through a real `python app.py`: the JSON API with curl and httpx, the
OpenAI-compatible endpoint with the official `openai` client (a stream read chunk by chunk), the README's
"Programs" examples as written (only the address changed), and bad input through each door."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import free_port, wait_for

from assistant.answering.citations import citation_is_valid
from assistant.types import Citation

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
README_ADDRESS = "127.0.0.1:7860"


def _programs_section() -> str:
    return README.read_text().split("## Programs", 1)[1].split("\n## ", 1)[0]


@pytest.fixture(scope="module")
def app_url(built_index, tmp_path_factory):
    """`python app.py` on a free loopback port, over the session's index; stopped after the module."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("app") / "app.log"
    env = {**os.environ, "WIRING_QA_APP__PORT": str(port), "WIRING_QA_APP__HOST": "127.0.0.1"}
    for name in ("WIRING_QA_APP__AUTH_USER", "WIRING_QA_APP__AUTH_PASSWORD"):
        env.pop(name, None)
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited with {proc.returncode}: {log_path.read_text()[-800:]}")
        return httpx.get(f"{url}/api/v1/conclusions", timeout=2, trust_env=False).status_code == 200

    try:
        wait_for(up, timeout=180)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _check_citations(citations: list[dict], report) -> None:
    by_id = report.by_id()
    assert citations
    for c in citations:
        assert citation_is_valid(Citation(c["id"], c["quote"], c["start"], c["end"]), by_id), c


def test_ask_returns_the_answer_with_checkable_citations(app_url, report):
    body = {"question": "How large is the Policy Innovation Fund each year?", "top_k": 3}
    reply = httpx.post(f"{app_url}/api/v1/ask", json=body, timeout=30, trust_env=False)
    assert reply.status_code == 200
    answer = reply.json()
    assert not answer["refused"] and "£50" in answer["text"]
    _check_citations(answer["citations"], report)
    assert all(f"[{c['id']}]" in answer["text"] for c in answer["citations"])
    assert len(answer["sources"]) == 3 and {"id", "label", "kind", "score"} <= answer["sources"][0].keys()
    assert {"prepare", "retrieve", "answer", "total"} <= answer["timings_ms"].keys()


def test_ask_follows_the_history(app_url):
    history = [
        {"role": "user", "content": "How large is the Policy Innovation Fund each year?"},
        {"role": "assistant", "content": "The Policy Innovation Fund of £50m per year … [3.24.1]"},
    ]
    body = {"question": "When was it devised?", "history": history}
    answer = httpx.post(f"{app_url}/api/v1/ask", json=body, timeout=30, trust_env=False).json()
    assert "Policy Innovation Fund" in answer["understood_as"]
    assert "3.24.1" in [c["id"] for c in answer["citations"]]


def test_records_and_conclusions(app_url):
    record = httpx.get(f"{app_url}/api/v1/records/3.24.1", timeout=10, trust_env=False).json()
    assert record["responds_to"] == "Conclusion 24" and record["text"].startswith("The Policy Innovation Fund")
    conclusion = httpx.get(f"{app_url}/api/v1/records/Conclusion 24", timeout=10, trust_env=False).json()
    assert conclusion["progress"] == ["3.24.1", "3.24.2"] and conclusion["by_when"]
    listed = httpx.get(f"{app_url}/api/v1/conclusions", timeout=10, trust_env=False).json()
    assert [c["number"] for c in listed] == list(range(1, 43))
    assert all(c["statement"] and c["by_when"] for c in listed)
    paths = httpx.get(f"{app_url}/api/v1/openapi.json", timeout=10, trust_env=False).json()["paths"]
    assert {"/api/v1/ask", "/api/v1/records/{record_id}", "/api/v1/conclusions", "/v1/chat/completions"} <= set(paths)


def test_the_chat_page_is_still_served(app_url):
    page = httpx.get(f"{app_url}/", timeout=10, trust_env=False)
    assert page.status_code == 200 and "gradio" in page.text.lower()


BAD_JSON_API = [
    (b"", 422, "body"),
    (b"{", 422, "not valid JSON"),
    (b'{"question": 5}', 422, "question"),
    (b'{"question": ""}', 400, "empty"),
    (b'{"question": "x", "top_k": "many"}', 422, "top_k"),
    (b'{"question": "x", "history": [{"who": "me"}]}', 422, "history"),
    (b'{"question": "x", "answerer": "oracle"}', 400, "unknown answerer"),
    (b'{"question": "\xff\xfe"}', 400, ""),
    (b'{"question": "' + b"a" * (2 << 20) + b'"}', 413, "over"),
]


@pytest.mark.parametrize(("body", "status", "says"), BAD_JSON_API, ids=lambda v: repr(v)[:30])
def test_bad_input_through_the_json_api_is_one_line(app_url, body, status, says):
    reply = httpx.post(
        f"{app_url}/api/v1/ask", content=body, headers={"Content-Type": "application/json"}, timeout=30, trust_env=False
    )
    assert reply.status_code == status
    error = reply.json()["error"]
    assert isinstance(error, str) and "\n" not in error and "Traceback" not in error and says in error
    assert httpx.get(f"{app_url}/api/v1/records/2.12", timeout=10, trust_env=False).status_code == 200


def test_unknown_record_is_404(app_url):
    reply = httpx.get(f"{app_url}/api/v1/records/9.99.9", timeout=10, trust_env=False)
    assert reply.status_code == 404 and "9.99.9" in reply.json()["error"]


# --- OpenAI-compatible ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def openai_client(app_url):
    from openai import OpenAI

    return OpenAI(base_url=f"{app_url}/v1", api_key="unused", max_retries=0, timeout=30)


def test_openai_client_gets_markers_and_citations(openai_client, report):
    assert "wiring-qa" in [m.id for m in openai_client.models.list().data]
    reply = openai_client.chat.completions.create(
        model="wiring-qa", messages=[{"role": "user", "content": "How large is the Policy Innovation Fund each year?"}]
    )
    content = reply.choices[0].message.content
    citations = reply.model_extra["citations"]
    _check_citations(citations, report)
    assert re.search(r"\[[^\]]+\]", content) and all(f"[{c['id']}]" in content for c in citations)
    assert reply.model_extra["wiring_qa"]["refused"] is False


def test_openai_stream_read_chunk_by_chunk(openai_client, report):
    stream = openai_client.chat.completions.create(
        model="wiring-qa",
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What did conclusion 18 recommend?"},
        ],
        stream=True,
    )
    chunks = list(stream)
    assert len(chunks) > 3
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert all("citations" not in (c.model_extra or {}) for c in chunks[:-1])  # only the last carries them
    citations = last.model_extra["citations"]
    _check_citations(citations, report)
    assert "Conclusion 18" in [c["id"] for c in citations] and "[Conclusion 18]" in text


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]}, "unknown model"),
        ({"model": "wiring-qa", "messages": []}, "messages"),
        ({"model": "wiring-qa", "messages": [{"role": "assistant", "content": "hi"}]}, "last message"),
        ({"model": "wiring-qa", "messages": "hello"}, "messages"),
        ({"model": "wiring-qa", "messages": [{"role": "user", "content": ""}]}, "empty"),
    ],
    ids=["unknown-model", "no-messages", "no-user-turn", "messages-not-a-list", "empty-question"],
)
def test_bad_input_through_the_openai_door(app_url, body, says):
    reply = httpx.post(f"{app_url}/v1/chat/completions", json=body, timeout=30, trust_env=False)
    assert 400 <= reply.status_code < 500
    error = reply.json()["error"]
    assert says in error["message"] and "\n" not in error["message"] and error["type"] == "invalid_request_error"


def test_openai_client_raises_a_clear_error(openai_client):
    import openai

    with pytest.raises(openai.NotFoundError, match="unknown model"):
        openai_client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "hi"}])


# --- the README's examples, as written --------------------------------------------------------------------


def test_readme_curl_examples_run(app_url):
    lines = [line for line in re.findall(r"^curl .*$", _programs_section(), re.M)]
    assert len(lines) >= 3
    for line in lines:
        command = line.replace(README_ADDRESS, app_url.removeprefix("http://"))
        out = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, (line, out.stderr)
        data = json.loads(out.stdout)
        assert "error" not in data if isinstance(data, dict) else len(data) == 42
        if isinstance(data, dict) and "citations" in data:
            assert data["citations"] and not data["refused"], data


@pytest.mark.parametrize("index", [0, 1], ids=["openai", "mcp"])
def test_readme_program_examples_run(app_url, index, tmp_path):
    """The README's `py` blocks (run here rather than in test_readme, since they need a running app)."""
    blocks = re.findall(r"```py\n(.*?)```", _programs_section(), re.S)
    code = blocks[index].replace(README_ADDRESS, app_url.removeprefix("http://"))
    script = tmp_path / "example.py"
    script.write_text(code)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert re.search(r"\[[0-9A-Z][^\]]*\]", out.stdout), out.stdout


def test_doors_ask_for_the_chat_password_when_one_is_set(qa, settings):
    """In process (FastAPI's TestClient over the same app): no credentials, wrong ones, Basic, and a Bearer key."""
    from fastapi.testclient import TestClient

    from assistant.http_api import build_api

    locked = settings.model_copy(
        update={"app": settings.app.model_copy(update={"auth_user": "ana", "auth_password": "s3cret"})}
    )
    client = TestClient(build_api(qa, locked))
    path = "/api/v1/records/2.12"
    assert client.get(path).status_code == 401
    assert client.get(path, auth=("ana", "wrong")).json() == {"error": "authentication required"}
    assert client.get(path, auth=("ana", "s3cret")).status_code == 200
    assert client.get("/v1/models", headers={"Authorization": "Bearer ana:s3cret"}).status_code == 200
    assert client.get("/v1/models", headers={"Authorization": "Bearer nope"}).json()["error"]["code"] == 401
    open_client = TestClient(build_api(qa, settings))
    assert open_client.get(path).status_code == 200
