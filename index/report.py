"""The report file: read, checked against its sha256, parsed once per process."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from index.parse import PARSER_VERSION, ParsedReport, parse_report
from index.settings import REPORT_FILE, REPORT_SHA256


class ReportError(RuntimeError):
    """The report file is missing, unreadable or not the expected text."""


def read_report(path: Path = REPORT_FILE, expected_sha256: str | None = REPORT_SHA256) -> str:
    """The report text; a missing or altered file raises ReportError with one clear line."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ReportError(f"cannot read the report at {path}: {exc.strerror}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 and digest != expected_sha256:
        raise ReportError(
            f"report {path} has sha256 {digest[:12]}…, expected {expected_sha256[:12]}…; "
            "restore it with `git checkout index/data`"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReportError(f"report {path} is not UTF-8 text") from exc


@lru_cache(maxsize=4)
def load_report(path: Path = REPORT_FILE, expected_sha256: str | None = REPORT_SHA256) -> ParsedReport:
    """Read and parse the report (cached per path)."""
    return parse_report(read_report(path, expected_sha256))


def report_sha256(path: Path = REPORT_FILE) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


__all__ = ["PARSER_VERSION", "ReportError", "load_report", "read_report", "report_sha256"]
