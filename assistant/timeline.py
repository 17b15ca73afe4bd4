"""The conclusions' deadlines as dates: each "By when" read into a period of months, for the timeline in the chat.

A deadline names a month ("April 2000"), a season ("spring 2001"), a part of a year ("early 2000",
"end of 2000") or a whole year ("Year 2000 and subsequent Spending Reviews"); the first one named in the
text is the deadline ("Further modules by April 2000 (as part of year 2000 Spending Review)" is April 2000).
Deadlines that name no time ("Ongoing", "As part of review of legislation") stay undated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
# Months each named part of a year covers, as (first month, last month); winter runs into the next year.
SEASONS = {"spring": (3, 5), "summer": (6, 8), "autumn": (9, 11), "fall": (9, 11), "winter": (12, 14)}
PARTS_OF_YEAR = {
    "early": (1, 4),
    "beginning of": (1, 1),
    "start of": (1, 1),
    "mid": (5, 8),
    "middle of": (5, 8),
    "late": (9, 12),
    "end of": (12, 12),
}
# "With immediate effect" dates from the report that set the deadline: Wiring It Up came out in January 2000
# (Introduction 1 of the progress report says so).
IMMEDIATE_RE = re.compile(r"\b(?:with immediate effect|immediately)\b", re.I)
WIRING_IT_UP_PUBLISHED = date(2000, 1, 1)

_MONTH_NAMES = "|".join(MONTHS) + r"|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec"
_PART_NAMES = "|".join(sorted(PARTS_OF_YEAR, key=len, reverse=True))
# One pattern, so the leftmost time named wins; at one place the most precise reading is tried first.
DEADLINE_RE = re.compile(
    rf"\b(?:(?:\d{{1,2}}\s+)?(?P<month>{_MONTH_NAMES})\.?\s+(?P<month_year>(?:19|20)\d\d)"
    rf"|(?P<season>{'|'.join(SEASONS)})\s+(?P<season_year>(?:19|20)\d\d)"
    rf"|(?P<part>{_PART_NAMES})[\s-]+(?P<part_year>(?:19|20)\d\d)"
    r"|(?:year\s+)?(?P<year>(?:19|20)\d\d))\b",
    re.I,
)


@dataclass(frozen=True)
class Deadline:
    """A "By when" read as a period: its first and last month, or none when it names no time."""

    text: str
    start: date | None = None  # the first day of the first month
    end: date | None = None  # the first day of the last month
    label: str = ""  # the period as read, e.g. "April 2000", "spring 2000", "early 2000", "2000"

    @property
    def dated(self) -> bool:
        return self.start is not None


def parse_deadline(text: str, published: date | None = WIRING_IT_UP_PUBLISHED) -> Deadline:
    """The period a deadline names; undated when it names none ("Ongoing", "As part of …")."""
    clean = " ".join((text or "").split())
    match = DEADLINE_RE.search(clean)
    if match:
        return _period(clean, match)
    if published and IMMEDIATE_RE.search(clean):
        return Deadline(
            clean, published, published, f"immediately ({MONTHS[published.month - 1].title()} {published.year})"
        )
    return Deadline(clean)


def _period(text: str, match: re.Match) -> Deadline:
    if match["month"]:
        year, month = int(match["month_year"]), _month_number(match["month"])
        return Deadline(text, date(year, month, 1), date(year, month, 1), f"{MONTHS[month - 1].title()} {year}")
    if match["season"]:
        year, name = int(match["season_year"]), match["season"].lower()
        return _span(text, year, SEASONS[name], f"{name} {year}")
    if match["part"]:
        year, name = int(match["part_year"]), " ".join(match["part"].lower().split())
        return _span(text, year, PARTS_OF_YEAR[name], f"{name} {year}")
    year = int(match["year"])
    return _span(text, year, (1, 12), str(year))


def _span(text: str, year: int, months: tuple[int, int], label: str) -> Deadline:
    first, last = months
    end = date(year + (last - 1) // 12, (last - 1) % 12 + 1, 1)
    return Deadline(text, date(year, first, 1), end, label)


def _month_number(name: str) -> int:
    short = name.lower()[:3]
    return next(i for i, month in enumerate(MONTHS, 1) if month.startswith(short))


@dataclass(frozen=True)
class Entry:
    """One conclusion on the timeline."""

    number: int
    statement: str
    deadline: Deadline


@dataclass(frozen=True)
class Group:
    """Conclusions due in the same period, placed on the axis from month `first` (0 = the axis's first month)
    for `months` months; undated groups have no place on the axis."""

    label: str
    entries: tuple[Entry, ...]
    first: int = 0
    months: int = 0


@dataclass(frozen=True)
class Timeline:
    """Dated groups in order of time on an axis of months from `start` to `end`, and the undated groups apart."""

    start: date
    end: date
    dated: tuple[Group, ...]
    undated: tuple[Group, ...]

    @property
    def months(self) -> list[date]:
        """The first day of every month on the axis."""
        count = _month_index(self.start, self.end) + 1
        return [
            date(self.start.year + (self.start.month - 1 + i) // 12, (self.start.month - 1 + i) % 12 + 1, 1)
            for i in range(count)
        ]


def build_timeline(conclusions: list[dict]) -> Timeline:
    """The conclusions (as `assistant.catalog.conclusion_list` gives them) grouped by deadline on a time axis."""
    entries = [Entry(c["number"], c["statement"], parse_deadline(c["by_when"])) for c in conclusions]
    dated = [e for e in entries if e.deadline.dated]
    if not dated:
        today = date(2000, 1, 1)
        return Timeline(today, today, (), _undated_groups(entries))
    start = date(min(e.deadline.start for e in dated).year, 1, 1)  # whole years: the axis reads from January
    end = max(e.deadline.end for e in dated)
    periods: dict[tuple[date, date, str], list[Entry]] = {}
    for entry in sorted(dated, key=lambda e: (e.deadline.start, e.deadline.end, e.number)):
        periods.setdefault((entry.deadline.start, entry.deadline.end, entry.deadline.label), []).append(entry)
    groups = tuple(
        Group(label, tuple(items), _month_index(start, first), _month_index(first, last) + 1)
        for (first, last, label), items in periods.items()
    )
    return Timeline(start, end, groups, _undated_groups(entries))


def _undated_groups(entries: list[Entry]) -> tuple[Group, ...]:
    groups: dict[str, list[Entry]] = {}
    for entry in entries:
        if not entry.deadline.dated:
            groups.setdefault(entry.deadline.text[:1].upper() + entry.deadline.text[1:], []).append(entry)
    return tuple(Group(label, tuple(items)) for label, items in groups.items())


def _month_index(start: date, when: date) -> int:
    return (when.year - start.year) * 12 + when.month - start.month
