"""A BM25-only pipeline over wiring-qa's records: the lexical half of the retriever, nothing else.

No dense search, no structure routes, no query resolution, no history, no refusals. Records are ranked
by ``assistant.retrieval.search.BM25Search`` alone; the answer is the one sentence of the top record that covers
most of the question's weighted terms (the grounded answerer's ``SentenceBank`` scoring, ties to the
earlier sentence), cited as ``[id]`` with the sentence as its verbatim quote. It is the bench's floor:
what plain keyword search over the same records gives.
"""

from __future__ import annotations

import time

from assistant.answering.citations import cite
from assistant.answering.sentences import Sentence, SentenceBank, stems
from assistant.retrieval.search import BM25Search
from assistant.types import Answer, Source
from index.records import Record

SEARCH_K = 30  # candidates kept from BM25, as the hybrid retriever's bm25_k
DEFAULT_TOP_K = 8  # ranked sources returned, as the assistant's top_k


class BM25Only:
    """Rank records with BM25 and answer with the top record's best-covering sentence."""

    name = "bm25-only"

    def __init__(
        self,
        records: list[Record] | None = None,
        source: str | None = None,
        search: BM25Search | None = None,
        top_k: int = DEFAULT_TOP_K,
    ):
        if records is None or source is None:
            from index.report import load_report

            report = load_report()
            records, source = report.records, report.source
        self.records = records
        self.source = source
        self.by_id = {r.id: r for r in records}
        self.top_k = top_k
        self.search = search or BM25Search(records, SEARCH_K)
        self.bank = SentenceBank(records)

    def ask(self, question: str, history: list | None = None, top_k: int | None = None) -> Answer:
        """The best sentence of the top BM25 record, cited; history is ignored and nothing is refused."""
        started = time.perf_counter()
        hits = [(rid, score) for rid, score in self.search.search(question) if rid in self.by_id]
        sources = [self._source(rid, score) for rid, score in hits[: top_k or self.top_k]]
        searched = time.perf_counter()
        sentence = self._best_sentence(question, [rid for rid, _ in hits])
        if sentence is None:  # no term of the question is in the report: an empty answer, still not a refusal
            answer = Answer(text="", refused=False, sources=sources, answerer=self.name)
        else:
            citation = cite(sentence, self.source)
            text = f"{sentence.text} [{citation.id}]"
            answer = Answer(text=text, refused=False, citations=[citation], sources=sources, answerer=self.name)
        done = time.perf_counter()
        answer.timings_ms = {"retrieve": (searched - started) * 1000, "total": (done - started) * 1000}
        return answer

    def _best_sentence(self, question: str, ranked_ids: list[str]) -> Sentence | None:
        """The top record's sentence with the highest coverage; the next record when one has no sentence."""
        query_stems = set(stems(question))
        for rid in ranked_ids:
            sentences = [s for s in self.bank.sentences(rid) if s.text.strip()]
            if sentences:
                return max(sentences, key=lambda s: (self.bank.coverage(query_stems, s), -s.position))
        return None

    def _source(self, rid: str, score: float) -> Source:
        record = self.by_id[rid]
        return Source(record.id, record.text, score, record.kind, record.label())
