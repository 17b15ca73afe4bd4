"""Parse the report's PDF-extracted text into records named by the report's own numbering.

The source is a PDF extraction: paragraphs break across pages, bullets wrap, page
numbers and contents lists leak into the text. The parser walks it line by line with
a small state machine and keeps every record's character offsets into the source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from index.links import find_links
from index.records import Record
from index.text import SUPERSCRIPTS, clean_line, ends_sentence, strip_bullet

PARSER_VERSION = "2"

SECTION_INTRO = "1. Introduction"
SECTION_SUMMARY = "2. Overview and executive summary"
SECTION_PROGRESS = "3. Report of Progress"
SECTION_ANNEX = "4. Annex: list of abbreviations"

PARA_RE = re.compile(r"^(\d\.\d+(?:\.\d+)?)\s+")
CONC_RE = re.compile(r"^Conclusion (\d+)\s*:\s*")
BY_WHEN_RE = re.compile(r"^By [Ww]hen\b:?\s*(.*)$")
PART_RE = re.compile(r"^PART (I|\d):\s*(.*)$")
ROMAN_HEADING_RE = re.compile(r"^\((?:i|ii|iii|iv|v|vi)\)\s")
ENUMERATOR_RE = re.compile(r"^(?:\(?[ivx]+[.)]|\([a-z]\))\s")
PAGE_NUMBER_RE = re.compile(r"^\s*(?:\d{1,3}|-|Page)\s*$")
HEADING_MAX_CHARS = 90


class ParseError(ValueError):
    """The report does not have the structure the parser expects."""


@dataclass(frozen=True)
class Line:
    index: int
    start: int
    end: int
    raw: str

    @property
    def clean(self) -> str:
        return clean_line(self.raw)


@dataclass
class Fragment:
    start: int
    end: int
    text: str
    bullet: bool
    joins: bool  # continues the previous fragment's sentence (page or line break)


@dataclass
class Draft:
    id: str
    kind: str
    context: dict
    fragments: list[Fragment] = field(default_factory=list)

    def add(self, fragment: Fragment) -> None:
        self.fragments.append(fragment)

    @property
    def last(self) -> Fragment | None:
        return self.fragments[-1] if self.fragments else None

    def text(self) -> str:
        return self.layout()[0]

    def layout(self) -> tuple[str, tuple[tuple[int, int], ...]]:
        """The joined text and where each fragment sits in it."""
        out, where = "", []
        for frag in self.fragments:
            out += "" if not out else (" " if frag.joins else "\n")
            where.append((len(out), len(out) + len(frag.text)))
            out += frag.text
        return out, tuple(where)


@dataclass
class Skipped:
    start: int
    end: int
    reason: str


@dataclass
class ParsedReport:
    records: list[Record]
    skipped: list[Skipped]
    body_start: int
    source: str

    def by_id(self) -> dict[str, Record]:
        return {r.id: r for r in self.records}


def split_lines(source: str) -> list[Line]:
    """Lines with their offsets; the newline is not part of a line."""
    lines, pos = [], 0
    for i, raw in enumerate(source.split("\n")):
        lines.append(Line(i, pos, pos + len(raw), raw))
        pos += len(raw) + 1
    return lines


def _anchor_footnotes(records: list[Record], lines: list[Line]) -> list[Record]:
    """Each footnote with the line its marker stands in, so that a footnote can be found by what it annotates."""
    body = [r for r in records if r.kind != "footnote"]
    out = []
    for record in records:
        number = record.id.removeprefix("Footnote ")
        if record.kind == "footnote" and number.isdigit():
            mark = next(ch for ch, n in SUPERSCRIPTS.items() if n == int(number))
            anchor = next(
                (
                    line
                    for line in lines
                    if mark in line.raw and any(r.start < line.end and line.start < r.end for r in body)
                ),
                None,
            )
            record = replace(record, anchor=strip_bullet(anchor.clean)[0] if anchor else "")
        out.append(record)
    return out


def parse_report(source: str) -> ParsedReport:
    """Parse the whole report into ordered records."""
    return _Parser(source).run()


class _Parser:
    def __init__(self, source: str):
        self.source = source
        self.lines = split_lines(source)
        self.real_conclusions = self._find_real_conclusions()
        self.drafts: list[Draft] = []
        self.open: Draft | None = None
        self.resume: Draft | None = None  # the paragraph a footnote interrupted
        self.skipped: list[Skipped] = []
        self.section = "front"
        self.part: int | None = None
        self.part_title = ""
        self.heading = ""
        self.conclusion: Draft | None = None
        self.in_contents = False
        self.in_table = False
        self.intro_count = 0

    # -- the walk ---------------------------------------------------------------

    def run(self) -> ParsedReport:
        body_start = self._body_start()
        for line in self.lines:
            if line.start < body_start:
                continue
            self._step(line)
        self._close()
        records = sorted((self._finish(d) for d in self.drafts), key=lambda r: r.start)
        records = [replace(r, order=i) for i, r in enumerate(records)]
        records = _anchor_footnotes(records, self.lines)
        _check_unique(records)
        return ParsedReport(records, _merge(self.skipped), body_start, self.source)

    def _body_start(self) -> int:
        for line in self.lines:
            if line.raw.strip() == SECTION_INTRO:
                self.skipped.append(Skipped(0, line.start, "cover and contents"))
                return line.start
        raise ParseError(f"no '{SECTION_INTRO}' line: is this the Wiring It Up report?")

    def _step(self, line: Line) -> None:
        text = line.raw.strip()
        if not text:
            return
        if self._section_change(text):
            self._close()
            self.in_contents = False
            return
        if self.in_contents:
            self._contents_line(line)
        elif PAGE_NUMBER_RE.match(line.raw):
            self.skipped.append(Skipped(line.start, line.end, "page furniture"))
        elif self.section == "intro":
            self._intro_line(line, line.clean)
        elif self.section == "annex":
            self._annex_line(line)
        else:
            self._body_line(line)

    def _section_change(self, text: str) -> bool:
        sections = {
            SECTION_INTRO: ("intro", "Introduction"),
            SECTION_SUMMARY: ("summary", "Overview and executive summary"),
            SECTION_PROGRESS: ("progress", "Report of Progress"),
            SECTION_ANNEX: ("annex", "Annex: list of abbreviations"),
        }
        if text not in sections:
            return False
        self.section, self.heading = sections[text]
        if self.section == "annex":
            self.part, self.part_title, self.conclusion = None, "", None
        return True

    def _contents_line(self, line: Line) -> None:
        if self._part_line(line, line.clean):
            return
        if line.index in self.real_conclusions:
            self.in_contents = False
            self._body_line(line)
        else:
            self.skipped.append(Skipped(line.start, line.end, "contents list"))

    # -- body: summary and progress ----------------------------------------------

    def _body_line(self, line: Line) -> None:
        clean = line.clean
        handlers = (
            self._part_line,
            self._section_table_line,
            self._conclusion_line,
            self._by_when_line,
            self._paragraph_line,
            self._footnote_line,
            self._table_line,
            self._heading_line,
        )
        for handler in handlers:
            if handler(line, clean):
                return
        self._prose_line(line, clean)

    def _part_line(self, line: Line, clean: str) -> bool:
        match = PART_RE.match(clean)
        if not match or self.section != "progress":
            return False
        self._close()
        self.part = 1 if match.group(1) == "I" else int(match.group(1))
        self.part_title = match.group(2).strip()
        self.heading, self.conclusion, self.in_contents = "", None, True
        self.skipped.append(Skipped(line.start, line.end, "part heading"))
        return True

    def _section_table_line(self, line: Line, clean: str) -> bool:
        # 3.1 is followed by a list of the six sections with page numbers: contents.
        if clean != "Section":
            return False
        self._close()
        self.in_contents = True
        self.skipped.append(Skipped(line.start, line.end, "contents list"))
        return True

    def _conclusion_line(self, line: Line, clean: str) -> bool:
        match = CONC_RE.match(strip_bullet(clean)[0])
        if not match or line.index not in self.real_conclusions:
            return False
        self._close()
        number = int(match.group(1))
        self.heading = ""
        self.in_table = False
        draft = self._new_draft(f"Conclusion {number}", "conclusion")
        draft.context["conclusion"] = number
        self.conclusion = draft
        self._add_fragment(line, clean, bullet=False, joins=False)
        return True

    def _by_when_line(self, line: Line, clean: str) -> bool:
        match = BY_WHEN_RE.match(clean)
        if not match or self.open is None or self.open.kind != "conclusion":
            return False
        self.open.context["by_when"] = match.group(1).strip()
        self._add_fragment(line, clean, bullet=False, joins=False)
        return True

    def _paragraph_line(self, line: Line, clean: str) -> bool:
        body, _ = strip_bullet(clean)
        match = PARA_RE.match(body)
        if not match or not self._number_fits_section(match.group(1)):
            return False
        self._close()
        self.in_table = False
        number = match.group(1)
        self._new_draft(number, "paragraph")
        self._add_fragment(line, body[match.end() :], bullet=False, joins=False)
        return True

    def _number_fits_section(self, number: str) -> bool:
        parts = number.split(".")
        if self.section == "summary":
            return parts[0] == "2" and len(parts) == 2
        if self.section != "progress" or parts[0] != "3":
            return False
        if len(parts) == 2:
            return self.conclusion is None
        if self.conclusion is None or int(parts[1]) != self.conclusion.context["conclusion"]:
            raise ParseError(f"paragraph {number} is outside its conclusion")
        return True

    def _footnote_line(self, line: Line, clean: str) -> bool:
        first = line.raw.lstrip()[:1]
        if first not in SUPERSCRIPTS:
            return False
        if self.open is not None and self.open.kind != "footnote":
            self.resume = self.open
        self.open = None
        self._new_draft(f"Footnote {SUPERSCRIPTS[first]}", "footnote")
        self._add_fragment(line, clean, bullet=False, joins=False)
        return True

    def _table_line(self, line: Line, clean: str) -> bool:
        if "\t" not in line.raw or not self.in_table:
            return False
        name, _, rest = line.raw.strip().partition("\t")
        self._close()
        self._new_draft(f"PSA table: {clean_line(name)}", "table row")
        self._add_fragment(line, clean, bullet=False, joins=False)
        return True

    def _heading_line(self, line: Line, clean: str) -> bool:
        if not self._looks_like_heading(line, clean):
            return False
        self._close()
        self.heading = strip_bullet(clean)[0]
        nxt = self._next_nonblank(line)
        self.in_table = nxt is not None and "\t" in nxt.raw
        self.skipped.append(Skipped(line.start, line.end, "heading"))
        return True

    def _looks_like_heading(self, line: Line, clean: str) -> bool:
        nxt = self._next_nonblank(line)
        before_paragraph = nxt is not None and bool(PARA_RE.match(strip_bullet(nxt.clean)[0]))
        before_table = nxt is not None and "\t" in nxt.raw
        text, bullet = strip_bullet(clean)
        if ROMAN_HEADING_RE.match(text):
            return before_paragraph
        if bullet or len(text) > HEADING_MAX_CHARS or ends_sentence(text) or text.endswith(","):
            return False
        if "http" in text or "www." in text or not text[0].isupper():
            return False
        return before_paragraph or before_table

    def _prose_line(self, line: Line, clean: str) -> None:
        if self.open is None and self.resume is not None:
            self.open, self.resume = self.resume, None
        if self.open is None:
            raise ParseError(f"line {line.index + 1} belongs to no record: {clean[:60]!r}")
        if self.open.kind == "footnote" and ends_sentence(self.open.last.text):
            # A footnote that ended its sentence is over: what follows resumes the
            # paragraph the page footer interrupted.
            self._park_footnote()
        text, bullet = strip_bullet(clean)
        bullet = bullet or bool(ENUMERATOR_RE.match(text))
        self._add_fragment(line, text, bullet, self._joins(line, text, bullet))

    def _park_footnote(self) -> None:
        if self.resume is None:
            raise ParseError("prose after a footnote, with no paragraph to resume")
        self.open, self.resume = self.resume, None

    def _joins(self, line: Line, text: str, bullet: bool) -> bool:
        prev = self.open.last if self.open else None
        if prev is None:
            return False
        if line.raw[:1].isspace() and not bullet:
            return True  # a wrapped line of the same bullet
        if text[:1].islower() and not ENUMERATOR_RE.match(text):
            return True  # a page break inside a sentence
        return not prev.bullet and not ends_sentence(prev.text) and not prev.text.endswith(":")

    # -- intro -------------------------------------------------------------------

    def _intro_line(self, line: Line, clean: str) -> None:
        if clean.startswith("<u>") or (line.raw.strip().startswith("<u>") and line.raw.strip().endswith("</u>")):
            self._close()
            self.heading = clean
            self.skipped.append(Skipped(line.start, line.end, "heading"))
            return
        prev = self.open.last if self.open else None
        list_item = _is_list_item(clean)
        starts_new = prev is None or (
            clean[:1].isupper() and not list_item and (ends_sentence(prev.text) or _is_list_item(prev.text))
        )
        if starts_new:
            self._close()
            self.intro_count += 1
            self._new_draft(f"Introduction {self.intro_count}", "intro")
            self._add_fragment(line, clean, bullet=False, joins=False)
        else:
            joins = clean[:1].islower()
            self._add_fragment(line, clean, bullet=list_item, joins=joins)

    # -- annex -------------------------------------------------------------------

    def _annex_line(self, line: Line) -> None:
        prev = self.open.last if self.open else None
        if prev is not None and prev.text.split()[-1] in {"at", "of", "and", "for", "the", "to", "in"}:
            self._add_fragment(line, line.clean, bullet=False, joins=True)
            return
        for start, end, term in _abbreviation_entries(line):
            self._close()
            self._new_draft(f"Abbreviation: {term}", "abbreviation")
            self.open.add(Fragment(start, end, clean_line(self.source[start:end]), False, False))

    # -- drafts ------------------------------------------------------------------

    def _new_draft(self, record_id: str, kind: str) -> Draft:
        context = {
            "part": self.part,
            "part_title": self.part_title,
            "heading": self.heading,
            "conclusion": None,
        }
        if self.conclusion is not None and kind != "conclusion":
            context["conclusion"] = self.conclusion.context["conclusion"]
        draft = Draft(record_id, kind, context)
        self.drafts.append(draft)
        self.open = draft
        return draft

    def _add_fragment(self, line: Line, text: str, bullet: bool, joins: bool) -> None:
        start, end = _content_span(line, text)
        self.open.add(Fragment(start, end, text, bullet, joins))

    def _close(self) -> None:
        self.open, self.resume = None, None

    def _finish(self, draft: Draft) -> Record:
        ctx = draft.context
        conclusion = self._conclusion_draft(ctx.get("conclusion"))
        statement = _statement(conclusion) if conclusion else ""
        by_when = conclusion.context.get("by_when", "") if conclusion else ""
        text, text_spans = draft.layout()
        spans = tuple((f.start, f.end) for f in draft.fragments)
        return Record(
            id=draft.id,
            kind=draft.kind,
            text=text,
            start=spans[0][0],
            end=spans[-1][1],
            spans=spans,
            text_spans=text_spans,
            part=ctx["part"],
            part_title=ctx["part_title"],
            conclusion=ctx.get("conclusion"),
            conclusion_statement=statement,
            by_when=by_when,
            heading=ctx["heading"],
            links=find_links(self._raw(spans), draft.id, ctx.get("conclusion")),
        )

    def _raw(self, spans: tuple[tuple[int, int], ...]) -> str:
        return " ".join(self.source[s:e] for s, e in spans)

    def _conclusion_draft(self, number: int | None) -> Draft | None:
        if number is None:
            return None
        for draft in self.drafts:
            if draft.kind == "conclusion" and draft.context["conclusion"] == number:
                return draft
        return None

    # -- look-ahead --------------------------------------------------------------

    def _next_nonblank(self, line: Line) -> Line | None:
        for nxt in self.lines[line.index + 1 :]:
            if nxt.raw.strip() and not PAGE_NUMBER_RE.match(nxt.raw):
                return nxt
        return None

    def _find_real_conclusions(self) -> set[int]:
        """A conclusion's statement is the 'Conclusion N:' line followed by its 'By when'.

        The same words also open the contents list of each Part, with page numbers.
        """
        real = set()
        for line in self.lines:
            if not CONC_RE.match(strip_bullet(line.clean)[0]):
                continue
            for nxt in self.lines[line.index + 1 :]:
                clean = strip_bullet(nxt.clean)[0]
                if BY_WHEN_RE.match(clean):
                    real.add(line.index)
                if BY_WHEN_RE.match(clean) or CONC_RE.match(clean) or PARA_RE.match(clean):
                    break
        return real


def _statement(conclusion: Draft) -> str:
    parts = [f.text for f in conclusion.fragments if not BY_WHEN_RE.match(f.text)]
    text = Draft("", "", {}, [f for f in conclusion.fragments if f.text in parts]).text()
    return CONC_RE.sub("", text, count=1)


def _is_list_item(text: str) -> bool:
    return len(text) < 100 and not ends_sentence(text) and not text.endswith(":")


def _content_span(line: Line, text: str) -> tuple[int, int]:
    """Offsets of a fragment's content within its line, markup included."""
    raw = line.raw
    probe = re.escape(text.split()[0]) if text.split() else ""
    start = line.start + len(raw) - len(raw.lstrip())
    found = re.search(r"(?:<u>|\*)*" + probe, raw) if probe else None
    if found and text.split()[0] not in {"-", "•"}:
        start = line.start + found.start()
    end = line.start + len(raw.rstrip())
    return start, end


ABBREVIATION_TOKEN_RE = re.compile(r"^[A-Z][A-Z&]+s?$")


def _abbreviation_entries(line: Line) -> list[tuple[int, int, str]]:
    """One annex line holds one entry, or two where the PDF joined two columns."""
    tokens = [(m.start(), m.group()) for m in re.finditer(r"\S+", line.raw)]
    cuts = [0]
    for i in range(2, len(tokens) - 1):
        if ABBREVIATION_TOKEN_RE.match(tokens[i][1]):
            cuts.append(i)
    entries = []
    for n, cut in enumerate(cuts):
        stop = cuts[n + 1] if n + 1 < len(cuts) else len(tokens)
        chunk = tokens[cut:stop]
        term = chunk[0][1]
        if len(chunk) > 1 and chunk[1][1].isdigit():
            term += " " + chunk[1][1]
        start = line.start + chunk[0][0]
        end = line.start + chunk[-1][0] + len(chunk[-1][1])
        entries.append((start, end, term))
    return entries


def _merge(skipped: list[Skipped]) -> list[Skipped]:
    return sorted(skipped, key=lambda s: s.start)


def _check_unique(records: list[Record]) -> None:
    seen: set[str] = set()
    for record in records:
        if record.id in seen:
            raise ParseError(f"record id {record.id} occurs twice")
        seen.add(record.id)


def glossary(records: list[Record]) -> dict[str, str]:
    """The annex of abbreviations as term -> expansion."""
    out = {}
    for record in records:
        if record.kind == "abbreviation":
            term = record.id.removeprefix("Abbreviation: ")
            out[term] = record.text[len(term) :].strip()
    return out
