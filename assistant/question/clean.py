"""Question and history clean-up: unusable input becomes BadInput, instructions to the assistant are dropped."""

from __future__ import annotations

import re
import unicodedata

from assistant.types import BadInput

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def clean_question(question: object, max_chars: int) -> str:
    """A usable question or BadInput with one line saying why."""
    if isinstance(question, bytes):
        try:
            question = question.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadInput("the question is not valid UTF-8 text") from exc
    if not isinstance(question, str):
        raise BadInput("the question must be text")
    # Lone surrogates (invalid UTF-8 smuggled into a str) become "?".
    question = question.encode("utf-8", "replace").decode("utf-8")
    text = unicodedata.normalize("NFC", question.replace("\ufffd", " "))
    text = " ".join(_CONTROL_RE.sub(" ", text).split())
    if not text:
        raise BadInput("the question is empty")
    if len(text) > max_chars:
        raise BadInput(f"the question is {len(text):,} characters; the limit is {max_chars:,}")
    return text


def clean_history(history: object) -> list[dict]:
    """Prior turns as [{'role', 'content'}]; anything else raises BadInput."""
    if history is None:
        return []
    if not isinstance(history, list | tuple):
        raise BadInput("history must be a list of {role, content} turns")
    turns = []
    for turn in history:
        if isinstance(turn, list | tuple) and len(turn) == 2:  # Gradio's (user, assistant) pairs
            turns += [{"role": "user", "content": turn[0]}, {"role": "assistant", "content": turn[1]}]
            continue
        if not isinstance(turn, dict) or turn.get("role") not in {"user", "assistant", "system"}:
            raise BadInput("each history turn must be {role: user|assistant, content: text}")
        content = turn.get("content")
        if not isinstance(content, str):
            content = _flatten_content(content)
        turns.append({"role": turn["role"], "content": content[:5000]})
    return turns


def _flatten_content(content: object) -> str:
    if content is None:
        return ""
    if isinstance(content, list):  # OpenAI/Gradio content parts
        return " ".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
    raise BadInput("a history turn's content must be text")


_INSTRUCTION_RE = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(report|instructions?|rules|above|previous|context|sources?)\b"
    r"|\b(you are now|pretend|act as|system prompt|jailbreak)\b|^\s*(say|reply|answer|respond|print|output)\b",
    re.I,
)


def strip_instructions(question: str) -> str:
    """The question without sentences that try to instruct the assistant ('ignore the report and say …')."""
    kept = [s for s in re.split(r"(?<=[.!?])\s+", question) if not _INSTRUCTION_RE.search(s)]
    return " ".join(kept).strip() or question
