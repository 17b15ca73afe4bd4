"""A bounded load test of the app's doors for programs from loopback clients, every answer checked: the
Gradio `/ask` API and the JSON API `POST /api/v1/ask`, one after the other, each on a fresh server.

    python -m eval.load [--door gradio|json|both] [--clients N] [--seconds S] [--max-questions M] [--out DIR]
                        [--url URL]

Without --url it starts the app itself (``python app.py`` in a subprocess on a free 127.0.0.1 port, so the
server's memory is measured from outside), waits until it answers, and stops it at the end (SIGTERM, then
SIGKILL after a timeout). N threads, each with its own client (a gradio_client ``Client``, its own session;
or an httpx client with one kept-alive connection), ask with the eval questions (and their histories) taken round-robin from eval/questions.jsonl, until S
seconds have passed or M questions have been sent in all, whichever comes first. Only loopback addresses are
accepted.

Every answer is checked: the answer is non-empty text, ``refused`` is a bool, and each citation names a record
that exists and quotes it verbatim (``assistant.answering.citations.citation_is_valid`` over ``load_report().by_id()``).
Exceptions, timeouts, invalid citations and malformed answers are counted separately.

Reported: requests, throughput, client-side latency p50/p95/p99, the server's own compute time
(``timings_ms.total``), errors by kind, invalid citations, and the server's VmRSS (from /proc/PID/status)
before the load, every 10 s during it, once the whole question set has been asked (caches warm), and after;
with the growth from before and from warm. Writes load.json and load.md (Gradio), load-json-api.json and
load-json-api.md (JSON API) and, for both, doors.png to --out, and prints the Markdown.
Ctrl-C stops the clients and the server and still writes what was measured.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.answering.citations import citation_is_valid
from assistant.types import Citation
from eval import harness
from eval import metrics as m

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = harness.DEFAULT_OUT / "load"
DEFAULT_CLIENTS = 8
DEFAULT_SECONDS = 60.0
DEFAULT_MAX_QUESTIONS = 1000
DEFAULT_TIMEOUT = 60.0  # seconds one request may take before it counts as a timeout
SAMPLE_EVERY = 10.0  # seconds between RSS samples during the load
READY_TIMEOUT = 600.0  # the app may have to build its index first
STOP_TIMEOUT = 20.0  # SIGTERM, then SIGKILL after this long
ERROR_KINDS = ("exception", "timeout", "invalid_citation", "bad_answer")
LOOPBACK_NAMES = ("localhost",)
# Offline, quiet and unauthenticated: what the self-started server is told.
SERVER_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
    "PYTHONUNBUFFERED": "1",
}
DROPPED_ENV = ("WIRING_QA_APP__AUTH_USER", "WIRING_QA_APP__AUTH_PASSWORD")


# -- the server --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_loopback_url(url: str) -> bool:
    """http(s) to 127.0.0.0/8, ::1 or localhost, nothing else."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    if parts.hostname in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def _urlopen(url: str, timeout: float = 5.0):
    """GET without any proxy from the environment: loopback stays loopback."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return opener.open(url, timeout=timeout)


def answers(url: str) -> bool:
    """The app serves its config (it is up and its Blocks are built)."""
    try:
        with _urlopen(url.rstrip("/") + "/config") as response:
            return response.status == 200
    except OSError:
        return False


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGTERM the server if the load test itself dies without stopping it."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Server:
    """`python app.py` in its own session (a Ctrl-C in the terminal reaches only the load test)."""

    proc: subprocess.Popen
    url: str
    log_path: Path
    log_file: Any = None
    started_s: float = 0.0
    exit_code: int | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, wait, then SIGKILL; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        if self.log_file and not self.log_file.closed:
            self.log_file.close()
        self.exit_code = self.proc.returncode
        return self.exit_code

    def log_tail(self, lines: int = 20) -> list[str]:
        try:
            return self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return []


def start_server(ready_timeout: float = READY_TIMEOUT, log: Callable[[str], None] = print) -> Server:
    """Start the app on a free loopback port and wait until it answers; raises if it dies or never answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    env.update(SERVER_ENV)
    env.update({"WIRING_QA_APP__HOST": "127.0.0.1", "WIRING_QA_APP__PORT": str(port)})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    log_path = Path(tempfile.mkstemp(prefix="wqa-load-server-", suffix=".log")[1])
    log_file = log_path.open("w")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py")],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_die_with_parent,  # before any client thread exists
    )
    server = Server(proc, f"http://127.0.0.1:{port}/", log_path, log_file)
    log(f"load: started the app (pid {proc.pid}) on 127.0.0.1:{port}; log {log_path}")
    try:
        deadline = time.monotonic() + ready_timeout
        while not answers(server.url):
            if proc.poll() is not None:
                tail = " | ".join(server.log_tail(5))
                raise RuntimeError(f"the app exited with code {proc.returncode} before answering: {tail}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the app did not answer within {ready_timeout:.0f} s")
            time.sleep(0.5)
    except BaseException:
        server.stop()
        raise
    server.started_s = time.perf_counter() - started
    log(f"load: the app answers after {server.started_s:.1f} s")
    return server


# -- memory ------------------------------------------------------------------------


def proc_status_kb(pid: int, key: str) -> int | None:
    """A `kB` field of /proc/PID/status (VmRSS, VmHWM); None when the process or the field is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


class RssSampler:
    """VmRSS samples of one process, labelled and stamped with seconds since the load began."""

    def __init__(self, pid: int | None):
        self.pid = pid
        self.samples: list[dict] = []
        self.t0: float | None = None
        self._lock = threading.Lock()

    def sample(self, label: str, done: int = 0) -> dict | None:
        if self.pid is None:
            return None
        kb = proc_status_kb(self.pid, "VmRSS")
        if kb is None:
            return None
        t = 0.0 if self.t0 is None else time.perf_counter() - self.t0
        row = {"label": label, "t_s": round(t, 2), "done": done, "rss_mb": round(kb / 1024, 1)}
        with self._lock:
            self.samples.append(row)
        return row

    def peak_mb(self) -> float | None:
        kb = proc_status_kb(self.pid, "VmHWM") if self.pid is not None else None
        return None if kb is None else round(kb / 1024, 1)

    def summary(self, peak_mb: float | None) -> dict:
        by_label = {s["label"]: s for s in self.samples}  # the last sample of each label
        before, warm, after = by_label.get("before"), by_label.get("warm"), by_label.get("after")

        def growth(a: dict | None, b: dict | None) -> float | None:
            return None if a is None or b is None else round(b["rss_mb"] - a["rss_mb"], 1)

        return {
            "pid": self.pid,
            "samples": list(self.samples),
            "before_mb": before and before["rss_mb"],
            "warm_mb": warm and warm["rss_mb"],
            "after_mb": after and after["rss_mb"],
            "max_sampled_mb": max((s["rss_mb"] for s in self.samples), default=None),
            "peak_hwm_mb": peak_mb,
            "growth_mb": growth(before, after),
            "growth_after_warm_mb": growth(warm, after),
        }


# -- checking answers ----------------------------------------------------------------


def check_answer(result: Any, by_id: dict) -> tuple[list[str], int, int]:
    """Problems with one `/ask` result, how many citations it had and how many of them were invalid."""
    if not isinstance(result, dict):
        return [f"not a dict but {type(result).__name__}"], 0, 0
    problems = []
    text = result.get("answer")
    if not isinstance(text, str) or not text.strip():
        problems.append("empty answer")
    if not isinstance(result.get("refused"), bool):
        problems.append(f"refused is {type(result.get('refused')).__name__}, not bool")
    citations = result.get("citations")
    if not isinstance(citations, list):
        return [*problems, "citations is not a list"], 0, 0
    invalid = 0
    for raw in citations:
        try:
            citation = Citation(id=str(raw["id"]), quote=str(raw["quote"]), start=raw["start"], end=raw["end"])
        except (KeyError, TypeError):
            problems.append(f"malformed citation {raw!r:.80}")
            continue
        if not citation_is_valid(citation, by_id):
            invalid += 1
    return problems, len(citations), invalid


# -- the load ----------------------------------------------------------------------


@dataclass
class Tally:
    """What the clients saw; every update under one lock."""

    sent: int = 0
    responses: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)  # requests per error kind
    exception_types: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    citations: int = 0
    invalid_citations: int = 0
    refused: int = 0
    uncited: int = 0  # answered (not refused) without a single citation
    cached: int = 0  # served from the app's answer cache (a question asked again with the same history)
    cancelled: int = 0  # in flight when the run was interrupted
    failed_requests: int = 0  # requests with at least one error
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, kind: str, message: str) -> None:
        self.errors[kind] += 1
        seen = self.examples.setdefault(kind, [])
        if len(seen) < 5:
            seen.append(message[:300])


class Load:
    """N client threads sharing a question counter, a deadline and a stop flag."""

    def __init__(
        self,
        url: str,
        items: Sequence[dict],
        by_id: dict,
        clients: int,
        seconds: float,
        max_questions: int,
        request_timeout: float,
        sampler: RssSampler,
    ):
        self.url = url
        self.items = list(items)
        self.by_id = by_id
        self.clients = clients
        self.seconds = seconds
        self.max_questions = max_questions
        self.request_timeout = request_timeout
        self.sampler = sampler
        self.tally = Tally()
        self.stop = threading.Event()
        self.deadline = float("inf")
        self.stop_reason = ""
        self._next = 0
        self._lock = threading.Lock()

    def take(self) -> dict | None:
        """The next question round-robin, or None once the time or the question budget is spent."""
        with self._lock:
            if self.stop.is_set():
                return None
            if time.monotonic() >= self.deadline:
                self.stop_reason = self.stop_reason or "time limit"
                return None
            if self._next >= self.max_questions:
                self.stop_reason = self.stop_reason or "max questions"
                return None
            item = self.items[self._next % len(self.items)]
            self._next += 1
        return item

    def worker(self, client) -> None:
        while (item := self.take()) is not None:
            self.one(client, item)

    def one(self, client, item: dict) -> None:
        with self.tally.lock:
            self.tally.sent += 1
        started = time.perf_counter()
        try:
            result = self._call(client, item, started)
        except Exception as exc:  # noqa: BLE001 - every failure is counted, none stops the run
            with self.tally.lock:
                self.tally.exception_types[type(exc).__name__] += 1
            line = (str(exc).strip().splitlines() or [""])[0]
            self._failed({"exception": f"{item['id']}: {type(exc).__name__}: {line}"})
            return
        if result is None:  # cancelled or timed out, already counted
            return
        latency = (time.perf_counter() - started) * 1000
        problems, n_citations, invalid = check_answer(result, self.by_id)
        failures = {}
        if invalid:
            failures["invalid_citation"] = f"{item['id']}: {invalid} of {n_citations} citations invalid"
        if problems:
            failures["bad_answer"] = f"{item['id']}: {'; '.join(problems)}"
        with self.tally.lock:
            t = self.tally
            t.responses += 1
            t.latencies_ms.append(latency)
            timings = (result.get("timings_ms") or {}) if isinstance(result, dict) else {}
            if isinstance(timings.get("total"), int | float):
                t.server_ms.append(float(timings["total"]))
            t.cached += bool(timings.get("cached"))
            t.citations += n_citations
            t.invalid_citations += invalid
            if isinstance(result, dict) and result.get("refused") is True:
                t.refused += 1
            elif n_citations == 0:
                t.uncited += 1
            done = t.responses
        if failures:
            self._failed(failures)
        if done == len(self.items):  # every question asked once: the caches are as warm as they get
            self.sampler.sample("warm", done)

    def _call(self, client, item: dict, started: float) -> dict | None:
        """One question through the client's door; None when it was cancelled or timed out."""
        if isinstance(client, JsonApiClient):
            try:
                return client.ask(item["question"], item.get("history") or [], self.request_timeout)
            except TimeoutError:
                self._failed({"timeout": f"{item['id']}: no answer within {self.request_timeout:.0f} s"})
                return None
        job = client.submit(item["question"], json.dumps(item.get("history") or []), 0, "", api_name="/ask")
        limit = started + self.request_timeout
        while not job.future.done():
            if self.stop.is_set():
                job.cancel()
                with self.tally.lock:
                    self.tally.cancelled += 1
                return None
            if time.perf_counter() > limit:
                job.cancel()
                self._failed({"timeout": f"{item['id']}: no answer within {self.request_timeout:.0f} s"})
                return None
            concurrent.futures.wait([job.future], timeout=0.2)
        return job.result(timeout=0)

    def _failed(self, failures: dict[str, str]) -> None:
        with self.tally.lock:
            self.tally.failed_requests += 1
            for kind, message in failures.items():
                self.tally.error(kind, message)

    def run(self, make_client: Callable[[str], Any], log: Callable[[str], None] = print) -> dict:
        """Connect the clients, then load until the deadline, the budget or a stop; returns the timings."""
        made: list[Any] = []
        try:
            with concurrent.futures.ThreadPoolExecutor(max_workers=self.clients) as pool:
                made = list(pool.map(lambda _i: make_client(self.url), range(self.clients)))
            self.sampler.sample("before", 0)
            threads = [
                threading.Thread(target=self.worker, args=(c,), name=f"load-client-{i}", daemon=True)
                for i, c in enumerate(made)
            ]
            started = time.perf_counter()
            self.sampler.t0 = started
            self.deadline = time.monotonic() + self.seconds
            for thread in threads:
                thread.start()
            log(f"load: {self.clients} clients for up to {self.seconds:g} s or {self.max_questions} questions")
            next_sample = started + SAMPLE_EVERY
            try:
                while alive := [t for t in threads if t.is_alive()]:
                    alive[0].join(timeout=0.25)
                    if time.perf_counter() >= next_sample:
                        row = self.sampler.sample("during", self.tally.responses)
                        if row:
                            log(f"load: {row['t_s']:.0f} s, {row['done']} answers, server RSS {row['rss_mb']} MB")
                        next_sample += SAMPLE_EVERY
            except KeyboardInterrupt:
                self.stop_reason = "interrupted"
                self.stop.set()
                log("load: interrupted; stopping the clients")
                for t in threads:
                    t.join(timeout=self.request_timeout + 5)
            elapsed = time.perf_counter() - started
            self.sampler.sample("after", self.tally.responses)
            return {"elapsed_s": elapsed}
        finally:
            self.stop.set()
            for c in made:
                with contextlib.suppress(Exception):
                    c.close()


class JsonApiClient:
    """`POST /api/v1/ask` over one kept-alive HTTP connection; the answer comes back in the shape the
    checks read (its `text` as `answer`)."""

    def __init__(self, url: str):
        import httpx

        self._timeout_error = httpx.TimeoutException
        self.http = httpx.Client(base_url=url.rstrip("/"), trust_env=False)  # no proxy: loopback stays loopback

    def ask(self, question: str, history: list, timeout: float) -> dict:
        body = {"question": question, "history": history or None}
        try:
            response = self.http.post("/api/v1/ask", json=body, timeout=timeout)
        except self._timeout_error as exc:
            raise TimeoutError(str(exc)) from None
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
        result = response.json()
        return {**result, "answer": result.get("text")}

    def close(self) -> None:
        self.http.close()


DOORS: dict[str, Callable[[str], Any]] = {}  # filled below: door name -> client factory


def make_gradio_client(url: str):
    from gradio_client import Client

    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # gradio_client reads it even with analytics_enabled=False
    return Client(url, verbose=False, analytics_enabled=False, download_files=False)


DOORS.update({"gradio": make_gradio_client, "json": JsonApiClient})
DOOR_TITLES = {"gradio": "the Gradio `/ask` API", "json": "the JSON API `POST /api/v1/ask`"}
DOOR_FILES = {"gradio": "load", "json": "load-json-api"}  # report file stems per door


# -- reports -----------------------------------------------------------------------


def latency_figures(values: Sequence[float]) -> dict[str, float | None]:
    def r(x):
        return None if x is None else round(x, 1)

    return {
        "p50_ms": r(m.percentile(values, 50)),
        "p95_ms": r(m.percentile(values, 95)),
        "p99_ms": r(m.percentile(values, 99)),
        "max_ms": r(max(values)) if values else None,
        "mean_ms": r(sum(values) / len(values)) if values else None,
        "n": len(values),
    }


def summarize(load: Load, elapsed_s: float) -> dict:
    t = load.tally
    errors = {kind: t.errors.get(kind, 0) for kind in ERROR_KINDS}
    return {
        "requests_sent": t.sent,
        "responses": t.responses,
        "cancelled": t.cancelled,
        "elapsed_s": round(elapsed_s, 2),
        "throughput_rps": round(t.responses / elapsed_s, 2) if elapsed_s > 0 else None,
        "latency_ms": latency_figures(t.latencies_ms),
        "server_compute_ms": latency_figures(t.server_ms),
        "errors": sum(errors.values()),
        "failed_requests": t.failed_requests,
        "errors_by_kind": errors,
        "exception_types": dict(t.exception_types),
        "error_examples": t.examples,
        "citations_checked": t.citations,
        "invalid_citations": t.invalid_citations,
        "refused": t.refused,
        "answered_without_citation": t.uncited,
        "served_from_answer_cache": t.cached,
        "stop_reason": load.stop_reason or "finished",
    }


def machine_info() -> dict:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": sys.version.split()[0], "loadavg": list(os.getloadavg())}


def fmt(value: float | int | None, pattern: str = "{:,.1f}") -> str:
    return "—" if value is None else pattern.format(value)


def _signed(value: float | None) -> str:
    return "—" if value is None else f"{value:+,.1f} MB"


def render_markdown(result: dict) -> str:
    meta, s, rss = result["meta"], result["summary"], result["rss"]
    lat, comp = s["latency_ms"], s["server_compute_ms"]
    door = meta.get("door", "gradio")
    sessions = "gradio_client sessions" if door == "gradio" else "HTTP clients (httpx, a kept-alive connection each)"
    if meta["server"]["started_here"]:
        server = f"`python app.py` started by the test (pid {meta['server']['pid']}) on {meta['url']}"
    else:
        server = f"the app at {meta['url']}" + (f" (pid {rss['pid']})" if rss["pid"] else "")
    lines = [
        f"# Load test: {DOOR_TITLES[door]}",
        "",
        f"{meta['clients']} concurrent {sessions} against {server}, for up to {meta['seconds']:g} s or "
        f"{meta['max_questions']:,} questions (drawn round-robin from the {meta['questions_in_set']} questions of "
        f"eval/questions.jsonl, with their histories). Stopped by: **{s['stop_reason']}**. "
        f"Machine: {meta['machine']['nproc']} CPUs ({meta['machine']['cpu'] or 'unknown'}), load average "
        f"{meta['machine']['loadavg'][0]:.2f} at the start and {meta['machine']['loadavg_end'][0]:.2f} at the end "
        f"(other jobs share the machine); server concurrency setting "
        f"{meta['server']['concurrency']}. Run {meta['started_at']}.",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| requests answered | {s['responses']:,} (sent {s['requests_sent']:,}, cancelled {s['cancelled']}) |",
        f"| wall time | {s['elapsed_s']:.1f} s |",
        f"| throughput | {fmt(s['throughput_rps'], '{:.2f}')} req/s |",
        f"| latency p50 / p95 / p99 (client) | {fmt(lat['p50_ms'])} / {fmt(lat['p95_ms'])} / "
        f"{fmt(lat['p99_ms'])} ms (max {fmt(lat['max_ms'])}) |",
        f"| server compute p50 / p95 / p99 (`timings_ms.total`) | {fmt(comp['p50_ms'])} / {fmt(comp['p95_ms'])} / "
        f"{fmt(comp['p99_ms'])} ms |",
        f"| errors | {s['errors']} ({s['failed_requests']} requests) |",
        f"| invalid citations | {s['invalid_citations']} of {s['citations_checked']:,} checked |",
        f"| refused answers | {s['refused']} |",
        f"| answers without a citation (not refused) | {s['answered_without_citation']} |",
        f"| served from the answer cache (asked before, same history) | {s.get('served_from_answer_cache', 0):,} |",
        "",
        _first_pass_line(rss),
        "",
        "## Errors by kind",
        "",
        "| kind | count | first example |",
        "| --- | --- | --- |",
    ]
    for kind, count in s["errors_by_kind"].items():
        example = (s["error_examples"].get(kind) or [""])[0].replace("|", "\\|")
        lines.append(f"| {kind} | {count} | {example} |")
    if s["exception_types"]:
        types = ", ".join(f"{k} {v}" for k, v in sorted(s["exception_types"].items()))
        lines += ["", f"Exceptions by type: {types}."]
    lines += ["", "## Server memory (VmRSS)", ""]
    if not rss["samples"]:
        lines.append("Not measured (no server pid: pass --pid with --url to sample it).")
    else:
        lines += ["| when | t s | answers so far | RSS MB |", "| --- | --- | --- | --- |"]
        for row in rss["samples"]:
            lines.append(f"| {row['label']} | {row['t_s']:.1f} | {row['done']:,} | {row['rss_mb']:,.1f} |")
        lines += [
            "",
            f"Growth before → after: **{_signed(rss['growth_mb'])}**; after the whole question set had been asked "
            f"once (warm → after): **{_signed(rss['growth_after_warm_mb'])}**. Peak (VmHWM): "
            f"{fmt(rss['peak_hwm_mb'])} MB.",
        ]
    log_info = result.get("server_log") or {}
    if log_info.get("tracebacks"):
        lines += ["", f"The server logged {log_info['tracebacks']} tracebacks; see {log_info.get('path')}."]
    lines += [
        "",
        "Latency is client-side: from sending the question to the result in hand (for the Gradio door, "
        "`Client.submit` and the app's Gradio queue included). Server compute is the answer's own `timings_ms.total`. A self-started server is fresh, so the first "
        "answers include whatever the app loads on first use; questions repeat once the set is used up, and a "
        "repeat (same question, same history) is served from the app's answer cache, as the row above counts; the "
        "'warm' memory sample marks the end of the first pass, where every answer was composed afresh. Every citation is checked with "
        "`assistant.answering.citations.citation_is_valid` against the parsed report.",
    ]
    return "\n".join(lines) + "\n"


def _first_pass_line(rss: dict) -> str:
    """Throughput until every question had been asked once: answers composed afresh, none from the cache."""
    warm = next((row for row in rss.get("samples", []) if row["label"] == "warm"), None)
    if not warm or not warm["t_s"]:
        return "First pass through the question set: not completed in this run."
    rate = warm["done"] / warm["t_s"]
    return (
        f"First pass through the question set (every answer composed afresh): {warm['done']:,} answers in "
        f"{warm['t_s']:.1f} s, **{rate:.1f} answers/s**."
    )


def write_outputs(result: dict, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = DOOR_FILES[result["meta"].get("door", "gradio")]
    paths = {"json": out_dir / f"{stem}.json", "md": out_dir / f"{stem}.md"}
    paths["json"].write_text(json.dumps(result, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    paths["md"].write_text(render_markdown(result))
    return paths


def server_log_info(server: Server | None) -> dict | None:
    """How many tracebacks the self-started server logged; its log is kept only when there were some."""
    if server is None:
        return None
    try:
        text = server.log_path.read_text(errors="replace")
    except OSError:
        return {"tracebacks": None}
    tracebacks = text.count("Traceback (most recent call last)")
    info: dict[str, Any] = {"tracebacks": tracebacks, "exit_code": server.exit_code}
    if tracebacks:
        info["path"] = str(server.log_path)
        info["tail"] = text.splitlines()[-20:]
    else:
        server.log_path.unlink(missing_ok=True)
    return info


def server_concurrency() -> int | None:
    """The app's concurrency setting, as the self-started server reads it from the same environment."""
    from assistant.settings import Settings

    with contextlib.suppress(Exception):
        return Settings().app.concurrency
    return None


# -- the run -----------------------------------------------------------------------


def run_load(
    url: str | None = None,
    clients: int = DEFAULT_CLIENTS,
    seconds: float = DEFAULT_SECONDS,
    max_questions: int = DEFAULT_MAX_QUESTIONS,
    out_dir: Path | str | None = None,
    pid: int | None = None,
    request_timeout: float = DEFAULT_TIMEOUT,
    questions_path: Path | str | None = None,
    make_client: Callable[[str], Any] | None = None,
    log: Callable[[str], None] = print,
    door: str = "gradio",
) -> dict:
    """Run one load test through one door ("gradio" or "json") and write its reports; the result dict
    (as in load.json or load-json-api.json) is returned."""
    if door not in DOORS:
        raise ValueError(f"unknown door {door!r}; choose one of {', '.join(DOORS)}")
    make_client = make_client or DOORS[door]
    if clients < 1 or seconds <= 0 or max_questions < 1:
        raise ValueError("clients, seconds and max questions must be positive")
    if url is not None and not is_loopback_url(url):
        raise ValueError(f"only loopback URLs are allowed, not {url!r}")
    from index.report import load_report

    items, sha = harness.load_questions(Path(questions_path) if questions_path else harness.QUESTIONS_FILE)
    by_id = load_report().by_id()
    out = Path(out_dir) if out_dir else DEFAULT_OUT
    started_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    machine = machine_info()
    server: Server | None = None
    load: Load | None = None
    elapsed = 0.0
    error: str | None = None
    try:
        if url is None:
            server = start_server(log=log)
            url, pid = server.url, server.pid
        sampler = RssSampler(pid)
        load = Load(url, items, by_id, clients, seconds, max_questions, request_timeout, sampler)
        elapsed = load.run(make_client, log)["elapsed_s"]
    except KeyboardInterrupt:
        error = "interrupted"
        log("load: interrupted")
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        if load is None:
            load = Load(url or "", items, by_id, clients, seconds, max_questions, request_timeout, RssSampler(pid))
        if error == "interrupted":
            load.stop_reason = "interrupted"
        peak = load.sampler.peak_mb()
        machine["loadavg_end"] = list(os.getloadavg())
        if server is not None:
            code = server.stop()
            log(f"load: stopped the app (exit code {code})")
        result = {
            "meta": {
                "door": door,
                "url": url,
                "clients": clients,
                "seconds": seconds,
                "max_questions": max_questions,
                "request_timeout_s": request_timeout,
                "questions_in_set": len(items),
                "questions_sha256": sha,
                "started_at": started_at,
                "machine": machine,
                "server": {
                    "started_here": server is not None,
                    "pid": pid,
                    "startup_s": round(server.started_s, 1) if server else None,
                    "concurrency": server_concurrency(),
                },
                "error": error,
            },
            "summary": summarize(load, elapsed),
            "rss": load.sampler.summary(peak),
            "server_log": server_log_info(server),
        }
        paths = write_outputs(result, out)
        log(f"load: wrote {paths['json']} and {paths['md']}")
    return result


def _raise_interrupt(_signum, _frame):
    raise KeyboardInterrupt


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m eval.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=DEFAULT_CLIENTS, help="concurrent client sessions")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="longest the load runs")
    parser.add_argument("--max-questions", type=int, default=DEFAULT_MAX_QUESTIONS, help="questions sent in all")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where load.json and load.md go")
    parser.add_argument("--url", help="a running app on a loopback address (default: start one)")
    parser.add_argument("--pid", type=int, help="with --url: the server's pid, to sample its memory")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds before a request times out")
    parser.add_argument("--door", choices=[*DOORS, "both"], default="both", help="which API to load (default both)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupt)  # stop the server on `kill` as on Ctrl-C
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    doors = list(DOORS) if args.door == "both" else [args.door]
    results = []
    try:
        for door in doors:  # without --url, each door gets a fresh app: its first pass composes every answer
            results.append(
                run_load(
                    url=args.url,
                    clients=args.clients,
                    seconds=args.seconds,
                    max_questions=args.max_questions,
                    out_dir=args.out,
                    pid=args.pid,
                    request_timeout=args.timeout,
                    log=log,
                    door=door,
                )
            )
    except (ValueError, RuntimeError, TimeoutError) as exc:
        print(f"load: {exc}", file=sys.stderr)
        return 2
    for result in results:
        print(render_markdown(result), end="")
    if len(results) > 1:
        log(f"load: wrote {plot_doors(results, args.out)}")
    summaries = [r["summary"] for r in results]
    if any(s["stop_reason"] == "interrupted" for s in summaries):
        return 130
    return 0 if all(s["errors"] == 0 and s["invalid_citations"] == 0 for s in summaries) else 1


def plot_doors(results: Sequence[dict], out_dir: Path) -> Path:
    """doors.png: throughput and client latency (p50, p95) side by side for each door."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [DOOR_TITLES[r["meta"]["door"]].replace("`", "") for r in results]
    summaries = [r["summary"] for r in results]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.bar(names, [s["throughput_rps"] or 0 for s in summaries], color=["#94a3b8", "#f97316"][: len(names)])
    left.set_ylabel("answers per second")
    left.set_title(f"Throughput, {results[0]['meta']['clients']} loopback clients")
    width = 0.38
    xs = range(len(names))
    for shift, key in ((-width / 2, "p50_ms"), (width / 2, "p95_ms")):
        right.bar([x + shift for x in xs], [s["latency_ms"][key] or 0 for s in summaries], width, label=key[:3])
    right.set_xticks(list(xs), names)
    right.set_ylabel("client latency, ms")
    right.set_title("Latency per answer")
    right.legend()
    for ax in (left, right):
        ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    path = Path(out_dir) / "doors.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    sys.exit(main())
