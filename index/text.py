"""Text helpers shared by the parser, the answerer and the evaluation."""

from __future__ import annotations

import re

# English function words: the one list that the answerer's and the evaluation's stop words both start from.
FUNCTION_WORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be been before being below between both but
    by can could did do does doing done down during each few for from further had has have having he her here hers
    him his how i if in into is it its itself just me more most must my no nor not now of off on once only or
    other our ours out over own same she should so some such than that the their theirs them then there these they
    this those through to too under until up very was we were what when where which while who whom why will with
    would you your yours
    """.split()
)
SUPERSCRIPTS = {"¹": 1, "²": 2, "³": 3, "⁴": 4, "⁵": 5, "⁶": 6, "⁷": 7, "⁸": 8, "⁹": 9}
_MARKUP_RE = re.compile(r"</?u>|\*+|[¹²³⁴⁵⁶⁷⁸⁹]")
_TRAILING_PAGE_RE = re.compile(r"\t\s*\d{1,3}\s*$")
_BULLET_RE = re.compile(r"^\s*(?:[-•·]|\.(?=\s))\s+")
_SENTENCE_END_RE = re.compile(r"[.!?;][\"”’)\]]*$|[.!?][\"”’)\]]*\s*$")


def clean_line(raw: str) -> str:
    """Markup removed, a trailing page number dropped, white space folded."""
    text = _TRAILING_PAGE_RE.sub("", raw)
    text = _MARKUP_RE.sub("", text)
    return " ".join(text.split())


def strip_bullet(text: str) -> tuple[str, bool]:
    """The text without a leading bullet marker, and whether there was one."""
    bullet = False
    while match := _BULLET_RE.match(text):
        text, bullet = text[match.end() :], True
    return text, bullet


def ends_sentence(text: str) -> bool:
    """Whether the text ends a sentence (or a list item closed by ';')."""
    return bool(_SENTENCE_END_RE.search(text.rstrip()))


def normalize(text: str) -> str:
    """Markup and bullets removed, white space folded: for comparing text with the source."""
    lines = [strip_bullet(_MARKUP_RE.sub("", line))[0] for line in text.split("\n")]
    return " ".join(" ".join(lines).split())


def fold(text: str) -> str:
    """Case- and space-insensitive form for containment checks."""
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    text = text.replace("–", "-").replace("—", "-")
    return " ".join(text.lower().split())


_SENTENCE_BREAK_RE = re.compile(r"(?<=[.!?])[\"”’)\]]*\s+(?=[A-Z\"“(‘'£])|\n+")
_NO_BREAK_AFTER = ("No.", "Mr.", "Dr.", "St.", "e.g.", "i.e.", "etc.", "Co.", "cf.")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentence boundaries as (start, end) offsets into text; list items count as sentences."""
    spans, start = [], 0
    for match in _SENTENCE_BREAK_RE.finditer(text):
        head = text[start : match.start()].rstrip()
        if head.endswith(_NO_BREAK_AFTER) and "\n" not in match.group():
            continue
        end = match.start() + len(match.group().rstrip().rstrip("\n")) if match.group().strip() else match.start()
        _append(spans, text, start, end)
        start = match.end()
    _append(spans, text, start, len(text))
    return spans


def _append(spans: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    piece = text[start:end]
    lead = len(piece) - len(piece.lstrip())
    trail = len(piece.rstrip())
    if trail > lead:
        spans.append((start + lead, start + trail))


def split_sentences(text: str) -> list[str]:
    """The sentences of a text, verbatim."""
    return [text[s:e] for s, e in sentence_spans(text)]
