"""When to refuse: the fitted answerability model decides; this module says why, in a sentence for the reader.

The decision is `assistant/models/answerable.json` (a calibrated logistic model over the question features
of assistant/features.py, its threshold picked by cross-validation on the training pool). The reason is read
off the same features, so it names what the closest passages lack rather than repeating a score.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.question.query import Query
from assistant.question.words import question_names
from index.records import Record

REFUSAL = "The report does not cover this."

_COVERED_RE = re.compile(r"progress up to ((?:the )?(?:\w+ of )?(19\d\d|20\d\d))", re.I)
_YEAR_RE = re.compile(r"\b(19\d\d|20\d\d)\b")

# What the closest passages lack, by the kind of answer asked for.
_UNMET = {
    "money": "The closest passages give no sum for {thing}.",
    "count": "The closest passages give no count for {thing}.",
    "date": "The closest passages give no date for {thing}.",
    "person": "The closest passages name no person for {thing}.",
    "list": "The closest passages give no list for {thing}.",
    "deadline": "The closest passages give no deadline for {thing}.",
}


@dataclass(frozen=True)
class Decision:
    """Answer or refuse, with the model's probability that the report answers the question."""

    answerable: bool
    probability: float
    reason: str = ""


def covered_until(records: list[Record]) -> tuple[str, int] | None:
    """The period the report says it covers ('progress up to the spring of 2001')."""
    for record in records:
        if match := _COVERED_RE.search(record.text):
            return match.group(1), int(match.group(2))
    return None


def refusal_reason(query: Query, row: dict[str, float], kinds: dict[str, bool], covered: tuple[str, int] | None) -> str:
    """Why the report does not answer, from the question features; "" when nothing more specific can be said."""
    if row.get("later_year") and row.get("asks_later") and covered:
        latest = max(int(y) for y in _YEAR_RE.findall(query.text))
        return f"It covers progress up to {covered[0]}, so it cannot say what happened in {latest}."
    names = question_names(query.text)
    thing = " and ".join(names) or "this"
    if row.get("kind_unmet"):
        kind = next((k for k in _UNMET if kinds.get(k)), None)
        if kind:
            return _UNMET[kind].format(thing=thing)
    if row.get("unknown_capitalised"):
        return "It does not mention some of the names in the question."
    return ""
