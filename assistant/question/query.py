"""A question ready for retrieval, and the tests of whether it leans on the conversation."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.question.routes import find_route
from assistant.question.words import content_words, question_names
from index.records import Record

FOLLOW_UP_RE = re.compile(
    r"^(and|but|also|so|what about|how about|and what|then|ok|okay)\b|\b(it|its|it's|they|them|their|this|that|these|those|he|she|his|her)\b",
    re.I,
)


@dataclass(frozen=True)
class Query:
    """A question ready for retrieval."""

    original: str
    text: str  # resolved against history, for retrieval and sentence scoring
    expanded: str  # text plus abbreviation expansions
    follow_up: bool
    understood_as: str = ""  # the resolved question shown to the reader when it differs from what they typed


def lacks_subject(query: Query) -> bool:
    """'And when was it launched?' with no conversation before it: nothing says what 'it' is."""
    if query.follow_up or not re.search(r"\b(it|its|it's|they|them|their|he|she|his|her)\b", query.text, re.I):
        return False
    return len(content_words(query.text)) <= 1 and not re.search(r"\b[A-Z]{2,}|\d", query.text)


def is_follow_up(question: str, records: list[Record]) -> bool:
    """A question that leans on the conversation: a pronoun, 'and …', or almost no content of its own."""
    words = content_words(question)
    if FOLLOW_UP_RE.search(question):
        return True
    return len(words) <= 1 and not find_route(question, records)


def names_nothing(question: str, records: list[Record], rare_words: frozenset[str]) -> bool:
    """No record number, no capitalised name or abbreviation, and no word that few records use."""
    if not rare_words or find_route(question, records) or question_names(question):
        return False
    if re.search(r"\b[A-Z]{2,}", question):
        return False
    return not any(word in rare_words for word in content_words(question))
