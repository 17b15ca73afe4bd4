"""The benchmark's smoke test: its helpers, and a quick run on a few questions (nothing timed or asserted on speed)."""

from __future__ import annotations

import json

import pytest

from eval import bench

FIGURES = {
    "wiring-qa": {"recall_at_5": 0.9, "warm_p50_ms": 50.0, "cold_start_s": None, "peak_rss_mb": 800.0},
    "naive": {"recall_at_5": 0.3, "warm_p50_ms": 100.0, "cold_start_s": 12.0, "peak_rss_mb": 0.0},
    "bm25-only": {"recall_at_5": 0.6, "warm_p50_ms": 1.0, "cold_start_s": 3.0, "peak_rss_mb": 200.0},
}


def test_ratios_divide_by_the_naive_baseline():
    got = bench.ratios(FIGURES)
    assert got["wiring-qa"]["recall_at_5"] == pytest.approx(3.0)
    assert got["wiring-qa"]["warm_p50_ms"] == pytest.approx(0.5)
    assert got["bm25-only"]["recall_at_5"] == pytest.approx(2.0)
    assert got["bm25-only"]["warm_p50_ms"] == pytest.approx(0.01)
    assert got["bm25-only"]["cold_start_s"] == pytest.approx(0.25)
    assert all(v == pytest.approx(1.0) for k, v in got["naive"].items() if k != "peak_rss_mb")
    assert got["wiring-qa"]["cold_start_s"] is None  # a missing figure has no ratio
    assert got["bm25-only"]["peak_rss_mb"] is None  # nor does a figure over a zero baseline


def test_tables_and_latency_helpers():
    stats = bench.latency_stats([1.0, 2.0, 3.0, 4.0, 100.0])
    assert stats["p50_ms"] == 3.0 and stats["n"] == 5 and 4.0 < stats["p95_ms"] <= 100.0
    assert bench.latency_stats([])["p50_ms"] is None
    assert bench.median_or_none([None, 3.0, 1.0, 2.0]) == 2.0
    figures = {name: {k: values.get(k) for k in bench.FIGURE_KEYS} for name, values in FIGURES.items()}
    table = bench.ratios_table(bench.ratios(figures)).splitlines()
    assert table[0].startswith("| pipeline | recall@5 | fact recall | citation precision | warm p50 ms")
    assert table[2].startswith("| wiring-qa | 3.00× |") and table[4].startswith("| bm25-only | 2.00× |")
    items = [{"type": t, "id": i} for i, t in enumerate("aaabbc")]
    assert [x["id"] for x in bench.subset(items, 4)] == [0, 3, 5, 1]


def test_quick_bench_writes_json_markdown_and_chart(built_index, tmp_path):
    assert bench.main(["--quick", "--limit", "5", "--runs", "1", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "bench.json").read_text())
    assert {"meta", "figures", "ratios", "pipelines"} <= data.keys()
    meta = data["meta"]
    assert meta["nproc"] >= 1 and meta["python"] and len(meta["questions_sha256"]) == 64
    assert meta["index"]["key"] and meta["questions_used"] == 5
    assert set(data["figures"]) == set(bench.PIPELINES)
    for name in bench.PIPELINES:
        figures = data["figures"][name]
        assert set(figures) == set(bench.FIGURE_KEYS)
        assert 0.0 <= figures["recall_at_5"] <= 1.0 and figures["warm_p50_ms"] > 0
        assert figures["cold_start_s"] is None and figures["build_s"] is None  # --quick skips subprocesses
        assert data["ratios"]["naive"]["warm_p50_ms"] == pytest.approx(1.0)
        assert data["pipelines"][name]["warm"]["n"] == 5
    assert data["ratios"] == bench.ratios(data["figures"])
    markdown = (tmp_path / "bench.md").read_text()
    header = "| pipeline | recall@5 | fact recall | citation precision | warm p50 ms | warm p95 ms | cold start s |"
    assert markdown.count(header) == 2
    rows = [line.split(" |")[0] for line in markdown.splitlines() if line.startswith("| ") and "×" in line]
    assert rows == ["| wiring-qa", "| naive", "| bm25-only"]  # ratio rows, in the bench's order
    png = (tmp_path / "bench.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
