"""The grounded answerer: the report's own sentences, each cited, or an honest refusal."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.answering.citations import cite
from assistant.answering.conflicts import Conflicts
from assistant.answering.refusal import REFUSAL, Decision, covered_until, refusal_reason
from assistant.answering.sentences import (
    ANAPHOR_RE,
    Sentence,
    SentenceBank,
    has_count,
    has_date,
    names_and_figures,
    question_stems,
)
from assistant.features import QUESTION_FEATURES, SENTENCE_FEATURES, FeatureBuilder, Lexicon, is_deadline
from assistant.learned import MODELS_DIR, LinearModel, load_model
from assistant.question.intent import Intent, detect_intent
from assistant.question.kinds import question_kinds
from assistant.question.query import Query, lacks_subject
from assistant.question.routes import Route
from assistant.question.words import names_in, question_names
from assistant.retrieval.search import Ranked
from assistant.settings import AnswerSettings
from assistant.types import Answer
from index.records import Record
from index.text import fold

UNCLEAR = "The question does not say what it is about: name the fund, unit, report or conclusion you mean."
LIST_SEPARATORS = 4  # a sentence with this many commas and semicolons runs a list into one sentence
SENTENCES = "sentences"
ANSWERABLE = "answerable"


@dataclass(frozen=True)
class Scored:
    """A candidate sentence, its feature row and the fitted sentence model's probability that it answers."""

    sentence: Sentence
    p: float
    coverage: float
    rank: int
    row: dict = field(default_factory=dict, compare=False, hash=False)


class GroundedAnswerer:
    """Builds answers from verbatim sentences of the retrieved records, chosen by the fitted sentence model,
    or refuses when the fitted answerability model says the report does not answer."""

    name = "grounded"

    def __init__(
        self,
        records: list[Record],
        source: str,
        settings: AnswerSettings,
        similarity: Callable[[str, list[tuple[str, int]]], list[float]] | None = None,
        bank: SentenceBank | None = None,
        features: FeatureBuilder | None = None,
        sentence_model: LinearModel | None = None,
        answerable_model: LinearModel | None = None,
    ):
        self.similarity = similarity  # sentence-level cosine from the index, when there is one
        self.records = records
        self.by_id = {r.id: r for r in records}
        self.source = source
        self.settings = settings
        self.bank = bank or SentenceBank(records)
        self.covered = covered_until(records)
        self.features = features or FeatureBuilder(self.bank, Lexicon(records), self.covered and self.covered[1])
        self.sentence_model = sentence_model
        self.answerable_model = answerable_model
        self.conflicts = Conflicts(self.bank)

    @classmethod
    def from_model_files(
        cls, records, source, settings, similarity=None, bank=None, features=None, directory: Path | None = MODELS_DIR
    ):
        """The answerer with the fitted models from `directory` (None: none, as while they are being fitted)."""
        models = [
            load_model(n, f, directory) if directory else None
            for n, f in ((SENTENCES, SENTENCE_FEATURES), (ANSWERABLE, QUESTION_FEATURES))
        ]
        return cls(records, source, settings, similarity, bank, features, *models)

    def sentences_of(self, record_id: str) -> list[Sentence]:
        """A record's sentences, in reading order, as the answers quote them."""
        return self.bank.sentences(record_id)

    def answer(self, query: Query, ranked: list[Ranked], route: Route) -> Answer:
        if lacks_subject(query):
            return Answer(text=UNCLEAR, refused=True, answerer=self.name)
        intent = detect_intent(query.text)
        kinds = question_kinds(query)
        scored = self.score_sentences(query, ranked, kinds)
        decision = self.decide(query, ranked, scored, kinds, bool(route))
        if not decision.answerable:
            return self._refusal(ranked, decision.reason)
        if route.conclusions and not _names_other_things(query):
            picked = self._conclusion_answer(
                route.conclusions[: self.settings.conclusions_at_once], query, intent, scored
            )
        elif route:
            picked = self._routed(scored, route)
        else:
            picked = self._pick(scored, intent, query)
        label, conflicting = self.conflicts.find(picked)
        if label:
            extra = [s for s in conflicting if s not in picked]
            at = 1 + next((i for i, s in enumerate(picked[1:]) if not ANAPHOR_RE.match(s.text)), len(picked) - 1)
            picked = picked[:at] + extra + picked[at:]  # after the first sentence and what leans on it
        return self._compose(picked, label=label)

    # -- the fitted stages -------------------------------------------------------

    def score_sentences(self, query: Query, ranked: list[Ranked], kinds: dict[str, bool]) -> list[Scored]:
        """Every sentence of the first few records (and of every routed one), best first."""
        stems_ = question_stems(query.text, query.expanded)
        names = question_names(query.text)
        depth = self.settings.answer_records
        candidates = [
            (rank, item, sentence)
            for rank, item in enumerate(ranked)
            if rank < depth or item.routed
            if item.record.kind != "abbreviation" or kinds.get("abbreviation")
            for sentence in self.bank.sentences(item.record.id)
        ]
        cosines = self._cosines(query, [c[2] for c in candidates])
        rows = [
            self.features.sentence_row(sentence, _record_p(item, rank), rank, item.routed, cosine, stems_, names, kinds)
            for (rank, item, sentence), cosine in zip(candidates, cosines, strict=True)
        ]
        self.features.add_record_context(rows, [c[2] for c in candidates])
        ps = self.sentence_model.probabilities(rows) if self.sentence_model else [_unfitted_p(r) for r in rows]
        out = [
            Scored(sentence, p, row["coverage"], rank, row)
            for (rank, _, sentence), row, p in zip(candidates, rows, ps, strict=True)
        ]
        return sorted(out, key=lambda s: (-s.p, s.rank, s.sentence.position))

    def question_row(
        self, query: Query, ranked: list[Ranked], scored: list[Scored], kinds: dict[str, bool], routed: bool = False
    ) -> dict[str, float]:
        """The features the answerability model reads."""
        dense = [r.signals.dense_window if r.signals else r.dense for r in ranked]
        record_ps = [_record_p(r, i) for i, r in enumerate(ranked)]
        bm25_top = max((r.signals.bm25_raw for r in ranked[:3] if r.signals), default=0.0)
        top = [(s.sentence, s.row, s.p) for s in scored[:8]]
        return self.features.question_row(query, dense, record_ps, top, bm25_top, kinds, routed)

    def decide(
        self, query: Query, ranked: list[Ranked], scored: list[Scored], kinds: dict[str, bool], routed: bool = False
    ) -> Decision:
        """Answer or refuse; without a fitted model, answer whenever some sentence was found."""
        if not scored:
            return Decision(False, 0.0, "")
        row = self.question_row(query, ranked, scored, kinds, routed)
        if self.answerable_model is None:
            return Decision(True, 1.0)
        p = self.answerable_model.probability(row)
        if p >= self.answerable_model.threshold:
            return Decision(True, p)
        return Decision(False, p, refusal_reason(query, row, kinds, self.covered))

    def _cosines(self, query: Query, sentences: list[Sentence]) -> list[float]:
        if self.similarity is None or not sentences:
            return [0.0] * len(sentences)
        try:
            return self.similarity(query.expanded, [(s.record.id, s.position) for s in sentences])
        except Exception:  # noqa: BLE001 - the index went away mid-session: score by words alone
            return [0.0] * len(sentences)

    # -- general questions -------------------------------------------------------

    def _pick(self, scored: list[Scored], intent: Intent, query: Query) -> list[Sentence]:
        """The most likely answer sentence, then those the model finds nearly as likely or that answer a part
        of the question the answer so far leaves out, then context."""
        best = scored[0]
        floor = max(self.settings.sentence_min_p, self.settings.sentence_keep_ratio * best.p)
        names = question_names(query.text)
        asked = question_stems(query.text, query.expanded)
        picked = [best.sentence]
        for item in scored[1 : self.settings.answer_candidates]:
            if len(picked) >= self.settings.max_sentences:
                break
            likely = item.p >= floor
            if not likely and not (item.p >= floor / 2 and self._fresh(item.sentence, picked, asked)):
                continue
            if not self._repeats(item.sentence, picked) and not _names_another(
                self.bank.leaning_text(item.sentence), names
            ):
                picked.append(item.sentence)
        return self._with_list_items(self._with_context(picked, intent, query, set(asked)), intent.listing)

    def _fresh(self, sentence: Sentence, picked: list[Sentence], asked: dict[str, float]) -> bool:
        """Covers enough of the question's weighted words that the picked sentences leave out."""
        covered = frozenset().union(*(self.bank.stems_of(s) for s in picked))
        left = {stem: share for stem, share in asked.items() if stem not in covered}
        new = self.bank.coverage_of(asked, self.bank.stems_of(sentence) & frozenset(left))
        return new >= self.settings.fresh_share

    def _routed(self, scored: list[Scored], route: Route) -> list[Sentence]:
        """Records the question names by number: one named record's best sentences in reading order; for
        several (the PSA table, a part, a run of paragraphs), each one's opening sentence, and the best sentence."""
        mine = [s for s in scored if s.sentence.record.id in route.ids]
        if len(route.ids) == 1:
            return sorted((s.sentence for s in mine[: self.settings.max_sentences]), key=lambda s: s.position)
        named = route.ids[: self.settings.routed_openings]
        openings = [self.bank.sentences(rid)[0] for rid in named if self.bank.sentences(rid)]
        return list(dict.fromkeys(openings + [s.sentence for s in mine[:1]])) or [scored[0].sentence]

    def _repeats(self, sentence: Sentence, picked: list[Sentence]) -> bool:
        """Mostly said already, with no name or figure of its own (the summary often repeats Part 3;
        a repeat that names a thing differently is kept, since readers need to see the difference)."""
        mine = self.bank.stems_of(sentence)
        for other in picked:
            same_words = len(mine & self.bank.stems_of(other)) >= self.settings.repeat_share * len(mine)
            if mine and same_words and names_and_figures(sentence.text) <= names_and_figures(other.text):
                return True
        return False

    def _with_context(self, picked: list[Sentence], intent: Intent, query: Query, asked: set[str]) -> list[Sentence]:
        """Each sentence with what it leans on: the sentence before an anaphor ('This was called …'),
        the next one when it goes on about the same thing ('It …'), and, close after it or in its footnote,
        one about the question that carries the figure, date or list it asks for when this one lacks it."""
        out: list[Sentence] = []
        names = question_names(query.text)

        def about_it(s: Sentence, near: Sentence) -> bool:
            """Goes on in the same paragraph or shares the question's words, and names no other thing of its kind."""
            related = s.record == near.record or bool(self.bank.stems_of(s) & asked)
            return related and not _names_another(s.text, names)

        for sentence in picked:
            siblings = self.bank.sentences(sentence.record.id)
            before = siblings[sentence.position - 1] if sentence.position > 0 else None
            following = siblings[sentence.position + 1 : sentence.position + 1 + self.settings.context_after]
            after = following + self._footnotes(sentence.record)
            if before is not None and ANAPHOR_RE.match(sentence.text) and not _leads_in(before.text):
                out.append(before)
            out.append(sentence)
            if after and after[0].record == sentence.record and ANAPHOR_RE.match(after[0].text):
                out.append(after[0])
            out += [s for s in after if _supplies(s.text, sentence.text, intent) and about_it(s, sentence)][:1]
            out += [n for n in self._footnotes(sentence.record) if _annotates(n.record, sentence)][:1]
        return list(dict.fromkeys(out))

    def _footnotes(self, record: Record) -> list[Sentence]:
        """The sentences of the footnotes a record carries (their markers stand in its text)."""
        return [s for link in record.links if link.startswith("Footnote ") for s in self.bank.sentences(link)]

    def _with_list_items(self, picked: list[Sentence], asks_list: bool = False) -> list[Sentence]:
        """A sentence that introduces a list ('… four key themes:') brings its items, right after it; when the
        question asks for a list, an item brings its lead-in and the other items."""
        out: list[Sentence] = []
        for sentence in picked:
            lead = self._lead_in_of(sentence) if asks_list else None
            if lead is not None:
                out.append(lead)
                sentence = lead
            out.append(sentence)
            if self._leads_list(sentence):
                out += self.bank.sentences(sentence.record.id)[sentence.position + 1 :][: self.settings.list_items]
        return list(dict.fromkeys(out))

    def _lead_in_of(self, sentence: Sentence) -> Sentence | None:
        """The sentence that introduces the list this one is an item of, if it is one."""
        earlier = self.bank.sentences(sentence.record.id)[: sentence.position]
        leads = [s for s in earlier if self._leads_list(s)]
        return leads[-1] if leads else None

    def _leads_list(self, sentence: Sentence) -> bool:
        """Ends with ':' and is not itself an item of a list begun earlier in the record (a stray ':' there)."""
        earlier = self.bank.sentences(sentence.record.id)[: sentence.position]
        return _leads_in(sentence.text) and not any(_leads_in(s.text) for s in earlier)

    # -- conclusions -------------------------------------------------------------

    def _conclusion_answer(
        self, numbers: list[int], query: Query, intent: Intent, scored: list[Scored]
    ) -> list[Sentence]:
        """A named conclusion: its statement and 'By when', then what the sentence model finds most telling
        in its progress paragraphs (only the deadline when that is all the question asks)."""
        picked: list[Sentence] = []
        only_deadline = intent.by_when and not intent.progress and not intent.recommend
        for number in numbers:
            head = self.bank.sentences(f"Conclusion {number}")
            deadline = [s for s in head if is_deadline(s)]
            if only_deadline:
                picked += deadline
                continue
            picked += [s for s in head if not is_deadline(s)] + deadline
            if intent.progress or not intent.recommend or len(numbers) == 1:
                picked += self._progress(number, scored, len(numbers))
        return picked

    def _progress(self, number: int, scored: list[Scored], how_many: int) -> list[Sentence]:
        """What happened: the sentence the model rates highest in each progress paragraph, the best paragraphs
        first up to a limit, shown in reading order."""
        best: dict[str, Scored] = {}
        for s in scored:  # best first, so the first seen of each paragraph is its best
            record = s.sentence.record
            if record.conclusion == number and record.kind == "paragraph":
                best.setdefault(record.id, s)
        limit = self.settings.progress_sentences if how_many == 1 else 1
        chosen = list(best.values())[:limit]
        return sorted((s.sentence for s in chosen), key=lambda s: (s.record.order, s.position))

    # -- output ------------------------------------------------------------------

    def _compose(self, picked: list[Sentence], label: str = "") -> Answer:
        lines, citations = [label] if label else [], []
        for sentence in dict.fromkeys(picked):
            citation = cite(sentence, self.source)
            citations.append(citation)
            lines.append(f"{sentence.text} [{citation.id}]")
        return Answer(text="\n".join(lines), refused=False, citations=citations, answerer=self.name)

    def _refusal(self, ranked: list[Ranked], reason: str = "") -> Answer:
        nearest = [r.record.id for r in ranked[: self.settings.refusal_nearest]]
        text = f"{REFUSAL} {reason}".strip()
        if nearest:
            text += " The nearest paragraphs, listed below for you to check, are " + ", ".join(nearest) + "."
        return Answer(text=text, refused=True, answerer=self.name)


def _record_p(item: Ranked, rank: int) -> float:
    """The ranker's probability for a record; without a fitted ranker, a rank-based stand-in."""
    return item.probability if item.probability is not None else 1.0 / (1 + rank)


def _unfitted_p(row: dict[str, float]) -> float:
    """Before the sentence model is fitted (eval/fit.py's first pass): words and meaning, equally."""
    return 0.5 * row["coverage"] + 0.5 * max(row["cosine"], 0.0)


def _supplies(text: str, lacking: str, intent: Intent) -> bool:
    """Whether text gives the kind of answer the question wants (a sum, a figure, a date, a list)
    that `lacking` does not."""
    if intent.money and "£" in text and "£" not in lacking:
        return True
    if intent.count and has_count(text) and not has_count(lacking):
        return True
    if intent.listing and _is_list(text) and not _is_list(lacking):
        return True
    return intent.when and has_date(text) and not has_date(lacking)


def _names_another(text: str, names: list[str]) -> bool:
    """The text names another thing of the same kind as one the question names (another '… Fund')."""
    kinds = {name.split()[-1] for name in names}
    return any(n.split()[-1] in kinds and n not in names for n in names_in(text))


def _annotates(footnote: Record, sentence: Sentence) -> bool:
    """The footnote's marker stands in this sentence (its anchor line holds the sentence, or the reverse)."""
    anchor, text = fold(footnote.anchor), fold(sentence.text)
    return bool(anchor and text) and (text in anchor or anchor in text)


def _is_list(text: str) -> bool:
    """A list's lead-in ('… four key themes:') or a list run into one sentence ('Jobs; Skills; …')."""
    return _leads_in(text) or text.count(",") + text.count(";") >= LIST_SEPARATORS


def _leads_in(text: str) -> bool:
    """Ends with ':', as the sentence that introduces a list does."""
    return text.rstrip().endswith(":")


def _names_other_things(query: Query) -> bool:
    """'Which conclusion covers X?' names a conclusion only as the thing asked for."""
    return bool(re.search(r"\bwhich (conclusion|recommendation)", query.text, re.I))
