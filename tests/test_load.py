"""The load test's smoke run: `python app.py` in a subprocess, 2 clients for ~5 s or 10 questions, every answer
checked. Nothing timed is asserted; only that nothing failed and the reports were written."""

from __future__ import annotations

import json
import os

import pytest

from eval import load


def test_only_loopback_urls_are_accepted():
    for url in ("http://127.0.0.1:7860/", "http://localhost:1234", "http://[::1]:80/", "http://127.0.0.2/"):
        assert load.is_loopback_url(url), url
    for url in ("http://10.0.0.1:7860/", "https://example.org/", "ftp://127.0.0.1/", "127.0.0.1:7860", ""):
        assert not load.is_loopback_url(url), url
    with pytest.raises(ValueError, match="loopback"):
        load.run_load(url="http://192.0.2.1:7860/", seconds=1, max_questions=1)


def test_check_answer_catches_what_it_should(report):
    by_id = report.by_id()
    record = by_id["3.24.1"]
    quote = record.text.split(". ")[0] + "."
    good = {"answer": f"{quote} [3.24.1]", "refused": False, "citations": [cite("3.24.1", quote)]}
    assert load.check_answer(good, by_id) == ([], 1, 0)

    forged = [cite("3.24.1", "A sentence the report never wrote."), cite("no-such-id", quote), cite("3.24.1", quote)]
    assert load.check_answer({**good, "citations": forged}, by_id) == ([], 3, 2)

    problems, _, _ = load.check_answer({"answer": " ", "refused": "no", "citations": []}, by_id)
    assert problems == ["empty answer", "refused is str, not bool"]
    assert load.check_answer(["not", "a", "dict"], by_id)[0] == ["not a dict but list"]


def cite(record_id: str, quote: str) -> dict:
    return {"id": record_id, "quote": quote, "start": 0, "end": len(quote)}


def test_smoke_load_on_a_real_app(built_index, tmp_path):
    """The whole path of `python -m eval.load`: start the app, load it, check answers, stop it, write reports."""
    messages: list[str] = []
    result = load.run_load(clients=2, seconds=5, max_questions=10, out_dir=tmp_path, log=messages.append)
    summary = result["summary"]
    assert summary["errors"] == 0, summary["error_examples"]
    assert summary["failed_requests"] == 0 and summary["invalid_citations"] == 0
    assert 2 <= summary["responses"] <= 10 and summary["requests_sent"] == summary["responses"]
    assert summary["citations_checked"] > 0 and summary["latency_ms"]["n"] == summary["responses"]
    assert summary["stop_reason"] in ("time limit", "max questions")

    server = result["meta"]["server"]
    assert server["started_here"] and result["meta"]["url"].startswith("http://127.0.0.1:")
    rss = result["rss"]
    assert rss["before_mb"] > 0 and rss["after_mb"] > 0 and rss["growth_mb"] is not None
    assert result["server_log"]["tracebacks"] == 0
    with pytest.raises(ProcessLookupError):
        os.kill(server["pid"], 0)  # stopped and reaped
    assert any("stopped the app" in m for m in messages)

    assert json.loads((tmp_path / "load.json").read_text()) == json.loads(json.dumps(result))
    markdown = (tmp_path / "load.md").read_text()
    assert markdown == load.render_markdown(result)
    assert markdown.startswith("# Load test") and "| invalid citations | 0 of " in markdown
    assert "## Server memory (VmRSS)" in markdown and "| before |" in markdown


def test_both_doors_on_one_server(built_index, tmp_path, capsys):
    """`python -m eval.load --door both`: the Gradio door then the JSON API, each on a fresh app (so neither
    is served from the other's answer cache), a report for each and the chart; every answer checked."""
    code = load.main(
        ["--door", "both", "--clients", "2", "--seconds", "3", "--max-questions", "6", "--out", str(tmp_path)]
    )
    assert code == 0
    gradio, json_api = (json.loads((tmp_path / f"{stem}.json").read_text()) for stem in ("load", "load-json-api"))
    assert gradio["meta"]["door"] == "gradio" and json_api["meta"]["door"] == "json"
    assert gradio["meta"]["server"]["pid"] != json_api["meta"]["server"]["pid"]  # a fresh app each
    assert json_api["summary"]["served_from_answer_cache"] < json_api["summary"]["responses"]
    for result in (gradio, json_api):
        assert result["summary"]["responses"] >= 2 and result["summary"]["errors"] == 0
        assert result["summary"]["citations_checked"] > 0 and result["summary"]["invalid_citations"] == 0
    assert (tmp_path / "doors.png").stat().st_size > 5000
    out = capsys.readouterr().out
    assert "# Load test: the Gradio `/ask` API" in out and "# Load test: the JSON API `POST /api/v1/ask`" in out
