"""The command line: JSON shape, exit codes, bad input on argv and stdin."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.learned import MODELS_DIR

WIRING_QA = str(Path(sys.executable).with_name("wiring-qa"))


def _run(args, stdin: bytes | None = None, env=None):
    return subprocess.run(
        [WIRING_QA, *args], input=stdin, capture_output=True, timeout=300, env=env or os.environ.copy()
    )


def test_ask_json(built_index):
    out = _run(["ask", "How much is the Policy Innovation Fund?", "--json"])
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) >= {"answer", "refused", "citations", "sources", "timings_ms"}
    assert data["refused"] is False
    assert {"id", "quote", "start", "end"} <= set(data["citations"][0])
    assert {"id", "text", "score"} <= set(data["sources"][0])
    assert data["timings_ms"]["total"] > 0


def test_refusal_exits_zero(built_index):
    out = _run(["ask", "What is the capital of France?", "--json"])
    assert out.returncode == 0
    assert json.loads(out.stdout)["refused"] is True


def test_history_file(tmp_path, built_index):
    history = tmp_path / "h.json"
    history.write_text(
        json.dumps(
            [
                {"role": "user", "content": "What is the Public Service Leaders Scheme?"},
                {"role": "assistant", "content": "..."},
            ]
        )
    )
    out = _run(["ask", "And when was it launched?", "--json", "--history", str(history)])
    assert out.returncode == 0, out.stderr
    assert "22 March 2001" in json.loads(out.stdout)["answer"]


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        (["ask", ""], None),
        (["ask", "   "], None),
        (["ask", "-"], b"\xff\xfe\xfa not utf-8"),
        (["ask"], b""),
        (["ask", "x" * 100_000], None),
        (["ask", "-"], ("fund " * 20_000).encode()),
    ],
)
def test_bad_input_exits_two_with_one_line(args, stdin, built_index):
    out = _run(args, stdin=stdin)
    assert out.returncode == 2, (out.returncode, out.stderr)
    err = out.stderr.decode().strip()
    assert err.startswith("wiring-qa: ") and "\n" not in err and "Traceback" not in err


def test_control_characters_and_other_languages_answer_or_refuse(built_index):
    for question in ["Policy\x01 Innovation\x1b Fund?", "¿Cuánto dinero tiene el fondo?", "政策创新基金有多少钱？"]:
        out = _run(["ask", question, "--json"])
        assert out.returncode == 0, out.stderr
        data = json.loads(out.stdout)
        assert isinstance(data["refused"], bool)


def test_bad_history_file_exits_two(tmp_path, built_index):
    bad = tmp_path / "h.json"
    bad.write_text("{not json")
    out = _run(["ask", "PSX?", "--history", str(bad)])
    assert out.returncode == 2 and b"history" in out.stderr


def test_missing_report_is_one_line(tmp_path, built_index):
    env = {
        **os.environ,
        "WIRING_QA_INDEX__REPORT_PATH": str(tmp_path / "nope.txt"),
        "WIRING_QA_INDEX__PATH": str(tmp_path / "i"),
    }
    out = _run(["ask", "PSX?"], env=env)
    assert out.returncode == 1
    err = out.stderr.decode().strip()
    assert "cannot read the report" in err and "\n" not in err


def test_a_damaged_model_file_is_one_line_and_a_missing_one_answers_unfitted(tmp_path, built_index):
    damaged = tmp_path / "damaged"
    shutil.copytree(MODELS_DIR, damaged)
    (damaged / "ranker.json").write_text("{garbage")
    out = _run(["ask", "PSX?"], env={**os.environ, "WIRING_QA_ANSWER__MODELS_DIR": str(damaged)})
    err = out.stderr.decode().strip()
    assert out.returncode == 1 and "cannot read model file" in err and "\n" not in err
    (tmp_path / "none").mkdir()
    out = _run(["ask", "PSX?", "--json"], env={**os.environ, "WIRING_QA_ANSWER__MODELS_DIR": str(tmp_path / "none")})
    assert out.returncode == 0 and isinstance(json.loads(out.stdout)["refused"], bool)


@pytest.mark.parametrize("content", [b"not json\n", b'{"id": "x"}\n', b"\xff\xfe\x00garbage"])
def test_eval_with_an_unusable_question_file_is_one_line_and_exit_2(tmp_path, content):
    bad = tmp_path / "questions.jsonl"
    bad.write_bytes(content)
    for path in (bad, tmp_path / "missing.jsonl"):
        out = _run(["eval", "--questions", str(path), "--no-baseline"])
        assert out.returncode == 2, out.stderr
        assert out.stderr.decode().count("\n") == 1 and b"Traceback" not in out.stderr


def test_eval_conversations_rejects_a_broken_file_in_one_line(tmp_path):
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "x", "turns": "not a list"}\n')
    out = _run(["eval", "--conversations", str(broken)])
    assert out.returncode == 2
    assert out.stderr.decode().count("\n") == 1 and "needs an id and turns" in out.stderr.decode()
