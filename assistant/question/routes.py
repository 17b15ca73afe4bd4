"""Structure routes: 'conclusion 24', 'para 2.12', '3.18.1-4', 'Part 4', 'the PSA table', 'footnote 2'."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from index.records import Record

_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6}
_CONCLUSION_RE = re.compile(
    r"\b(?:conclusions?|recommendations?)\s+(?:no\.?\s*)?(\d{1,2}(?:\s*(?:,|&|and|or|-|–|to)\s*\d{1,2})*)", re.I
)
_PARAGRAPH_RE = re.compile(r"(?<![\d.])([23])\.(\d{1,2})(?:\.(\d{1,2}))?(?:\s*(?:-|–|to)\s*(\d{1,2}))?(?![\d])")
_PART_RE = re.compile(r"\bpart\s+(\d|i{1,3}|iv|vi?)\b", re.I)
_FOOTNOTE_RE = re.compile(r"\bfootnotes?\s+(\d)\b", re.I)
_TABLE_RE = re.compile(r"\b(psa table|the table|table of (?:cross-cutting )?psas?|cross-cutting psa table)\b", re.I)
_INTRO_RE = re.compile(r"\b(introduction|intro)\b", re.I)


@dataclass
class Route:
    """Records the question names by the report's own structure."""

    ids: list[str] = field(default_factory=list)
    conclusions: list[int] = field(default_factory=list)
    parts: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.ids)


def find_route(question: str, records: list[Record]) -> Route:
    """The records a question points at by number, in the order it names them."""
    known = {r.id for r in records}
    route = Route()
    for number in _conclusion_numbers(question):
        route.conclusions.append(number)
        route.ids.append(f"Conclusion {number}")
    for rid in _paragraph_ids(question):
        if rid in known:
            route.ids.append(rid)
    for part in _part_numbers(question):
        route.parts.append(part)
        route.ids += [r.id for r in records if r.kind == "conclusion" and r.part == part]
    for match in _FOOTNOTE_RE.finditer(question):
        route.ids.append(f"Footnote {match.group(1)}")
    if _TABLE_RE.search(question):
        route.ids += [r.id for r in records if r.kind == "table row"]
    route.ids = [rid for rid in dict.fromkeys(route.ids) if rid in known]
    return route


def _conclusion_numbers(question: str) -> list[int]:
    numbers: list[int] = []
    for match in _CONCLUSION_RE.finditer(question):
        text = match.group(1)
        span = re.match(r"(\d+)\s*(?:-|–|to)\s*(\d+)$", text)
        if span and int(span.group(1)) < int(span.group(2)) <= 42:
            numbers += range(int(span.group(1)), int(span.group(2)) + 1)
        else:
            numbers += [int(n) for n in re.findall(r"\d+", text)]
    return [n for n in dict.fromkeys(numbers) if 1 <= n <= 42]


def _paragraph_ids(question: str) -> list[str]:
    out: list[str] = []
    for match in _PARAGRAPH_RE.finditer(question):
        section, major, minor, last = match.groups()
        if section == "2":
            if minor is None:
                out += _range("2.", int(major), int(last) if last else int(major))
            continue
        if minor is None:
            if major == "1":
                out.append("3.1")
            continue
        out += _range(f"3.{major}.", int(minor), int(last) if last else int(minor))
    return out


def _range(prefix: str, first: int, last: int) -> list[str]:
    if last < first or last - first > 30:
        last = first
    return [f"{prefix}{n}" for n in range(first, last + 1)]


def _part_numbers(question: str) -> list[int]:
    out = []
    for match in _PART_RE.finditer(question):
        token = match.group(1).lower()
        number = int(token) if token.isdigit() else _ROMAN.get(token, 0)
        if 1 <= number <= 6:
            out.append(number)
    return out


def conclusion_family(number: int, records: list[Record]) -> list[str]:
    """A conclusion's record followed by its progress paragraphs, in order."""
    return [r.id for r in records if r.conclusion == number and r.kind in {"conclusion", "paragraph"}]
