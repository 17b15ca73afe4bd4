"""Prompts live in files and fail loudly."""

import pytest

import prompts


@pytest.mark.parametrize("name", prompts.NAMES)
def test_every_prompt_renders(name):
    template = prompts.load(name)
    values = {v: f"<{v}>" for v in prompts.variables(template)}
    text = prompts.render(name, **values)
    for value in values.values():
        assert value in text


def test_missing_variable_is_an_error():
    with pytest.raises(prompts.PromptError):
        prompts.render("answer_user", question="x")


def test_unknown_variable_is_an_error():
    with pytest.raises(prompts.PromptError):
        prompts.render("answer_system", max_sentences=3, colour="red")


def test_unknown_prompt_is_an_error():
    with pytest.raises(prompts.PromptError):
        prompts.load("nope")
