"""Prompt templates, shipped as package data and rendered strictly: a missing or unknown variable is an error."""

from __future__ import annotations

import string
from functools import cache
from importlib import resources

NAMES = ("answer_system", "answer_user")


class PromptError(KeyError):
    """A prompt is missing or its variables do not match what the caller gives."""


@cache
def load(name: str) -> str:
    """The template text of prompts/<name>.txt."""
    try:
        return resources.files(__package__).joinpath(f"{name}.txt").read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise PromptError(f"no prompt named {name!r}") from exc


def variables(template: str) -> set[str]:
    """The {names} a template expects."""
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def render(name: str, **values: object) -> str:
    """The prompt with its variables filled; every expected variable must be given, and no other."""
    template = load(name)
    expected = variables(template)
    if expected != set(values):
        raise PromptError(f"prompt {name!r} expects {sorted(expected)}, got {sorted(values)}")
    return template.format(**values)
