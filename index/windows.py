"""Cut records into windows that MiniLM reads whole (it truncates past 256 word pieces)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from index.records import Record
from index.text import sentence_spans


@dataclass(frozen=True)
class Window:
    record_id: str
    number: int
    text: str  # what is embedded
    start: int  # offsets into the record's text
    end: int

    @property
    def node_id(self) -> str:
        return f"{self.record_id}#{self.number}"


def record_windows(record: Record, max_tokens: int, count: Callable[[str], int]) -> list[Window]:
    """Consecutive sentences grouped up to max_tokens; a record that fits is one window."""
    prefix = context_prefix(record)
    budget = max_tokens - count(prefix)
    spans = _fit(record.text, sentence_spans(record.text), budget, count)
    groups: list[list[tuple[int, int]]] = [[]]
    used = 0
    for span in spans:
        size = count(record.text[span[0] : span[1]])
        if groups[-1] and used + size > budget:
            groups.append([])
            used = 0
        groups[-1].append(span)
        used += size
    out = []
    for number, group in enumerate(g for g in groups if g):
        start, end = group[0][0], group[-1][1]
        out.append(Window(record.id, number, prefix + record.text[start:end], start, end))
    return out


def context_prefix(record: Record) -> str:
    """A short label embedded with each window so that the window knows where it sits."""
    if record.kind == "abbreviation":
        return "Abbreviation. "
    if record.kind == "table row":
        return f"{record.heading}. "
    if record.kind == "footnote" and record.anchor:
        return f"{record.anchor} "  # a footnote is about the line its marker stands in
    if record.heading and record.kind in {"paragraph", "intro"} and not record.heading[0].isdigit():
        return f"{record.heading}. "
    return ""


def _fit(text: str, spans: list[tuple[int, int]], budget: int, count) -> list[tuple[int, int]]:
    """Split any sentence longer than the budget at word boundaries."""
    out = []
    for start, end in spans:
        if count(text[start:end]) <= budget:
            out.append((start, end))
            continue
        out.extend(_split_long(text, start, end, budget, count))
    return out


def _split_long(text: str, start: int, end: int, budget: int, count) -> list[tuple[int, int]]:
    pieces, piece_start, pos = [], start, start
    while pos < end:
        nxt = text.find(" ", pos + 1, end)
        nxt = end if nxt == -1 else nxt
        if count(text[piece_start:nxt]) > budget and pos > piece_start:
            pieces.append((piece_start, pos))
            piece_start = pos + 1
        pos = nxt
    pieces.append((piece_start, end))
    return pieces
