"""Map a quote inside a record's clean text back to character offsets in the report file."""

from __future__ import annotations

import re
from functools import lru_cache

from index.records import Record

RUNS = (8, 4, 2)  # words a sentence's start (or end) is looked for by, longest first
_GAP = r"(?:\s|<u>|</u>|\*|[¹²³⁴⁵⁶⁷⁸⁹]|^\s*[-•·.]\s)*"


def source_offsets(record: Record, source: str, start: int, end: int) -> tuple[int, int]:
    """Source offsets of record.text[start:end]; falls back to the enclosing fragments."""
    quoted = record.text[start:end]
    start, end = start + len(quoted) - len(quoted.lstrip()), end - len(quoted) + len(quoted.rstrip())
    first = _fragment_at(record, start)
    last = _fragment_at(record, max(start, end - 1))
    lo, hi = record.spans[first][0], record.spans[last][1]
    words = record.text[start:end].split()
    if not words:
        return lo, lo
    # The longest run of words first, since a record may say the same four words twice; shorter runs when a
    # page break (a page number, a heading) cuts through the longer one.
    head = _first_found(source, [words[:n] for n in RUNS], (lo, hi))
    tail_span = (max(head[0], record.spans[last][0]), hi) if head else record.spans[last]
    tail = _first_found(source, [words[-n:] for n in RUNS], tail_span, last_match=head is None)
    return (head[0] if head else lo), (tail[1] if tail else hi)


def _first_found(source: str, attempts: list[list[str]], span: tuple[int, int], last_match: bool = False):
    """The match of the first run of words found in the span (the longest run is tried first)."""
    for words in attempts:
        if found := _find(source, words, span, last_match):
            return found
    return None


def _fragment_at(record: Record, pos: int) -> int:
    for i, (s, e) in enumerate(record.text_spans):
        if pos < e or i == len(record.text_spans) - 1:
            return i if pos >= s or i == 0 else i
    return 0


def _find(source: str, words: list[str], span: tuple[int, int], last_match: bool = False):
    matches = list(_pattern(tuple(words)).finditer(source[span[0] : span[1]]))
    if not matches:
        return None
    match = matches[-1] if last_match else matches[0]
    return span[0] + match.start(), span[0] + match.end()


# The report has about 1,500 sentences, each located by its first and last words: more patterns
# than re's own cache keeps, so without this every answer recompiled its citations' patterns.
@lru_cache(maxsize=8192)
def _pattern(words: tuple[str, ...]) -> re.Pattern:
    return re.compile(_GAP.join(_word(w) for w in words), re.M)


_MARK = r"(?:</?u>|\*|[¹²³⁴⁵⁶⁷⁸⁹])*"  # what the file keeps inside a word that the clean text drops
_TRAILING_RE = re.compile(r"^(.*?)([.,;:!?)\]\"'’”]*)$", re.S)


def _word(word: str) -> str:
    """A word of the clean text as the file may spell it: a footnote mark or markup may stand before its
    trailing punctuation ('Makinson².', 'Change*,')."""
    core, punctuation = _TRAILING_RE.match(word).groups()
    return re.escape(core) + (_MARK + re.escape(punctuation) if punctuation else "")
