"""Suggested next questions: every suggestion made for 30 questions (funds, conclusions by number, bodies,
deadlines, people and a few the report does not answer) is asked again, with the same conversation, and must be
answered, not refused, with a citation. Suggestions are template fills, never fixed questions."""

from __future__ import annotations

import re
import string
import time

import pytest

from assistant.suggest import KINDS, TEMPLATES, suggest

# Written for this test; a few fall outside the report (the last four), so refusals get suggestions too.
QUESTIONS = [
    # funds and budgets
    "How many pounds a year went into the Policy Innovation Fund?",
    "What money is in the Invest to Save Budget and what is it for?",
    "Tell me about the Criminal Justice System Reserve.",
    "What is the Evidence-Based Policy Fund meant to pay for?",
    "How large was the Neighbourhood Renewal Fund said to be?",
    # conclusions named by number
    "Conclusion 3: what did it ask for?",
    "What was recommended in conclusion 11?",
    "Summarise conclusion 24 and what was done about it.",
    "What does conclusion 35 say?",
    "Explain conclusion 41.",
    "Recommendation 7, please.",
    # bodies and programmes
    "What does the Regional Co-ordination Unit do?",
    "What is the role of the Centre for Management and Policy Studies?",
    "What has the Social Exclusion Unit been doing?",
    "What is the Public Sector Benchmarking Service?",
    "How is the Working Age Agency going to be formed?",
    "What are Local Strategic Partnerships?",
    "Who is the Community Legal Service meant to help?",
    "What did the Policy Action Teams achieve?",
    # deadlines
    "By when should the guidance on using outside experts have gone out?",
    "What was due to happen by April 2000?",
    "Which conclusion had to be met with immediate effect?",
    "When was the Code of Practice on Written Consultation brought in?",
    "What deadline did conclusion 22 carry?",
    # paragraphs and other parts of the report
    "What does paragraph 3.8.13 cover?",
    "Give me the gist of paragraph 2.10.",
    "What are the cross-cutting Public Service Agreements?",
    # outside the report
    "What will the weather be in Leeds tomorrow?",
    "How much did the Channel Tunnel cost to build?",
    "Who won the 1966 World Cup final?",
]


@pytest.fixture(scope="module")
def suggested(qa):
    """Each question's answer, the conversation after it, and the suggestions for it, with the time they took."""
    out = []
    for question in QUESTIONS:
        answer = qa.ask(question)
        history = [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]
        started = time.perf_counter()
        suggestions = suggest(qa, answer, history)
        out.append((question, answer, history, suggestions, time.perf_counter() - started))
    return out


def test_thirty_questions_of_every_kind():
    assert len(QUESTIONS) == len(set(QUESTIONS)) == 30


def test_every_suggestion_is_answered_with_a_citation(qa, suggested):
    """Each suggestion, asked again as the chat would ask it, is answered and cited, never refused."""
    asked = 0
    for question, _answer, history, suggestions, _seconds in suggested:
        for suggestion in suggestions:
            got = qa.ask(suggestion.question, history)
            asked += 1
            assert not got.refused, (question, suggestion.question, got.text)
            assert got.citations, (question, suggestion.question)
            assert suggestion.target in {c.id for c in got.citations} or suggestion.kind == "name"
            assert got.text == suggestion.answer.text  # the answer checked is the answer the user gets
    assert asked >= 60, f"only {asked} suggestions for 30 questions"


def test_two_or_three_suggestions_for_nearly_every_answer(qa, suggested):
    counts = [len(s) for _q, answer, _h, s, _t in suggested if not answer.refused]
    assert all(n <= qa.settings.suggest.shown for n in counts)
    assert sum(n >= 2 for n in counts) >= 0.85 * len(counts), counts


def test_suggestions_lead_somewhere_new(suggested):
    """Never the question just asked, never about a record the answer already cited, never twice the same."""
    for question, answer, _history, suggestions, _seconds in suggested:
        cited = {c.id for c in answer.citations}
        questions = [s.question for s in suggestions]
        assert len(set(questions)) == len(questions)
        assert question not in questions
        assert not cited & {s.target for s in suggestions}, question
        for suggestion in suggestions:
            assert suggestion.source in cited or (
                answer.refused and suggestion.source in {s.id for s in answer.sources}
            )
            assert suggestion.kind in KINDS


def test_suggestions_are_template_fills_over_record_data(qa, suggested):
    """Every suggestion is one of the templates with a conclusion number, record id, heading or name filled in
    from the report: no fixed questions."""
    patterns = [_pattern(template) for template in TEMPLATES.values()]
    for *_rest, suggestions, _seconds in suggested:
        for suggestion in suggestions:
            match = next((m for p in patterns if (m := p.fullmatch(suggestion.question))), None)
            assert match, suggestion.question
            fields = match.groupdict()
            if "number" in fields:
                assert qa.record(f"Conclusion {fields['number']}")
            if "id" in fields:
                assert qa.record(fields["id"]) and fields["id"] == suggestion.target
            if "topic" in fields:
                assert fields["topic"] in qa.record(suggestion.target).heading
            if "name" in fields:
                name, term = re.fullmatch(r"(.+) \((.+)\)", fields["name"]).groups()
                assert qa.glossary[term] == name
    for template in TEMPLATES.values():
        assert [f for _, f, _, _ in string.Formatter().parse(template) if f], template


def test_suggesting_is_quick(suggested):
    """A handful of asks per answer: well under a second each on two cores."""
    assert max(seconds for *_rest, seconds in suggested) < 5.0


def test_suggestions_from_a_record_with_no_links(qa):
    """A made-up answer citing only an abbreviation record: nothing to draw on but names, and nothing breaks."""
    from assistant.types import Answer, Citation

    record = qa.record("Abbreviation: CMPS")
    answer = Answer(f"{record.text} [{record.id}]", False, [Citation(record.id, record.text, record.start, record.end)])
    for suggestion in suggest(qa, answer, []):
        assert not suggestion.answer.refused and suggestion.answer.citations


def _pattern(template: str) -> re.Pattern:
    """A template as a regular expression with one named group per field."""
    out = ""
    for literal, field, _spec, _conv in string.Formatter().parse(template):
        out += re.escape(literal)
        if field:
            out += rf"(?P<{field}>.+?)"
    return re.compile(out)
