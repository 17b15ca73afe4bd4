"""Suggested next questions the report can answer: follow-ups drawn from the records an answer cites.

Candidates come from templates filled with record data: the conclusion a cited paragraph responds to, a cited
conclusion's progress, the records a cited one cross-references or is referenced by, its neighbours in the
same section, and the bodies and programmes it names (the report's abbreviations, spelt out). Each candidate is
asked of the assistant, with the conversation so far, before it is offered: it is kept only when it is answered
as it stands, not refused, and the answer cites the record the question is about, which the answer it follows
did not cite.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import zip_longest
from typing import TYPE_CHECKING

from assistant.types import Answer, BadInput

if TYPE_CHECKING:
    from assistant.core import ReportAssistant
    from index.records import Record

# Every suggestion is one of these, filled with a record's number, id, heading or a name it holds.
TEMPLATES = {
    "conclusion": "What did conclusion {number} recommend?",
    "progress": "Conclusion {number}: what has happened since?",
    "paragraph": "What does paragraph {id} say?",
    "record": "What does {id} of the report say?",
    "topic": "{topic}: what does paragraph {id} say?",
    "name": "What is {name}, in the report's words?",
}
# The order in which kinds of suggestion take turns, so that two or three suggestions differ in kind.
KINDS = ("conclusion", "progress", "cross-reference", "neighbour", "name")


@dataclass(frozen=True)
class Suggestion:
    """A follow-up question, why it was suggested, and the answer it got when it was checked."""

    question: str
    kind: str  # one of KINDS
    source: str  # the cited record it was drawn from
    target: str  # the record the question is about; its answer cites it
    answer: Answer


@dataclass(frozen=True)
class _Candidate:
    question: str
    kind: str
    source: str
    target: str
    mentions: re.Pattern | None = None  # for a name: the answer may cite any record holding it instead


def suggest(
    qa: ReportAssistant, answer: Answer, history: list | None = None, limit: int | None = None
) -> list[Suggestion]:
    """Up to `limit` (settings.suggest.shown) follow-ups to `answer`, each asked with `history` (the
    conversation up to and including this answer) and kept only if answered with a citation of what it asks
    about; at most settings.suggest.checks candidates are asked, each a full ask()."""
    limit = qa.settings.suggest.shown if limit is None else limit
    shown = set(_cited(answer))
    asked = [turn.get("content", "") for turn in history or [] if turn.get("role") == "user"]
    out: list[Suggestion] = []
    for checks, candidate in enumerate(_fresh(_candidates(qa, answer), shown, asked)):
        if len(out) >= limit or checks >= qa.settings.suggest.checks:
            break
        got = _ask(qa, candidate.question, history)
        if got is not None and _answers(qa, candidate, got, shown):
            out.append(Suggestion(candidate.question, candidate.kind, candidate.source, candidate.target, got))
    return out


def _ask(qa: ReportAssistant, question: str, history: list | None) -> Answer | None:
    try:
        return qa.ask(question, history)
    except BadInput:
        return None


def _answers(qa: ReportAssistant, candidate: _Candidate, got: Answer, shown: set[str]) -> bool:
    """Answered as it stands (not read as a follow-up), not refused, and citing the record the question is about
    (or, for a name, one holding it that the answer before did not cite)."""
    if got.refused or not got.citations or got.understood_as:
        return False
    cited = set(_cited(got)) - shown
    if candidate.target in cited:
        return True
    mentions = candidate.mentions
    return mentions is not None and any(mentions.search(qa.by_id[i].text) for i in cited if i in qa.by_id)


def _fresh(candidates: Iterator[_Candidate], shown: set[str], asked: list[str]) -> Iterator[_Candidate]:
    """Candidates about records the answer did not cite and questions not asked yet, one per record."""
    seen_targets, seen_questions = set(shown), {_normal(q) for q in asked}
    for candidate in candidates:
        key = _normal(candidate.question)
        if candidate.target in seen_targets or key in seen_questions:
            continue
        if candidate.mentions is not None and any(candidate.mentions.search(q) for q in asked):
            continue  # a name the conversation has already asked about
        seen_targets.add(candidate.target)
        seen_questions.add(key)
        yield candidate


def _candidates(qa: ReportAssistant, answer: Answer) -> Iterator[_Candidate]:
    """Every candidate, the kinds taking turns (see KINDS)."""
    sources = [qa.by_id[i] for i in _cited(answer) if i in qa.by_id]
    if not sources and answer.refused:
        sources = [qa.by_id[i] for i in answer.nearest if i in qa.by_id]  # a refusal's stand-in for citations
    makers = {
        "conclusion": _conclusion,
        "progress": _progress,
        "cross-reference": _cross_references,
        "neighbour": _neighbours,
        "name": _names,
    }
    per_kind = [_interleave([list(makers[kind](qa, r)) for r in sources]) for kind in KINDS]
    yield from _interleave(per_kind)


def _interleave(lists: list[list[_Candidate]]) -> list[_Candidate]:
    """The first of each list, then the second of each, and so on."""
    return [c for turn in zip_longest(*lists) for c in turn if c is not None]


def _conclusion(qa: ReportAssistant, record: Record) -> Iterator[_Candidate]:
    """A progress paragraph: the conclusion it responds to."""
    if record.kind != "conclusion" and record.conclusion:
        target = f"Conclusion {record.conclusion}"
        if target in qa.by_id:
            yield _Candidate(TEMPLATES["conclusion"].format(number=record.conclusion), "conclusion", record.id, target)


def _progress(qa: ReportAssistant, record: Record) -> Iterator[_Candidate]:
    """A conclusion: what was done about it (its first progress paragraph stands for them all)."""
    if record.kind == "conclusion" and record.conclusion:
        progress = qa.progress_of(record.conclusion)
        if progress:
            question = TEMPLATES["progress"].format(number=record.conclusion)
            yield _Candidate(question, "progress", record.id, progress[0].id)


def _cross_references(qa: ReportAssistant, record: Record) -> Iterator[_Candidate]:
    """The records this one points at, then those that point at it."""
    for rid in [*record.links, *qa.referenced_by(record.id)]:
        target = qa.record(rid)
        if target is not None and target.id != record.id:
            yield _about(qa, target, "cross-reference", record.id)


def _neighbours(qa: ReportAssistant, record: Record) -> Iterator[_Candidate]:
    """The paragraph just after this one, then the one before, in the same section: under the same conclusion,
    or else under the same heading. A conclusion's neighbours are the conclusions next to it in its part."""
    if record.kind == "conclusion" and record.conclusion:
        for number in (record.conclusion + 1, record.conclusion - 1):
            other = qa.record(f"Conclusion {number}")
            if other is not None and other.part == record.part:
                yield _about(qa, other, "neighbour", record.id)
        return
    if record.kind not in ("paragraph", "intro"):
        return
    at = qa.records.index(record)
    for i in (at + 1, at - 1):
        other = qa.records[i] if 0 <= i < len(qa.records) else None
        if other is not None and other.kind == record.kind and _same_section(other, record):
            yield _about(qa, other, "neighbour", record.id)


def _same_section(one: Record, other: Record) -> bool:
    if one.conclusion or other.conclusion:
        return one.conclusion == other.conclusion
    return one.heading == other.heading


def _about(qa: ReportAssistant, target: Record, kind: str, source: str) -> _Candidate:
    """A question about one record by its number: a conclusion's recommendation, or a paragraph (with its
    heading when the heading names a topic of a few paragraphs only)."""
    if target.kind == "conclusion":
        return _Candidate(TEMPLATES["conclusion"].format(number=target.conclusion), kind, source, target.id)
    topic = _topic(target.heading, qa.settings.suggest.topic_chars)
    sharing = sum(r.heading == target.heading for r in qa.records)
    if not _numbered(target.id):  # an introduction paragraph, a footnote or a table row
        return _Candidate(TEMPLATES["record"].format(id=target.id), kind, source, target.id)
    if topic and sharing <= qa.settings.suggest.name_records:
        return _Candidate(TEMPLATES["topic"].format(id=target.id, topic=topic), kind, source, target.id)
    return _Candidate(TEMPLATES["paragraph"].format(id=target.id), kind, source, target.id)


def _topic(heading: str, longest: int) -> str:
    """A heading as a topic: without its list number or closing parenthesis, and short ("" when long)."""
    topic = re.sub(r"\s*\([^)]*\)\.?\s*$", "", re.sub(r"^\([ivx]+\)\s*", "", heading)).strip()
    return topic if len(topic) <= longest else ""


def _names(qa: ReportAssistant, record: Record) -> Iterator[_Candidate]:
    """The bodies and programmes a record names by an abbreviation the report spells out ("Social Exclusion Unit
    (SEU)"), when few records hold them; the first other paragraph holding the name is the target."""
    for term in dict.fromkeys(_ABBREVIATION_RE.findall(record.text)):
        name = qa.glossary.get(term, "")
        if len(name.split()) < 2:
            continue
        mentions = re.compile(rf"\b(?:{re.escape(name)}|{re.escape(term)})\b", re.I)
        holders = [r for r in qa.records if r.kind in ("paragraph", "intro") and mentions.search(r.text)]
        others = [r for r in holders if r.id != record.id]
        if others and len(holders) <= qa.settings.suggest.name_records:
            question = TEMPLATES["name"].format(name=f"{name} ({term})")
            yield _Candidate(question, "name", record.id, others[0].id, mentions)


_ABBREVIATION_RE = re.compile(r"\b([A-Z][A-Za-z&]*[A-Z][A-Za-z]?)\b")  # "CMPS", "SEU", "PSAs", "DfEE"
_NUMBERED_RE = re.compile(r"^[23]\.\d+(?:\.\d+)?$")  # paragraph ids the question routes read (question/routes.py)


def _numbered(record_id: str) -> bool:
    return bool(_NUMBERED_RE.match(record_id))


def _cited(answer: Answer) -> list[str]:
    return list(dict.fromkeys(c.id for c in answer.citations))


def _normal(question: str) -> str:
    return " ".join(re.findall(r"[a-z0-9.]+", question.lower()))
