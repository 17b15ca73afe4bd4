"""Shared fixtures: no network but loopback, one real index built for the whole session."""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

os.environ["ANONYMIZED_TELEMETRY"] = "False"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
# Every test works on its own index, never the user's.
SESSION_INDEX = Path(tempfile.mkdtemp(prefix="wqa-test-index-"))
os.environ["WIRING_QA_INDEX__PATH"] = str(SESSION_INDEX)
# One vector cache for every index the tests build, in this process and in the ones they start: the tests are
# about building, sharing, locking and recovering, not about embedding the report again. The session's first
# build (and tests/test_vectors.py) embed from scratch.
os.environ["WIRING_QA_INDEX__VECTORS_PATH"] = tempfile.mkdtemp(prefix="wqa-test-vectors-")


class NetworkBlocked(RuntimeError):
    """A test tried to reach beyond this machine."""


def _allowed(address) -> bool:
    if isinstance(address, str | bytes):
        return True  # AF_UNIX paths
    if not isinstance(address, tuple):
        return False
    host = address[0]
    try:
        return host in ("localhost", "") or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _guarded_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _allowed(address):
        raise NetworkBlocked(f"network access outside loopback blocked in tests: {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _allowed(address):
        raise NetworkBlocked(f"network access outside loopback blocked in tests: {address!r}")
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if host not in (None, "localhost", "") and not _is_ip(host):
        raise NetworkBlocked(f"name lookup blocked in tests: {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


def _is_ip(host) -> bool:
    try:
        ipaddress.ip_address(host.decode() if isinstance(host, bytes) else host)
        return True
    except ValueError:
        return False


# Installed for the whole run, before any project import, so no hidden download slips in.
socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex
socket.getaddrinfo = _guarded_getaddrinfo


@pytest.fixture(scope="session")
def index_dir() -> Path:
    """The directory holding the session's real index."""
    return SESSION_INDEX


@pytest.fixture(scope="session")
def settings(index_dir):
    from assistant.settings import get_settings

    return get_settings()


@pytest.fixture(scope="session")
def built_index(settings):
    """The real index (MiniLM + embedded Chroma), built once for the session."""
    from index.store import build_index, open_index

    build_index(settings.index)
    return open_index(settings.index, build_if_missing=False)


@pytest.fixture(scope="session")
def qa(built_index, settings):
    """The default ReportAssistant over the session's index."""
    from assistant import ReportAssistant

    return ReportAssistant(settings=settings)


@pytest.fixture(scope="session")
def report():
    from index.report import load_report

    return load_report()


def history_after(qa, question: str) -> list[dict]:
    """The two-turn conversation that a follow-up question leans on."""
    first = qa.ask(question)
    return [{"role": "user", "content": question}, {"role": "assistant", "content": first.text}]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, timeout: float = 60.0, interval: float = 0.25):
    """Poll check() until it returns truthy or the timeout passes."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # noqa: BLE001 - keep polling until the deadline
            last = exc
        time.sleep(interval)
    raise TimeoutError(f"gave up after {timeout}s: {last!r}")


@pytest.fixture
def chroma_server(tmp_path):
    """A real `chroma run` on 127.0.0.1, stopped after the test."""
    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    log = open(tmp_path / "chroma.log", "w")  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(tmp_path / "chroma-data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    import chromadb

    def ready():
        client = chromadb.HttpClient(
            host="127.0.0.1", port=port, settings=chromadb.Settings(anonymized_telemetry=False)
        )
        return client.heartbeat()

    server = {"host": "127.0.0.1", "port": port, "proc": proc, "data": tmp_path / "chroma-data"}
    try:
        wait_for(ready, timeout=60)
        yield server
    finally:
        proc = server["proc"]  # a test may have restarted it: stop the one running now
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
