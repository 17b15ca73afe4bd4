"""The learned parts: model files load, score as fitted, refuse stale features, and were fitted on the pool."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assistant.features import FEATURE_VERSION, QUESTION_FEATURES, RECORD_FEATURES, SENTENCE_FEATURES
from assistant.learned import (
    MODELS_DIR,
    LinearModel,
    ModelFileError,
    QueryAdapter,
    TreeModel,
    load_adapter,
    load_model,
    save_adapter,
    save_model,
)
from eval.fit import load_pool, pick_threshold, sentence_label

MODELS = {"ranker": RECORD_FEATURES, "sentences": SENTENCE_FEATURES, "answerable": QUESTION_FEATURES}


def test_a_linear_model_scores_its_standardised_features(tmp_path):
    model = LinearModel("m", ("a", "b"), (1.0, 0.0), (2.0, 1.0), (1.0, -1.0), 0.0)
    assert model.probability({"a": 1.0, "b": 0.0}) == pytest.approx(0.5)
    assert model.probability({"a": 5.0, "b": 0.0}) > 0.85
    save_model(model, tmp_path)
    assert load_model("m", ("a", "b"), tmp_path) == model


def test_a_tree_model_follows_its_nodes():
    tree = {"feature": [0, 0, 0], "threshold": [0.5, 0, 0], "left": [1, 0, 0], "right": [2, 0, 0]}
    tree |= {"leaf": [False, True, True], "value": [0.0, -3.0, 3.0]}
    model = TreeModel("t", ("x",), (tree,), 0.0)
    assert model.probability({"x": 0.2}) < 0.05 < 0.95 < model.probability({"x": 0.9})
    assert TreeModel.from_dict(json.loads(json.dumps(model.to_dict()))) == model


def test_a_model_fitted_on_other_features_is_an_error(tmp_path):
    save_model(LinearModel("m", ("a",), (0.0,), (1.0,), (1.0,), 0.0), tmp_path)
    with pytest.raises(ModelFileError, match="other features"):
        load_model("m", ("a", "b"), tmp_path)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ModelFileError):
        load_model("bad", ("a",), tmp_path)
    assert load_model("absent", ("a",), tmp_path) is None


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_shipped_models_were_fitted_on_this_pool_and_these_features(name):
    """A changed pool or feature set needs `python -m eval.fit`: a stale model would score wrong numbers."""
    model = load_model(name, MODELS[name])
    assert model is not None, f"assistant/models/{name}.json is missing"
    _, sha = load_pool()
    assert model.stamp["pool_sha256"] == sha and model.stamp["feature_version"] == FEATURE_VERSION
    assert model.stamp["cv"], "the stamp carries the cross-validated figures"
    assert (MODELS_DIR / f"{name}.json").stat().st_size < 2_000_000


def test_the_answerability_threshold_keeps_false_refusals_under_the_limit():
    probabilities = [0.9, 0.8, 0.7, 0.6, 0.2, 0.1, 0.65]
    labels = [1, 1, 1, 1, 0, 0, 0]
    threshold, figures = pick_threshold(__import__("numpy").array(probabilities), labels, 0.0)
    assert 0.2 < threshold <= 0.6 and figures["false_refusal_rate"] == 0.0
    assert figures["refusal_recall"] == pytest.approx(2 / 3, abs=0.01)


def test_a_sentence_is_labelled_by_the_gold_evidence_of_its_record():
    item = {
        "evidence": ["The fund is worth £50m a year"],
        "paragraphs": ["3.1.1"],
        "answer_facts": [["£50m"]],
    }
    assert sentence_label("In 2000, the fund is worth £50m a year for three years.", "3.1.1", item) == 1
    assert sentence_label("The fund is worth £50m a year.", "3.1.2", item) == 0  # another record
    assert sentence_label("Nothing to do with it at all here.", "3.1.1", item) == 0


def test_the_shipped_query_adapter_was_fitted_on_this_pool():
    adapter = load_adapter()
    assert adapter is not None
    _, sha = load_pool()
    assert adapter.stamp["pool_sha256"] == sha and adapter.stamp["feature_version"] == FEATURE_VERSION
    cv = adapter.stamp["cv"]
    assert cv["cv_dense_recall_at_5"] > cv["unadapted"], "the adapter must lift held-out dense recall"


def test_a_query_adapter_moves_a_vector_and_keeps_it_unit_length(tmp_path):
    matrix = np.zeros((4, 4), dtype=np.float32)
    matrix[0, 1] = 1.0  # the first coordinate pulls towards the second
    adapter = QueryAdapter(matrix, {"pool_sha256": "x"})
    moved = adapter.apply(np.array([1.0, 0.0, 0.0, 0.0]))
    assert moved[1] > 0.5 and np.linalg.norm(moved) == pytest.approx(1.0)
    save_adapter(adapter, tmp_path)
    assert np.array_equal(load_adapter(tmp_path, dimension=4).matrix, matrix)
    with pytest.raises(ModelFileError, match="shape"):
        load_adapter(tmp_path, dimension=8)
