"""The report turned into records and stored, stamped, in Chroma through LlamaIndex."""

from index.parse import PARSER_VERSION, ParsedReport, ParseError, glossary, parse_report
from index.records import Record
from index.report import ReportError, load_report, read_report
from index.settings import IndexSettings

__all__ = [
    "PARSER_VERSION",
    "IndexSettings",
    "ParseError",
    "ParsedReport",
    "Record",
    "ReportError",
    "glossary",
    "load_report",
    "parse_report",
    "read_report",
]
