"""What the grounded answers contain: the kind of answer asked for, lists, footnotes, named records,
name variants, and refusals that say why. Questions here are worded apart from the eval set."""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import history_after

from assistant import Answer
from assistant.answering.citations import citation_is_valid
from assistant.answering.conflicts import NAMES_LABEL, Conflicts
from assistant.answering.refusal import REFUSAL, refusal_reason
from assistant.answering.sentences import SentenceBank
from assistant.question.query import Query


def _cited(answer: Answer) -> list[str]:
    return [c.id for c in answer.citations]


def _answered(qa, question: str) -> Answer:
    answer = qa.ask(question)
    assert not answer.refused, answer.text
    assert all(citation_is_valid(c, qa.by_id) for c in answer.citations)
    return answer


# -- the kind of answer asked for --------------------------------------------------


def test_a_figure_in_the_next_sentence_is_brought_along(qa):
    answer = _answered(qa, "What are the usage figures for the Mobility Brokerage Unit's vacancies site?")
    assert "8,000" in answer.text and "1,400" in answer.text


def test_a_count_is_answered_with_its_number(qa):
    answer = _answered(qa, "How many secondees work at DETR?")
    assert "90 secondees" in answer.text and "3.10.10" in _cited(answer)


def test_a_list_question_gets_the_items_after_their_lead_in(qa):
    answer = _answered(qa, "Name the goals set for the National Strategy for Neighbourhood Renewal")
    lines = answer.text.splitlines()
    lead = next(i for i, line in enumerate(lines) if line.startswith("The goals for the Strategy would be:"))
    assert lines[lead + 1].startswith("To bridge the gap")
    assert "worklessness" in lines[lead + 2]


def test_a_footnote_follows_the_sentence_its_marker_stands_in(qa):
    answer = _answered(qa, "Did the NAO's study of how Whitehall evaluates cross-cutting policies happen?")
    assert "Footnote 3" in _cited(answer)
    assert "did not, in fact, take place" in answer.text


def test_a_named_table_is_answered_row_by_row(qa):
    answer = _answered(qa, "What does the PSA table list?")
    rows = [rid for rid in qa.by_id if rid.startswith("PSA table: ")]
    assert set(rows) <= set(_cited(answer))


def test_a_conclusion_progress_answer_covers_each_progress_paragraph(qa):
    answer = _answered(qa, "What progress was made on conclusion 18?")
    cited = _cited(answer)
    assert cited[0] == "Conclusion 18"
    assert {"3.18.1", "3.18.2", "3.18.3", "3.18.4"} <= set(cited)


# -- disagreements -----------------------------------------------------------------


def test_name_variants_are_found_but_spellings_are_not(qa):
    variants = Conflicts(SentenceBank(qa.records)).variants
    assert "Office for National Statistics" in variants["Office of National Statistics"]
    assert "Public Service Leaders Scheme" in variants["Public Sector Leaders Scheme"]
    assert "Regional Coordination Unit" not in variants.get("Regional Co-ordination Unit", [])
    assert "Secretary of State for Health" not in variants.get("Secretary of State for Education", [])


def test_an_answer_shows_both_names_when_the_report_uses_two(qa):
    answer = _answered(qa, "What is the name of the scheme for public sector leaders?")
    assert answer.text.startswith(NAMES_LABEL)
    assert "Public Sector Leaders Scheme" in answer.text and "Public Service Leaders Scheme" in answer.text
    assert {"2.11", "3.19.1"} <= set(_cited(answer))


# -- refusals that say why ---------------------------------------------------------


def _query(text: str) -> Query:
    return Query(text, text, text, False)


@pytest.mark.parametrize(
    ("question", "kind", "why"),
    [
        ("How much money does the Connexions Unit have?", "money", "give no sum for Connexions Unit"),
        ("How many civil servants work in the Women's Unit?", "count", "give no count for Women's Unit"),
        ("Who runs the Regional Co-ordination Unit?", "person", "name no person for Regional Co-ordination Unit"),
        ("When did the Performance and Innovation Unit close?", "date", "give no date for Performance"),
    ],
)
def test_a_refusal_says_which_kind_of_answer_is_missing(question, kind, why):
    row = {"kind_unmet": 1.0}
    assert why in refusal_reason(_query(question), row, {kind: True}, ("the spring of 2001", 2001))


def test_a_refusal_about_a_later_outcome_names_the_period_covered():
    row = {"later_year": 1.0, "asks_later": 1.0}
    reason = refusal_reason(_query("Was the target met by 2004?"), row, {}, ("the spring of 2001", 2001))
    assert "covers progress up to the spring of 2001" in reason and "2004" in reason
    # a year after the report alone is a plan the report may state, not an outcome: no period reason
    assert refusal_reason(_query("Which target is set for 2004?"), {"later_year": 1.0}, {}, ("x", 2001)) == ""


def test_an_off_topic_question_is_refused_without_citations(qa):
    answer = qa.ask("What is the best way to bake a lemon drizzle cake?")
    assert answer.refused and answer.text.startswith(REFUSAL)
    assert not answer.citations and "nearest paragraphs" in answer.text


def test_the_refusal_decision_comes_from_the_fitted_model(qa, monkeypatch):
    """Raising the model's threshold above every probability refuses; lowering it below answers."""
    model = qa.answerer.answerable_model
    question = "How big is the Neighbourhood Renewal Fund?"
    monkeypatch.setattr(qa.answerer, "answerable_model", replace(model, threshold=1.01))
    qa.forget_answers()  # the model changed under the assistant: what it answered before no longer holds
    assert qa.ask(question).refused
    monkeypatch.setattr(qa.answerer, "answerable_model", replace(model, threshold=0.0))
    qa.forget_answers()
    assert not qa.ask(question).refused
    qa.forget_answers()


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Who is the Minister of State that the Regional Co-ordination Unit reports to?", "Lord Falconer"),
        ("What is the budget of the Criminal Justice System Reserve?", "£525 million"),
        ("Who are the Policy Action Teams?", "Policy Action Teams"),  # not a post
    ],
)
def test_the_same_kinds_of_question_are_answered_when_the_report_does(qa, question, expected):
    assert expected in _answered(qa, question).text


def test_a_refusal_quotes_the_question_only_briefly(qa):
    long = "How many " + " ".join(["very"] * 200) + " senior staff work in the Women's Unit?"
    answer = qa.ask(long)
    assert answer.refused and len(answer.text) < 400


# -- retrieval ----------------------------------------------------------------------


def test_sentence_search_failing_keeps_the_window_hits(qa, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("sentence vectors unavailable")

    monkeypatch.setattr(qa.parts.index, "search_sentences", broken)
    ranked, notice = qa.retriever.search("How big is the Policy Innovation Fund?", k=5)
    assert notice == ""
    assert any(r.dense > 0 for r in ranked)


def test_a_date_next_door_about_another_fund_is_not_brought_in(qa):
    history = history_after(qa, "How much is the Policy Innovation Fund?")
    follow = qa.ask("And when was it devised?", history=history)
    assert "Spending Review 2000" in follow.text
    assert "Evidence-Based Policy Fund" not in follow.text  # the next sentence in 2.12, dated but about another fund


# -- conversations and questions in two parts ----------------------------------------


def test_a_question_that_names_nothing_of_its_own_follows_the_conversation(qa):
    history = [
        {"role": "user", "content": "What did conclusion 14 recommend?"},
        {"role": "assistant", "content": "It asked for machinery for a performance information strategy."},
    ]
    query, route = qa.prepare("what was set up in response, and when?", history)
    assert query.follow_up and route.conclusions == [14]
    own, own_route = qa.prepare("What is the Policy Innovation Fund?", history)
    assert not own.follow_up and not own_route


def test_a_question_in_two_parts_gets_a_sentence_for_each(qa):
    answer = _answered(
        qa, "How much is the Policy Innovation Fund, and how much is the Criminal Justice System Reserve?"
    )
    assert "£50 million" in answer.text and "£525 million" in answer.text
