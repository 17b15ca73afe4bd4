"""Typed results: what `ask` returns and every adapter renders."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Citation:
    """A quote from one record, with its offsets in the report file."""

    id: str
    quote: str
    start: int
    end: int


@dataclass(frozen=True)
class Source:
    """A retrieved record, ranked."""

    id: str
    text: str
    score: float
    kind: str = ""
    label: str = ""


@dataclass
class Answer:
    """An answer whose sentences each carry an inline [id] marker."""

    text: str
    refused: bool
    citations: list[Citation] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    related: list[str] = field(default_factory=list)
    notice: str = ""
    answerer: str = "grounded"
    timings_ms: dict[str, float] = field(default_factory=dict)
    understood_as: str = ""  # the question as resolved against the conversation, when that differs from it
    nearest: list[str] = field(default_factory=list)  # a refusal's nearest paragraphs, as its text names them

    def to_dict(self) -> dict:
        """The JSON the CLI prints and the API returns."""
        return {
            "answer": self.text,
            "refused": self.refused,
            "citations": [asdict(c) for c in self.citations],
            "sources": [{"id": s.id, "text": s.text, "score": round(s.score, 6)} for s in self.sources],
            "related": list(self.related),
            "notice": self.notice,
            "answerer": self.answerer,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "understood_as": self.understood_as,
            "nearest": list(self.nearest),
        }


class BadInput(ValueError):
    """The question or history cannot be used; the message is one line for the user."""


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An error as users see it: the first line of its message (or its type), at most `limit` characters."""
    lines = str(exc).strip().splitlines()
    line = lines[0] if lines else type(exc).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."
