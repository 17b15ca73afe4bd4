"""Whole conversations: each turn asked with the assistant's own earlier answers as history, as in the chat.

    wiring-qa eval --conversations eval/conversations/blind-c1.jsonl

A conversation file has one conversation per line: {"id", "persona", "turns": [turn, ...]}; a turn has the
fields of a question item (question, type, style, evidence, paragraphs, answer_facts, and for a turn the
report does not answer, type out_of_scope with oos_kind and asks) plus `move`: how it leans on the turns before
(opening, pronoun, ellipsis, correction, comparison, shift, back, standalone). eval/WRITING-CONVERSATIONS.md is
the writers' brief. Every turn is scored like a single question; the report gives the figures over all turns,
over the later turns (2 and on), and per move.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path

from eval import harness
from eval import metrics as m

EVAL_DIR = harness.EVAL_DIR
CONVERSATIONS_DIR = EVAL_DIR / "conversations"
MOVES = ("opening", "pronoun", "ellipsis", "correction", "comparison", "shift", "back", "standalone")
# The figures the conversation gates and the report's table read, in order: (key, label, format).
_SAME_AS_SINGLE_QUESTIONS = ("citation_relevance", "citation_validity", "false_refusal_rate", "latency_p50_ms")
ROWS: tuple[tuple[str, str, str], ...] = (
    ("later_recall_at_5", "evidence recall@5, turns 2 and on", "{:.3f}"),
    ("later_fact_recall", "fact recall, turns 2 and on", "{:.3f}"),
    ("recall_at_5", "evidence recall@5, all turns", "{:.3f}"),
    ("fact_recall", "fact recall, all turns", "{:.3f}"),
    ("refusal_recall", "refusal of unanswerable turns", "{:.3f}"),
    *(row for row in harness.ROWS if row[0] in _SAME_AS_SINGLE_QUESTIONS),
)


def load_conversations(path: Path) -> tuple[list[dict], str]:
    """The conversations in file order, and the file's sha256; a malformed line is a one-line ValueError."""
    data = path.read_bytes()
    conversations = []
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            conversation = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"{path.name} line {number} is not JSON ({exc.msg})") from exc
        turns = conversation.get("turns") if isinstance(conversation, dict) else None
        if not isinstance(turns, list) or not turns or not all(isinstance(t, dict) and "question" in t for t in turns):
            raise ValueError(f"{path.name} line {number} needs an id and turns, each with a question")
        conversations.append(conversation)
    return conversations, hashlib.sha256(data).hexdigest()


def turn_items(conversation: dict) -> list[dict]:
    """The conversation's turns as question items (id 'conversation/turn number')."""
    return [
        {**turn, "id": f"{conversation.get('id', '?')}/{number}", "turn": number, "history": []}
        for number, turn in enumerate(conversation["turns"], 1)
    ]


def play(asker: harness.Asker, conversation: dict, records_by_id: dict) -> list[dict]:
    """Ask each turn with the history so far (the user's questions and the assistant's own answers)."""
    history: list[dict] = []
    rows = []
    for item in turn_items(conversation):
        answer, latency = harness.timed_ask(asker, {**item, "history": list(history)})
        row = harness.score_item(item, answer, latency, records_by_id)
        row.update(turn=item["turn"], move=item.get("move", ""), understood_as=answer.understood_as)
        rows.append(row)
        history += [{"role": "user", "content": item["question"]}, {"role": "assistant", "content": answer.text}]
    return rows


def aggregate(rows: Sequence[dict]) -> dict[str, float | int | None]:
    """The single-question figures over all turns, and recall and fact recall over the later turns."""
    out = harness.aggregate(rows)
    later = [r for r in rows if r["turn"] > 1 and not r["out_of_scope"]]
    out["later_turns"] = len([r for r in rows if r["turn"] > 1])
    out["later_recall_at_5"] = m.mean_defined(r["scores"]["recall_at_5"] for r in later)
    out["later_fact_recall"] = m.mean_defined(r["scores"]["fact_recall"] for r in later)
    out["conversations"] = len({r["id"].rsplit("/", 1)[0] for r in rows})
    return dict(sorted(out.items()))


def by_move(rows: Sequence[dict]) -> dict[str, dict[str, float | int | None]]:
    """recall@5, fact recall and refusals per move, in the order of MOVES."""
    out = {}
    for move in MOVES:
        members = [r for r in rows if r["move"] == move]
        if not members:
            continue
        answerable = [r for r in members if not r["out_of_scope"]]
        unanswerable = [r for r in members if r["out_of_scope"]]
        out[move] = {
            "n": len(members),
            "recall_at_5": m.mean_defined(r["scores"]["recall_at_5"] for r in answerable),
            "fact_recall": m.mean_defined(r["scores"]["fact_recall"] for r in answerable),
            "false_refusals": sum(r["refused"] for r in answerable),
            "refused_unanswerable": f"{sum(r['refused'] for r in unanswerable)} of {len(unanswerable)}",
        }
    return out


def load_gates(path: Path = harness.GATES_FILE, conversations: Path | None = None) -> dict[str, dict[str, float]]:
    """The gates of gates.toml's [conversations] table when `conversations` is the set it names; else none."""
    import tomllib

    with path.open("rb") as fh:
        table = tomllib.load(fh).get("conversations", {})
    if conversations and table.get("file") and conversations.resolve() == (EVAL_DIR / table["file"]).resolve():
        return dict(sorted(table.get("gates", {}).items()))
    return {}


def markdown(meta: dict, figures: dict, moves: dict, gates: dict, status: dict, rows: Sequence[dict]) -> str:
    """The report: the table with gates, the figures per move, and each turn that failed."""
    lines = [
        f"# wiring-qa conversations: {meta['file']}",
        "",
        f"{figures['conversations']} conversations, {figures['questions']} turns ({figures['later_turns']} later), "
        f"{figures['out_of_scope']} unanswerable; sha256 {meta['sha256'][:12]}; {meta['wall_seconds']:.1f} s; "
        f"{'PASS' if meta['passed'] else 'FAIL'}",
        "",
        "| metric | wiring-qa | gate | status |",
        "|---|---|---|---|",
    ]
    for key, label, pattern in ROWS:
        value = harness.fmt(figures.get(key), pattern)
        lines.append(f"| {label} | {value} | {harness.gate_text(gates.get(key))} | {status.get(key, '—')} |")
    lines += ["", "## By move", "", "| move | n | recall@5 | fact recall | false refusals | unanswerable refused |"]
    lines.append("|---|---|---|---|---|---|")
    for move, f in moves.items():
        cells = [move, str(f["n"]), harness.fmt(f["recall_at_5"], "{:.2f}"), harness.fmt(f["fact_recall"], "{:.2f}")]
        lines.append("| " + " | ".join([*cells, str(f["false_refusals"]), f["refused_unanswerable"]]) + " |")
    lines += ["", "## Turns that failed", ""]
    for row in rows:
        if why := harness.failure_reasons(row):
            understood = f" (understood as: {row['understood_as']})" if row["understood_as"] else ""
            lines.append(f"- {row['id']} [{row['move']}] {row['question']}{understood}: {'; '.join(why)}")
    return "\n".join(lines) + "\n"


def run_conversations(path: Path, out_dir: Path | None = None, assistant: harness.Asker | None = None) -> dict:
    """Play every conversation of the file, write report.json and report.md, check the gates if any."""
    started = time.perf_counter()
    conversations, sha = load_conversations(path)
    if assistant is None:
        from assistant import ReportAssistant

        assistant = ReportAssistant()
    records_by_id = harness.records_of(assistant)
    rows = [row for conversation in conversations for row in play(assistant, conversation, records_by_id)]
    figures, moves = aggregate(rows), by_move(rows)
    gates = load_gates(conversations=path)
    status = harness.gate_status(figures, gates)
    meta = {
        "file": path.name,
        "sha256": sha,
        "passed": all(v == "PASS" for v in status.values()),
        "wall_seconds": time.perf_counter() - started,
    }
    text = markdown(meta, figures, moves, gates, status, rows)
    out = out_dir or harness.DEFAULT_OUT
    out.mkdir(parents=True, exist_ok=True)
    report = {**meta, "gates": gates, "status": status, "aggregates": figures, "by_move": moves, "turns": rows}
    (out / "conversations.json").write_text(json.dumps(report, sort_keys=True, indent=1, ensure_ascii=False) + "\n")
    (out / "conversations.md").write_text(text)
    return {**meta, "markdown": text, "aggregates": figures, "status": status, "out_dir": str(out)}
