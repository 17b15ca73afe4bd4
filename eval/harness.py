"""The evaluation harness: wiring-qa and the naive baseline on eval/questions.jsonl, scored the same way.

Deterministic apart from latencies and the timestamp: no randomness, no LLM judge, no downloads.
Writes report.json (every question and the aggregates) and report.md (the table and the failures).
"""

from __future__ import annotations

import hashlib
import json
import time
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from assistant.types import Answer, BadInput
from eval import metrics as m

EVAL_DIR = Path(__file__).resolve().parent
QUESTIONS_FILE = EVAL_DIR / "questions.jsonl"
HELDOUT_FILE = EVAL_DIR / "heldout.jsonl"  # written apart from the pipeline's tuning; measured, not gated
GATES_FILE = EVAL_DIR / "gates.toml"
DEFAULT_OUT = EVAL_DIR / "out"
OUT_OF_SCOPE = "out_of_scope"
EVAL_TOP_K = 10  # the deepest recall cut-off; the answerers read only their first few sources
RECALL_KS = (1, 3, 5, 10)
ANSWER_METRICS = (
    "fact_recall",
    "citation_validity",
    "citation_precision",
    "citation_recall",
    "citation_relevance",
    "faithfulness",
)

# The table's rows, in order: (key, label, format).
ROWS: tuple[tuple[str, str, str], ...] = (
    *((f"recall_at_{k}", f"evidence recall@{k}", "{:.3f}") for k in RECALL_KS),
    ("mrr", "MRR", "{:.3f}"),
    ("mrr_complete", "MRR, all evidence", "{:.3f}"),
    ("fact_recall", "fact recall", "{:.3f}"),
    ("citation_validity", "citation validity", "{:.3f}"),
    ("citation_precision", "citation precision", "{:.3f}"),
    ("citation_recall", "citation recall", "{:.3f}"),
    ("citation_relevance", "citation relevance", "{:.3f}"),
    ("faithfulness", "faithfulness", "{:.3f}"),
    ("refusal_precision", "refusal precision", "{:.3f}"),
    ("refusal_recall", "refusal recall", "{:.3f}"),
    ("false_refusal_rate", "false refusal rate", "{:.3f}"),
    ("latency_p50_ms", "latency p50 (ms)", "{:.1f}"),
    ("latency_p95_ms", "latency p95 (ms)", "{:.1f}"),
)


class Asker(Protocol):
    """What the harness scores: anything that answers like ReportAssistant.ask."""

    def ask(self, question: str, history: list | None = None, top_k: int | None = None) -> Answer: ...


# -- inputs ----------------------------------------------------------------------


def load_questions(path: Path) -> tuple[list[dict], str]:
    """The eval items in file order, and the file's sha256."""
    data = path.read_bytes()
    items = []
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        if line.strip():
            try:
                item = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{path.name} line {number} is not JSON ({exc.msg})") from exc
            if not isinstance(item, dict) or not {"id", "type", "question"} <= item.keys():
                raise ValueError(f"{path.name} line {number} needs at least id, type and question")
            items.append(item)
    return items, hashlib.sha256(data).hexdigest()


def load_gates(path: Path = GATES_FILE, questions: Path | None = None) -> dict[str, dict[str, float]]:
    """{metric: {"min": x} or {"max": x}} from gates.toml for a question file: the eval set's gates, the
    latest blind set's gates (its [blind] table), or none for any other file (measured only)."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    questions = (questions or QUESTIONS_FILE).resolve()
    if questions == QUESTIONS_FILE.resolve():
        return dict(sorted(data.get("gates", {}).items()))
    blind = data.get("blind", {})
    if blind.get("file") and questions == (EVAL_DIR / blind["file"]).resolve():
        return dict(sorted(blind.get("gates", {}).items()))
    return {}


def pinned_files(path: Path = GATES_FILE) -> dict[str, str]:
    """{question file relative to eval/: its sha256} for the files the gates hold for."""
    with path.open("rb") as fh:
        return dict(tomllib.load(fh).get("files", {}))


def index_stamp(assistant: Any) -> dict | None:
    """The index stamp (report, parser, model, windows), its key and build time; None if there is no index."""
    stamp = getattr(assistant, "stamp", None)
    return dict(stamp) if isinstance(stamp, dict) else None


# -- scoring ---------------------------------------------------------------------


def timed_ask(asker: Asker, item: dict) -> tuple[Answer, float]:
    """The answer to one item and its latency in ms; unusable input counts as a refusal."""
    started = time.perf_counter()
    try:
        answer = asker.ask(item["question"], history=item.get("history") or [], top_k=EVAL_TOP_K)
    except BadInput as exc:
        answer = Answer(text=f"bad input: {exc}", refused=True)
    return answer, (time.perf_counter() - started) * 1000


def cited_ids(answer: Answer) -> list[str]:
    """The ids an answer cites, from its citations. (The sentence-level checks read the text, markers and all,
    since the text is what a reader checks against the paragraphs.)"""
    return m.distinct(c.id for c in answer.citations)


def score_item(item: dict, answer: Answer, latency_ms: float, records_by_id: dict) -> dict:
    """Every metric of one item; out-of-scope items keep only the refusal."""
    gold = m.distinct(item.get("paragraphs") or [])
    ranked = m.distinct(s.id for s in answer.sources)
    out_of_scope = item["type"] == OUT_OF_SCOPE
    scores: dict[str, float | None] = dict.fromkeys(
        [f"recall_at_{k}" for k in RECALL_KS] + ["rr", "rr_complete", *ANSWER_METRICS]
    )
    if not out_of_scope:
        scores.update({f"recall_at_{k}": m.recall_at_k(ranked, gold, k) for k in RECALL_KS})
        scores["rr"] = m.reciprocal_rank(ranked, gold)
        scores["rr_complete"] = m.complete_reciprocal_rank(ranked, gold)
        scores.update(_answer_scores(item, answer, gold, records_by_id))
    facts = item.get("answer_facts") or []
    return {
        "id": item["id"],
        "type": item["type"],
        "style": item.get("style", ""),
        "question": item["question"],
        "out_of_scope": out_of_scope,
        "refused": answer.refused,
        "answer": answer.text,
        "latency_ms": round(latency_ms, 3),
        "gold_ids": gold,
        "top5_ids": ranked[:5],
        "cited_ids": cited_ids(answer),
        "missing_facts": [] if out_of_scope else _missing(answer, facts),
        "scores": scores,
    }


def _missing(answer: Answer, facts: list[list[str]]) -> list[str]:
    """The facts the answer leaves out; a refusal leaves out every one."""
    return [f[0] for f in facts if f] if answer.refused else m.missing_facts(answer.text, facts)


def _answer_scores(item: dict, answer: Answer, gold: list[str], records_by_id: dict) -> dict[str, float | None]:
    """Answer-side metrics of an answerable item.

    A refusal states no fact and cites no gold id, so fact recall and citation recall count 0; it makes
    no claim and no citation, so validity, precision and faithfulness do not apply (None): refusing is
    scored by those two and by the false refusal rate, not by the quality of citations never made.
    An answer that is given but cites nothing scores 0 on validity and precision.
    """
    if answer.refused:
        return {**dict.fromkeys(ANSWER_METRICS), "fact_recall": 0.0, "citation_recall": 0.0}
    sentences = m.answer_sentences(answer.text)
    validity = m.citation_validity(answer.citations, records_by_id)
    precision = m.citation_precision(sentences, records_by_id)
    return {
        "fact_recall": m.fact_recall(answer.text, item.get("answer_facts") or []),
        "citation_validity": 0.0 if validity is None else validity,  # an answer given must cite
        "citation_precision": 0.0 if precision is None else precision,
        "citation_recall": m.citation_recall(cited_ids(answer), gold),
        "citation_relevance": m.citation_relevance(
            sentences, item.get("evidence") or [], item.get("answer_facts") or []
        ),
        "faithfulness": m.faithfulness(sentences, records_by_id),
    }


def aggregate(rows: Sequence[dict]) -> dict[str, float | int | None]:
    """Means over answerable items, refusal scores over all, latency percentiles over all."""
    answerable = [r for r in rows if not r["out_of_scope"]]
    out: dict[str, float | int | None] = {
        "questions": len(rows),
        "answerable": len(answerable),
        "out_of_scope": len(rows) - len(answerable),
    }
    for key in [f"recall_at_{k}" for k in RECALL_KS] + list(ANSWER_METRICS):
        out[key] = m.mean_defined(r["scores"][key] for r in answerable)
    out["mrr"] = m.mean_defined(r["scores"]["rr"] for r in answerable)
    out["mrr_complete"] = m.mean_defined(r["scores"]["rr_complete"] for r in answerable)
    refusals = m.refusal_scores((r["out_of_scope"], r["refused"]) for r in rows)
    out.update({f"refusal_{k}" if k != "false_refusal_rate" else k: v for k, v in refusals.items()})
    latencies = [r["latency_ms"] for r in rows]
    out["latency_p50_ms"] = m.percentile(latencies, 50)
    out["latency_p95_ms"] = m.percentile(latencies, 95)
    return dict(sorted(out.items()))


def by_kind(rows: Sequence[dict]) -> dict[str, dict[str, float | int | None]]:
    """Figures per kind of question (its type, and its style when the set gives one)."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        for key in filter(None, [f"type:{row['type']}", row.get("style") and f"style:{row['style']}"]):
            groups.setdefault(key, []).append(row)
    out = {}
    for key, members in sorted(groups.items()):
        answerable = [r for r in members if not r["out_of_scope"]]
        out[key] = {
            "n": len(members),
            "recall_at_5": m.mean_defined(r["scores"]["recall_at_5"] for r in answerable),
            "fact_recall": m.mean_defined(r["scores"]["fact_recall"] for r in answerable),
            "citation_relevance": m.mean_defined(r["scores"]["citation_relevance"] for r in answerable),
            "refused": sum(r["refused"] for r in members) / len(members),
        }
    return out


def markdown_by_kind(kinds: dict[str, dict]) -> str:
    """| kind | n | recall@5 | fact recall | citation relevance | refused |"""
    lines = ["## By kind of question", "", "| kind | n | recall@5 | fact recall | citation relevance | refused |"]
    lines.append("|---|---|---|---|---|---|")
    for key, f in kinds.items():
        cells = [key, str(f["n"])] + [fmt(f[k], "{:.2f}") for k in ("recall_at_5", "fact_recall", "citation_relevance")]
        lines.append("| " + " | ".join([*cells, f"{f['refused']:.2f}"]) + " |")
    return "\n".join(lines)


def evaluate(asker: Asker, items: Sequence[dict], records_by_id: dict) -> list[dict]:
    """Ask every item in order and score it."""
    rows = []
    for item in items:
        answer, latency = timed_ask(asker, item)
        rows.append(score_item(item, answer, latency, records_by_id))
    return rows


# -- gates and failures ----------------------------------------------------------


def gate_status(aggregates: dict, gates: dict[str, dict[str, float]]) -> dict[str, str]:
    """PASS or FAIL per gated metric; a metric with no value fails."""
    status = {}
    for key, gate in gates.items():
        value = aggregates.get(key)
        ok = value is not None
        if ok and "min" in gate:
            ok = value >= gate["min"] - 1e-9
        if ok and "max" in gate:
            ok = value <= gate["max"] + 1e-9
        status[key] = "PASS" if ok else "FAIL"
    return status


def failure_reasons(row: dict) -> list[str]:
    """Why an item counts as failed; empty when it did not fail."""
    s = row["scores"]
    if row["out_of_scope"]:
        return [] if row["refused"] else ["out of scope but answered"]
    reasons = ["answerable but refused"] if row["refused"] else []
    if s["recall_at_5"] == 0.0:
        reasons.append("evidence recall@5 = 0")
    if s["fact_recall"] == 0.0 and not row["refused"]:
        reasons.append("fact recall = 0")
    if s["citation_precision"] is not None and s["citation_precision"] < 1.0:
        reasons.append(f"citation precision = {s['citation_precision']:.2f}")
    return reasons


def failures(rows: Sequence[dict]) -> list[dict]:
    """The failed items with what a reader needs to look into each."""
    keys = ("id", "type", "question", "gold_ids", "top5_ids", "cited_ids", "missing_facts")
    return [{**{k: r[k] for k in keys}, "why": why} for r in rows if (why := failure_reasons(r))]


# -- rendering -------------------------------------------------------------------


def fmt(value: float | None, pattern: str) -> str:
    return "—" if value is None else pattern.format(value)


def gate_text(gate: dict[str, float] | None) -> str:
    if not gate:
        return "—"
    return " ".join(f"{'≥' if k == 'min' else '≤'} {v:.2f}" for k, v in sorted(gate.items(), reverse=True))


def markdown_table(ours: dict, base: dict | None, gates: dict, status: dict[str, str]) -> str:
    """| metric | wiring-qa | baseline | Δ | gate | status |, one row per metric."""
    lines = ["| metric | wiring-qa | baseline | Δ | gate | status |", "|---|---|---|---|---|---|"]
    for key, label, pattern in ROWS:
        value, other = ours.get(key), (base or {}).get(key)
        delta = None if value is None or other is None else value - other
        delta_text = "—" if delta is None else ("+" if delta >= 0 else "") + pattern.format(delta)
        cells = [label, fmt(value, pattern), fmt(other, pattern), delta_text, gate_text(gates.get(key))]
        lines.append("| " + " | ".join([*cells, status.get(key, "—")]) + " |")
    return "\n".join(lines)


def markdown_failures(fails: Sequence[dict]) -> str:
    """One block per failed item."""
    if not fails:
        return "## Failing questions\n\nNone."
    blocks = [f"## Failing questions ({len(fails)})"]
    for f in fails:
        blocks.append(
            "\n".join(
                [
                    f"### {f['id']} ({f['type']})",
                    f"- question: {f['question']}",
                    f"- why: {'; '.join(f['why'])}",
                    f"- gold ids: {', '.join(f['gold_ids']) or '—'}",
                    f"- top-5 retrieved: {', '.join(f['top5_ids']) or '—'}",
                    f"- cited ids: {', '.join(f['cited_ids']) or '—'}",
                    f"- missing facts: {'; '.join(f['missing_facts']) or '—'}",
                ]
            )
        )
    return "\n\n".join(blocks)


def render_markdown(meta: dict, table: str, fails: Sequence[dict], kinds: dict | None = None) -> str:
    """The whole report.md."""
    head = [
        "# wiring-qa evaluation",
        "",
        f"- questions: {meta['questions_file']} (sha256 {meta['questions_sha256'][:12]}…, {meta['questions']} items)",
        f"- index: {(meta['index'] or {}).get('key', '—')} built {(meta['index'] or {}).get('built_at', '—')}",
        f"- generated: {meta['generated_at']}; eval wall time {meta['wall_seconds']:.1f} s",
        f"- gates: {('PASSED' if meta['passed'] else 'FAILED') if meta['gated'] else 'not applied (measured only)'}",
        "",
        "",
    ]
    kinds_text = markdown_by_kind(kinds) + "\n\n" if kinds else ""
    return "\n".join(head) + table + "\n\n" + kinds_text + markdown_failures(fails) + "\n"


# -- entry point -----------------------------------------------------------------


def run_eval(
    out_dir: Path | str | None = None,
    baseline: bool = True,
    assistant: Asker | None = None,
    questions_path: Path | str | None = None,
) -> dict:
    """Score wiring-qa (and the naive baseline), write report.json and report.md, check the gates."""
    started = time.perf_counter()
    path = Path(questions_path) if questions_path else QUESTIONS_FILE
    items, sha = load_questions(path)
    if assistant is None:
        from assistant import ReportAssistant

        assistant = ReportAssistant()
    records_by_id = records_of(assistant)
    rows = evaluate(assistant, items, records_by_id)
    ours = aggregate(rows)
    base_rows: list[dict] | None = None
    base: dict | None = None
    if baseline:
        from eval.baseline import NaiveBaseline

        base_rows = evaluate(NaiveBaseline(), items, records_by_id)
        base = aggregate(base_rows)
    # The gates hold for the eval set and the latest blind set; any other set is only measured.
    gates = load_gates(questions=path)
    status = gate_status(ours, gates)
    passed = all(v == "PASS" for v in status.values())
    fails = failures(rows)
    meta = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "questions_file": path.name,
        "questions_sha256": sha,
        "questions": len(items),
        "index": index_stamp(assistant),
        "passed": passed,
        "gated": bool(gates),
        "wall_seconds": time.perf_counter() - started,
    }
    table = markdown_table(ours, base, gates, status)
    kinds = by_kind(rows)
    markdown = render_markdown(meta, table, fails, kinds)
    report = {
        **meta,
        "gates": gates,
        "status": status,
        "delta": _delta(ours, base),
        "wiring_qa": {"aggregates": ours, "questions": rows},
        "baseline": None if base is None else {"aggregates": base, "questions": base_rows},
        "failures": fails,
        "by_kind": kinds,
    }
    out = Path(out_dir) if out_dir else DEFAULT_OUT
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, sort_keys=True, indent=1, ensure_ascii=False) + "\n")
    (out / "report.md").write_text(markdown)
    return {
        "markdown": markdown,
        "table": table,
        "passed": passed,
        "status": status,
        "aggregates": ours,
        "baseline": base,
        "failures": fails,
        "by_kind": kinds,
        "wall_seconds": meta["wall_seconds"],
        "out_dir": str(out),
    }


def records_of(assistant: Asker) -> dict:
    """The assistant's records by id, or the parsed report's when it has none."""
    by_id = getattr(assistant, "by_id", None)
    if by_id:
        return by_id
    from index.report import load_report

    return load_report().by_id()


def _delta(ours: dict, base: dict | None) -> dict[str, float | None]:
    """wiring-qa minus baseline, per metric."""
    if base is None:
        return {}
    keys = [key for key, _, _ in ROWS]
    return {k: None if ours.get(k) is None or base.get(k) is None else ours[k] - base[k] for k in keys}
