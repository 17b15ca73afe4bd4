"""The command line: `wiring-qa index | ask | chat`, and the commands other packages add (eval, bench) through
the `wiring_qa.commands` entry points. A thin adapter over the core."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from importlib.metadata import entry_points
from pathlib import Path

from assistant.types import one_line

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT = 0, 1, 2
PLUGINS = "wiring_qa.commands"  # entry points: name -> main(argv) -> exit code, with argument parsing of its own


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `wiring-qa` console script."""
    argv = sys.argv[1:] if argv is None else argv
    plugins = {ep.name: ep for ep in entry_points(group=PLUGINS)}
    parser = _parser(plugins)
    if argv[:1] and argv[0] in plugins:
        command, args = plugins[argv[0]], argv[1:]
    else:
        command, args = None, parser.parse_args(argv)
    try:
        return command.load()(args) if command else args.func(args)
    except KeyboardInterrupt:
        print("wiring-qa: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the user gets one line, never a traceback
        from assistant.types import BadInput

        code = EXIT_BAD_INPUT if isinstance(exc, BadInput) else EXIT_ERROR
        print(f"wiring-qa: {one_line(exc)}", file=sys.stderr)
        return code


def _parser(plugins: dict) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wiring-qa", description="Questions about 'Wiring It Up' (2001), cited.")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    index = sub.add_parser("index", help="build the index if missing (or --rebuild) and print counts")
    index.add_argument("--rebuild", action="store_true", help="build anew even when the index is current")
    index.set_defaults(func=_cmd_index)

    ask = sub.add_parser("ask", help="answer one question")
    ask.add_argument("question", nargs="?", help="the question; '-' or none reads it from standard input")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.add_argument("--history", type=Path, help="JSON file of prior turns [{role, content}]")
    ask.add_argument("--top-k", type=int, default=None, help="number of sources")
    ask.set_defaults(func=_cmd_ask)

    chat = sub.add_parser("chat", help="ask questions in a loop in the terminal")
    chat.set_defaults(func=_cmd_chat)

    for name in sorted(plugins):  # listed in --help; their own parsers read their options
        sub.add_parser(name, help=f"from {plugins[name].module} (wiring-qa {name} --help)", add_help=False)
    return parser


def _cmd_index(args) -> int:
    from assistant.settings import get_settings
    from index.report import load_report
    from index.store import build_index, open_index

    settings = get_settings()
    report = load_report(settings.index.report_path)
    result = build_index(settings.index, force=args.rebuild)
    index = open_index(settings.index, build_if_missing=False)
    counts = Counter(r.kind for r in report.records)
    print(f"index: {index.location}")
    print(f"records: {len(report.records)} (" + ", ".join(f"{k}: {n}" for k, n in sorted(counts.items())) + ")")
    print(f"vectors stored (record windows and sentences): {index.count()}")
    state = "built" if result["built"] else "already current"
    print(
        f"{state} in {result['seconds']:.1f} s; stamp {index.stamp.key} (report {index.stamp.report_sha256[:12]}, parser {index.stamp.parser_version}, {index.stamp.model_id}); built {index.built_at}"
    )
    return EXIT_OK


def _cmd_ask(args) -> int:
    from assistant.types import BadInput

    question = args.question
    if question in (None, "-"):
        question = _read_stdin()
    history = _read_history(args.history) if args.history else None
    if not question or not question.strip():
        raise BadInput("the question is empty")
    assistant = _assistant()
    answer = assistant.ask(question, history=history, top_k=args.top_k)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(render_text(answer))
    return EXIT_OK


def _cmd_chat(args) -> int:
    from assistant.types import BadInput

    assistant = _assistant()
    history: list[dict] = []
    print("Ask about 'Wiring It Up' (empty line or Ctrl-D to quit).")
    while True:
        try:
            question = input("> ")
        except EOFError:
            return EXIT_OK
        if not question.strip():
            return EXIT_OK
        try:
            answer = assistant.ask(question, history=history)
        except BadInput as exc:
            print(f"wiring-qa: {exc}")
            continue
        print(render_text(answer), end="\n\n")
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]


def render_text(answer) -> str:
    """The answer for a terminal: text, then sources."""
    lines = [f"(Understood as: {answer.understood_as})", answer.text] if answer.understood_as else [answer.text]
    if answer.notice:
        lines.append(f"({answer.notice})")
    if answer.sources:
        lines.append("")
        lines.append("Sources: " + ", ".join(s.id for s in answer.sources[:5]))
    return "\n".join(lines)


def _assistant():
    from assistant.core import ReportAssistant

    return ReportAssistant()


def _read_stdin() -> str:
    from assistant.types import BadInput

    data = sys.stdin.buffer.read(2_000_001)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput("standard input is not valid UTF-8 text") from exc


def _read_history(path: Path) -> list:
    from assistant.types import BadInput

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BadInput(f"cannot read history file {path}: {one_line(exc)}") from exc
    if not isinstance(data, list):
        raise BadInput("the history file must hold a JSON list of {role, content} turns")
    return data


if __name__ == "__main__":
    sys.exit(main())
