"""The grounded answerer: the report's own sentences, each cited, or an honest refusal."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from assistant.citations import cite
from assistant.conflicts import Conflicts
from assistant.intent import Intent, detect_intent
from assistant.query import Query, lacks_subject, names_in, question_names, strip_refs
from assistant.refusal import REFUSAL, AnswerKinds, Evidence, RefusalPolicy
from assistant.retrieve import Ranked, asks_for_abbreviation
from assistant.routes import Route
from assistant.sentences import (
    ANAPHOR_RE,
    Sentence,
    SentenceBank,
    has_count,
    has_date,
    has_number,
    names_and_figures,
    question_stems,
    stems,
)
from assistant.settings import AnswerSettings
from assistant.types import Answer
from index.records import Record
from index.text import fold

UNCLEAR = "The question does not say what it is about: name the fund, unit, report or conclusion you mean."


@dataclass(frozen=True)
class ScoreWeights:
    """How a sentence's score mixes its evidence (tuned on the eval set)."""

    sentence_cosine: float = 1.5
    keep_ratio: float = 0.7  # further sentences must score this share of the best one
    fresh_share: float = 0.2  # ... or cover this share of the question that earlier sentences left open
    fresh_ratio: float = 0.5  # ... while scoring at least this share of the best one


@dataclass(frozen=True)
class Scored:
    sentence: Sentence
    score: float
    coverage: float
    rank: int


class GroundedAnswerer:
    """Builds answers from verbatim sentences of the retrieved records."""

    name = "grounded"

    def __init__(
        self,
        records: list[Record],
        source: str,
        settings: AnswerSettings,
        policy: RefusalPolicy | None = None,
        similarity: Callable[[str, list[tuple[str, int]]], list[float]] | None = None,
    ):
        self.similarity = similarity  # sentence-level cosine from the index, when there is one
        self.records = records
        self.by_id = {r.id: r for r in records}
        self.source = source
        self.settings = settings
        self.policy = policy or RefusalPolicy()
        self.weights = ScoreWeights()
        self.bank = SentenceBank(records)
        self.kinds = AnswerKinds(records, self.bank, self.policy)
        self.conflicts = Conflicts(self.bank)

    def answer(self, query: Query, ranked: list[Ranked], route: Route) -> Answer:
        if lacks_subject(query):
            return Answer(text=UNCLEAR, refused=True, answerer=self.name)
        intent = detect_intent(query.text)
        if route.conclusions and not _names_other_things(query):
            picked = self._conclusion_answer(route.conclusions[:3], query, intent, ranked)
        else:
            scored = self._score(query, ranked, intent)
            reason = self._refusal_reason(scored, ranked, intent, route, query)
            if reason is not None:
                return self._refusal(ranked, reason)
            picked = self._routed(scored, route) if route else self._pick(scored, intent, query)
            label, conflicting = self.conflicts.find(picked)
            if label:
                extra = [s for s in conflicting if s not in picked]
                at = 1 + next((i for i, s in enumerate(picked[1:]) if not ANAPHOR_RE.match(s.text)), len(picked) - 1)
                return self._compose(
                    picked[:at] + extra + picked[at:], label=label
                )  # after the first sentence and what leans on it
        return self._compose(picked)

    # -- general questions -------------------------------------------------------

    def _score(self, query: Query, ranked: list[Ranked], intent: Intent) -> list[Scored]:
        query_stems = question_stems(query.text, query.expanded)
        out = []
        glossary_question = asks_for_abbreviation(query.text)
        candidates = [
            (rank, item, sentence)
            for rank, item in enumerate(ranked)
            if rank < 6 or item.routed
            if item.record.kind != "abbreviation" or glossary_question
            for sentence in self.bank.sentences(item.record.id)
        ]
        cosines = self._cosines(query, [c[2] for c in candidates])
        for (rank, item, sentence), cosine in zip(candidates, cosines, strict=True):
            prior = 1.0 / (1 + rank) * (1.2 if item.routed else 1.0)
            coverage = self.bank.coverage(query_stems, sentence)
            score = coverage + 0.35 * prior + 0.25 * max(item.dense, 0) + self.weights.sentence_cosine * cosine
            out.append(Scored(sentence, score + _type_bonus(sentence.text, intent), coverage, rank))
        return sorted(out, key=lambda s: (-s.score, s.rank, s.sentence.position))

    def _cosines(self, query: Query, sentences: list[Sentence]) -> list[float]:
        if self.similarity is None or not sentences:
            return [0.0] * len(sentences)
        try:
            return self.similarity(query.expanded, [(s.record.id, s.position) for s in sentences])
        except Exception:  # noqa: BLE001 - the index went away mid-session: score by words alone
            return [0.0] * len(sentences)

    def evidence(self, query: Query, ranked: list[Ranked], scored: list[Scored], intent: Intent) -> Evidence:
        """The features the refusal policy reads."""
        return Evidence(
            coverage=scored[0].coverage if scored else 0.0,
            dense=max((r.dense for r in ranked[:3]), default=0.0),
            unknown=self.bank.unknown_share(stems(_without_expanded_acronyms(query))),
            unmet=self.kinds.unmet(query, intent, [s.sentence for s in scored[:8]]),
        )

    def _refusal_reason(
        self, scored: list[Scored], ranked: list[Ranked], intent: Intent, route: Route, query: Query
    ) -> str | None:
        """None to answer; otherwise why not, in a sentence for the reader ("" when there is nothing more to say)."""
        if route:
            return None
        if not scored:
            return ""
        ev = self.evidence(query, ranked, scored, intent)
        if ev.unmet is not None:
            return ev.unmet
        if ev.unknown >= self.policy.max_unknown:
            return ""
        return "" if ev.dense < self.policy.min_dense and ev.coverage < self.policy.rescue_coverage else None

    def _pick(self, scored: list[Scored], intent: Intent, query: Query) -> list[Sentence]:
        """The best sentence, then greedily those nearly as good or that answer a part of the question still open."""
        best = scored[0]
        query_stems = set(question_stems(query.text, query.expanded))
        picked = [best.sentence]
        pool = scored[1:20]
        while len(picked) < self.settings.max_sentences:
            covered = set().union(*(self.bank.stems_of(s) for s in picked))
            open_share = self._share(query_stems - covered, query_stems)
            choices = []
            for item in pool:
                if item.sentence in picked or self._repeats(item.sentence, picked):
                    continue
                fresh = self.bank.coverage(query_stems - covered, item.sentence) * open_share
                strong = item.score >= self.weights.keep_ratio * best.score and item.coverage >= 0.5 * best.coverage
                novel = fresh >= self.weights.fresh_share and item.score >= self.weights.fresh_ratio * best.score
                if strong or novel:
                    choices.append((item.score + fresh, item))
            if not choices:
                break
            picked.append(max(choices, key=lambda c: c[0])[1].sentence)
        return self._with_list_items(self._with_context(picked, intent, query, query_stems))

    def _routed(self, scored: list[Scored], route: Route) -> list[Sentence]:
        """Records the question names by number: one named record's best sentences in reading order; for
        several ('the PSA table', 'Part 4', '3.18.1-4'), each one's opening sentence, and the best sentence."""
        mine = [s for s in scored if s.sentence.record.id in route.ids]
        if len(route.ids) == 1:
            return sorted((s.sentence for s in mine[: self.settings.max_sentences]), key=lambda s: s.position)
        openings = [self.bank.sentences(rid)[0] for rid in route.ids[:8] if self.bank.sentences(rid)]
        return list(dict.fromkeys(openings + [s.sentence for s in mine[:1]])) or [scored[0].sentence]

    def _share(self, part: set[str], whole: set[str]) -> float:
        total = sum(self.bank.weight(s) for s in whole)
        return sum(self.bank.weight(s) for s in part) / total if total else 0.0

    def _repeats(self, sentence: Sentence, picked: list[Sentence]) -> bool:
        """Mostly said already, with no name or figure of its own (Part 2 often repeats a Part 3 sentence;
        a repeat that names a thing differently is kept, since readers need to see the difference)."""
        mine = self.bank.stems_of(sentence)
        for other in picked:
            same_words = len(mine & self.bank.stems_of(other)) >= 0.75 * len(mine)
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
            after = siblings[sentence.position + 1 : sentence.position + 4] + self._footnotes(sentence.record)
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

    def _with_list_items(self, picked: list[Sentence]) -> list[Sentence]:
        """A sentence that introduces a list ('… four key themes:') brings its items, right after it."""
        out: list[Sentence] = []
        for sentence in picked:
            out.append(sentence)
            if self._leads_list(sentence):
                out += self.bank.sentences(sentence.record.id)[sentence.position + 1 :][:12]
        return list(dict.fromkeys(out))

    def _leads_list(self, sentence: Sentence) -> bool:
        """Ends with ':' and is not itself an item of a list begun earlier in the record (a stray ':' there)."""
        earlier = self.bank.sentences(sentence.record.id)[: sentence.position]
        return _leads_in(sentence.text) and not any(_leads_in(s.text) for s in earlier)

    # -- conclusions -------------------------------------------------------------

    def _conclusion_answer(
        self, numbers: list[int], query: Query, intent: Intent, ranked: list[Ranked]
    ) -> list[Sentence]:
        picked: list[Sentence] = []
        only_deadline = intent.by_when and not intent.progress and not intent.recommend
        for number in numbers:
            head = self.bank.sentences(f"Conclusion {number}")
            cut = _by_when_offset(head)
            statement = [s for s in head if s.start < cut]
            deadline = [s for s in head if s.start >= cut]
            if only_deadline:
                picked += deadline
                continue
            picked += statement + deadline
            if intent.progress or not intent.recommend or len(numbers) == 1:
                picked += self._progress(number, query, len(numbers))
        return picked

    def _progress(self, number: int, query: Query, how_many: int) -> list[Sentence]:
        """What happened: the most telling sentence of each progress paragraph, then the next most telling."""
        query_stems = set(stems(strip_refs(query.text)))
        best_of_each, others = [], []
        for paragraph in (r for r in self.records if r.conclusion == number and r.kind == "paragraph"):
            ranked = sorted(
                ((self._progress_score(query_stems, s), s) for s in self.bank.sentences(paragraph.id)),
                key=lambda c: (-c[0], c[1].position),
            )
            best_of_each += ranked[:1]
            others += ranked[1:]
        limit = 8 if how_many == 1 else 2
        by_score = lambda c: (-c[0], c[1].record.order, c[1].position)  # noqa: E731
        chosen = sorted(best_of_each, key=by_score)[:limit]
        chosen += sorted(others, key=by_score)[: limit - len(chosen)]
        return sorted((s for _, s in chosen), key=lambda s: (s.record.order, s.position))

    def _progress_score(self, query_stems: set[str], sentence: Sentence) -> float:
        score = self.bank.coverage(query_stems, sentence)
        if sentence.position == 0:
            score += 0.3  # a paragraph's first sentence says what it is about
        if has_date(sentence.text) or has_number(strip_refs(sentence.text)):
            score += 0.2  # dates and figures are what a reader checks progress by
        if _CROSS_REFERENCE_RE.match(sentence.text):
            score -= 0.3  # pointers elsewhere are shown as related paragraphs
        return score

    # -- output ------------------------------------------------------------------

    def _compose(self, picked: list[Sentence], label: str = "") -> Answer:
        lines, citations = [label] if label else [], []
        for sentence in dict.fromkeys(picked):
            citation = cite(sentence, self.source)
            citations.append(citation)
            lines.append(f"{sentence.text} [{citation.id}]")
        return Answer(text="\n".join(lines), refused=False, citations=citations, answerer=self.name)

    def _refusal(self, ranked: list[Ranked], reason: str = "") -> Answer:
        nearest = [r.record.id for r in ranked[:3]]
        text = f"{REFUSAL} {reason}".strip()
        if nearest:
            text += " The nearest paragraphs, listed below for you to check, are " + ", ".join(nearest) + "."
        return Answer(text=text, refused=True, answerer=self.name)


def _type_bonus(text: str, intent: Intent) -> float:
    bonus = 0.0
    if intent.money and "£" in text:
        bonus += 0.25
    elif intent.count and has_count(text):
        bonus += 0.15
    if intent.when and has_date(text):
        bonus += 0.15
    if intent.listing and _leads_in(text):
        bonus += 0.15  # a list's lead-in brings its items
    return bonus


_CROSS_REFERENCE_RE = re.compile(
    r"^(?:See (?:also )?(?:the )?|The response to conclusion \d+.{0,30}is also relevant)", re.I
)


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
    return _leads_in(text) or text.count(",") + text.count(";") >= 4


def _leads_in(text: str) -> bool:
    """Ends with ':', as the sentence that introduces a list does."""
    return text.rstrip().endswith(":")


def _names_other_things(query: Query) -> bool:
    """'Which conclusion covers X?' names a conclusion only as the thing asked for."""
    return bool(re.search(r"\bwhich (conclusion|recommendation)", query.text, re.I))


def _without_expanded_acronyms(query: Query) -> str:
    """The question without the acronyms that were expanded (their expansions stand in for them)."""
    if query.expanded == query.text:
        return query.text
    return re.sub(r"\b[A-Z]{2,6}s?\b", " ", query.expanded)


def _by_when_offset(head: list[Sentence]) -> int:
    """Where a conclusion's 'By when' line starts in its record text."""
    at = re.search(r"^By [Ww]hen", head[0].record.text, re.M) if head else None
    return at.start() if at else 10**9
