"""The eval gate: wiring-qa meets every gate in eval/gates.toml and beats the naive LlamaIndex baseline."""

from __future__ import annotations

import hashlib
import json
import time

import pytest

from eval.harness import QUESTIONS_FILE, load_gates, run_eval

MAX_SECONDS = 180
BEATS_BASELINE = (
    "recall_at_5",
    "mrr",
    "fact_recall",
    "citation_validity",
    "citation_precision",
    "faithfulness",
    "refusal_recall",
)


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval")
    started = time.perf_counter()
    result = run_eval(out_dir=out)
    return {"result": result, "out": out, "seconds": time.perf_counter() - started}


def test_reports_are_written_with_the_stamp_and_the_questions_hash(evaluation):
    out = evaluation["out"]
    assert (out / "report.md").is_file()
    report = json.loads((out / "report.json").read_text())
    assert report["questions_sha256"] == hashlib.sha256(QUESTIONS_FILE.read_bytes()).hexdigest()
    stamp = report["index"]
    assert stamp and len(stamp["report_sha256"]) == 64 and stamp["model_id"] and stamp["built_at"]
    assert report["questions"] == len(report["wiring_qa"]["questions"]) == len(report["baseline"]["questions"])
    markdown = (out / "report.md").read_text()
    assert "| metric | wiring-qa | baseline | Δ | gate | status |" in markdown
    assert report["questions_sha256"][:12] in markdown


def test_every_gate_holds(evaluation):
    result = evaluation["result"]
    gates = load_gates()
    assert gates, "eval/gates.toml names no gates"
    failing = sorted(k for k, v in result["status"].items() if v != "PASS")
    assert set(result["status"]) == set(gates)
    assert not failing and result["passed"], f"gates failing: {failing}\n\n{result['table']}"


@pytest.mark.parametrize("metric", BEATS_BASELINE)
def test_wiring_qa_beats_the_naive_baseline(evaluation, metric):
    ours, base = evaluation["result"]["aggregates"][metric], evaluation["result"]["baseline"][metric]
    assert ours is not None and base is not None, f"{metric}: wiring-qa {ours}, baseline {base}"
    assert ours > base, (
        f"{metric}: wiring-qa {ours:.3f} is not above the baseline {base:.3f}\n\n{evaluation['result']['table']}"
    )


def test_the_baseline_never_refuses(evaluation):
    assert evaluation["result"]["baseline"]["refusal_recall"] == 0.0


def test_the_eval_runs_in_time(evaluation):
    assert evaluation["seconds"] < MAX_SECONDS, f"the eval took {evaluation['seconds']:.0f} s"
