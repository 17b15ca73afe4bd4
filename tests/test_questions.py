"""The eval sets are well formed: their evidence is the report's own text and their paragraph ids exist.

eval/questions.jsonl is gated; eval/heldout.jsonl was written apart from the pipeline's tuning and is only
measured. Both are checked the same way; size, variety and coverage are asked of the gated set.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from index.report import load_report
from index.settings import REPORT_FILE
from index.text import fold, normalize

EVAL = Path(__file__).resolve().parents[1] / "eval"
QUESTIONS = EVAL / "questions.jsonl"
TRAIN = sorted((EVAL / "train").glob("*.jsonl"))
BLIND = sorted((EVAL / "blind").glob("*.jsonl"))
SETS = [QUESTIONS, EVAL / "heldout.jsonl", *TRAIN, *BLIND]
REQUIRED = {"id", "type", "question", "history", "evidence", "paragraphs", "answer_facts"}
_CONCLUSION_RE = re.compile(r"Conclusion (\d{1,2})")
_SUBPARAGRAPH_RE = re.compile(r"3\.(\d{1,2})\.\d+")


def _load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module", params=SETS, ids=lambda p: f"{p.parent.name}/{p.name}")
def any_set(request) -> list[dict]:
    return _load(request.param)


@pytest.fixture(scope="module")
def items() -> list[dict]:
    return _load(QUESTIONS)


@pytest.fixture(scope="module")
def source() -> str:
    """The report file, markup and bullets removed, white space folded, then folded."""
    return fold(normalize(REPORT_FILE.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def record_ids() -> set[str]:
    return set(load_report().by_id())


@pytest.mark.parametrize("path", SETS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_line_parses_with_the_required_keys(path):
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        assert item.keys() >= REQUIRED, f"line {number}: missing {sorted(REQUIRED - item.keys())}"
        assert isinstance(item["question"], str) and item["question"].strip(), f"line {number}: empty question"
        assert isinstance(item["history"], list), f"line {number}: history is not a list"
        assert len(item["evidence"]) == len(item["paragraphs"]), f"{item['id']}: one paragraph id per snippet"
        assert all(isinstance(fact, list) and fact for fact in item["answer_facts"]), f"{item['id']}: bad facts"


def test_ids_are_unique(any_set):
    repeated = [i for i, n in Counter(item["id"] for item in any_set).items() if n > 1]
    assert not repeated


def test_the_set_is_big_and_varied_enough(items):
    types = Counter(item["type"] for item in items)
    assert len(items) >= 150
    assert types["out_of_scope"] >= 15
    assert sum(1 for item in items if item["type"] == "follow_up" and item["history"]) >= 10
    assert types["conflict"] >= 3


def test_out_of_scope_items_have_no_evidence_and_the_others_do(any_set):
    for item in any_set:
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


def test_every_evidence_snippet_is_in_the_report(any_set, source):
    missing = [(item["id"], snippet) for item in any_set for snippet in item["evidence"] if fold(snippet) not in source]
    assert missing == []


def test_every_paragraph_id_is_a_record(any_set, record_ids):
    unknown = [(item["id"], pid) for item in any_set for pid in item["paragraphs"] if pid not in record_ids]
    assert unknown == []


def test_every_answer_fact_is_in_the_evidence_or_the_report(any_set, source):
    missing = []
    for item in any_set:
        evidence = fold(" ".join(item["evidence"]))
        for fact in item["answer_facts"]:
            if not any(fold(alt) in evidence or fold(alt) in source for alt in fact):
                missing.append((item["id"], fact))
    assert missing == []


def test_every_snippet_is_in_the_record_it_names(any_set):
    by_id = load_report().by_id()
    misplaced = [
        (item["id"], pid)
        for item in any_set
        for snippet, pid in zip(item["evidence"], item["paragraphs"], strict=True)
        if pid in by_id and fold(snippet) not in fold(by_id[pid].text)
    ]
    assert misplaced == []


def test_the_held_out_set_asks_new_questions(items):
    held_out = _load(EVAL / "heldout.jsonl")
    assert len(held_out) >= 40 and sum(1 for i in held_out if i["type"] == "out_of_scope") >= 10
    asked = {fold(i["question"]) for i in items}
    assert not [i["id"] for i in held_out if fold(i["question"]) in asked]
    assert not {i["id"] for i in held_out} & {i["id"] for i in items}


def test_the_training_pool_is_big_and_asks_what_the_report_does_not_say():
    pool = [item for path in TRAIN for item in _load(path)]
    unanswerable = Counter(item.get("oos_kind") for item in pool if item["type"] == "out_of_scope")
    assert len(pool) >= 800
    assert unanswerable["near_miss"] >= 200 and unanswerable["off_topic"] >= 30
    assert sum(1 for item in pool if item["type"] == "follow_up" and item["history"]) >= 50
    assert {"lay", "terse", "typo", "chatty"} <= {item.get("style") for item in pool}


def test_every_blind_set_is_big_enough_and_new(items):
    seen = {fold(i["question"]) for path in [QUESTIONS, *TRAIN] for i in _load(path)}
    for path in BLIND:
        blind = _load(path)
        assert len(blind) >= 100 and sum(1 for i in blind if i["type"] == "out_of_scope") >= 15, path.name
        repeated = [i["id"] for i in blind if fold(i["question"]) in seen]
        assert len(repeated) <= 0.02 * len(blind), f"{path.name} repeats pool questions: {repeated}"  # "CMPS?" twice


def test_ids_are_unique_across_the_pool_and_the_blind_sets():
    ids = Counter(item["id"] for path in SETS for item in _load(path))
    assert [i for i, n in ids.items() if n > 1] == []


# -- conversations ---------------------------------------------------------------------------------------

CONVERSATIONS = sorted((EVAL / "conversations").glob("*.jsonl"))
MOVES = {"opening", "pronoun", "ellipsis", "correction", "comparison", "shift", "back", "standalone"}


@pytest.mark.parametrize("path", CONVERSATIONS, ids=lambda p: f"conversations/{p.name}")
def test_every_conversation_turn_is_well_formed_and_grounded(path):
    by_id = load_report().by_id()
    problems = []
    for conversation in _load(path):
        turns = conversation["turns"]
        if not 3 <= len(turns) <= 5 or [t["move"] == "opening" for t in turns] != [True] + [False] * (len(turns) - 1):
            problems.append((conversation["id"], "3-5 turns, the first and only the first an opening"))
        for number, turn in enumerate(turns, 1):
            tag = f"{conversation['id']}/{number}"
            if turn["move"] not in MOVES or (turn["type"] == "out_of_scope") == bool(turn["evidence"]):
                problems.append((tag, "move, or evidence for an answerable turn only"))
            for snippet, pid in zip(turn["evidence"], turn["paragraphs"], strict=True):
                if pid not in by_id or fold(snippet) not in fold(by_id[pid].text):
                    problems.append((tag, pid))
            evidence = fold(" ".join(turn["evidence"]))
            problems += [(tag, f) for f in turn["answer_facts"] if not any(fold(a) in evidence for a in f)]
    assert problems == []


def test_conversation_sets_are_big_enough():
    for path in CONVERSATIONS:
        conversations = _load(path)
        turns = [t for c in conversations for t in c["turns"]]
        assert len(conversations) >= 15 and len(turns) >= 60, path.name
        assert sum(t["type"] == "out_of_scope" for t in turns) >= 10, path.name
        assert {"pronoun", "ellipsis", "correction", "comparison", "shift"} <= {t["move"] for t in turns}, path.name
