"""Fitted linear models, loaded from small JSON files stamped with what made them.

`eval/fit.py` fits each model on the training pool (eval/train/ and the sets that joined it) and writes
`assistant/models/NAME.json`: the feature names, the standardisation, the weights, the decision
threshold picked by cross-validation, and a stamp (pool sha256, feature version, cross-validated figures).
Answering only reads these files; scikit-learn is needed to fit, never to answer.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent / "models"


class ModelFileError(RuntimeError):
    """A model file is missing, unreadable or does not fit the features the code computes."""


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))


class RowScorer:
    """What both kinds of model share: many rows scored one by one."""

    def probability(self, row: Mapping[str, float]) -> float:
        raise NotImplementedError

    def probabilities(self, rows: Sequence[Mapping[str, float]]) -> list[float]:
        return [self.probability(row) for row in rows]


@dataclass(frozen=True)
class LinearModel(RowScorer):
    """A logistic model over named features: p = sigmoid(w · standardised(x) + b)."""

    name: str
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float = 0.5
    stamp: dict = field(default_factory=dict)

    def probability(self, row: Mapping[str, float]) -> float:
        """The model's probability for one row of features (a missing feature counts as 0)."""
        z = self.intercept
        for name, mean, scale, weight in zip(self.features, self.mean, self.scale, self.coef, strict=True):
            z += weight * (float(row.get(name, 0.0)) - mean) / scale
        return _sigmoid(z)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "threshold": self.threshold,
            "stamp": self.stamp,
        }

    @classmethod
    def from_dict(cls, data: dict) -> LinearModel:
        n = len(data["features"])
        if not (len(data["mean"]) == len(data["scale"]) == len(data["coef"]) == n):
            raise ModelFileError(f"model {data.get('name')!r}: feature, mean, scale and weight counts differ")
        return cls(
            name=data["name"],
            features=tuple(data["features"]),
            mean=tuple(float(v) for v in data["mean"]),
            scale=tuple(float(v) or 1.0 for v in data["scale"]),
            coef=tuple(float(v) for v in data["coef"]),
            intercept=float(data["intercept"]),
            threshold=float(data.get("threshold", 0.5)),
            stamp=dict(data.get("stamp", {})),
        )


@dataclass(frozen=True)
class TreeModel(RowScorer):
    """Gradient-boosted trees over named features: p = sigmoid(baseline + the sum of each tree's leaf value).

    Fitted by scikit-learn's HistGradientBoostingClassifier and exported node by node, so that answering
    needs no scikit-learn. A row goes left when its feature is at or below the node's threshold.
    """

    name: str
    features: tuple[str, ...]
    trees: tuple[dict, ...]
    baseline: float
    threshold: float = 0.5
    stamp: dict = field(default_factory=dict)

    def probability(self, row: Mapping[str, float]) -> float:
        x = [float(row.get(name, 0.0)) for name in self.features]
        return _sigmoid(self.baseline + sum(_leaf_value(tree, x) for tree in self.trees))

    def to_dict(self) -> dict:
        return {
            "kind": "trees",
            "name": self.name,
            "features": list(self.features),
            "trees": list(self.trees),
            "baseline": self.baseline,
            "threshold": self.threshold,
            "stamp": self.stamp,
        }

    @classmethod
    def from_dict(cls, data: dict) -> TreeModel:
        for tree in data["trees"]:
            if not len(tree["feature"]) == len(tree["threshold"]) == len(tree["left"]) == len(tree["value"]):
                raise ModelFileError(f"model {data.get('name')!r}: a tree's node arrays differ in length")
        return cls(
            name=data["name"],
            features=tuple(data["features"]),
            trees=tuple(data["trees"]),
            baseline=float(data["baseline"]),
            threshold=float(data.get("threshold", 0.5)),
            stamp=dict(data.get("stamp", {})),
        )


def _leaf_value(tree: dict, x: list[float]) -> float:
    node = 0
    while not tree["leaf"][node]:
        go_left = x[tree["feature"][node]] <= tree["threshold"][node]
        node = tree["left"][node] if go_left else tree["right"][node]
    return tree["value"][node]


Model = LinearModel | TreeModel


def load_model(name: str, expected_features: Sequence[str], directory: Path = MODELS_DIR) -> Model | None:
    """The fitted model NAME, or None when it has not been fitted yet.

    A file whose features are not the ones the code computes is an error: a stale model would score
    the wrong numbers silently.
    """
    path = directory / f"{name}.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        model = (TreeModel if data.get("kind") == "trees" else LinearModel).from_dict(data)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"cannot read model file {path}: {exc}") from exc
    if tuple(expected_features) != model.features:
        raise ModelFileError(f"model file {path} was fitted on other features; refit with `python -m eval.fit`")
    return model


def save_model(model: Model, directory: Path = MODELS_DIR) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{model.name}.json"
    path.write_text(json.dumps(model.to_dict(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class QueryAdapter:
    """A linear map fitted on the pool that moves a question's MiniLM vector towards the records that answer
    it: v' = normalise(v + v·W). It carries everyday wording onto the report's words without touching the index.
    """

    matrix: object  # numpy array, dimension x dimension
    stamp: dict = field(default_factory=dict)

    def apply(self, vector):
        import numpy as np

        v = np.asarray(vector, dtype=np.float32)
        out = v + v @ self.matrix
        norm = float(np.linalg.norm(out))
        return out / norm if norm else v


ADAPTER = "adapter"


def load_adapter(directory: Path | None = MODELS_DIR, dimension: int = 384) -> QueryAdapter | None:
    """The fitted query adapter (NAME.npy with its stamp in NAME.json), or None when there is none."""
    if directory is None or not (directory / f"{ADAPTER}.npy").exists():
        return None
    import numpy as np

    try:
        matrix = np.load(directory / f"{ADAPTER}.npy").astype(np.float32)
        stamp = json.loads((directory / f"{ADAPTER}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"cannot read the query adapter in {directory}: {exc}") from exc
    if matrix.shape != (dimension, dimension):
        raise ModelFileError(f"query adapter has shape {matrix.shape}, expected {(dimension, dimension)}")
    return QueryAdapter(matrix, stamp)


def save_adapter(adapter: QueryAdapter, directory: Path = MODELS_DIR) -> Path:
    import numpy as np

    directory.mkdir(parents=True, exist_ok=True)
    np.save(directory / f"{ADAPTER}.npy", np.asarray(adapter.matrix, dtype=np.float32))
    (directory / f"{ADAPTER}.json").write_text(json.dumps(adapter.stamp, indent=1, sort_keys=True) + "\n")
    return directory / f"{ADAPTER}.npy"
