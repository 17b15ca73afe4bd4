"""Fit the three learned parts on the training pool and write them to assistant/models/.

    python -m eval.fit            # fit all three, print cross-validated figures, write the model files

The stages are fitted in pipeline order, each on the output of the ones before it:
1. ranker: which fused search candidates are gold records (features of assistant/features.RECORD_FEATURES);
2. sentences: which sentences of the top records hold the gold evidence or an answer fact;
3. answerable: whether the report answers the question at all (out-of-scope items are the negatives).
Cross-validation folds group the items by question, so no question is scored by a model that saw it.
Needs scikit-learn (the `fit` extra); answering never imports it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from assistant.features import FEATURE_VERSION, QUESTION_FEATURES, RECORD_FEATURES, SENTENCE_FEATURES
from assistant.learned import MODELS_DIR, LinearModel, TreeModel, save_model
from eval.metrics import content_words
from index.text import fold

EVAL_DIR = Path(__file__).resolve().parent
TRAIN_DIR = EVAL_DIR / "train"
# Sets that were fitted on or looked at: the eval set, the project's old held-out set, and scored blind sets.
JOINED = (
    EVAL_DIR / "questions.jsonl",
    EVAL_DIR / "heldout.jsonl",
    EVAL_DIR / "blind" / "blind-1.jsonl",
    EVAL_DIR / "blind" / "blind-2.jsonl",
)
OUT_OF_SCOPE = "out_of_scope"
FOLDS = 5
TREES = 150
MAX_FALSE_REFUSALS = 0.04  # the answerability threshold refuses as much as it can while CV false refusals stay under


def pool_files() -> list[Path]:
    """Every file of the training pool, in a stable order."""
    return sorted(TRAIN_DIR.glob("*.jsonl")) + [p for p in JOINED if p.exists()]


def load_pool(files: Sequence[Path] | None = None) -> tuple[list[dict], str]:
    """The pool's items and one sha256 over its files (what the model files are stamped with)."""
    digest = hashlib.sha256()
    items: list[dict] = []
    for path in files or pool_files():
        data = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + data)
        items += [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
    return items, digest.hexdigest()


# -- labels ----------------------------------------------------------------------------


def sentence_label(sentence_text: str, record_id: str, item: dict) -> int:
    """1 if the sentence holds gold evidence (either text inside the other, or most of the sentence's words
    in a snippet of the same record) or states an answer fact from inside a gold record."""
    gold = set(item.get("paragraphs") or [])
    if record_id not in gold:
        return 0
    text = fold(sentence_text)
    words = content_words(sentence_text)
    for snippet, pid in zip(item["evidence"], item["paragraphs"], strict=False):
        if pid != record_id:
            continue
        snip = fold(snippet)
        if snip in text or text in snip:
            return 1
        shared = words & content_words(snippet)
        if words and len(shared) >= 4 and len(shared) >= 0.5 * len(words):
            return 1
    facts = [alt for fact in item.get("answer_facts") or [] for alt in fact]
    return int(any(len(alt) >= 4 and fold(alt) in text for alt in facts))


# -- collecting rows through the live pipeline --------------------------------------------


def _prepared(qa, item: dict):
    from assistant.types import BadInput

    try:
        return qa.prepare(item["question"], item.get("history") or [])
    except BadInput:
        return None


def ranker_rows(qa, items: list[dict]) -> tuple[list[dict], list[int], list[int]]:
    """Feature rows of each answerable item's fused candidates, labels (gold record or not), item numbers."""
    X, y, groups = [], [], []
    for n, item in enumerate(items):
        if item["type"] == OUT_OF_SCOPE or (prepared := _prepared(qa, item)) is None:
            continue
        query, _ = prepared
        candidates, _ = qa.retriever.candidates(query.expanded)
        rows = qa.retriever.ranker.rows(query, candidates)
        gold = set(item["paragraphs"])
        for (rid, _, _), row in zip(candidates, rows, strict=False):
            X.append(row)
            y.append(int(rid in gold))
            groups.append(n)
    return X, y, groups


def _scored(qa, item: dict):
    from assistant.rank import question_kinds

    prepared = _prepared(qa, item)
    if prepared is None:
        return None
    query, route = prepared
    ranked, _ = qa.retriever.search(query, k=qa.settings.retrieval.top_k, route=route)
    kinds = question_kinds(query)
    return query, route, ranked, kinds, qa.answerer.score_sentences(query, ranked, kinds)


def sentence_rows(qa, items: list[dict]) -> tuple[list[dict], list[int], list[int]]:
    X, y, groups = [], [], []
    for n, item in enumerate(items):
        if item["type"] == OUT_OF_SCOPE or (got := _scored(qa, item)) is None:
            continue
        for s in got[-1]:
            X.append(s.row)
            y.append(sentence_label(s.sentence.text, s.sentence.record.id, item))
            groups.append(n)
    return X, y, groups


def question_rows(qa, items: list[dict]) -> tuple[list[dict], list[int], list[int]]:
    X, y, groups = [], [], []
    for n, item in enumerate(items):
        if (got := _scored(qa, item)) is None:
            continue
        query, route, ranked, kinds, scored = got
        if not scored:
            continue
        X.append(qa.answerer.question_row(query, ranked, scored, kinds, bool(route)))
        y.append(int(item["type"] != OUT_OF_SCOPE))
        groups.append(n)
    return X, y, groups


# -- fitting -------------------------------------------------------------------------


def _matrix(rows: list[dict], names: Sequence[str]) -> np.ndarray:
    return np.array([[float(r.get(k, 0.0)) for k in names] for r in rows], dtype=float)


def fit_linear(
    name: str, rows: list[dict], labels: list[int], groups: list[int], names: Sequence[str], stamp: dict, c: float
) -> tuple[LinearModel, np.ndarray]:
    """A standardised logistic regression, and its out-of-fold probabilities (grouped by question)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    X, y, g = _matrix(rows, names), np.array(labels), np.array(groups)
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale == 0] = 1.0
    Z = (X - mean) / scale
    oof = np.zeros(len(y))
    for train, test in GroupKFold(n_splits=FOLDS).split(Z, y, g):
        model = LogisticRegression(C=c, max_iter=2000).fit(Z[train], y[train])
        oof[test] = model.predict_proba(Z[test])[:, 1]
    final = LogisticRegression(C=c, max_iter=2000).fit(Z, y)
    linear = LinearModel(
        name=name,
        features=tuple(names),
        mean=tuple(mean.tolist()),
        scale=tuple(scale.tolist()),
        coef=tuple(final.coef_[0].tolist()),
        intercept=float(final.intercept_[0]),
        stamp=stamp,
    )
    return linear, oof


def fit_trees(
    name: str, rows: list[dict], labels: list[int], groups: list[int], names: Sequence[str], stamp: dict
) -> tuple[TreeModel, np.ndarray]:
    """Small gradient-boosted trees, exported node by node, and their out-of-fold probabilities."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import GroupKFold

    X, y, g = _matrix(rows, names), np.array(labels), np.array(groups)

    def new():
        return HistGradientBoostingClassifier(
            max_iter=TREES,
            learning_rate=0.05,
            max_leaf_nodes=8,
            min_samples_leaf=20,
            l2_regularization=1.0,
            random_state=0,
        )

    oof = np.zeros(len(y))
    for train, test in GroupKFold(n_splits=FOLDS).split(X, y, g):
        oof[test] = new().fit(X[train], y[train]).predict_proba(X[test])[:, 1]
    final = new().fit(X, y)
    trees = tuple(_export_tree(predictors[0].nodes) for predictors in final._predictors)
    baseline = float(np.ravel(final._baseline_prediction)[0])
    return TreeModel(name, tuple(names), trees, baseline, stamp=stamp), oof


def _export_tree(nodes) -> dict:
    return {
        "feature": [int(v) for v in nodes["feature_idx"]],
        "threshold": [float(v) for v in nodes["num_threshold"]],
        "left": [int(v) for v in nodes["left"]],
        "right": [int(v) for v in nodes["right"]],
        "leaf": [bool(v) for v in nodes["is_leaf"]],
        "value": [float(v) for v in nodes["value"]],
    }


def top1_rate(oof: np.ndarray, labels: list[int], groups: list[int], baseline: list[float] | None = None) -> float:
    """Share of questions (with a positive) whose highest-scored row is a positive."""
    best: dict[int, tuple[float, int]] = {}
    scores = oof if baseline is None else np.array(baseline)
    for s, y, g in zip(scores, labels, groups, strict=True):
        if g not in best or s > best[g][0]:
            best[g] = (s, y)
    has_positive = {g for y, g in zip(labels, groups, strict=True) if y}
    return sum(best[g][1] for g in has_positive) / max(len(has_positive), 1)


def recall_at(oof: np.ndarray, labels: list[int], groups: list[int], k: int, baseline: bool = False) -> float:
    """Share of questions whose positives all rank in the first k (by model score, or by row order)."""
    per: dict[int, list[tuple[float, int, int]]] = {}
    for i, (s, y, g) in enumerate(zip(oof, labels, groups, strict=True)):
        per.setdefault(g, []).append((-i if baseline else s, -i, y))
    hits = total = 0
    for rows in per.values():
        if not any(y for _, _, y in rows):
            continue
        total += 1
        ordered = sorted(rows, reverse=True)
        hits += all(y == 0 for _, _, y in ordered[k:])
    return hits / max(total, 1)


def pick_threshold(oof: np.ndarray, labels: list[int], max_false_refusals: float) -> tuple[float, dict]:
    """The highest threshold whose out-of-fold false refusal rate stays within the limit."""
    y = np.array(labels)
    best = (0.0, {})
    for t in np.linspace(0.02, 0.98, 97):
        refused = oof < t
        frr = float(refused[y == 1].mean()) if (y == 1).any() else 0.0
        recall = float(refused[y == 0].mean()) if (y == 0).any() else 0.0
        if frr <= max_false_refusals:
            best = (float(t), {"refusal_recall": round(recall, 3), "false_refusal_rate": round(frr, 3)})
    return best


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.fit", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODELS_DIR, help="where the model files go")
    args = parser.parse_args(argv)
    from assistant import ReportAssistant, get_settings
    from assistant.core import build_parts

    for stale in MODELS_DIR.glob("*.json"):  # every stage is refitted on the ones fitted before it
        stale.unlink()
    items, sha = load_pool()
    answerable = sum(1 for i in items if i["type"] != OUT_OF_SCOPE)
    print(f"pool: {len(items)} items ({answerable} answerable), sha256 {sha[:12]}")
    base = {"pool_sha256": sha, "feature_version": FEATURE_VERSION, "pool_items": len(items)}
    figures: dict[str, dict] = {}

    def assistant(**models):
        parts = build_parts(get_settings())
        qa = ReportAssistant(parts["retriever"], parts["answerer"], get_settings(), parts["report"])
        qa.retriever.ranker.model = models.get("ranker")
        qa.answerer.sentence_model = models.get("sentences")
        qa.answerer.answerable_model = None
        return qa

    qa = assistant()
    X, y, g = ranker_rows(qa, items)
    ranker, oof = fit_linear("ranker", X, y, g, RECORD_FEATURES, {}, c=1.0)
    figures["ranker"] = {
        "rows": len(y),
        "cv_recall_at_5": round(recall_at(oof, y, g, 5), 3),
        "fused_recall_at_5": round(recall_at(oof, y, g, 5, baseline=True), 3),
        "cv_top1": round(top1_rate(oof, y, g), 3),
    }
    print("ranker", figures["ranker"])

    qa = assistant(ranker=ranker)
    X, y, g = sentence_rows(qa, items)
    sentences, oof = fit_linear("sentences", X, y, g, SENTENCE_FEATURES, {}, c=1.0)
    figures["sentences"] = {"rows": len(y), "positives": int(sum(y)), "cv_top1": round(top1_rate(oof, y, g), 3)}
    print("sentences", figures["sentences"])

    qa = assistant(ranker=ranker, sentences=sentences)
    X, y, g = question_rows(qa, items)
    answerable_model, oof = fit_trees("answerable", X, y, g, QUESTION_FEATURES, {})
    threshold, at = pick_threshold(oof, y, MAX_FALSE_REFUSALS)
    figures["answerable"] = {"rows": len(y), "negatives": len(y) - int(sum(y)), "threshold": threshold, **at}
    print("answerable", figures["answerable"])

    answerable_model = replace(answerable_model, threshold=threshold)
    for model in (ranker, sentences, answerable_model):
        print("wrote", save_model(replace(model, stamp={**base, "cv": figures[model.name]}), args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
