"""The eval gate: wiring-qa meets every gate in eval/gates.toml and beats the naive LlamaIndex baseline."""

from __future__ import annotations

import hashlib
import json
import time
import tomllib

import pytest

from eval.harness import EVAL_DIR, GATES_FILE, QUESTIONS_FILE, gate_status, load_gates, pinned_files, run_eval

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


def test_the_gated_question_files_are_the_pinned_ones():
    pins = pinned_files()
    assert "questions.jsonl" in pins
    for name, sha in pins.items():
        assert hashlib.sha256((EVAL_DIR / name).read_bytes()).hexdigest() == sha, (
            f"{name} changed; gates need it pinned"
        )


def test_gate_status_fails_on_a_drop_and_on_a_missing_value():
    gates = {"recall_at_5": {"min": 0.9}, "false_refusal_rate": {"max": 0.05}}
    assert gate_status({"recall_at_5": 0.9, "false_refusal_rate": 0.05}, gates) == dict.fromkeys(gates, "PASS")
    assert gate_status({"recall_at_5": 0.89, "false_refusal_rate": 0.05}, gates)["recall_at_5"] == "FAIL"
    assert gate_status({"recall_at_5": 0.95, "false_refusal_rate": 0.06}, gates)["false_refusal_rate"] == "FAIL"
    assert gate_status({"false_refusal_rate": 0.0}, gates)["recall_at_5"] == "FAIL"


def test_the_latest_blind_set_meets_its_gates(tmp_path):
    """The blind set named in gates.toml was written after the change it measures and never fitted on."""
    with GATES_FILE.open("rb") as fh:
        blind = tomllib.load(fh)["blind"]
    path = EVAL_DIR / blind["file"]
    assert blind["gates"] and path.name in {p.split("/")[-1] for p in pinned_files()}
    result = run_eval(out_dir=tmp_path, baseline=False, questions_path=path)
    failing = sorted(k for k, v in result["status"].items() if v != "PASS")
    assert result["passed"] and set(result["status"]) == set(blind["gates"]), f"failing: {failing}\n{result['table']}"


def test_the_latest_blind_conversation_set_meets_its_gates(tmp_path):
    """Played turn by turn with the assistant's own answers as history, as the chat page does."""
    from eval.chats import run_conversations

    with GATES_FILE.open("rb") as fh:
        table = tomllib.load(fh)["conversations"]
    path = EVAL_DIR / table["file"]
    assert table["gates"] and table["file"] in pinned_files()
    result = run_conversations(path, tmp_path)
    failing = sorted(k for k, v in result["status"].items() if v != "PASS")
    assert result["passed"] and set(result["status"]) == set(table["gates"]), (
        f"failing: {failing}\n{result['markdown']}"
    )
