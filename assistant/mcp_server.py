"""`wiring-qa mcp`: the assistant as an MCP server over stdio, for programs that speak the Model Context Protocol.

Register it with an MCP client as a stdio server whose command is `wiring-qa mcp`. Give the full path into the
project's virtualenv unless `wiring-qa` is on the client's PATH; for example, in a client's JSON configuration
(Claude Desktop, Cursor and others):

    {"mcpServers": {"wiring-qa": {"command": "/path/to/wiring-qa/.venv/bin/wiring-qa", "args": ["mcp"]}}}

The server reads the same WIRING_QA_* environment variables as the CLI (put them under "env" there to use
another index). It opens the index in the background as it starts, building it if missing, and every tool call
shares that one assistant.

Tools: `ask` (a cited answer), `search` (ranked records), `get_record` (a paragraph, conclusion, footnote or table
row with its links) and `list_conclusions` (the 42 conclusions with their deadlines). Each returns text that
carries the citations, for a model to read, and the same facts as structured content (`Answer.to_dict()` for
`ask`). Unusable input is a tool error of one line, and the server keeps serving. Standard output carries only
the protocol: logs and the index build's progress go to standard error.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict
from importlib.metadata import version
from typing import TYPE_CHECKING, Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field, ValidationError
from typing_extensions import TypedDict  # pydantic reads typing's TypedDict only from Python 3.12

from assistant.catalog import conclusion_list, record_view
from assistant.settings import RetrievalSettings
from assistant.types import Answer, BadInput, Source, one_line

if TYPE_CHECKING:
    from assistant.core import ReportAssistant

EXIT_OK = 0
SNIPPET_CHARS = 240  # enough of a record's text to tell it apart in a list; get_record gives all of it
INSTRUCTIONS = (
    "Answers questions about the Cabinet Office and HM Treasury's 2001 progress report 'Wiring It Up', "
    "with the report's own sentences. Each sentence ends with the record it comes from, "
    "such as [3.24.1] or [Conclusion 24]: keep those markers when you pass an answer on, and read a record "
    "in full with get_record."
)
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)

log = logging.getLogger("wiring_qa.mcp")


class Turn(TypedDict):
    """One earlier turn of the conversation."""

    role: Literal["user", "assistant"]
    content: Annotated[str, Field(description="What was asked, or the answer given with its [id] markers.")]


Question = Annotated[str, Field(description="A question about the report, in plain words.")]
History = Annotated[
    list[Turn] | None,
    Field(description="Earlier turns, oldest first, so that a follow-up such as 'and when?' is understood."),
]
TopK = Annotated[
    # The settings' own bounds for top_k, so the schema tells a client what the assistant accepts.
    Annotated[int, *RetrievalSettings.model_fields["top_k"].metadata] | None,
    Field(description="How many ranked records to retrieve; the settings' default when left out."),
]
Query = Annotated[str, Field(description="A question, or the words to look for, about the report.")]
RecordId = Annotated[str, Field(description="A record id as the report numbers it: 3.24.1, 2.12, Conclusion 24.")]
Contains = Annotated[
    str | None, Field(description="Only the conclusions whose statement, deadline or part mention these words.")
]


class ReportTools:
    """The four tools, over one ReportAssistant shared by every call and built on first need."""

    def __init__(self, factory: Callable[[], ReportAssistant] | None = None):
        """`factory`: builds the assistant (default: `ReportAssistant()` from the settings)."""
        self._factory = factory or _default_assistant
        self._qa: ReportAssistant | None = None
        self._lock = threading.Lock()

    def assistant(self) -> ReportAssistant:
        """The shared assistant; the first caller opens the index (or builds it) while the others wait."""
        with self._lock:
            if self._qa is None:
                try:
                    self._qa = self._factory()
                except Exception as exc:
                    log.exception("wiring-qa: the assistant could not start")
                    raise ToolError(f"the assistant could not start: {one_line(exc)}") from exc
            return self._qa

    def warm_up(self) -> None:
        """Build the assistant now, so that the first question does not wait; a failure is retried by the next call."""
        try:
            self.assistant()
        except ToolError as exc:
            log.warning("wiring-qa: %s; the next tool call tries again", exc)

    def ask(self, question: Question, history: History = None, top_k: TopK = None) -> CallToolResult:
        """Answer a question about 'Wiring It Up' (2001) with the report's own sentences, each ending with the
        record it comes from, e.g. [3.24.1]; when the report does not cover the question, the answer says so."""
        answer = self.assistant().ask(question, history=history, top_k=top_k)
        return _result(render_answer(answer), answer.to_dict())

    def search(self, query: Query, top_k: TopK = None) -> CallToolResult:
        """The report's records ranked for a question, best first, without composing an answer."""
        sources = self.assistant().search(query, top_k=top_k)
        results = [{"rank": rank, **asdict(s), "score": round(s.score, 6)} for rank, s in enumerate(sources, 1)]
        return _result(render_sources(sources), {"query": query, "results": results})

    def get_record(self, id: RecordId) -> CallToolResult:  # the argument's name on the wire
        """One record in full: its text, where it sits, its deadline, the conclusion it responds to, the
        records it cites and those that cite it, and a conclusion's progress paragraphs."""
        qa = self.assistant()
        view = record_view(qa, _known_id(qa, id))
        return _result(render_record(view), view)

    def list_conclusions(self, contains: Contains = None) -> CallToolResult:
        """The report's 42 conclusions in order, each with its statement, its 'By when' deadline and its
        progress paragraphs; `contains` keeps those that mention some words."""
        rows = conclusion_list(self.assistant())
        if contains and contains.strip():
            rows = [row for row in rows if _mentions(row, contains)]
        return _result(render_conclusions(rows, contains), {"count": len(rows), "conclusions": rows})


class OneLineTool(Tool):
    """A tool whose anticipated failures (arguments that break the schema, BadInput, ToolError) reach the
    client as one line naming the tool; a crash stays the SDK's generic line, its traceback on stderr."""

    async def run(self, arguments: dict[str, Any], context: Any, convert_result: bool = False) -> Any:
        try:
            return await super().run(arguments, context, convert_result=convert_result)
        except ToolError as exc:
            reason = _reason(exc.__cause__)
            if reason is None:
                raise
            raise ToolError(f"{self.name}: {reason}") from exc.__cause__


def build_server(tools: ReportTools | None = None, warm_up: bool = True) -> MCPServer:
    """The MCP server with the four tools; `warm_up` builds the assistant in the background as it starts."""
    tools = tools or ReportTools()
    handlers = (tools.ask, tools.search, tools.get_record, tools.list_conclusions)

    @asynccontextmanager
    async def lifespan(_server: MCPServer) -> AsyncIterator[dict]:
        # Started once the transport holds stdout, so that nothing the build prints can reach the protocol.
        if warm_up:
            threading.Thread(target=tools.warm_up, name="wiring-qa-warm-up", daemon=True).start()
        yield {}

    return MCPServer(
        "wiring-qa",
        title="Wiring It Up (2001), cited",
        instructions=INSTRUCTIONS,
        version=version("wiring-qa"),
        tools=[OneLineTool.from_function(fn, annotations=READ_ONLY) for fn in handlers],
        lifespan=lifespan,
        log_level="WARNING",  # stderr is for problems, not for every library's progress
    )


def main(argv: list[str] | None = None) -> int:
    """`wiring-qa mcp`: serve the tools over stdio until the client closes the connection."""
    parser = argparse.ArgumentParser(
        prog="wiring-qa mcp",
        description="Serve the assistant to an MCP client over stdio (stdout carries only the protocol).",
        epilog='Client configuration: {"command": "/path/to/.venv/bin/wiring-qa", "args": ["mcp"]}',
    )
    parser.parse_args(sys.argv[1:] if argv is None else argv)
    build_server().run("stdio")
    return EXIT_OK


def render_answer(answer: Answer) -> str:
    """The answer for a model to read: its text with [id] markers, then each cited record with its quote."""
    lines = [f"(Understood as: {answer.understood_as})"] if answer.understood_as else []
    lines.append(answer.text)
    if answer.notice:
        lines.append(f"({answer.notice})")
    if answer.citations:
        lines += ["", "Cited:", *(f'[{c.id}] "{c.quote}"' for c in answer.citations)]
    if answer.sources:
        lines += ["", "Sources, best first: " + ", ".join(s.id for s in answer.sources)]
    return "\n".join(lines)


def render_sources(sources: list[Source]) -> str:
    """Ranked records, one a line: rank, [id], where it sits, score and the start of its text."""
    if not sources:
        return "No records found."
    return "\n".join(
        f"{rank}. [{s.id}] {s.label or s.kind} (score {s.score:.3f}): {_snippet(s.text)}"
        for rank, s in enumerate(sources, 1)
    )


def render_record(view: dict) -> str:
    """A record in full, with the facts around it that are set."""
    lines = [f"[{view['id']}] {view['label']}".rstrip(), view["text"], ""]
    facts = {
        "Responds to": view["responds_to"],
        "By when": view["by_when"] if view["by_when"] not in view["text"] else "",  # a conclusion states its own
        "Cites": ", ".join(view["links"]),
        "Cited by": ", ".join(view["referenced_by"]),
        "Progress paragraphs": ", ".join(view["progress"]),
    }
    lines += [f"{name}: {value}" for name, value in facts.items() if value]
    return "\n".join(lines).rstrip()


def render_conclusions(rows: list[dict], contains: str | None = None) -> str:
    """One conclusion a line: [id], statement, deadline and progress paragraphs."""
    if not rows:
        return f"No conclusion mentions {contains!r}."
    return "\n".join(
        f"[{row['id']}] {_flat(row['statement'])} (By when: {row['by_when'] or 'not given'}; "
        f"progress: {', '.join(row['progress']) or 'none'})"
        for row in rows
    )


def _default_assistant() -> ReportAssistant:
    from assistant.core import ReportAssistant

    return ReportAssistant()


def _result(text: str, data: dict) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data)


def _known_id(qa: ReportAssistant, record_id: str) -> str:
    """The record's id as the report writes it ("conclusion 24" finds "Conclusion 24"), or BadInput."""
    wanted = " ".join(record_id.split())
    if not wanted:
        raise BadInput("give a record id, such as 3.24.1, 2.12 or Conclusion 24")
    if qa.record(wanted) is not None:
        return wanted
    found = [rid for rid in qa.by_id if rid.casefold() == wanted.casefold()]
    if not found:
        raise BadInput(f"the report has no record {wanted!r}; ids look like 3.24.1, 2.12 or Conclusion 24")
    return found[0]


def _mentions(row: dict, words: str) -> bool:
    where = " ".join(str(row[k] or "") for k in ("id", "statement", "by_when", "part_title")).casefold()
    return all(word in where for word in words.casefold().split())


def _flat(text: str) -> str:
    return " ".join(text.split())


def _snippet(text: str) -> str:
    flat = _flat(text)
    return flat if len(flat) <= SNIPPET_CHARS else flat[: SNIPPET_CHARS - 1].rstrip() + "…"


def _reason(cause: BaseException | None) -> str | None:
    """One line for an anticipated failure, or None for a crash."""
    if isinstance(cause, ValidationError):
        return _invalid(cause)
    if isinstance(cause, BadInput | ToolError):
        return one_line(cause)
    return None


def _invalid(exc: ValidationError) -> str:
    """The first broken argument, e.g. "argument history.0.role: Input should be 'user' or 'assistant'"."""
    errors = exc.errors(include_url=False, include_input=False)
    where = ".".join(str(part) for part in errors[0]["loc"])
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"argument {where}: {errors[0]['msg']}{more}"


if __name__ == "__main__":
    sys.exit(main())
