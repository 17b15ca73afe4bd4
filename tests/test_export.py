"""Markdown export: a conversation with its citations, quotes and index stamp, and one answer as a snippet whose
[id] markers become links. Rendered with markdown-it (CommonMark, as Markdown viewers read it)."""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from assistant.export import answer_markdown, cited_ids, conversation_markdown, stamp_line
from assistant.types import Answer, Citation, Source

BASE = "http://127.0.0.1:7860/"
STAMP = {
    "report_sha256": "b7f2d104" * 8,
    "parser_version": "2",
    "model_id": "minilm@sha256:53aa",
    "key": "459ee5a4d2d3",
    "built_at": "2026-11-30T03:03:03Z",
    "location": "/home/someone/.cache/wiring-qa/index",
}


def made_up_answer() -> Answer:
    """An answer built by hand (the shape ask() returns), so the Markdown can be checked line by line."""
    return Answer(
        text="The fund is worth £50m a year. [3.24.1]\nIt answers conclusion 24. [Conclusion 24]",
        refused=False,
        citations=[
            Citation("3.24.1", "The fund is worth £50m a year.", 100, 131),
            Citation("Conclusion 24", 'A "cross-cutting" budget\nshould be created.', 10, 52),
            Citation("3.24.1", "It responds to this conclusion.", 132, 163),
        ],
    )


def html(markdown: str) -> str:
    return MarkdownIt("commonmark").render(markdown)


def test_stamp_line_leaves_out_the_local_path():
    line = stamp_line(STAMP)
    assert STAMP["report_sha256"] in line and "minilm@sha256:53aa" in line and "2026-11-30T03:03:03Z" in line
    assert "/home/someone" not in line


def test_cited_ids_once_each_in_order():
    assert cited_ids(made_up_answer()) == ["3.24.1", "Conclusion 24"]


def test_conversation_holds_questions_answers_quotes_offsets_and_stamp():
    follow = Answer("It was devised in Spending Review 2000. [3.24.1]", False, [Citation("3.24.1", "Devised.", 5, 13)])
    follow.understood_as = "When was the fund devised?"
    text = conversation_markdown([("How big is the fund?", made_up_answer()), ("When?", follow)], STAMP, BASE)
    assert text.startswith("# Wiring It Up (2001)")
    assert STAMP["report_sha256"] in text and STAMP["key"] in text
    assert "## 1. How big is the fund?" in text and "## 2. When?" in text
    assert "*Understood as: When was the fund devised?*" in text
    assert "The fund is worth £50m a year. [3.24.1]" in text
    # every quote, on one line, with its place in the report file and a link that opens the paragraph
    assert '“A "cross-cutting" budget should be created.” (characters 10–52 of the report file)' in text
    assert "- [3.24.1](http://127.0.0.1:7860/?cite=3.24.1) “It responds to this conclusion.”" in text
    assert "[Conclusion 24](http://127.0.0.1:7860/?cite=Conclusion+24)" in text
    assert text.index("## 1.") < text.index("characters 100–131") < text.index("## 2.")


def test_refusal_lists_the_nearest_paragraphs():
    refusal = Answer(
        "The report does not cover this.",
        True,
        sources=[Source(i, "", 1.0) for i in ("2.12", "3.24.1", "2.1", "2.2")],
        nearest=["2.12", "3.24.1", "2.1"],  # as the core sets them: the paragraphs the refusal names
    )
    text = conversation_markdown([("Who won the cup?", refusal)], STAMP)
    assert "The report does not cover this." in text
    assert "Nearest paragraphs: [2.12], [3.24.1], [2.1]" in text and "[2.2]" not in text
    assert "Quoted from the report" not in text


def test_snippet_links_every_marker_and_quotes_in_titles():
    snippet = answer_markdown("How big is the fund?", made_up_answer(), STAMP, BASE)
    assert snippet.startswith("> **How big is the fund?**\n")
    rendered = html(snippet)
    # the [id] markers already in the answer text become links to the paragraph, titled with the quote
    assert (
        '<a href="http://127.0.0.1:7860/?cite=3.24.1" title="Wiring It Up (2001), 3.24.1: The fund is worth' in rendered
    )
    assert "It responds to this conclusion." in rendered  # both quotes from 3.24.1 in its title
    assert 'href="http://127.0.0.1:7860/?cite=Conclusion+24"' in rendered
    assert "title=\"Wiring It Up (2001), Conclusion 24: A 'cross-cutting' budget should be created.\"" in rendered
    assert 'href="http://127.0.0.1:7860/?q=How+big+is+the+fund%3F">ask again</a>' in rendered
    assert STAMP["report_sha256"] in snippet and "/home/someone" not in snippet


def test_snippet_of_a_follow_up_stands_alone():
    follow = Answer("Spending Review 2000. [3.24.1]", False, [Citation("3.24.1", "Spending Review 2000.", 1, 22)])
    follow.understood_as = "When was the Policy Innovation Fund devised?"
    snippet = answer_markdown("And when?", follow, STAMP, BASE)
    assert snippet.startswith("> **When was the Policy Innovation Fund devised?**")
    assert "And when?" not in snippet and "Understood as" not in snippet


def test_snippet_without_an_address_lists_the_quotes():
    snippet = answer_markdown("How big is the fund?", made_up_answer(), STAMP)
    assert "- [3.24.1] “The fund is worth £50m a year.” (characters 100–131 of the report file)" in snippet
    assert "?cite=" not in snippet and "ask again" not in snippet


@pytest.mark.parametrize("render", ["conversation", "snippet"])
def test_user_text_cannot_become_html(render):
    hostile = '<script>alert(1)</script>\n# not a heading <img src=x onerror="x()">'
    answer = Answer("Nothing. <b>bold</b> [2.12]", False, [Citation("2.12", "<i>q</i>", 0, 8)])
    if render == "conversation":
        text = conversation_markdown([(hostile, answer)], STAMP, BASE)
    else:
        text = answer_markdown(hostile, answer, STAMP, BASE)
    rendered = html(text)
    for tag in ("<script", "<img", "<b>", "<i>"):
        assert tag not in rendered
    assert "\n# not a heading" not in text  # a question stays on its own line


def test_real_answers_export(qa):
    question = "What is the Policy Innovation Fund worth each year?"
    answer = qa.ask(question)
    assert not answer.refused
    text = conversation_markdown([(question, answer)], qa.stamp, BASE)
    for citation in answer.citations:
        assert " ".join(citation.quote.split()) in text
        assert f"characters {citation.start}–{citation.end}" in text
    assert qa.stamp["report_sha256"] in text and str(qa.stamp["location"]) not in text
    snippet = html(answer_markdown(question, answer, qa.stamp, BASE))
    assert all(f'href="{BASE}?cite={rid.replace(" ", "+")}"' in snippet for rid in cited_ids(answer))
