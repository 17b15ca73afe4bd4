"""Gates only rise: every version of eval/gates.toml in the history against the one before it.

A min-gate may not fall and a max-gate may not rise, and no gate may disappear, except at a commit that
documents a reset in its message (the learned-parts issue allowed one, made in two commits). A gate that moves
to a new name in the same commit (mrr -> mrr_complete) keeps its value. The blind tables gate one question file
each; when a newer set replaces it, its gates start from that set's own measurement.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GATES = "eval/gates.toml"
RESET_RE = re.compile(r"\breset\b", re.I)


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def versions() -> list[tuple[str, str, dict]]:
    """(commit, message, parsed gates file), oldest first; the working tree's file last."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: no history to read")
    out = []
    for commit in reversed(_git("log", "--format=%H", "--", GATES).split()):
        text = _git("show", f"{commit}:{GATES}")
        out.append((commit[:7], _git("log", "-1", "--format=%B", commit), tomllib.loads(text)))
    out.append(("working tree", "", tomllib.loads((ROOT / GATES).read_text())))
    return out


def drops(old: dict, new: dict) -> list[str]:
    """The gates of `old` that `new` lowers or loses (a min that falls, a max that rises, a gate gone)."""
    found = []
    kept_values = {tuple(sorted(g.items())) for g in new.values()}
    for metric, gate in old.items():
        now = new.get(metric)
        if now is None:
            if tuple(sorted(gate.items())) not in kept_values:  # not merely renamed with its value
                found.append(f"{metric} removed")
            continue
        if "min" in gate and now.get("min", float("-inf")) < gate["min"] - 1e-9:
            found.append(f"{metric} min {gate['min']} -> {now.get('min')}")
        if "max" in gate and now.get("max", float("inf")) > gate["max"] + 1e-9:
            found.append(f"{metric} max {gate['max']} -> {now.get('max')}")
    return found


def table_drops(old: dict, new: dict) -> list[str]:
    """Drops in the eval set's gates, and in each blind table that still gates the same file."""
    found = drops(old.get("gates", {}), new.get("gates", {}))
    for name in ("blind", "conversations"):
        before, after = old.get(name, {}), new.get(name, {})
        if before.get("file") and before.get("file") == after.get("file"):
            found += [f"[{name}] {d}" for d in drops(before.get("gates", {}), after.get("gates", {}))]
        elif before.get("file") and not after.get("file"):
            found.append(f"[{name}] table removed")
    return found


def test_no_gate_ever_falls_except_at_a_documented_reset(versions):
    lowered = []
    for (_, _, old), (commit, message, new) in zip(versions, versions[1:], strict=False):
        found = table_drops(old, new)
        if found and not RESET_RE.search(message):
            lowered.append(f"{commit}: {'; '.join(found)}")
    assert lowered == [], "gates lowered without a documented reset:\n" + "\n".join(lowered)


def test_the_check_catches_a_lowered_a_removed_and_a_raised_ceiling_gate():
    old = {"gates": {"recall_at_5": {"min": 0.9}, "fact_recall": {"min": 0.7}, "false_refusal_rate": {"max": 0.02}}}
    lowered = {
        "gates": {"recall_at_5": {"min": 0.89}, "fact_recall": {"min": 0.7}, "false_refusal_rate": {"max": 0.02}}
    }
    removed = {"gates": {"recall_at_5": {"min": 0.9}, "false_refusal_rate": {"max": 0.02}}}
    ceiling = {"gates": {"recall_at_5": {"min": 0.9}, "fact_recall": {"min": 0.7}, "false_refusal_rate": {"max": 0.05}}}
    raised = {"gates": {"recall_at_5": {"min": 0.95}, "fact_recall": {"min": 0.7}, "false_refusal_rate": {"max": 0.01}}}
    assert table_drops(old, lowered) == ["recall_at_5 min 0.9 -> 0.89"]
    assert table_drops(old, removed) == ["fact_recall removed"]
    assert table_drops(old, ceiling) == ["false_refusal_rate max 0.02 -> 0.05"]
    assert table_drops(old, raised) == []


def test_a_blind_table_compares_only_while_it_gates_the_same_file():
    old = {"blind": {"file": "blind/a.jsonl", "gates": {"recall_at_5": {"min": 0.9}}}}
    same_lower = {"blind": {"file": "blind/a.jsonl", "gates": {"recall_at_5": {"min": 0.8}}}}
    new_set = {"blind": {"file": "blind/b.jsonl", "gates": {"recall_at_5": {"min": 0.8}}}}
    assert table_drops(old, same_lower) == ["[blind] recall_at_5 min 0.9 -> 0.8"]
    assert table_drops(old, new_set) == []
    assert table_drops(old, {}) == ["[blind] table removed"]
