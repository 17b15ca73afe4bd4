"""The parser on the real report: structure, text, offsets and coverage."""

from __future__ import annotations

import hashlib
import re
from collections import Counter

import pytest

from index.parse import glossary, parse_report
from index.settings import REPORT_FILE, REPORT_SHA256
from index.text import normalize

SHARED_REPORT = REPORT_FILE.parents[2].parent / "shared" / "report" / REPORT_FILE.name
# Where the source itself skips a paragraph number, name it here. (None do today.)
KNOWN_GAPS: dict[int, set[int]] = {}


@pytest.fixture(scope="module")
def records(report):
    return report.records


@pytest.fixture(scope="module")
def by_id(report):
    return report.by_id()


def test_report_copy_is_byte_identical():
    assert hashlib.sha256(REPORT_FILE.read_bytes()).hexdigest() == REPORT_SHA256
    if SHARED_REPORT.exists():
        assert SHARED_REPORT.read_bytes() == REPORT_FILE.read_bytes()


def test_exactly_42_conclusions_each_with_by_when(records):
    conclusions = [r for r in records if r.kind == "conclusion"]
    assert [r.conclusion for r in conclusions] == list(range(1, 43))
    for record in conclusions:
        assert record.by_when, record.id
        assert record.conclusion_statement and not record.conclusion_statement.startswith("Conclusion")
        assert re.search(r"^By [Ww]hen", record.text, re.M), record.id


def test_executive_summary_paragraphs(by_id):
    for n in range(1, 15):
        assert f"2.{n}" in by_id
    assert "2.15" not in by_id


def test_progress_paragraphs_numbered_consecutively(records):
    numbers: dict[int, list[int]] = {}
    for record in records:
        if record.kind == "paragraph" and record.id.startswith("3.") and record.id.count(".") == 2:
            _, conclusion, minor = record.id.split(".")
            assert int(conclusion) == record.conclusion
            numbers.setdefault(int(conclusion), []).append(int(minor))
    assert sorted(numbers) == list(range(1, 43))
    for conclusion, minors in numbers.items():
        expected = [n for n in range(1, max(minors) + 1) if n not in KNOWN_GAPS.get(conclusion, set())]
        assert minors == expected, f"conclusion {conclusion}: {minors}"


def test_page_break_fragments_are_joined(by_id):
    assert "delivery and other working cultures" in by_id["3.4.1"].text
    assert "is its co-ordination of government guidance on Local Strategic Partnerships" in by_id["3.8.9"].text
    assert "which department is responsible for implementing them" in by_id["3.20.11"].text
    assert "was circulated on 28 June 2000 to all government departments" in by_id["3.33.1"].text
    assert "The People's Panel is now being evaluated" in by_id["3.36.1"].text


def test_bullets_stay_with_their_paragraph(by_id):
    assert "Neighbourhood Renewal Fund worth £800 million" in by_id["3.25.1"].text
    assert by_id["3.25.1"].text.count("\n") == 10  # the lead-in and its ten bullets
    assert "vi. focusing on delivery" in by_id["3.17.2"].text


def test_glossary_maps_abbreviations(records):
    terms = glossary(records)
    # The annex itself writes "Policy studies" in lower case; the words are what matter.
    assert terms["CMPS"].casefold() == "Centre for Management and Policy Studies".casefold()
    assert terms["RCU"] == "Regional Co-ordination Unit"
    assert terms["SR 2000"] == "The 2000 Spending Review"
    assert terms["ESRC"] == "Economic and Social Research Council" and terms["FCO"] == "Foreign and Commonwealth Office"
    assert terms["CORE"] == "Central Operational Research and Economics Team at HM Treasury"
    assert len(terms) == 51


def test_no_contents_line_is_indexed(report, records):
    contents = [s for s in report.skipped if s.reason == "contents list"]
    assert contents, "the Part contents lists should be recognised"
    for record in records:
        for start, end in record.spans:
            for skip in contents:
                assert end <= skip.start or start >= skip.end, f"{record.id} overlaps a contents list"
    # A contents entry carries a page number after the statement; no record text does.
    for record in records:
        assert not re.search(r"Conclusion \d+: .*\t\d+$", record.text)
        assert "cross-cutting leadership and a 32 more" not in record.text


def test_markup_and_page_numbers_are_stripped(records):
    for record in records:
        assert "<u>" not in record.text and "</u>" not in record.text, record.id
        assert "*" not in record.text, record.id
        assert not re.search(r"^\s*[-•]\s", record.text, re.M), record.id
        assert not re.search(r"^\d{1,3}$", record.text, re.M), record.id


def test_offsets_point_into_the_source(report, records):
    source = report.source
    for record in records:
        assert record.start == record.spans[0][0] and record.end == record.spans[-1][1]
        window = normalize(source[record.start : record.end])
        for (s, e), (ts, te) in zip(record.spans, record.text_spans, strict=True):
            piece = normalize(source[s:e])
            assert piece == normalize(record.text[ts:te]), record.id
            assert piece in window
        assert normalize(record.text) == " ".join(normalize(source[s:e]) for s, e in record.spans)


def test_every_body_word_is_in_some_record(report, records):
    """Nothing is lost: each word after the front contents is in a record (or a heading)."""
    source = report.source
    kept = bytearray(len(source))
    for skip in report.skipped:
        if skip.reason != "heading":
            kept[skip.start : skip.end] = b"\x01" * (skip.end - skip.start)
    body = "".join(ch if not kept[i] else " " for i, ch in enumerate(source))[report.body_start :]
    haystack = Counter()
    for record in records:
        haystack.update(_words(record.text + " " + record.heading + " " + record.part_title))
    section_titles = "Introduction Overview and executive summary Report of Progress Annex list of abbreviations"
    haystack.update(_words(section_titles))
    missing = sorted(set(_words(normalize(body))) - set(haystack))
    assert not missing, f"words lost: {missing[:20]}"


def test_kinds_and_ids(records):
    kinds = Counter(r.kind for r in records)
    assert kinds["conclusion"] == 42 and kinds["table row"] == 5 and kinds["footnote"] == 3
    assert kinds["abbreviation"] == 51 and kinds["intro"] >= 5
    ids = [r.id for r in records]
    assert len(ids) == len(set(ids))
    assert {"Introduction 1", "PSA table: Sure Start", "Footnote 2", "Abbreviation: CMPS"} <= set(ids)


def test_part_and_heading_metadata(by_id):
    assert by_id["3.24.1"].part == 4 and by_id["3.24.1"].part_title == "Flexible funding for cross-cutting policies"
    assert by_id["3.1.1"].part == 1
    assert by_id["3.8.9"].heading == "Local Strategic Partnerships"
    assert by_id["3.24.1"].conclusion == 24 and by_id["3.24.1"].by_when.startswith("April 2000")
    assert by_id["3.24.1"].conclusion_statement.startswith("A cross-cutting budget")


def test_cross_references_are_links(by_id):
    assert set(by_id["3.4.3"].links) >= {"3.18.1", "3.18.2", "3.18.3", "3.18.4", "Conclusion 18"}
    assert "Conclusion 34" in by_id["3.27.3"].links
    assert "Footnote 1" in by_id["3.20.5"].links
    assert set(by_id["3.16.1"].links) >= {"3.4.1", "3.4.4"}


def test_footnote_inside_a_paragraph_does_not_split_it(by_id):
    assert "The Government views this report as a valuable contribution" in by_id["3.32.1"].text
    assert by_id["Footnote 3"].text == "This proposed study from the NAO did not, in fact, take place."


def test_parser_rejects_a_different_document():
    from index.parse import ParseError

    with pytest.raises(ParseError):
        parse_report("A shopping list\n\neggs\nmilk\n")


def _words(text: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]|[A-Za-z]", text)]


def test_footnotes_carry_the_line_their_marker_stands_in(by_id):
    assert by_id["Footnote 3"].anchor == "Examining Whitehall's evaluation of cross-cutting policies, and"
    assert "18 cross-cutting Policy Action Teams (PATs)" in by_id["Footnote 1"].anchor
    assert all(not r.anchor for r in by_id.values() if r.kind != "footnote")
