"""The record ranker: the fitted model that reorders the fused search candidates."""

from __future__ import annotations

from pathlib import Path

from assistant.answering.sentences import question_stems
from assistant.features import RECORD_FEATURES, FeatureBuilder, Signals
from assistant.learned import MODELS_DIR, LinearModel, load_model
from assistant.question.kinds import question_kinds
from assistant.question.query import Query
from assistant.question.words import question_names
from assistant.retrieval.search import Ranked
from index.records import Record

RANKER = "ranker"


class RecordRanker:
    """Scores the first `depth` fused candidates with the fitted model; the rest keep their fused order."""

    def __init__(self, model: LinearModel | None, features: FeatureBuilder, by_id: dict[str, Record], depth: int):
        self.model = model
        self.features = features
        self.by_id = by_id
        self.depth = depth

    @classmethod
    def load(
        cls, features: FeatureBuilder, by_id: dict[str, Record], depth: int, directory: Path | None = MODELS_DIR
    ) -> RecordRanker:
        """The ranker with its fitted model from `directory` (None: no model, the fused order stands)."""
        return cls(load_model(RANKER, RECORD_FEATURES, directory) if directory else None, features, by_id, depth)

    def rows(self, query: Query, candidates: list[tuple[str, float, Signals]]) -> list[dict[str, float]]:
        """The feature row of each of the first `depth` candidates."""
        stems = question_stems(query.text, query.expanded)
        names = question_names(query.text)
        kinds = question_kinds(query)
        return [
            self.features.record_row(self.by_id[rid], signals, stems, names, kinds)
            for rid, _, signals in candidates[: self.depth]
        ]

    def rank(self, query: Query, candidates: list[tuple[str, float, Signals]]) -> list[Ranked]:
        """The first `depth` candidates by the model's probability (ties keep the fused order), then the rest."""
        head = candidates[: self.depth]
        ps = self.model.probabilities(self.rows(query, candidates))
        scored = [
            Ranked(self.by_id[rid], p, sig.dense_window, signals=sig, probability=p)
            for (rid, _, sig), p in zip(head, ps, strict=True)
        ]
        scored.sort(key=lambda r: -r.score)
        tail = [Ranked(self.by_id[rid], 0.0, sig.dense_window, signals=sig) for rid, _, sig in candidates[self.depth :]]
        return scored + tail
