"""The words of questions and records: stop words, content words, capitalised names, rare words."""

from __future__ import annotations

import re

from index.records import Record
from index.text import FUNCTION_WORDS

_WORD_RE = re.compile(r"[A-Za-z0-9£%][\w'’£%.-]*")


# Function words, and words that a question uses around its subject without naming anything.
STOPWORDS = FUNCTION_WORDS | frozenset(
    """
    tell say says said please report wiring happened happen give list much many whats what's supposed suppose big
    bigger large larger size name named exact exactly really anything something someone somewhere got get gets
    know known according overall kind sort way ways actually
    """.split()
)


_NUMBER_WORDS = {
    w: str(n)
    for n, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
}


def content_words(text: str) -> list[str]:
    """Lower-cased words that carry meaning (stop words removed, number words as digits)."""
    words = (m.group().lower().strip(".'’-") for m in _WORD_RE.finditer(text))
    return [_NUMBER_WORDS.get(w, w) for w in words if w and w not in STOPWORDS]


# A capitalised name of two to six words, joined by small words such as "of", "for" and "and".
NAME_RE = re.compile(r"\b[A-Z][\w'’-]*(?:\s+(?:(?:of|for|and|the|to)\s+)?[A-Z][\w'’-]*){1,5}")


_LEADING_WORD_RE = re.compile(r"^(?:The|A|An|This|That|In|On|For|By|As)\s+")


def names_in(text: str) -> list[str]:
    """The capitalised names in a text, without a leading 'The', 'In' or the like."""
    return [_LEADING_WORD_RE.sub("", m.group()) for m in NAME_RE.finditer(text)]


def question_names(question: str) -> list[str]:
    """The capitalised names of two or more words in a question ('Sure Start', 'the Connexions Unit')."""
    names = []
    for match in NAME_RE.finditer(question):
        words = match.group().split()
        if match.start() == 0 or question[: match.start()].rstrip().endswith(("?", ".", "!")):
            words = words[1:]  # a sentence's first word is capitalised anyway
        name = re.sub(r"^(?:the|of|for|and|to)\s+", "", " ".join(words), flags=re.I)
        if len(name.split()) >= 2 and not all(w.isupper() or w.isdigit() for w in name.split()):
            names.append(name)  # a run of acronyms ('SR2000 PSA') is expanded elsewhere, not a name
    return names


def rare_words(records: list[Record], most_records: int) -> frozenset[str]:
    """Content words that at most `most_records` records use: what names a particular thing."""
    counts: dict[str, int] = {}
    for record in records:
        for word in set(content_words(record.text)):
            counts[word] = counts.get(word, 0) + 1
    return frozenset(w for w, n in counts.items() if n <= most_records)
