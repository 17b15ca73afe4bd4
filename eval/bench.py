"""The benchmark: wiring-qa, the naive LlamaIndex starter and BM25 alone, on the eval set, in one run.

    python -m eval.bench [--out DIR] [--runs N] [--limit N] [--quick]

For each pipeline it reports

- quality, scored by the harness (``eval.harness.evaluate`` and ``aggregate``): evidence recall@5, MRR,
  fact recall, citation precision, refusal recall and the rest of the harness's aggregates;
- warm ask latency p50/p95 (ms, ``time.perf_counter`` in this process): after a first scoring pass over
  every question (the warm-up), a second pass asks each question of each pipeline in turn, so background
  load falls on all three alike. wiring-qa's per-question query-embedding cache is cleared before each
  timed ask: a repeated question would otherwise skip the embedding that a new question pays for;
- cold start to first answer with an existing index: a fresh ``python -c`` that imports, constructs the
  pipeline and answers one question, timed from just before the process is spawned to the answer in hand
  (median of ``--runs``). wiring-qa opens its persisted Chroma index; BM25-only builds its BM25 index in
  memory (milliseconds); the naive baseline's index lives only in memory, so its cold start includes
  splitting the report and embedding every chunk;
- index build time (median of ``--runs``), with the model already loaded and the report not yet parsed:
  wiring-qa = ``index.store.build_index(settings, force=True)`` into a temporary directory in its own
  process, from scratch, then once more there with every vector from the cache; naive = parsing the report and building its in-memory ``VectorStoreIndex``; BM25-only = parsing
  the report and building ``BM25Search`` (the last two timed inside their cold-start processes);
- peak RSS of each cold-start process (its own high-water mark, VmHWM, after the answer; median of runs);
- every figure as a ratio to the naive baseline's.

Writes bench.json (sorted keys; machine, python, index stamp and questions sha256 included), bench.md (the
tables) and bench.png (the chart). ``--quick`` skips every subprocess (no cold start, build or RSS figures).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eval import harness
from eval import metrics as m

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = harness.DEFAULT_OUT / "bench"
BASELINE = "naive"
PIPELINES = ("wiring-qa", BASELINE, "bm25-only")
LABELS = {"wiring-qa": "wiring-qa", BASELINE: "naive LlamaIndex starter", "bm25-only": "BM25 only"}
COLORS = {"wiring-qa": "#1b6ca8", BASELINE: "#9a9a9a", "bm25-only": "#e08a1e"}
COLD_QUESTION = "How much is the Policy Innovation Fund?"
DEFAULT_RUNS = 3

# The main table: (figure key, column header, format). Quality is higher-is-better; time and memory lower.
TABLE: tuple[tuple[str, str, str], ...] = (
    ("recall_at_5", "recall@5", "{:.3f}"),
    ("fact_recall", "fact recall", "{:.3f}"),
    ("citation_precision", "citation precision", "{:.3f}"),
    ("warm_p50_ms", "warm p50 ms", "{:.1f}"),
    ("warm_p95_ms", "warm p95 ms", "{:.1f}"),
    ("cold_start_s", "cold start s", "{:.1f}"),
    ("build_s", "build s", "{:.2f}"),
    ("build_cached_s", "rebuild s (cached vectors)", "{:.2f}"),
    ("peak_rss_mb", "peak RSS MB", "{:.0f}"),
)
# More of the harness's quality figures, in a second table and in bench.json.
_MORE_QUALITY_KEYS = (
    "mrr",
    "mrr_complete",
    "citation_validity",
    "faithfulness",
    "refusal_recall",
    "false_refusal_rate",
)
MORE_QUALITY: tuple[tuple[str, str, str], ...] = tuple(row for row in harness.ROWS if row[0] in _MORE_QUALITY_KEYS)
QUALITY_KEYS = (
    "recall_at_5",
    "mrr",
    "mrr_complete",
    "fact_recall",
    "citation_validity",
    "citation_precision",
    "faithfulness",
)
QUALITY_KEYS += ("refusal_recall", "false_refusal_rate")
FIGURE_KEYS = tuple(dict.fromkeys([k for k, _, _ in TABLE] + [k for k, _, _ in MORE_QUALITY]))


# -- pure helpers ----------------------------------------------------------------


def ratios(figures: dict[str, dict[str, float | None]], base: str = BASELINE) -> dict[str, dict[str, float | None]]:
    """Every figure of every pipeline divided by the base pipeline's; None when either side is missing or 0."""
    reference = figures.get(base, {})
    out: dict[str, dict[str, float | None]] = {}
    for name, values in figures.items():
        row: dict[str, float | None] = {}
        for key, value in values.items():
            other = reference.get(key)
            row[key] = None if value is None or other is None or other == 0 else value / other
        out[name] = row
    return out


def latency_stats(latencies_ms: Sequence[float]) -> dict[str, float | None]:
    """p50, p95, mean and max of latencies in ms (the harness's percentile)."""
    values = list(latencies_ms)
    return {
        "p50_ms": m.percentile(values, 50),
        "p95_ms": m.percentile(values, 95),
        "mean_ms": statistics.fmean(values) if values else None,
        "max_ms": max(values) if values else None,
        "n": len(values),
    }


def median_or_none(values: Sequence[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return statistics.median(defined) if defined else None


def figures_of(quality: dict, warm: dict, cold: dict | None, build: dict | None) -> dict[str, float | None]:
    """One pipeline's flat figures, the ones the tables and ratios show."""
    out: dict[str, float | None] = {k: quality.get(k) for k in QUALITY_KEYS}
    out["warm_p50_ms"] = warm.get("p50_ms")
    out["warm_p95_ms"] = warm.get("p95_ms")
    out["cold_start_s"] = (cold or {}).get("median_s")
    out["peak_rss_mb"] = (cold or {}).get("peak_rss_mb")
    out["build_s"] = (build or {}).get("median_s")
    out["build_cached_s"] = (build or {}).get("cached_median_s")
    return {k: out.get(k) for k in FIGURE_KEYS}


def subset(items: Sequence[dict], limit: int | None) -> list[dict]:
    """The first `limit` items taken round-robin over question types (in order of first appearance)."""
    if not limit or limit >= len(items):
        return list(items)
    by_type: dict[str, list[dict]] = {}
    for item in items:
        by_type.setdefault(item["type"], []).append(item)
    out: list[dict] = []
    while len(out) < limit:
        for group in by_type.values():
            if group and len(out) < limit:
                out.append(group.pop(0))
    return out


def _ordered(by_name: dict) -> list[str]:
    """The pipelines in the bench's order (wiring-qa, naive, bm25-only), any others after."""
    return [n for n in PIPELINES if n in by_name] + [n for n in by_name if n not in PIPELINES]


def fmt(value: float | None, pattern: str) -> str:
    return "—" if value is None else pattern.format(value)


def _ratio_text(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}×" if value < 0.1 else f"{value:.2f}×"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def figures_table(figures: dict, columns: Sequence[tuple[str, str, str]] = TABLE) -> str:
    """| pipeline | figure… |, one row per pipeline."""
    rows = [[name, *(fmt(figures[name].get(k), f) for k, _, f in columns)] for name in _ordered(figures)]
    return _table(["pipeline", *(h for _, h, _ in columns)], rows)


def ratios_table(ratio: dict, columns: Sequence[tuple[str, str, str]] = TABLE) -> str:
    """The same table as ratios to the naive baseline."""
    rows = [[name, *(_ratio_text(ratio[name].get(k)) for k, _, _ in columns)] for name in _ordered(ratio)]
    return _table(["pipeline", *(h for _, h, _ in columns)], rows)


def render_markdown(result: dict) -> str:
    """The whole bench.md."""
    meta, figures, ratio = result["meta"], result["figures"], result["ratios"]
    stamp = meta.get("index") or {}
    machine = meta["machine"]
    load = machine.get("loadavg_start"), machine.get("loadavg_end")
    head = [
        "# wiring-qa benchmark",
        "",
        f"- pipelines: {', '.join(f'`{n}` ({LABELS.get(n, n)})' for n in _ordered(figures))}",
        f"- questions: {meta['questions_file']} (sha256 {meta['questions_sha256'][:12]}…), "
        f"{meta['questions_used']} of {meta['questions_total']} items",
        f"- index: {stamp.get('key', '—')} built {stamp.get('built_at', '—')}",
        f"- machine: {machine['nproc']} cores ({machine['cpu']}), Python {machine['python']}, "
        f"load average {_load_text(load[0])} at start, {_load_text(load[1])} at end",
        f"- mode: {meta['mode']}; {meta['runs']} run(s) per subprocess figure (medians); "
        f"generated {meta['generated_at']}; bench wall time {meta['wall_seconds']:.0f} s",
        "",
        "## Figures",
        "",
        figures_table(figures),
        "",
        "## Ratios to the naive baseline",
        "",
        "Each figure divided by the naive baseline's: above 1 is better for quality, below 1 is better for time"
        " and memory.",
        "",
        ratios_table(ratio),
        "",
        "## More quality figures (harness aggregates)",
        "",
        figures_table(figures, MORE_QUALITY),
        "",
        "## How it is measured",
        "",
        *[f"- {line}" for line in NOTES],
        "",
    ]
    return "\n".join(head)


NOTES = (
    "Quality: `eval.harness.evaluate` and `aggregate`, the scoring of `wiring-qa eval`; every pipeline is asked "
    "with the harness's top_k (10). Recall@5, fact recall and citation precision are means over answerable "
    "questions; a refusal counts 0 for fact recall and is left out of citation precision.",
    "Warm latency: in process, `time.perf_counter` around `ask`, after a full warm-up pass; the timed pass asks "
    "each question of each pipeline in turn. wiring-qa's per-question embedding cache is cleared before each "
    "timed ask.",
    "Cold start: a fresh `python -c` that imports, constructs the pipeline and answers one question, from just "
    "before the spawn to the answer (median of runs). wiring-qa opens its existing Chroma index; BM25-only "
    "builds its BM25 index in memory; the naive baseline has no persisted index, so its cold start includes "
    "splitting the report and embedding every chunk. wiring-qa embeds questions with the same model in NumPy "
    "(`index/minilm.py`), so it imports neither torch nor sentence-transformers; the naive baseline loads the "
    "model through LlamaIndex's `HuggingFaceEmbedding`.",
    "Build: with the embedding model already loaded. wiring-qa: `build_index(settings, force=True)` into a "
    "temporary directory, in its own process (parse, window, embed windows and sentences, write Chroma), "
    "from scratch (no cached vectors); then again in the same directory, every vector from the cache. "
    "naive: parse the report, split it and embed the chunks into an in-memory `VectorStoreIndex`. BM25-only: "
    "parse the report and build `BM25Search`.",
    "Peak RSS: the cold-start process's own high-water mark (`VmHWM` in /proc/self/status), read after its first "
    "answer (median of runs); not `ru_maxrss`, which on Linux also carries the parent's RSS at fork time.",
    "BM25-only: `assistant.retrieval.search.BM25Search` alone (no dense search, routes, query resolution or history); "
    "the answer is the top record's sentence that covers most of the question's weighted terms, cited `[id]` "
    "with a verbatim quote; it never refuses.",
)


def _load_text(value: Sequence[float] | None) -> str:
    return "—" if not value else "/".join(f"{v:.1f}" for v in value)


def plot(result: dict, path: Path) -> None:
    """bench.png: quality bars, warm latency p50/p95, cold start and build time with peak RSS."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = result["figures"]
    names = _ordered(figures)
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.6), gridspec_kw={"width_ratios": [1.5, 1, 1]})

    # 1. quality: one group per metric, one bar per pipeline
    ax = axes[0]
    metrics = [
        ("recall_at_5", "recall@5"),
        ("mrr", "MRR"),
        ("fact_recall", "fact\nrecall"),
        ("citation_precision", "citation\nprecision"),
        ("refusal_recall", "refusal\nrecall"),
    ]
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        xs = [j + (i - (len(names) - 1) / 2) * width for j in range(len(metrics))]
        values = [figures[name].get(k) for k, _ in metrics]
        bars = ax.bar(xs, [v or 0 for v in values], width, label=LABELS.get(name, name), color=COLORS.get(name))
        for bar, value in zip(bars, values, strict=True):
            text = "n/a" if value is None else f"{value:.2f}"
            ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom",
                        xytext=(0, 2), textcoords="offset points", fontsize=7.5)  # fmt: skip
    ax.set_xticks(range(len(metrics)), [label for _, label in metrics])
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("score (higher is better)")
    ax.set_title("Quality on the eval set")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=len(names), frameon=False)

    # 2. warm latency: p50 and p95 per pipeline, log scale (the pipelines differ by orders of magnitude)
    _paired_bars(
        axes[1],
        names,
        [("warm_p50_ms", "p50", "{:.1f}"), ("warm_p95_ms", "p95", "{:.1f}")],
        figures,
        "ms per question (log scale, lower is better)",
        "Warm ask latency",
        log=True,
    )

    # 3. cold start and build, with peak RSS under each pipeline's name
    ticks = [f"{name}\npeak RSS {fmt(figures[name].get('peak_rss_mb'), '{:.0f}')} MB" for name in names]
    _paired_bars(
        axes[2],
        names,
        [("cold_start_s", "cold start to first answer", "{:.1f}"), ("build_s", "index build", "{:.2f}")],
        figures,
        "seconds (log scale, lower is better)",
        "Cold start and index build",
        log=True,
        ticks=ticks,
    )

    meta = result["meta"]
    runs = f"medians of {meta['runs']} run(s) for cold start and build" if meta["runs"] else "quick mode"
    fig.suptitle(
        f"wiring-qa benchmark: {meta['questions_used']} questions, {meta['machine']['nproc']} CPU cores, "
        f"{runs} ({meta['generated_at'][:10]})",
        fontsize=12,
    )
    load = meta["machine"].get("loadavg_start") or []
    if load:
        fig.text(
            0.99,
            0.01,
            f"1-min load average at start: {load[0]:.1f} on {meta['machine']['nproc']} cores "
            "(times include contention from other work on the machine)",
            ha="right",
            va="bottom",
            fontsize=8,
            color="0.35",
        )
    fig.tight_layout(rect=(0, 0.02, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _paired_bars(ax, names, series, figures, ylabel, title, log=False, ticks=None) -> None:
    """Bars per pipeline, one per series (shaded light to dark), each labelled with its value."""
    shades = ["#8fb8de", "#2d5f8b", "#c7c7c7"]
    width = 0.8 / len(series)
    values_seen = []
    for i, (key, label, pattern) in enumerate(series):
        xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(names))]
        values = [figures[n].get(key) for n in names]
        values_seen += [v for v in values if v]
        bars = ax.bar(xs, [v or 0 for v in values], width, label=label, color=shades[i % len(shades)])
        for bar, value in zip(bars, values, strict=True):
            text = "n/a" if value is None else pattern.format(value)
            y = bar.get_height() if value else (min(values_seen) if values_seen and log else 0)
            ax.annotate(text, (bar.get_x() + bar.get_width() / 2, y), ha="center", va="bottom",
                        xytext=(0, 2), textcoords="offset points", fontsize=8)  # fmt: skip
    if not values_seen:  # --quick: nothing measured
        ax.cla()
        ax.set_xticks(range(len(names)), names)
        ax.set_yticks([])
        ax.text(0.5, 0.5, "not measured (--quick)", ha="center", va="center", transform=ax.transAxes, color="0.4")
        ax.set_title(title)
        return
    if log:
        ax.set_yscale("log")
        ax.set_ylim(min(values_seen) / 3, max(values_seen) * 4)
    ax.set_xticks(range(len(names)), ticks or names)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="upper left", frameon=False, fontsize=9)


def write_outputs(result: dict, out_dir: Path) -> dict[str, Path]:
    """bench.json, bench.md and bench.png in out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "bench.json", "md": out_dir / "bench.md", "png": out_dir / "bench.png"}
    paths["json"].write_text(json.dumps(result, sort_keys=True, indent=1, ensure_ascii=False) + "\n")
    paths["md"].write_text(render_markdown(result))
    plot(result, paths["png"])
    return paths


# -- in-process measurement ------------------------------------------------------


def clear_query_caches() -> None:
    """Forget embeddings of earlier questions, so a timed ask pays for its own."""
    from index import store

    cached = getattr(store, "_embed_query_cached", None)
    if cached is not None and hasattr(cached, "cache_clear"):
        cached.cache_clear()


def timed(make: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = make()
    return value, time.perf_counter() - started


def timed_pass(askers: dict[str, Any], items: Sequence[dict]) -> dict[str, list[tuple[Any, float]]]:
    """Each question asked of each pipeline in turn (rotating who goes first); (answer, ms) per pipeline."""
    out: dict[str, list[tuple[Any, float]]] = {name: [] for name in askers}
    names = list(askers)
    for i, item in enumerate(items):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            clear_query_caches()
            if hasattr(askers[name], "forget_answers"):  # time the answering, not the answer cache
                askers[name].forget_answers()
            out[name].append(harness.timed_ask(askers[name], item))
    return out


def stage_breakdown(answers: Sequence[Any]) -> dict[str, float]:
    """Median of each stage the pipeline reports in timings_ms."""
    keys = sorted({k for a in answers for k in (a.timings_ms or {})})
    return {k: statistics.median(a.timings_ms[k] for a in answers if k in (a.timings_ms or {})) for k in keys}


# -- subprocesses ----------------------------------------------------------------

_PRELUDE = """
import json, os, resource, sys, time
_T0 = float(os.environ["BENCH_T0"])
_marks = {"interpreter": time.time() - _T0}
_out = {}
"""
# Peak RSS is this process's VmHWM: ru_maxrss would also count the bench's own RSS at fork time, which Linux
# carries over into the child's maximum through the exec.
_EPILOGUE = """
_out["marks"] = _marks
_out["maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with open("/proc/self/status") as _fh:
    _out["vmhwm_kb"] = next((int(_l.split()[1]) for _l in _fh if _l.startswith("VmHWM:")), None)
print("BENCH " + json.dumps(_out), flush=True)
"""
_ANSWER = """
_out["answer"] = {"refused": answer.refused, "cited": [c.id for c in answer.citations][:4], "chars": len(answer.text)}
"""
COLD_CODE = {
    "wiring-qa": """
from assistant import ReportAssistant
_marks["imported"] = time.time() - _T0
qa = ReportAssistant()
_marks["constructed"] = time.time() - _T0
answer = qa.ask(os.environ["BENCH_QUESTION"])
_marks["answered"] = time.time() - _T0
_out["built_at"] = qa.stamp["built_at"]
""",
    "bm25-only": """
from assistant.retrieval.search import BM25Search
from eval.bm25_only import SEARCH_K, BM25Only
from index.report import load_report
_marks["imported"] = time.time() - _T0
_t = time.perf_counter()
report = load_report()
search = BM25Search(report.records, SEARCH_K)
_out["build_s"] = time.perf_counter() - _t
pipeline = BM25Only(report.records, report.source, search=search)
_marks["constructed"] = time.time() - _T0
answer = pipeline.ask(os.environ["BENCH_QUESTION"])
_marks["answered"] = time.time() - _T0
""",
    BASELINE: """
from eval.baseline import NaiveBaseline
from index.embed import load_embedding
from index.report import load_report
_marks["imported"] = time.time() - _T0
load_embedding()
_marks["model_loaded"] = time.time() - _T0
_t = time.perf_counter()
report = load_report()
pipeline = NaiveBaseline(report.records, report.source)
_out["build_s"] = time.perf_counter() - _t
_marks["constructed"] = time.time() - _T0
answer = pipeline.ask(os.environ["BENCH_QUESTION"])
_marks["answered"] = time.time() - _T0
""",
}
BUILD_CODE = """
from index.embed import load_sentence_model
from index.settings import IndexSettings
from index.store import build_index
load_sentence_model()
settings = IndexSettings.model_validate_json(os.environ["BENCH_INDEX_SETTINGS"])
_marks["loaded"] = time.time() - _T0
_t = time.perf_counter()
info = build_index(settings, force=True)
_out["build_s"] = time.perf_counter() - _t
_out["info"] = {k: v for k, v in info.items() if k != "location"}
_t = time.perf_counter()
build_index(settings, force=True)  # again, in the same folder: every vector now comes from the cache
_out["build_cached_s"] = time.perf_counter() - _t
"""


class ChildFailed(RuntimeError):
    """A measured subprocess did not report."""


def run_child(code: str, env: dict[str, str], timeout: float = 1800) -> dict:
    """Run one measured `python -c`; its report, plus the wall time to exit (s) and peak RSS (MB)."""
    full_env = {**os.environ, **env}
    full_env["BENCH_T0"] = repr(time.time())
    started = float(full_env["BENCH_T0"])
    proc = subprocess.run(
        [sys.executable, "-c", _PRELUDE + code + (_ANSWER if "answer = " in code else "") + _EPILOGUE],
        env=full_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    exited = time.time() - started
    lines = [line for line in proc.stdout.splitlines() if line.startswith("BENCH ")]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise ChildFailed(f"bench subprocess exited {proc.returncode}:\n{tail}")
    report = json.loads(lines[-1][len("BENCH ") :])
    report["exit_s"] = exited
    peak_kb = report.get("vmhwm_kb") or report["maxrss_kb"]  # both in kilobytes on Linux
    report["peak_rss_mb"] = peak_kb / 1024
    return report


def child_env(settings) -> dict[str, str]:
    """What every measured subprocess is told: offline, the bench's index, the cold-start question."""
    return {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "TOKENIZERS_PARALLELISM": "false",
        "WIRING_QA_INDEX__PATH": str(settings.index.path),
        "BENCH_QUESTION": COLD_QUESTION,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }


def cold_start_and_build(settings, runs: int, built_at: str, log: Callable[[str], None]) -> dict[str, dict]:
    """Per pipeline: cold-start runs, their medians and peak RSS; build-time runs and their median."""
    env = child_env(settings)
    cold: dict[str, list[dict]] = {name: [] for name in PIPELINES}
    builds: dict[str, list[float]] = {name: [] for name in PIPELINES}
    build_runs: list[dict] = []
    local = settings.index.model_copy(update={"chroma_host": None, "chroma_port": None})
    for run in range(runs):
        for name in PIPELINES:  # interleaved, so drift in background load touches every pipeline
            report = run_child(COLD_CODE[name], env)
            cold[name].append(report)
            if "build_s" in report:
                builds[name].append(report["build_s"])
            log(f"run {run + 1}/{runs} cold start {name}: {report['marks']['answered']:.2f} s")
        scratch = Path(tempfile.mkdtemp(prefix="wqa-bench-build-"))
        try:
            build_env = {**env, "BENCH_INDEX_SETTINGS": local.model_copy(update={"path": scratch}).model_dump_json()}
            report = run_child(BUILD_CODE, build_env)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        build_runs.append(report)
        builds["wiring-qa"].append(report["build_s"])
        log(
            f"run {run + 1}/{runs} build wiring-qa: {report['build_s']:.1f} s, again with cached vectors: "
            f"{report['build_cached_s']:.1f} s"
        )
    out = {}
    for name in PIPELINES:
        reports = cold[name]
        out[name] = {
            "cold": {
                "median_s": median_or_none([r["marks"]["answered"] for r in reports]),
                "peak_rss_mb": median_or_none([r["peak_rss_mb"] for r in reports]),
                "runs": reports,
                "reused_index": (all(r.get("built_at") == built_at for r in reports) if name == "wiring-qa" else None),
            },
            "build": {"median_s": median_or_none(builds[name]), "runs_s": builds[name]},
        }
    out["wiring-qa"]["build"]["runs"] = build_runs
    out["wiring-qa"]["build"]["cached_median_s"] = median_or_none([r["build_cached_s"] for r in build_runs])
    out["wiring-qa"]["build"]["peak_rss_mb"] = median_or_none([r["peak_rss_mb"] for r in build_runs])
    return out


# -- the run ---------------------------------------------------------------------


def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_start": list(os.getloadavg()),
    }


def run_bench(
    out_dir: Path | str | None = None,
    runs: int = DEFAULT_RUNS,
    quick: bool = False,
    limit: int | None = None,
    questions_path: Path | str | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """Measure the three pipelines, write bench.json, bench.md and bench.png; returns the result."""
    started = time.perf_counter()
    machine = machine_info()
    path = Path(questions_path) if questions_path else harness.QUESTIONS_FILE
    all_items, sha = harness.load_questions(path)
    items = subset(all_items, limit)

    from assistant import ReportAssistant
    from assistant.settings import get_settings
    from eval.baseline import NaiveBaseline
    from eval.bm25_only import BM25Only

    settings = get_settings()
    qa, qa_s = timed(lambda: ReportAssistant(settings=settings))
    report = qa.report
    naive, naive_s = timed(lambda: NaiveBaseline(report.records, report.source))
    bm25, bm25_s = timed(lambda: BM25Only(report.records, report.source))
    askers = {"wiring-qa": qa, BASELINE: naive, "bm25-only": bm25}
    constructed = {"wiring-qa": qa_s, BASELINE: naive_s, "bm25-only": bm25_s}
    stamp = harness.index_stamp(qa)
    log(f"pipelines ready ({', '.join(f'{k} {v:.1f} s' for k, v in constructed.items())}); {len(items)} questions")

    scored: dict[str, list[dict]] = {}
    for name, asker in askers.items():  # the scoring pass, also the warm-up
        scored[name], seconds = timed(lambda asker=asker: harness.evaluate(asker, items, qa.by_id))
        log(f"scored {name} in {seconds:.1f} s")
    passes = timed_pass(askers, items)
    log("timed pass done")

    measured = {} if quick else cold_start_and_build(settings, runs, (stamp or {}).get("built_at", ""), log)
    pipelines, figures = {}, {}
    for name in PIPELINES:
        answers = [a for a, _ in passes[name]]
        warm = latency_stats([ms for _, ms in passes[name]])
        quality = harness.aggregate(scored[name])
        extra = measured.get(name, {})
        figures[name] = figures_of(quality, warm, extra.get("cold"), extra.get("build"))
        pipelines[name] = {
            "label": LABELS[name],
            "quality": quality,
            "warm": {**warm, "stages_median_ms": stage_breakdown(answers)},
            "repeatable_answers": sum(a.text == r["answer"] for a, r in zip(answers, scored[name], strict=True)),
            "constructed_in_process_s": constructed[name],
            "cold_start": extra.get("cold"),
            "build": extra.get("build"),
        }
    machine["loadavg_end"] = list(os.getloadavg())
    meta = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine,
        "nproc": machine["nproc"],
        "python": machine["python"],
        "index": stamp,
        "questions_file": path.name,
        "questions_sha256": sha,
        "questions_total": len(all_items),
        "questions_used": len(items),
        "cold_start_question": COLD_QUESTION,
        "runs": 0 if quick else runs,
        "mode": "quick (no subprocesses)" if quick else "full",
        "wall_seconds": time.perf_counter() - started,
    }
    result = {"meta": meta, "figures": figures, "ratios": ratios(figures), "pipelines": pipelines}
    out = Path(out_dir) if out_dir else DEFAULT_OUT
    paths = write_outputs(result, out)
    log(f"wrote {', '.join(str(p) for p in paths.values())} ({meta['wall_seconds']:.0f} s)")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wiring-qa bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT})")
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="runs per cold-start and build figure")
    parser.add_argument("--limit", type=int, default=None, help="ask only this many questions (spread over types)")
    parser.add_argument("--quick", action="store_true", help="skip the subprocesses: no cold start, build or RSS")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    result = run_bench(args.out, runs=args.runs, quick=args.quick, limit=args.limit, log=_log)
    print(figures_table(result["figures"]))
    print()
    print(ratios_table(result["ratios"]))
    return 0


def _log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
