"""Fit the three learned parts on the training pool and write them to assistant/models/.

    python -m eval.fit            # fit all three, print cross-validated figures, write the model files

The stages are fitted in pipeline order, each on the output of the ones before it:
0. adapter: a linear map of the question vector towards the windows of its gold records (everyday wording);
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
from assistant.learned import MODELS_DIR, LinearModel, QueryAdapter, TreeModel, save_adapter, save_model
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
    EVAL_DIR / "blind" / "blind-3.jsonl",
    EVAL_DIR / "blind" / "blind-4.jsonl",
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


def ranker_rows(qa, items: list[dict], unseen=None) -> tuple[list[dict], list[int], list[int]]:
    """Feature rows of each answerable item's fused candidates, labels (gold record or not), item numbers."""
    X, y, groups = [], [], []
    for n, item in enumerate(items):
        _use_adapter(qa, unseen, n)
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


def _use_adapter(qa, unseen: dict | None, n: int) -> None:
    """Question n's vectors through the fold adapter that never saw it (the final one for unanswerable items)."""
    if unseen is None:
        return
    matrix = unseen.get(n, unseen.get("final"))
    qa.parts.index.query_transform = None if matrix is None else QueryAdapter(matrix).apply


def _scored(qa, item: dict):
    from assistant.question.kinds import question_kinds

    prepared = _prepared(qa, item)
    if prepared is None:
        return None
    query, route = prepared
    ranked, _ = qa.retriever.search(query, k=qa.settings.retrieval.top_k, route=route)
    kinds = question_kinds(query)
    return query, route, ranked, kinds, qa.answerer.score_sentences(query, ranked, kinds)


def sentence_rows(qa, items: list[dict], unseen=None) -> tuple[list[dict], list[int], list[int]]:
    """Every candidate sentence of each answerable item, labelled. (Adding the unanswerable items' sentences
    as hard negatives was tried: no cross-validated gain in refusals.)"""
    X, y, groups = [], [], []
    for n, item in enumerate(items):
        _use_adapter(qa, unseen, n)
        if item["type"] == OUT_OF_SCOPE or (got := _scored(qa, item)) is None:
            continue
        for s in got[-1]:
            X.append(s.row)
            y.append(sentence_label(s.sentence.text, s.sentence.record.id, item))
            groups.append(n)
    return X, y, groups


def question_rows(qa, items: list[dict], unseen=None) -> tuple[list[dict], list[int], list[int]]:
    X, y, groups = [], [], []
    for n, item in enumerate(items):
        _use_adapter(qa, unseen, n)
        if (got := _scored(qa, item)) is None:
            continue
        query, route, ranked, kinds, scored = got
        if not scored:
            continue
        X.append(qa.answerer.question_row(query, ranked, scored, kinds, bool(route)))
        y.append(int(item["type"] != OUT_OF_SCOPE))
        groups.append(n)
    return X, y, groups


# -- the query adapter ------------------------------------------------------------------

ADAPTER_REG = 0.01  # L2 pull of the map towards zero (picked by grouped CV among 0.01, 0.1 and 1)
ADAPTER_TEMPERATURE = 20.0
ADAPTER_EPOCHS = 200


def adapter_data(qa, items: list[dict]):
    """Window vectors with their record column, and each answerable question's vector and gold columns."""
    from index.store import embed_query

    windows, window_ids = qa.parts.index.window_vectors()
    column = {rid: i for i, rid in enumerate(sorted(set(window_ids)))}
    window_record = np.array([column[rid] for rid in window_ids])
    questions, gold, numbers = [], [], []
    for n, item in enumerate(items):
        if item["type"] == OUT_OF_SCOPE or (prepared := _prepared(qa, item)) is None:
            continue
        questions.append(np.asarray(embed_query(prepared[0].expanded), dtype=np.float32))
        gold.append({column[p] for p in item["paragraphs"] if p in column})
        numbers.append(n)
    return windows, window_record, np.stack(questions), gold, numbers


def train_adapter(windows, window_record, questions, gold) -> np.ndarray:
    """W minimising the softmax loss of each question's gold windows among all windows, with an L2 pull."""
    import torch

    torch.manual_seed(0)
    dimension = questions.shape[1]
    matrix = torch.zeros(dimension, dimension, requires_grad=True)
    targets = torch.tensor(np.array([[window_record[w] in g for w in range(len(windows))] for g in gold]))
    q, e = torch.tensor(questions), torch.tensor(windows)
    optimiser = torch.optim.Adam([matrix], lr=1e-3)
    for _ in range(ADAPTER_EPOCHS):
        moved = q + q @ matrix
        logits = ADAPTER_TEMPERATURE * (moved / moved.norm(dim=1, keepdim=True)) @ e.T
        positive = torch.logsumexp(logits.masked_fill(~targets, -1e9), dim=1)
        loss = (torch.logsumexp(logits, dim=1) - positive).mean() + ADAPTER_REG * (matrix**2).sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return matrix.detach().numpy()


def dense_recall_at_5(windows, window_record, questions, gold, matrix=None) -> float:
    """Share of questions whose gold records all rank in the first five by their best window's cosine."""
    if matrix is not None:
        questions = questions + questions @ matrix
        questions = questions / np.linalg.norm(questions, axis=1, keepdims=True)
    scores = questions @ windows.T
    best = np.full((len(questions), window_record.max() + 1), -9.0)
    for column in range(best.shape[1]):
        if (window_record == column).any():
            best[:, column] = scores[:, window_record == column].max(axis=1)
    return float(np.mean([g <= set(np.argsort(-row)[:5]) for g, row in zip(gold, best, strict=True)]))


def fit_adapter(qa, items: list[dict]) -> tuple[np.ndarray, dict, dict[int, np.ndarray]]:
    """The adapter fitted on every answerable item, its 5-fold cross-validated dense recall@5, and for each
    item the fold adapter that never saw it: the later stages are fitted on those out-of-fold vectors, so
    they learn how far to trust dense search on questions the adapter has not seen."""
    windows, window_record, questions, gold, numbers = adapter_data(qa, items)
    order = np.random.default_rng(0).permutation(len(questions))
    before = after = 0.0
    unseen: dict[int, np.ndarray] = {}
    for test in np.array_split(order, FOLDS):
        train = np.setdiff1d(order, test)
        matrix = train_adapter(windows, window_record, questions[train], [gold[i] for i in train])
        held = (windows, window_record, questions[test], [gold[i] for i in test])
        before += dense_recall_at_5(*held) * len(test)
        after += dense_recall_at_5(*held, matrix) * len(test)
        unseen.update({numbers[i]: matrix for i in test})
    n = len(questions)
    figures = {"questions": n, "cv_dense_recall_at_5": round(after / n, 3), "unadapted": round(before / n, 3)}
    return train_adapter(windows, window_record, questions, gold), figures, unseen


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
    from assistant.core import FittedModels, build_parts

    items, sha = load_pool()
    answerable = sum(1 for i in items if i["type"] != OUT_OF_SCOPE)
    print(f"pool: {len(items)} items ({answerable} answerable), sha256 {sha[:12]}")
    base = {"pool_sha256": sha, "feature_version": FEATURE_VERSION, "pool_items": len(items)}
    figures: dict[str, dict] = {}

    settings = get_settings().model_copy(deep=True)
    settings.answer.fitted = False  # every stage is fitted on the output of the ones fitted before it

    def assistant(**models):
        return ReportAssistant(settings, build_parts(settings, FittedModels(**models)))

    matrix, figures["adapter"], unseen = fit_adapter(assistant(), items)
    adapter = QueryAdapter(matrix, {**base, "cv": figures["adapter"]})
    unseen["final"] = matrix
    print("adapter", figures["adapter"])

    qa = assistant(adapter=adapter)
    X, y, g = ranker_rows(qa, items, unseen)
    ranker, oof = fit_linear("ranker", X, y, g, RECORD_FEATURES, {}, c=1.0)
    figures["ranker"] = {
        "rows": len(y),
        "cv_recall_at_5": round(recall_at(oof, y, g, 5), 3),
        "fused_recall_at_5": round(recall_at(oof, y, g, 5, baseline=True), 3),
        "cv_top1": round(top1_rate(oof, y, g), 3),
    }
    print("ranker", figures["ranker"])

    qa = assistant(adapter=adapter, ranker=ranker)
    X, y, g = sentence_rows(qa, items, unseen)
    sentences, oof = fit_linear("sentences", X, y, g, SENTENCE_FEATURES, {}, c=1.0)
    figures["sentences"] = {"rows": len(y), "positives": int(sum(y)), "cv_top1": round(top1_rate(oof, y, g), 3)}
    print("sentences", figures["sentences"])

    qa = assistant(adapter=adapter, ranker=ranker, sentences=sentences)
    X, y, g = question_rows(qa, items, unseen)
    answerable_model, oof = fit_trees("answerable", X, y, g, QUESTION_FEATURES, {})
    threshold, at = pick_threshold(oof, y, MAX_FALSE_REFUSALS)
    figures["answerable"] = {"rows": len(y), "negatives": len(y) - int(sum(y)), "threshold": threshold, **at}
    print("answerable", figures["answerable"])

    answerable_model = replace(answerable_model, threshold=threshold)
    print("wrote", save_adapter(adapter, args.out))
    for model in (ranker, sentences, answerable_model):
        print("wrote", save_model(replace(model, stamp={**base, "cv": figures[model.name]}), args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
