"""The record: one citable unit of the report, named by the report's own numbering."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

KINDS = ("intro", "paragraph", "conclusion", "table row", "footnote", "abbreviation")


@dataclass(frozen=True)
class Record:
    """A paragraph, conclusion, table row, footnote, abbreviation or intro paragraph."""

    id: str
    kind: str
    text: str
    start: int
    end: int
    spans: tuple[tuple[int, int], ...] = ()  # source offsets of each fragment
    text_spans: tuple[tuple[int, int], ...] = ()  # where each fragment sits in `text`
    order: int = 0
    part: int | None = None
    part_title: str = ""
    conclusion: int | None = None
    conclusion_statement: str = ""
    by_when: str = ""
    heading: str = ""
    links: tuple[str, ...] = field(default_factory=tuple)
    anchor: str = ""  # a footnote's context: the line of the report where its marker stands

    def to_dict(self) -> dict:
        """Plain JSON-able form."""
        out = asdict(self)
        out["spans"] = [list(s) for s in self.spans]
        out["text_spans"] = [list(s) for s in self.text_spans]
        out["links"] = list(self.links)
        return out

    def label(self) -> str:
        """Where the record sits, for a reader: part, conclusion and heading."""
        bits = []
        if self.part:
            bits.append(f"Part {self.part}: {self.part_title}")
        if self.conclusion and self.kind != "conclusion":
            bits.append(f"Conclusion {self.conclusion}")
        if self.heading:
            bits.append(self.heading)
        return " · ".join(bits)
