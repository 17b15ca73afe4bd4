"""The evaluation metrics on hand-computed cases."""

from __future__ import annotations

import pytest

from assistant.types import Citation
from eval.metrics import (
    answer_sentences,
    citation_precision,
    citation_recall,
    citation_validity,
    complete_reciprocal_rank,
    content_words,
    fact_recall,
    faithfulness,
    mean_defined,
    missing_facts,
    number_tokens,
    percentile,
    recall_at_k,
    reciprocal_rank,
    refusal_scores,
    supports,
)
from index.records import Record


def record(rid: str, text: str) -> Record:
    return Record(id=rid, kind="paragraph", text=text, start=0, end=len(text))


RECORDS = {
    "3.24.1": record(
        "3.24.1", "The Policy Innovation Fund of £50m per year for three years was devised in Spending Review 2000."
    ),
    "2.12": record("2.12", "The Criminal Justice System Reserve of £525 million over three years was introduced."),
    "Conclusion 7": record("Conclusion 7", "Conclusion 7: Ministers and civil servants should train together."),
}


# -- recall@k --------------------------------------------------------------------


def test_recall_at_k_single_gold():
    assert recall_at_k(["a", "b", "c"], ["b"], 1) == 0.0
    assert recall_at_k(["a", "b", "c"], ["b"], 2) == 1.0


def test_recall_at_k_needs_every_gold_id():
    assert recall_at_k(["a", "b", "c"], ["a", "c"], 2) == 0.0
    assert recall_at_k(["a", "b", "c"], ["a", "c"], 3) == 1.0


def test_recall_at_k_counts_a_duplicate_once():
    # distinct ranking is a, b, c: c is third, not fourth
    assert recall_at_k(["a", "a", "b", "c"], ["c"], 3) == 1.0
    assert recall_at_k(["a", "a", "b", "c"], ["c"], 2) == 0.0


def test_recall_at_k_gold_duplicates_and_empties():
    assert recall_at_k(["a"], ["a", "a"], 1) == 1.0
    assert recall_at_k(["a"], [], 5) is None
    assert recall_at_k([], ["a"], 5) == 0.0


# -- reciprocal rank -------------------------------------------------------------


def test_reciprocal_rank_single_gold():
    assert reciprocal_rank(["a", "b", "c"], ["a"]) == 1.0
    assert reciprocal_rank(["a", "b", "c"], ["c"]) == pytest.approx(1 / 3)


def test_reciprocal_rank_uses_the_first_gold_to_appear():
    assert reciprocal_rank(["a", "b", "c", "d"], ["d", "b"]) == pytest.approx(1 / 2)
    assert reciprocal_rank(["a", "b", "c", "d"], ["a", "d"]) == 1.0
    assert reciprocal_rank(["a", "b"], ["b", "z"]) == pytest.approx(1 / 2)


def test_complete_reciprocal_rank_uses_the_last_gold_to_appear():
    assert complete_reciprocal_rank(["a", "b", "c", "d"], ["b", "a"]) == pytest.approx(1 / 2)
    assert complete_reciprocal_rank(["a", "b", "c", "d"], ["a", "d"]) == pytest.approx(1 / 4)
    assert complete_reciprocal_rank(["a", "b"], ["a", "z"]) == 0.0


def test_reciprocal_rank_with_duplicates_in_the_ranking():
    assert reciprocal_rank(["b", "b", "b", "a"], ["a"]) == pytest.approx(1 / 2)
    assert complete_reciprocal_rank(["b", "b", "a", "a"], ["a", "b"]) == pytest.approx(1 / 2)


def test_reciprocal_rank_missing_and_empty():
    for rr in (reciprocal_rank, complete_reciprocal_rank):
        assert rr(["a", "b"], ["z"]) == 0.0
        assert rr([], ["a"]) == 0.0
        assert rr(["a"], []) is None


# -- facts -----------------------------------------------------------------------


def test_fact_recall_all_or_nothing_with_alternatives():
    text = "The fund is worth £50m per year [3.24.1]."
    assert fact_recall(text, [["£50m", "£50 million"], ["per year"]]) == 1.0
    assert fact_recall(text, [["£50 million", "£50m"], ["three years"]]) == 0.0
    assert fact_recall(text, []) is None


def test_fact_recall_folds_case_space_quotes_and_dashes():
    text = "The  Government’s  plan runs 2002–03 [2.12]."
    assert fact_recall(text, [["government's plan"], ["2002-03"]]) == 1.0


def test_fact_recall_ignores_citation_markers():
    assert fact_recall("Progress was made. [3.24.1]", [["3.24.1"]]) == 0.0


def test_missing_facts_names_the_first_alternative():
    assert missing_facts("It was £50m.", [["£50m"], ["per year", "annually"], ["Treasury"]]) == ["per year", "Treasury"]
    assert missing_facts("anything", []) == []


# -- sentences -------------------------------------------------------------------


def test_answer_sentences_one_per_line_with_markers():
    text = "The fund is £50m. [3.24.1]\nThe reserve is £525 million. [2.12] [3.24.1]"
    assert answer_sentences(text) == [
        ("The fund is £50m.", ["3.24.1"]),
        ("The reserve is £525 million.", ["2.12", "3.24.1"]),
    ]


def test_answer_sentences_split_a_line_and_keep_each_sentence_markers():
    text = "The fund is £50m [3.24.1]. It runs three years [2.12]. No citation here."
    assert answer_sentences(text) == [
        ("The fund is £50m.", ["3.24.1"]),
        ("It runs three years.", ["2.12"]),
        ("No citation here.", []),
    ]


def test_answer_sentences_skip_unmarked_labels_only():
    text = "Sources:\nThe Government should: [Conclusion 28]\n\nSign the code. [Conclusion 28]"
    assert answer_sentences(text) == [
        ("The Government should:", ["Conclusion 28"]),
        ("Sign the code.", ["Conclusion 28"]),
    ]


def test_answer_sentences_empty():
    assert answer_sentences("") == []
    assert answer_sentences("[3.24.1]") == []


# -- support ---------------------------------------------------------------------


def test_number_tokens_and_content_words():
    assert number_tokens("£50m in 2000, 9.5% of 1,400 [3.24.1]") == {"£50", "2000", "9.5%", "1,400", "3.24.1"}
    assert content_words("The Fund of the Government's plan") == {"fund", "government's", "plan"}


def test_supports_verbatim_and_by_numbers_and_words():
    text = RECORDS["3.24.1"].text
    assert supports("the policy  innovation fund of £50m per year", text)  # verbatim once folded
    assert supports("Spending Review 2000 devised the £50m Policy Innovation Fund.", text)  # same numbers, words
    assert not supports("Spending Review 2000 devised the £60m Policy Innovation Fund.", text)  # a number differs
    assert not supports("Ministers train together with civil servants.", text)  # words differ


def test_supports_needs_sixty_percent_of_content_words():
    text = "alpha beta gamma delta epsilon"
    assert supports("alpha beta gamma zeta eta", text)  # 3 of 5 = 60%
    assert not supports("alpha beta zeta eta theta", text)  # 2 of 5 = 40%


# -- citations -------------------------------------------------------------------


def test_citation_validity():
    good = Citation("3.24.1", "the POLICY innovation fund", 0, 1)
    wrong_record = Citation("2.12", "The Policy Innovation Fund", 0, 1)
    unknown = Citation("9.9.9", "anything", 0, 1)
    empty = Citation("3.24.1", "  ", 0, 1)
    assert citation_validity([good], RECORDS) == 1.0
    assert citation_validity([good, wrong_record, unknown, empty], RECORDS) == 0.25
    assert citation_validity([], RECORDS) is None


def test_citation_precision_over_cited_sentences_only():
    sentences = [
        ("The Policy Innovation Fund of £50m per year for three years", ["3.24.1"]),
        ("The Policy Innovation Fund of £50m per year for three years", ["2.12"]),  # wrong record
        ("Something uncited", []),
        ("The Criminal Justice System Reserve of £525 million", ["3.24.1", "2.12"]),  # one of two suffices
        ("The Criminal Justice System Reserve of £525 million", ["9.9.9"]),  # unknown id
    ]
    assert citation_precision(sentences, RECORDS) == pytest.approx(2 / 4)
    assert citation_precision([("Uncited", [])], RECORDS) is None
    assert citation_precision([], RECORDS) is None


def test_citation_recall():
    assert citation_recall(["a", "b", "x"], ["a", "b", "c", "d"]) == 0.5
    assert citation_recall(["a", "a"], ["a"]) == 1.0
    assert citation_recall([], ["a"]) == 0.0
    assert citation_recall(["a"], []) is None


def test_faithfulness_counts_uncited_sentences_as_unsupported():
    sentences = [
        ("The Policy Innovation Fund of £50m per year for three years", ["3.24.1"]),
        ("The Policy Innovation Fund of £50m per year for three years", []),
        ("Ministers and civil servants should train together.", ["Conclusion 7"]),
        ("Ministers and civil servants should train together.", ["2.12"]),
    ]
    assert faithfulness(sentences, RECORDS) == 0.5
    assert faithfulness([], RECORDS) is None


# -- refusals --------------------------------------------------------------------


def test_refusal_scores_mixed():
    # (out_of_scope, refused): 2 OOS refused, 1 OOS answered, 1 answerable refused, 4 answerable answered
    pairs = [(True, True), (True, True), (True, False), (False, True)] + [(False, False)] * 4
    scores = refusal_scores(pairs)
    assert scores["precision"] == pytest.approx(2 / 3)
    assert scores["recall"] == pytest.approx(2 / 3)
    assert scores["false_refusal_rate"] == pytest.approx(1 / 5)


def test_refusal_scores_refusals_only():
    scores = refusal_scores([(True, True), (True, True)])
    assert scores == {"precision": 1.0, "recall": 1.0, "false_refusal_rate": None}
    scores = refusal_scores([(False, True)])
    assert scores == {"precision": 0.0, "recall": None, "false_refusal_rate": 1.0}


def test_refusal_scores_without_refusals_or_items():
    assert refusal_scores([(True, False), (False, False)]) == {
        "precision": None,
        "recall": 0.0,
        "false_refusal_rate": 0.0,
    }
    assert refusal_scores([]) == {"precision": None, "recall": None, "false_refusal_rate": None}


# -- aggregation -----------------------------------------------------------------


def test_percentile_of_one_value():
    assert percentile([7.0], 50) == 7.0
    assert percentile([7.0], 95) == 7.0


def test_percentile_of_four_values_interpolates_linearly():
    values = [40.0, 10.0, 30.0, 20.0]  # sorted: 10, 20, 30, 40
    assert percentile(values, 0) == 10.0
    assert percentile(values, 50) == pytest.approx(25.0)  # position 1.5
    assert percentile(values, 95) == pytest.approx(38.5)  # position 2.85
    assert percentile(values, 100) == 40.0


def test_percentile_empty():
    assert percentile([], 50) is None


def test_mean_defined():
    assert mean_defined([1.0, None, 0.0, None]) == 0.5
    assert mean_defined([None, None]) is None
    assert mean_defined([]) is None
