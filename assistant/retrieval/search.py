"""Hybrid retrieval: dense (Chroma through LlamaIndex) and BM25 over the same records, fused by RRF."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.features import Signals
from assistant.question.intent import asks_for_abbreviation
from assistant.question.query import Query
from assistant.question.routes import Route, conclusion_family, find_route
from assistant.question.words import question_names
from assistant.settings import RetrievalSettings
from index.records import Record
from index.store import ReportIndex
from index.text import fold

if TYPE_CHECKING:
    from assistant.retrieval.rank import RecordRanker


@dataclass(frozen=True)
class Ranked:
    """A record with its fused score and the dense cosine it earned (0 when not found by dense)."""

    record: Record
    score: float
    dense: float
    routed: bool = False
    signals: Signals | None = None
    probability: float | None = None  # the fitted ranker's, when there is one


def _demote_glossary(ranked: list[Ranked]) -> list[Ranked]:
    """Glossary entries match every mention of a term; unless asked, they follow the paragraphs."""
    body = [r for r in ranked if r.record.kind != "abbreviation"]
    return body + [r for r in ranked if r.record.kind == "abbreviation"]


class BM25Search:
    """BM25 over whole records (text plus heading), via llama-index-retrievers-bm25."""

    def __init__(self, records: list[Record], top_k: int, unit: str = "passage"):
        from llama_index.core.schema import TextNode
        from llama_index.retrievers.bm25 import BM25Retriever

        nodes = [
            TextNode(id_=f"{r.id}#{i}", text=text, metadata={"record_id": r.id})
            for r in records
            for i, text in enumerate(_passages(r) if unit == "passage" else [f"{r.heading}\n{r.text}"])
        ]
        self.top_k = top_k
        with contextlib.redirect_stderr(io.StringIO()):  # bm25s prints progress bars
            self.retriever = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=top_k * 3, language="en")

    def search(self, text: str) -> list[tuple[str, float]]:
        """Records by their best passage's BM25 score."""
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                found = self.retriever.retrieve(text)
        except (ValueError, IndexError, KeyError):  # a query of stop words only has no tokens
            return []
        best: dict[str, float] = {}
        for n in found:
            rid, score = n.node.metadata["record_id"], float(n.score or 0.0)
            if score > 0 and score > best.get(rid, 0.0):
                best[rid] = score
        return sorted(best.items(), key=lambda item: -item[1])[: self.top_k]


def _passages(record: Record) -> list[str]:
    """A record cut at its lines (lead-in, bullets), each with the heading: a long list item stands alone.
    A footnote reads with the line its marker stands in."""
    lines = [line for line in record.text.split("\n") if line.strip()]
    context = "\n".join(filter(None, [record.heading, record.anchor]))
    return [f"{context}\n{line}" if i == 0 else f"{context}\n{lines[0]}\n{line}" for i, line in enumerate(lines)]


def _best_of(*hit_lists):
    """One hit per record, with its best cosine over all lists, best first."""
    best = {}
    for hits in hit_lists:
        for hit in hits:
            if hit.record_id not in best or hit.score > best[hit.record_id].score:
                best[hit.record_id] = hit
    return sorted(best.values(), key=lambda h: (-h.score, h.record_id))


class HybridRetriever:
    """Routes first, then dense and BM25 candidates fused by reciprocal rank and reordered by the fitted
    record ranker (assistant/models/ranker.json) when there is one."""

    def __init__(
        self,
        index: ReportIndex,
        records: list[Record],
        settings: RetrievalSettings,
        ranker: RecordRanker | None = None,
    ):
        self.index = index
        self.records = records
        self.by_id = {r.id: r for r in records}
        self.settings = settings
        self.ranker = ranker
        self.bm25 = BM25Search(records, settings.bm25_k)
        self.folded = {r.id: fold(f"{r.heading} {r.text}") for r in records}

    def retrieve(self, text: str | Query, k: int | None = None, route: Route | None = None) -> list[Ranked]:
        """Ranked records for a (resolved, expanded) question."""
        return self.search(text, k, route)[0]

    def search(self, text: str | Query, k: int | None = None, route: Route | None = None) -> tuple[list[Ranked], str]:
        """Ranked records, and a one-line notice when the dense index could not be reached."""
        query = text if isinstance(text, Query) else Query(text, text, text, False)
        k = k or self.settings.top_k
        route = route if route is not None else find_route(query.expanded, self.records)
        candidates, notice = self.candidates(query.expanded)
        if self.ranker is not None and self.ranker.model is not None:
            ranked = self.ranker.rank(query, candidates)
        else:
            ranked = [Ranked(self.by_id[rid], score, sig.dense_window, signals=sig) for rid, score, sig in candidates]
            if not asks_for_abbreviation(query.expanded):
                ranked = _demote_glossary(ranked)
        cosine = {rid: sig.dense_window for rid, _, sig in candidates}
        return self._apply_route(ranked, route, cosine)[:k], notice

    def candidates(self, text: str) -> tuple[list[tuple[str, float, Signals]], str]:
        """Every record some search found, in fused order, with what each search said of it."""
        notice = ""
        try:
            windows = self.index.search(text, self.settings.dense_k)
            sentences = self._sentence_hits(text)
        except Exception as exc:  # noqa: BLE001 - a dead server or a damaged index: keep answering from BM25
            windows, sentences = [], []
            notice = f"the vector index is unavailable ({type(exc).__name__}); answered from keyword search only"
        dense = _best_of(windows, sentences)
        lexical = self.bm25.search(text)
        lexical_ids = [rid for rid, _ in lexical]
        naming = self._naming(text, lexical_ids)
        fused = self._fuse([[h.record_id for h in dense], lexical_ids, naming])
        top_bm25 = lexical[0][1] if lexical else 1.0
        signals: dict[str, Signals] = {}
        for rank, (rid, _) in enumerate(fused):
            signals[rid] = Signals(fused_rank=rank, named=rid in naming)
        for hits, attr in ((windows, "dense_window"), (sentences, "dense_sentence")):
            for hit in hits:
                if hit.record_id in signals:
                    setattr(signals[hit.record_id], attr, hit.score)
        for rank, hit in enumerate(dense):
            signals[hit.record_id].dense_rank = rank
        for rank, (rid, score) in enumerate(lexical):
            signals[rid].bm25, signals[rid].bm25_raw, signals[rid].bm25_rank = score / top_bm25, score, rank
        return [(rid, score, signals[rid]) for rid, score in fused if rid in self.by_id], notice

    def _sentence_hits(self, text: str) -> list:
        """A record's best sentence can match a short question better than its whole window does;
        without sentence vectors, the windows alone still rank."""
        try:
            return self.index.search_sentences(text, self.settings.dense_k)
        except Exception:  # noqa: BLE001 - the windows answered; this is only a refinement
            return []

    def _naming(self, text: str, lexical_ids: list[str]) -> list[str]:
        """The few records that name a rare thing the question names, best first."""
        found: list[str] = []
        for name in (fold(n) for n in question_names(text)):
            holders = [r.id for r in self.records if r.kind != "abbreviation" and name in self.folded[r.id]]
            if len(holders) <= self.settings.rare_name_records:
                found += holders
        first = {rid: i for i, rid in enumerate(lexical_ids)}
        return sorted(dict.fromkeys(found), key=lambda rid: first.get(rid, len(first) + self.by_id[rid].order))

    def _fuse(self, rankings: list[list[str]]) -> list[tuple[str, float]]:
        scores: dict[str, float] = {}
        for ranking in rankings:
            for rank, rid in enumerate(ranking):
                scores[rid] = scores.get(rid, 0.0) + 1.0 / (self.settings.rrf_k + rank + 1)
        return sorted(
            scores.items(), key=lambda item: (-item[1], self.by_id[item[0]].order if item[0] in self.by_id else 0)
        )

    def _apply_route(self, ranked: list[Ranked], route: Route, cosine: dict[str, float]) -> list[Ranked]:
        if not route:
            return ranked
        # Named records first; a named conclusion's progress paragraphs follow, those the search ranked
        # first in its order, then the rest in the report's order.
        hybrid_rank = {r.record.id: i for i, r in enumerate(ranked)}
        routed_ids = list(route.ids)
        for number in route.conclusions:
            family = conclusion_family(number, self.records)
            routed_ids += family[:2] + sorted(family[2:], key=lambda rid: hybrid_rank.get(rid, len(ranked)))
        routed_ids = list(dict.fromkeys(routed_ids))
        top = ranked[0].score if ranked else 1.0
        known = {r.record.id: r for r in ranked}
        routed = [
            Ranked(self.by_id[rid], top + 1.0, cosine.get(rid, 1.0), True, known[rid].signals if rid in known else None)
            for rid in routed_ids
        ]
        return routed + [r for r in ranked if r.record.id not in set(routed_ids)]
