"""`wiring-qa mcp`: the real console script in a subprocess, driven by the MCP SDK's own stdio client."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from anyio.from_thread import start_blocking_portal
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult

from assistant.mcp_server import ReportTools, build_server

WIRING_QA = str(Path(sys.executable).with_name("wiring-qa"))
TOOLS = {"ask", "search", "get_record", "list_conclusions"}
FUND_QUESTION = "What sum of money went into the Policy Innovation Fund each year?"
CALL_TIMEOUT_S = 120.0  # a first call may wait for the server to open the index


class Server:
    """A running `wiring-qa mcp` and the client session talking to it, callable from synchronous tests."""

    def __init__(self, portal, session: ClientSession, stray: list[Exception], log_path: Path):
        self.portal, self.session, self.stray, self.log_path = portal, session, stray, log_path

    def call(self, tool: str, arguments: dict) -> CallToolResult:
        return self.portal.call(self.session.call_tool, tool, arguments, CALL_TIMEOUT_S)

    def list_tools(self):
        return self.portal.call(self.session.list_tools).tools


def _env() -> dict[str, str]:
    """What a client's configuration would pass: the session's index (tests/conftest.py) and offline flags."""
    passed = ("ANONYMIZED_TELEMETRY", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "WIRING_QA_HASH_CACHE")
    return {k: v for k, v in os.environ.items() if k.startswith("WIRING_QA_") or k in passed}


@asynccontextmanager
async def _connect(params: StdioServerParameters, errlog, stray: list) -> AsyncIterator[ClientSession]:
    async def on_message(message) -> None:
        if isinstance(message, Exception):  # a line on stdout that is not the protocol
            stray.append(message)

    async with (
        stdio_client(params, errlog=errlog) as (read, write),
        ClientSession(read, write, message_handler=on_message) as session,
    ):
        await session.initialize()
        yield session


@pytest.fixture(scope="module")
def server(built_index, tmp_path_factory) -> Server:
    """One server for the module, started as an MCP client would start it; its stderr goes to a file."""
    params = StdioServerParameters(command=WIRING_QA, args=["mcp"], env=_env())
    stray: list[Exception] = []
    log_path = tmp_path_factory.mktemp("mcp") / "server-stderr.log"
    with (
        open(log_path, "w") as errlog,
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(_connect(params, errlog, stray)) as session,
    ):
        yield Server(portal, session, stray, log_path)


def _text(result: CallToolResult) -> str:
    assert len(result.content) == 1 and result.content[0].type == "text"
    return result.content[0].text


def _assert_tool_error(result: CallToolResult, tool: str) -> str:
    assert result.is_error, result
    line = _text(result)
    assert line.startswith(f"{tool}: ") and "\n" not in line and "Traceback" not in line, line
    return line


def test_lists_the_four_tools(server):
    tools = {t.name: t for t in server.list_tools()}
    assert set(tools) == TOOLS
    assert all(t.description and t.annotations.read_only_hint for t in tools.values())
    assert tools["ask"].input_schema["required"] == ["question"]
    assert tools["get_record"].input_schema["required"] == ["id"]


def test_ask_returns_a_cited_answer(server, report):
    result = server.call("ask", {"question": FUND_QUESTION})
    assert not result.is_error, _text(result)
    answer = result.structured_content
    assert answer["refused"] is False and answer["citations"]
    by_id = report.by_id()
    text = _text(result)
    for citation in answer["citations"]:
        assert citation["quote"] in by_id[citation["id"]].text  # verbatim from the record it names
        assert f"[{citation['id']}]" in answer["answer"] and citation["quote"] in text
    assert text.startswith(answer["answer"]) and "Cited:" in text
    assert "3.24.1" in {c["id"] for c in answer["citations"]} | {s["id"] for s in answer["sources"][:3]}


def test_ask_reads_a_follow_up_against_the_history(server, report):
    first = server.call("ask", {"question": FUND_QUESTION}).structured_content
    history = [{"role": "user", "content": FUND_QUESTION}, {"role": "assistant", "content": first["answer"]}]
    result = server.call("ask", {"question": "In which spending review was it devised?", "history": history})
    assert not result.is_error, _text(result)
    answer = result.structured_content
    assert "Policy Innovation Fund" in answer["understood_as"]
    assert all(c["quote"] in report.by_id()[c["id"]].text for c in answer["citations"])


def test_get_record_gives_the_paragraph_and_its_conclusion(server, report):
    result = server.call("get_record", {"id": "3.24.1"})
    assert not result.is_error, _text(result)
    record = result.structured_content
    assert record["text"] == report.by_id()["3.24.1"].text
    assert record["responds_to"] == "Conclusion 24"
    assert "Responds to: Conclusion 24" in _text(result)
    assert server.call("get_record", {"id": " conclusion 24 "}).structured_content["id"] == "Conclusion 24"


def test_list_conclusions_gives_all_42_with_deadlines(server):
    result = server.call("list_conclusions", {})
    data = result.structured_content
    assert data["count"] == 42 and [c["id"] for c in data["conclusions"]] == [f"Conclusion {n}" for n in range(1, 43)]
    assert all("by_when" in c for c in data["conclusions"])
    assert len(_text(result).splitlines()) == 42
    narrowed = server.call("list_conclusions", {"contains": "cross-cutting budget"}).structured_content
    assert 0 < narrowed["count"] < 42 and "Conclusion 24" in {c["id"] for c in narrowed["conclusions"]}


def test_search_ranks_records(server):
    result = server.call("search", {"query": "yearly money for innovative cross-cutting policy", "top_k": 4})
    assert not result.is_error, _text(result)
    results = result.structured_content["results"]
    assert [r["rank"] for r in results] == [1, 2, 3, 4]
    listed = [re.match(r"(\d+)\. \[([^\]]+)\]", line).groups() for line in _text(result).splitlines()]
    assert listed == [(str(r["rank"]), r["id"]) for r in results]
    assert all(r["label"] and r["text"] for r in results)


@pytest.mark.parametrize(
    ("tool", "arguments", "says"),
    [
        ("ask", {"question": ""}, "empty"),
        ("ask", {"question": "   \n\t "}, "empty"),
        ("ask", {"question": "fund? " * 20_000}, "limit"),
        ("ask", {"question": 42}, "question"),
        ("ask", {}, "question"),
        ("ask", {"question": "And then?", "history": "the last thing I asked"}, "history"),
        ("ask", {"question": "And then?", "history": [{"speaker": "me", "said": "hello"}]}, "history.0"),
        ("ask", {"question": "And then?", "history": [{"role": "judge", "content": "hi"}]}, "history.0.role"),
        ("search", {"query": "fund", "top_k": 0}, "top_k"),
        ("get_record", {"id": "9.99.9"}, "9.99.9"),
        ("get_record", {"id": " "}, "record id"),
    ],
)
def test_bad_input_is_a_one_line_tool_error_and_the_server_keeps_serving(server, tool, arguments, says):
    line = _assert_tool_error(server.call(tool, arguments), tool)
    assert says in line
    assert server.call("get_record", {"id": "2.12"}).structured_content["id"] == "2.12"


def test_stdout_carries_only_the_protocol_and_stderr_no_traceback(server):
    assert not server.call("ask", {"question": FUND_QUESTION}).is_error  # the assistant is up by now
    assert server.stray == []
    assert "Traceback" not in server.log_path.read_text()  # bad input above is anticipated, not a crash


def test_every_call_shares_one_assistant(qa):
    built = []
    tools = ReportTools(factory=lambda: built.append(qa) or qa)
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda _: tools.assistant(), range(8)))
    assert built == [qa] and all(g is qa for g in got)


def test_an_assistant_that_cannot_start_is_one_line_and_tried_again():
    attempts = []

    def broken_factory():
        attempts.append(1)
        raise OSError("the index folder cannot be read\n(and a second line that must not reach the client)")

    server = build_server(ReportTools(factory=broken_factory), warm_up=False)
    for _ in range(2):
        with pytest.raises(ToolError) as caught:
            anyio.run(server.call_tool, "get_record", {"id": "2.12"})
        assert str(caught.value) == "get_record: the assistant could not start: the index folder cannot be read"
    assert len(attempts) == 2
