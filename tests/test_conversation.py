"""Conversation state: rebuilt from the history alone, follow-ups resolved against it (no index needed)."""

from __future__ import annotations

import json

import pytest

from assistant.question.conversation import Conversation, State
from assistant.question.words import rare_words
from index.report import load_report


@pytest.fixture(scope="module")
def talk() -> Conversation:
    records = load_report().records
    return Conversation(records, rare_words(records, 4))


def chat(*turns: str) -> list[dict]:
    """A history of (question, answer) pairs given flat: q1, a1, q2, a2, …"""
    roles = ("user", "assistant")
    return [{"role": roles[i % 2], "content": text} for i, text in enumerate(turns)]


def read(talk: Conversation, question: str, *history: str):
    return talk.resolve(question, talk.state(chat(*history)))


def test_a_pronoun_stands_for_the_thing_named_before_and_is_shown(talk):
    r = read(talk, "who runs it?", "What does the Regional Co-ordination Unit do?", "It co-ordinates. [3.8.1]")
    assert r.follow_up
    assert r.understood_as == "who runs the Regional Co-ordination Unit?"
    assert "Regional Co-ordination Unit" in r.text


def test_the_subject_carries_over_more_than_one_turn(talk):
    history = ("How big is the Invest to Save Budget?", "… [2.12]", "and when did it start?", "… [3.24.2]")
    r = read(talk, "what has it paid for?", *history)
    assert "Invest to Save Budget" in r.understood_as


def test_the_most_particular_name_is_the_subject_not_the_report_title(talk):
    r = read(
        talk, "when is it due?", "What did Wiring It Up say about the Centre for Management and Policy Studies?", "…"
    )
    assert "Centre for Management and Policy Studies" in r.understood_as
    assert "Wiring It Up" not in r.understood_as


def test_a_correction_keeps_the_ask_and_swaps_the_subject(talk):
    r = read(talk, "No, I meant the Invest to Save Budget.", "How much is the Policy Innovation Fund?", "£50m [2.12]")
    assert r.follow_up
    assert "How much is" in r.text and "Invest to Save Budget" in r.text
    assert "Policy Innovation Fund" not in r.text


def test_a_new_conclusion_number_keeps_the_earlier_ask(talk):
    r = read(talk, "what about conclusion 19?", "When was conclusion 18 due?", "By when: … [Conclusion 18]")
    assert "When was" in r.text and "19" in r.text and "18" not in r.text


def test_a_question_that_names_its_own_subject_starts_a_new_focus(talk):
    r = read(talk, "What is the Public Sector Benchmarking Service?", "How much is the Policy Innovation Fund?", "…")
    assert not r.follow_up and r.understood_as == ""
    assert "Public Sector Benchmarking Service" in r.focus.subject


def test_going_back_reaches_an_earlier_focus(talk):
    history = (
        "How much is the Policy Innovation Fund?",
        "£50m [2.12]",
        "What is the Public Sector Benchmarking Service?",
        "… [2.14]",
    )
    r = read(talk, "back to the innovation money: who manages it?", *history)
    assert "Policy Innovation Fund" in r.understood_as


def test_a_follow_up_that_names_its_own_thing_is_read_along_not_rewritten(talk):
    r = read(talk, "and the Invest to Save Budget, how big is that?", "How much is the Policy Innovation Fund?", "…")
    assert r.follow_up and r.understood_as == ""
    assert "Invest to Save Budget" in r.text and "policy innovation fund" in r.text.lower()


def test_a_possessive_is_left_alone(talk):
    r = read(talk, "if a council meets its targets, what then?", "What is a Local Public Service Agreement?", "…")
    assert "its targets" in r.text


def test_a_correction_drops_the_one_it_was_not_and_keeps_the_rest_of_the_ask(talk):
    r = read(
        talk, "sorry, I meant the Invest to Save Budget, not that one", "How much is the Policy Innovation Fund?", "…"
    )
    assert r.text.startswith("How much is") and "Invest to Save Budget" in r.text
    assert "not that one" not in r.text and "Policy Innovation Fund" not in r.text


def test_the_report_title_is_no_pronoun(talk):
    r = read(talk, "what did Wiring It Up recommend on this?", "What is the Invest to Save Budget?", "…")
    assert "Wiring It Up" in r.text


def test_going_back_reaches_the_turn_that_shares_most_words(talk):
    history = (
        "How many cross-cutting spending reviews were there?",
        "… [3.25.3]",
        "How much is the Policy Innovation Fund?",
        "… [2.12]",
        "What is the Public Sector Benchmarking Service?",
        "… [2.14]",
    )
    r = read(talk, "back to the spending reviews: who chaired them?", *history)
    assert "Policy Innovation Fund" not in r.text and "Benchmarking" not in r.text
    assert "review" in r.text.lower()


def test_the_state_is_rebuilt_from_the_history_alone():
    records = load_report().records
    history = chat("How much is the Policy Innovation Fund?", "It is £50 million. [2.12] [3.24.1]")
    first, second = Conversation(records, frozenset()), Conversation(records, frozenset())
    assert first.state(history) == second.state(history)
    assert first.state(history).cited == ("2.12", "3.24.1")
    assert first.state([]) == State()


def test_the_first_question_of_a_conversation_is_read_as_typed(talk):
    r = read(talk, "How much is it?")
    assert not r.follow_up and r.text == "How much is it?"


# -- played through the assistant, as the eval does ------------------------------------------------------


def test_a_conversation_is_played_with_the_assistants_own_answers(qa, tmp_path):
    from eval.chats import run_conversations

    turn = {"type": "fact", "style": "formal", "evidence": [], "paragraphs": [], "answer_facts": []}
    conversation = {
        "id": "t-1",
        "persona": "tester",
        "turns": [
            {**turn, "question": "What is the Invest to Save Budget meant to do?", "move": "opening"},
            {**turn, "question": "and who runs it?", "move": "pronoun"},
        ],
    }
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(conversation) + "\n")
    report = run_conversations(path, tmp_path / "out", qa)
    rows = json.loads((tmp_path / "out" / "conversations.json").read_text())["turns"]
    assert [r["turn"] for r in rows] == [1, 2] and report["aggregates"]["later_turns"] == 1
    assert "turns 2 and on" in report["markdown"]
    assert rows[0]["understood_as"] == "" and "Invest to Save Budget" in rows[1]["understood_as"]


def test_the_answer_says_how_a_follow_up_was_understood(qa):
    history = chat("What is the Invest to Save Budget meant to do?", "… [2.12]")
    answer = qa.ask("when did it start?", history=history)
    assert answer.understood_as == "when did the Invest to Save Budget start?"
    assert answer.to_dict()["understood_as"] == answer.understood_as
    assert qa.ask("What is the Invest to Save Budget meant to do?").understood_as == ""


def test_a_chain_of_follow_ups_shows_one_step_back_and_searches_them_all(talk):
    """Follow-ups about nothing named lean on the turn before, which leaned on the one before: the search reads
    the whole chain, the reader is shown only the last step."""
    history = ("what was promised about staff moving between departments?", "… [3.18.1]", "and by when?", "… [3.18.2]")
    r = read(talk, "was it done?", *history)
    assert r.understood_as.count("(after:") == 1 and r.understood_as.endswith("(after: and by when?)")
    assert "promised" in r.text and r.text.count("(after:") == 2
