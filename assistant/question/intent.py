"""What kind of answer a question wants: a number, a date, a deadline, a recommendation, progress."""

from __future__ import annotations

import re
from dataclasses import dataclass

_BY_WHEN_RE = re.compile(
    r"\b(by when|deadline|due|timescale|time ?frame|target date|when (?:was|were|is|should)\b.*\b(?:due|implemented|done|completed|met)|by what date)\b",
    re.I,
)
_RECOMMEND_RE = re.compile(
    r"\b(recommend\w*|propos\w*|say|said|says|state\w*|call(?:ed)? for|ask(?:ed)? for|text|about)\b", re.I
)
_PROGRESS_RE = re.compile(
    r"\b(progress|happen\w*|done|achiev\w*|action|response|delivered|status|implement\w*|outcome)\b", re.I
)
_HOW_MUCH_RE = re.compile(
    r"\b(how much|how big|size|budget|cost|worth|funding|amount|value|£|money|spend|spent)\b", re.I
)
_HOW_MANY_RE = re.compile(
    r"\b(how many|number of|count|percentage|per cent|%|proportion|share|how far|figures?|numbers|how long|how often|by how much)\b",
    re.I,
)
# A sum of money asked for in so many words: 'how much money', 'the budget of', 'how much … spend'
# (not 'by how much was it expanded', 'how much is known', 'money spent on').
_MONEY_STRICT_RE = re.compile(
    r"\b(?:how much (?:money|funding|cash)|budget of|cost of)\b|£"
    r"|(?<!by )\bhow much\b.*\b(?:spend|spends|spent|cost|costs|worth|budget|grant|paid|pay|get|receive)\b",
    re.I,
)
_WHEN_RE = re.compile(r"\b(when|what date|which year|what year|which month|date)\b", re.I)
# Asks for a person: "who …", "which minister …", "name of the chair …", "… head of X name".
_WHO_RE = re.compile(
    r"\b(who|whom|whose|which (?:minister|official|person|people)"
    r"|name of (?:the )?(?:\w+\s)?(?:head|chair\w*|minister|director|boss))\b"
    r"|\b(?:head|chair\w*|director|boss|minister)\b.{0,40}\bname\b",
    re.I,
)
_WHERE_RE = re.compile(
    r"\b(where|which (?:country|countries|city|cities|region|regions|town|towns|area|areas))\b", re.I
)
_LIST_RE = re.compile(
    r"\b(list|which|what are|what were|name the|who are|elements|themes|members|goals|aims|objectives|priorities)\b",
    re.I,
)


@dataclass(frozen=True)
class Intent:
    by_when: bool
    recommend: bool
    progress: bool
    money: bool
    count: bool
    when: bool
    listing: bool
    money_strict: bool  # asks for a sum of money in so many words
    person: bool = False
    place: bool = False


def detect_intent(question: str) -> Intent:
    """Signals read off the question's wording."""
    return Intent(
        by_when=bool(_BY_WHEN_RE.search(question)),
        recommend=bool(_RECOMMEND_RE.search(question)),
        progress=bool(_PROGRESS_RE.search(question)),
        money=bool(_HOW_MUCH_RE.search(question)),
        count=bool(_HOW_MANY_RE.search(question)),
        when=bool(_WHEN_RE.search(question)),
        listing=bool(_LIST_RE.search(question)),
        money_strict=bool(_MONEY_STRICT_RE.search(question)),
        person=bool(_WHO_RE.search(question)),
        place=bool(_WHERE_RE.search(question)),
    )


_BARE_TERM_RE = re.compile(
    r"(?:(?i:what)(?:'s|’s| is| are| was| does)\s+)?(?:the\s+|a\s+|an\s+)?(?:[A-Z][A-Z&]{1,5}s?|DfEE|DfID)(?:\s+[\w’']+){0,3}\s*\??"
)

_ABBREVIATION_WORDS_RE = re.compile(
    r"\b(mean|means|meaning|stand|stands|abbreviation|acronym|short for|full name)\b", re.I
)


def asks_for_abbreviation(text: str) -> bool:
    """A question about what an abbreviation means, or a bare abbreviation: the glossary is the answer."""
    question = re.split(r"(?<=[.!?])\s+", text.split(" (")[0].strip())[-1]
    if _ABBREVIATION_WORDS_RE.search(question):
        return True
    return bool(_BARE_TERM_RE.fullmatch(question))
