"""`wiring-qa eval`: the evaluation's own command, found by the CLI through the `wiring_qa.commands`
entry points (pyproject.toml), so that the assistant package never imports the evaluation."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    """Score the answerer on the eval set, another question file, or a conversation file."""
    parser = argparse.ArgumentParser(prog="wiring-qa eval", description="score the answerer on eval/questions.jsonl")
    parser.add_argument("--out", type=Path, default=None, help="folder for report.json and report.md")
    parser.add_argument("--no-baseline", action="store_true", help="skip the naive LlamaIndex baseline")
    parser.add_argument(
        "--questions", type=Path, default=None, help="another question file, e.g. eval/heldout.jsonl (not gated)"
    )
    parser.add_argument(
        "--conversations",
        type=Path,
        default=None,
        help="play a conversation file turn by turn, each with the assistant's own answers as history",
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.conversations is not None:
        return _conversations(args)
    from eval.harness import load_questions, run_eval

    if args.questions is not None and not _readable(load_questions, args.questions):
        return EXIT_BAD_INPUT
    report = run_eval(out_dir=args.out, baseline=not args.no_baseline, questions_path=args.questions)
    print(report["markdown"])
    return EXIT_OK if report["passed"] else EXIT_ERROR


def _conversations(args) -> int:
    from eval.chats import load_conversations, run_conversations

    if not _readable(load_conversations, args.conversations):
        return EXIT_BAD_INPUT
    report = run_conversations(args.conversations, args.out)
    print(report["markdown"])
    return EXIT_OK if report["passed"] else EXIT_ERROR


def _readable(load, path: Path) -> bool:
    """Whether the file loads; if not, say why in one line."""
    try:
        load(path)
    except (OSError, ValueError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        print(f"wiring-qa: cannot use {path}: {reason}", file=sys.stderr)
        return False
    return True
