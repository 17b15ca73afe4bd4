"""The eval set is well formed: its evidence is the report's own text and its paragraph ids exist."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from index.report import load_report
from index.settings import REPORT_FILE
from index.text import fold, normalize

QUESTIONS = Path(__file__).resolve().parents[1] / "eval" / "questions.jsonl"
REQUIRED = {"id", "type", "question", "history", "evidence", "paragraphs", "answer_facts"}
_CONCLUSION_RE = re.compile(r"Conclusion (\d{1,2})")
_SUBPARAGRAPH_RE = re.compile(r"3\.(\d{1,2})\.\d+")


@pytest.fixture(scope="module")
def items() -> list[dict]:
    lines = [line for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def source() -> str:
    """The report file, markup and bullets removed, white space folded, then folded."""
    return fold(normalize(REPORT_FILE.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def record_ids() -> set[str]:
    return set(load_report().by_id())


def test_every_line_parses_with_the_required_keys():
    for number, line in enumerate(QUESTIONS.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        assert item.keys() >= REQUIRED, f"line {number}: missing {sorted(REQUIRED - item.keys())}"
        assert isinstance(item["question"], str) and item["question"].strip(), f"line {number}: empty question"
        assert isinstance(item["history"], list), f"line {number}: history is not a list"
        assert len(item["evidence"]) == len(item["paragraphs"]), f"{item['id']}: one paragraph id per snippet"
        assert all(isinstance(fact, list) and fact for fact in item["answer_facts"]), f"{item['id']}: bad facts"


def test_ids_are_unique(items):
    repeated = [i for i, n in Counter(item["id"] for item in items).items() if n > 1]
    assert not repeated


def test_the_set_is_big_and_varied_enough(items):
    types = Counter(item["type"] for item in items)
    assert len(items) >= 150
    assert types["out_of_scope"] >= 15
    assert sum(1 for item in items if item["type"] == "follow_up" and item["history"]) >= 10
    assert types["conflict"] >= 3


def test_out_of_scope_items_have_no_evidence_and_the_others_do(items):
    for item in items:
        out_of_scope = item["type"] == "out_of_scope"
        assert out_of_scope == (not item["evidence"]), item["id"]
        assert out_of_scope == (not item["paragraphs"]), item["id"]


def test_every_conclusion_is_covered(items):
    covered: set[int] = set()
    for item in items:
        for pid in item["paragraphs"]:
            match = _CONCLUSION_RE.fullmatch(pid) or _SUBPARAGRAPH_RE.fullmatch(pid)
            if match:
                covered.add(int(match.group(1)))
    assert sorted(set(range(1, 43)) - covered) == []


def test_every_evidence_snippet_is_in_the_report(items, source):
    missing = [(item["id"], snippet) for item in items for snippet in item["evidence"] if fold(snippet) not in source]
    assert missing == []


def test_every_paragraph_id_is_a_record(items, record_ids):
    unknown = [(item["id"], pid) for item in items for pid in item["paragraphs"] if pid not in record_ids]
    assert unknown == []


def test_every_answer_fact_is_in_the_evidence_or_the_report(items, source):
    missing = []
    for item in items:
        evidence = fold(" ".join(item["evidence"]))
        for fact in item["answer_facts"]:
            if not any(fold(alt) in evidence or fold(alt) in source for alt in fact):
                missing.append((item["id"], fact))
    assert missing == []


def test_every_snippet_is_in_the_record_it_names(items):
    by_id = load_report().by_id()
    misplaced = [
        (item["id"], pid)
        for item in items
        for snippet, pid in zip(item["evidence"], item["paragraphs"], strict=True)
        if pid in by_id and fold(snippet) not in fold(by_id[pid].text)
    ]
    assert misplaced == []
