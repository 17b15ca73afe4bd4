"""ReportAssistant: the one core that the CLI, the Gradio app and the evaluation all call."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

from assistant.question.clean import clean_history, clean_question, strip_instructions
from assistant.question.conversation import Conversation
from assistant.question.glossary import build_glossary, build_initialisms, expand
from assistant.question.query import Query
from assistant.question.routes import Route, find_route
from assistant.question.words import rare_words
from assistant.retrieval.search import HybridRetriever, Ranked
from assistant.settings import Settings, get_settings
from assistant.types import Answer, BadInput, Source
from index.parse import ParsedReport
from index.records import Record

if TYPE_CHECKING:
    from assistant.learned import QueryAdapter, RowScorer
    from index.store import ReportIndex


class Answerer(Protocol):
    name: str

    def answer(self, query, ranked: list[Ranked], route: Route) -> Answer: ...


class ReportAssistant:
    """Ask questions of the report; every answer sentence carries a paragraph citation."""

    def __init__(self, settings: Settings | None = None, parts: Parts | None = None):
        """`parts`: the pipeline to run (default: built from the settings by build_parts)."""
        self.settings = settings or get_settings()
        _limit_blas(self.settings.retrieval.blas_threads)
        self.parts = parts or build_parts(self.settings)
        self.report = self.parts.report
        self.records: list[Record] = self.report.records
        self.by_id = {r.id: r for r in self.records}
        self.retriever = self.parts.retriever
        self.answerer = self.parts.answerer
        # The answerers a caller may pick by name; the LLM one carries its grounded fallback.
        self.answerers = {a.name: a for a in [self.answerer, *self.parts.alternatives]}
        grounded = getattr(self.answerer, "fallback", None)
        if grounded is not None:
            self.answerers.setdefault(grounded.name, grounded)
        self.glossary = build_glossary(self.records)
        self.initialisms = build_initialisms(self.records)
        self.rare_words = rare_words(self.records, self.settings.answer.rare_word_records)
        self.conversation = Conversation(self.records, self.rare_words, self.settings.conversation)
        self._answers = AnswerCache(self.settings.answer.cached_answers)

    @property
    def stamp(self) -> dict:
        """What made the index: report sha256, parser version, model, and when it was built."""
        index = self.parts.index
        stamp = index.stamp
        return {**asdict(stamp), "key": stamp.key, "built_at": index.built_at, "location": index.location}

    def ask(
        self, question: str, history: list | None = None, top_k: int | None = None, answerer: str | None = None
    ) -> Answer:
        """Answer one question; raises BadInput (one line) for unusable input.

        `answerer` picks one of `self.answerers` by name ("grounded", or "llm" when configured).
        """
        started = time.perf_counter()
        chosen = self._answerer(answerer)
        key = (question, _history_key(history), top_k, chosen.name) if chosen.name == "grounded" else None
        if (kept := self._answers.get(key)) is not None:
            return replace(kept, timings_ms={"cached": 1.0, "total": (time.perf_counter() - started) * 1000})
        query, route = self.prepare(question, history)
        retrieved_at = time.perf_counter()
        ranked, degraded = self.retriever.search(query, k=top_k or self.settings.retrieval.top_k, route=route)
        answered_at = time.perf_counter()
        answer = chosen.answer(query, ranked, route)
        if degraded:
            answer.notice = "; ".join(filter(None, [answer.notice, degraded]))
        answer.sources = [self._source(r) for r in ranked]
        if answer.refused:  # the paragraphs a reader is pointed to instead of an answer, for every door
            answer.nearest = [s.id for s in answer.sources[: self.settings.answer.refusal_nearest]]
        answer.related = self._related(answer)
        answer.understood_as = query.understood_as if query.understood_as != question.strip() else ""
        done = time.perf_counter()
        answer.timings_ms = {
            "prepare": (retrieved_at - started) * 1000,
            "retrieve": (answered_at - retrieved_at) * 1000,
            "answer": (done - answered_at) * 1000,
            "total": (done - started) * 1000,
        }
        if not degraded:  # a keyword-search fallback is not worth keeping once the index is back
            self._answers.put(key, answer)
        return answer

    def forget_answers(self) -> None:
        """Drop the kept answers (a benchmark that times the answering itself calls this between asks)."""
        self._answers.clear()

    def prepare(self, question: str, history: list | None = None) -> tuple[Query, Route]:
        """The cleaned question resolved against the history, and the records it names by number."""
        text = strip_instructions(clean_question(question, self.settings.answer.max_question_chars))
        state = self.conversation.state(clean_history(history))
        read = self.conversation.resolve(text, state)
        expanded = expand(read.text, self.glossary, self.initialisms)
        query = Query(text, read.text, expanded, read.follow_up, read.understood_as)
        return query, find_route(query.text, self.records)

    def stream(
        self, question: str, history: list | None = None, top_k: int | None = None, answerer: str | None = None
    ) -> Iterator[str | Answer]:
        """Yield the answer text as it grows, then the final Answer itself as the last item."""
        answer = self.ask(question, history, top_k, answerer)
        shown = ""
        for word in answer.text.split(" "):
            shown = f"{shown} {word}" if shown else word
            yield shown
        yield answer

    def _answerer(self, name: str | None) -> Answerer:
        if name is None:
            return self.answerer
        if name not in self.answerers:
            raise BadInput(f"unknown answerer {name!r}; choose one of {', '.join(sorted(self.answerers))}")
        return self.answerers[name]

    def search(self, question: str, history: list | None = None, top_k: int | None = None) -> list[Source]:
        """The records retrieval ranks for the question, best first, without composing an answer."""
        query, route = self.prepare(question, history)
        ranked, _ = self.retriever.search(query, k=top_k or self.settings.retrieval.top_k, route=route)
        return [self._source(r) for r in ranked]

    def record(self, record_id: str) -> Record | None:
        return self.by_id.get(record_id)

    def progress_of(self, conclusion: int | None) -> list[Record]:
        """A conclusion's progress paragraphs (3.N.1, 3.N.2, …) in the report's order."""
        return [r for r in self.records if r.kind == "paragraph" and conclusion and r.conclusion == conclusion]

    def referenced_by(self, record_id: str) -> list[str]:
        """Records whose text points at this one."""
        return [r.id for r in self.records if record_id in r.links]

    def _source(self, ranked: Ranked) -> Source:
        record = ranked.record
        return Source(record.id, record.text, ranked.score, record.kind, record.label())

    def _related(self, answer: Answer) -> list[str]:
        cited = [c.id for c in answer.citations] or answer.nearest
        out = []
        for rid in cited:
            record = self.by_id.get(rid)
            if record:
                out += [link for link in record.links if link in self.by_id and link not in cited]
        return list(dict.fromkeys(out))


class AnswerCache:
    """The latest grounded answers by (question, history, top_k, answerer), least recently used dropped first.
    The grounded answerer gives the same answer to the same input over one index, so an answer asked again
    (a popular question, a retried request, a page reloaded) is served as it was first composed."""

    def __init__(self, size: int):
        self.size = size
        self._kept: OrderedDict[tuple, Answer] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple | None) -> Answer | None:
        if key is None or not self.size:
            return None
        with self._lock:
            answer = self._kept.get(key)
            if answer is not None:
                self._kept.move_to_end(key)
            return answer

    def put(self, key: tuple | None, answer: Answer) -> None:
        if key is None or not self.size:
            return
        with self._lock:
            self._kept[key] = answer
            self._kept.move_to_end(key)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()


def _history_key(history: list | None) -> tuple:
    """The history as a hashable key: each turn by its text (whatever shape a caller sent)."""
    return tuple(repr(turn) for turn in history or ())


def _limit_blas(threads: int) -> None:
    """Cap NumPy's BLAS threads for the whole process. One query's matrices are small, so a second BLAS thread
    saves little on a quiet machine, while BLAS threads that spin for a busy core made each answer ten times
    slower when other work (or other answers) shared the two cores: 615 ms against 56 ms per question."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")


@dataclass
class Parts:
    """The built pipeline that ReportAssistant runs."""

    report: ParsedReport
    index: ReportIndex
    retriever: HybridRetriever
    answerer: Answerer
    alternatives: list[Answerer] = field(default_factory=list)


@dataclass(frozen=True)
class FittedModels:
    """Models to run in place of the shipped files: eval/fit.py fits each stage on the output of the ones
    before it, so it builds the pipeline with the models fitted so far and none after them."""

    adapter: QueryAdapter | None = None
    ranker: RowScorer | None = None
    sentences: RowScorer | None = None


def build_parts(settings: Settings, models: FittedModels | None = None) -> Parts:
    """The default parts, built from settings: the parsed report, the index, the hybrid retriever, the
    answerer (the fitted models from their files, or `models` when given)."""
    from assistant.answering.grounded import GroundedAnswerer
    from assistant.answering.refusal import covered_until
    from assistant.answering.sentences import SentenceBank
    from assistant.features import FeatureBuilder, Lexicon
    from assistant.learned import MODELS_DIR, load_adapter
    from assistant.retrieval.rank import RecordRanker
    from index.report import load_report
    from index.store import open_index

    report = load_report(settings.index.report_path)
    index = open_index(settings.index)
    bank = SentenceBank(report.records)
    covered = covered_until(report.records)
    features = FeatureBuilder(bank, Lexicon(report.records), covered and covered[1])
    folder = None if models else (settings.answer.models_dir or MODELS_DIR) if settings.answer.fitted else None
    adapter = models.adapter if models else load_adapter(folder)
    if adapter is not None:
        index.query_transform = adapter.apply
    ranker = RecordRanker.load(features, report.by_id(), settings.retrieval.rerank_depth, folder)
    retriever = HybridRetriever(index, report.records, settings.retrieval, ranker)
    grounded = GroundedAnswerer.from_model_files(
        report.records, report.source, settings.answer, index.sentence_similarity, bank, features, folder
    )
    if models:
        ranker.model, grounded.sentence_model, grounded.answerable_model = models.ranker, models.sentences, None
    answerer, alternatives = grounded, []
    if settings.llm.base_url:
        from assistant.answering.llm import LLMAnswerer

        llm = LLMAnswerer(settings.llm, grounded, report.records)
        answerer, alternatives = (llm, [grounded]) if settings.answer.answerer == "llm" else (grounded, [llm])
    return Parts(report, index, retriever, answerer, alternatives)
