"""The README's examples run, so they never rot."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
WIRING_QA = str(Path(sys.executable).with_name("wiring-qa"))


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), re.S)


def test_quick_start_has_exactly_two_commands():
    quick = README.read_text().split("## Quick start", 1)[1].split("##", 1)[0]
    commands = [
        line for block in re.findall(r"```bash\n(.*?)```", quick, re.S) for line in block.splitlines() if line.strip()
    ]
    assert [c.split("#")[0].strip() for c in commands] == ["make run", "make test"]
    ci = (README.parent / ".ci" / "run").read_text()
    assert "make test" in ci


@pytest.mark.parametrize("block", _blocks("python"))
def test_python_examples_run(block, built_index):
    exec(compile(block, "README.md", "exec"), {})


def test_cli_examples_run(built_index):
    lines = [line for block in _blocks("bash") for line in block.splitlines() if line.startswith("wiring-qa ")]
    assert lines
    for line in lines:
        args = shlex.split(line.split(" #")[0])[1:]
        out = subprocess.run([WIRING_QA, *args], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, (line, out.stderr)
        assert out.stdout.strip()
