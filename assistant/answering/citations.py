"""Citations: built from verbatim record sentences, and checked wherever an answer comes from."""

from __future__ import annotations

import re

from assistant.answering.sentences import Sentence
from assistant.types import Citation
from index.locate import source_offsets
from index.records import Record
from index.text import fold

MARKER_RE = re.compile(r"\[([^\[\]\n]{1,40})\]")


def cite(sentence: Sentence, source: str) -> Citation:
    """A citation of one sentence, with its offsets in the report file."""
    start, end = source_offsets(sentence.record, source, sentence.start, sentence.end)
    return Citation(id=sentence.record.id, quote=sentence.text, start=start, end=end)


def markers(text: str) -> list[str]:
    """The ids named by [..] markers in an answer, in order."""
    return [m.group(1).strip() for m in MARKER_RE.finditer(text)]


def citation_is_valid(citation: Citation, by_id: dict[str, Record]) -> bool:
    """The cited id exists and its quote is verbatim in that record."""
    record = by_id.get(citation.id)
    return record is not None and bool(citation.quote.strip()) and fold(citation.quote) in fold(record.text)
