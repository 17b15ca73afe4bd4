"""The report as data for programs (JSON API, MCP): one record with its links both ways, and the 42
conclusions with their deadlines. The chat page renders the same facts as HTML (assistant/web.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.core import ReportAssistant
    from index.records import Record


def record_view(qa: ReportAssistant, record_id: str) -> dict | None:
    """A record by its id ("3.24.1", "Conclusion 24", a footnote or table row), or None when there is none.

    `start`/`end` are offsets in the report file; `links` are the records it cross-references,
    `referenced_by` those that point at it, `responds_to` the conclusion a progress paragraph answers,
    and `progress` a conclusion's own progress paragraphs."""
    record = qa.record(record_id)
    if record is None:
        return None
    return {
        "id": record.id,
        "kind": record.kind,
        "text": record.text,
        "label": record.label(),
        "part": record.part,
        "part_title": record.part_title,
        "conclusion": record.conclusion,
        "by_when": record.by_when,
        "heading": record.heading,
        "start": record.start,
        "end": record.end,
        "links": [i for i in record.links if qa.record(i)],
        "referenced_by": qa.referenced_by(record.id),
        "responds_to": f"Conclusion {record.conclusion}" if record.conclusion and record.kind != "conclusion" else None,
        "progress": [p.id for p in qa.progress_of(record.conclusion)] if record.kind == "conclusion" else [],
    }


def conclusion_list(qa: ReportAssistant) -> list[dict]:
    """The conclusions in the report's order: number, statement, "By when" and where their progress is."""
    return [_conclusion(qa, r) for r in qa.records if r.kind == "conclusion"]


def _conclusion(qa: ReportAssistant, record: Record) -> dict:
    return {
        "id": record.id,
        "number": record.conclusion,
        "statement": record.conclusion_statement,
        "by_when": record.by_when,
        "part": record.part,
        "part_title": record.part_title,
        "progress": [p.id for p in qa.progress_of(record.conclusion)],
    }
