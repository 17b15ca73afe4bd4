"""The kinds of answer a question asks for, as the learned parts read them."""

from __future__ import annotations

from assistant.features import asked_kinds, counted_stems
from assistant.question.intent import asks_for_abbreviation, detect_intent
from assistant.question.query import Query


def question_kinds(query: Query) -> dict:
    """The kinds of answer asked for; whether the question asks what an abbreviation means, what was
    recommended or what progress was made."""
    intent = detect_intent(query.text)
    return {
        **asked_kinds(intent),
        "abbreviation": asks_for_abbreviation(query.text),
        "progress": intent.progress,
        "recommend": intent.recommend,
        "counted": counted_stems(query.text),
    }
