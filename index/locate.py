"""Map a quote inside a record's clean text back to character offsets in the report file."""

from __future__ import annotations

import re
from functools import lru_cache

from index.records import Record

_GAP = r"(?:\s|<u>|</u>|\*|[¹²³⁴⁵⁶⁷⁸⁹]|^\s*[-•·.]\s)*"


def source_offsets(record: Record, source: str, start: int, end: int) -> tuple[int, int]:
    """Source offsets of record.text[start:end]; falls back to the enclosing fragments."""
    first = _fragment_at(record, start)
    last = _fragment_at(record, max(start, end - 1))
    lo, hi = record.spans[first][0], record.spans[last][1]
    words = record.text[start:end].split()
    if not words:
        return lo, lo
    head = _find(source, words[:4], record.spans[first])
    tail = _find(source, words[-4:], record.spans[last], last_match=True)
    return (head[0] if head else lo), (tail[1] if tail else hi)


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
    return re.compile(_GAP.join(re.escape(w) for w in words), re.M)
