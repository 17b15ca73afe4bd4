"""Deadlines read as dates: the kinds of wording a "By when" uses, the report's own 42, and the timeline built
from them."""

from __future__ import annotations

from datetime import date

import pytest

from assistant.timeline import build_timeline, parse_deadline

# The report's 14 deadlines that name no time: "Ongoing" (13 of them) and one tied to a review of legislation.
UNDATED = {8, 9, 25, 26, 28, 29, 30, 32, 33, 34, 36, 37, 38, 40}


@pytest.mark.parametrize(
    ("text", "start", "end", "label"),
    [
        ("June 2000", date(2000, 6, 1), date(2000, 6, 1), "June 2000"),
        ("Programme in place by September 2000", date(2000, 9, 1), date(2000, 9, 1), "September 2000"),
        ("1 January 2001", date(2001, 1, 1), date(2001, 1, 1), "January 2001"),
        ("Sept. 2000", date(2000, 9, 1), date(2000, 9, 1), "September 2000"),
        ("from spring 2000", date(2000, 3, 1), date(2000, 5, 1), "spring 2000"),
        ("autumn 2001", date(2001, 9, 1), date(2001, 11, 1), "autumn 2001"),
        ("winter 2000", date(2000, 12, 1), date(2001, 2, 1), "winter 2000"),  # runs into the next year
        ("By early 2000", date(2000, 1, 1), date(2000, 4, 1), "early 2000"),
        ("mid-2001", date(2001, 5, 1), date(2001, 8, 1), "mid 2001"),
        ("by the end of 2000", date(2000, 12, 1), date(2000, 12, 1), "end of 2000"),
        ("Year 2000 and subsequent Spending Reviews", date(2000, 1, 1), date(2000, 12, 1), "2000"),
        # The first time named is the deadline, not the year of the review it is part of.
        ("April 2000 (as part of year 2000 Spending Review)", date(2000, 4, 1), date(2000, 4, 1), "April 2000"),
        ("First element in place. Further modules by April 2000", date(2000, 4, 1), date(2000, 4, 1), "April 2000"),
        ("with immediate effect", date(2000, 1, 1), date(2000, 1, 1), "immediately (January 2000)"),
    ],
)
def test_wordings_of_a_deadline(text, start, end, label):
    deadline = parse_deadline(text)
    assert (deadline.start, deadline.end, deadline.label) == (start, end, label)
    assert deadline.dated


@pytest.mark.parametrize("text", ["Ongoing", "As part of review of legislation", "", "   ", "when funds allow"])
def test_deadlines_naming_no_time_stay_undated(text):
    deadline = parse_deadline(text)
    assert not deadline.dated and deadline.end is None and deadline.label == ""


def test_immediate_needs_a_date_to_count_from():
    assert not parse_deadline("with immediate effect", published=None).dated


def test_the_reports_42_deadlines(qa):
    from assistant.catalog import conclusion_list

    conclusions = conclusion_list(qa)
    assert len(conclusions) == 42
    read = {c["number"]: parse_deadline(c["by_when"]) for c in conclusions}
    assert {n for n, d in read.items() if not d.dated} == UNDATED
    dated = [d for d in read.values() if d.dated]
    assert all(date(2000, 1, 1) <= d.start <= d.end <= date(2002, 4, 1) for d in dated)
    assert read[3].label == "April 2002" and read[22].label == "spring 2001" and read[41].label == "early 2001"
    assert read[39].label == "2000" and read[1].label.startswith("immediately")


def test_timeline_places_every_conclusion_once(qa):
    from assistant.catalog import conclusion_list

    timeline = build_timeline(conclusion_list(qa))
    placed = [e.number for g in (*timeline.dated, *timeline.undated) for e in g.entries]
    assert sorted(placed) == list(range(1, 43))
    assert (timeline.start, timeline.end) == (date(2000, 1, 1), date(2002, 4, 1))
    assert len(timeline.months) == 28 and timeline.months[-1] == date(2002, 4, 1)
    starts = [timeline.months[g.first] for g in timeline.dated]
    assert starts == sorted(starts)  # in order of time
    april = next(g for g in timeline.dated if g.label == "April 2000")
    assert [e.number for e in april.entries] == [6, 7, 10, 14, 21, 24, 35] and (april.first, april.months) == (3, 1)
    spring = next(g for g in timeline.dated if g.label == "spring 2000")
    assert (spring.first, spring.months) == (2, 3)
    assert all(g.first + g.months <= len(timeline.months) for g in timeline.dated)
    assert {g.label: len(g.entries) for g in timeline.undated} == {"Ongoing": 13, "As part of review of legislation": 1}


def test_timeline_of_undated_conclusions_only():
    timeline = build_timeline([{"number": 1, "statement": "x", "by_when": "Ongoing"}])
    assert timeline.dated == () and [g.label for g in timeline.undated] == ["Ongoing"]
