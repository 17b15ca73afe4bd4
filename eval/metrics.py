"""Evaluation metrics: pure functions, no I/O, deterministic.

Conventions shared by every metric here:

- A metric that does not apply to an item (no gold ids, no facts, no citations...) returns None;
  aggregates then skip it through `mean_defined`.
- Rankings come already ordered by their producer; ties are broken there (the assistant sorts by
  fused score, then report order; the baseline by similarity, then report order). A ranking is
  de-duplicated first: an id counts once, at its first position, and ranks count distinct ids.
- Text comparisons go through `index.text.fold`: case, white space, curly quotes and dashes folded.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from assistant.answering.citations import MARKER_RE, markers
from index.text import FUNCTION_WORDS, fold, split_sentences

Facts = Sequence[Sequence[str]]
Claim = tuple[str, list[str]]

NUMBER_RE = re.compile(r"£?\d+(?:[.,]\d+)*%?")
_WORD_RE = re.compile(r"[a-z][a-z'-]*")
_MARKER_AND_SPACE_RE = re.compile(r"\s*" + MARKER_RE.pattern)
MIN_WORD_SHARE = 0.6
STOPWORDS = FUNCTION_WORDS | frozenset("either may might shall upon".split())


class HasText(Protocol):
    """Anything with the text of a record."""

    @property
    def text(self) -> str: ...


class CitationLike(Protocol):
    """A citation: the id of a record and a quote from it."""

    @property
    def id(self) -> str: ...

    @property
    def quote(self) -> str: ...


# -- retrieval -------------------------------------------------------------------


def distinct(ids: Iterable[str]) -> list[str]:
    """The ids in order, each kept at its first position only."""
    return list(dict.fromkeys(ids))


def recall_at_k(ranked_ids: Sequence[str], gold_ids: Iterable[str], k: int) -> float | None:
    """1.0 if every gold id is among the first k distinct ranked ids, else 0.0; None without gold ids."""
    gold = set(gold_ids)
    if not gold:
        return None
    return 1.0 if gold <= set(distinct(ranked_ids)[:k]) else 0.0


def reciprocal_rank(ranked_ids: Sequence[str], gold_ids: Iterable[str]) -> float | None:
    """1 / the (1-based) rank of the first gold id (the usual MRR term); 0.0 if none appears; None without gold."""
    gold = set(gold_ids)
    if not gold:
        return None
    for rank, rid in enumerate(distinct(ranked_ids), start=1):
        if rid in gold:
            return 1.0 / rank
    return 0.0


def complete_reciprocal_rank(ranked_ids: Sequence[str], gold_ids: Iterable[str]) -> float | None:
    """1 / the (1-based) rank at which the last gold id appears; 0.0 if one never does; None without gold.

    Stricter than the usual term: the evidence is complete only once every gold id has been seen, so an
    item with n gold ids scores at most 1/n.
    """
    gold = set(gold_ids)
    if not gold:
        return None
    rank = {rid: i + 1 for i, rid in enumerate(distinct(ranked_ids))}
    if not gold <= rank.keys():
        return 0.0
    return 1.0 / max(rank[g] for g in gold)


# -- answer facts ----------------------------------------------------------------


def strip_markers(text: str) -> str:
    """The text without its [..] citation markers."""
    return " ".join(_MARKER_AND_SPACE_RE.sub("", text).split())


def has_fact(answer_text: str, alternatives: Sequence[str]) -> bool:
    """Whether some alternative occurs in the answer (folded; citation markers ignored)."""
    body = fold(strip_markers(answer_text))
    return any(alt.strip() and fold(alt) in body for alt in alternatives)


def missing_facts(answer_text: str, answer_facts: Facts) -> list[str]:
    """The facts (by their first alternative) that the answer does not state."""
    return [fact[0] for fact in answer_facts if fact and not has_fact(answer_text, fact)]


def fact_recall(answer_text: str, answer_facts: Facts) -> float | None:
    """1.0 if the answer states every fact (one alternative each suffices), else 0.0; None without facts."""
    if not answer_facts:
        return None
    return 0.0 if missing_facts(answer_text, answer_facts) else 1.0


# -- answer sentences and their support ------------------------------------------


def answer_sentences(answer_text: str) -> list[Claim]:
    """(sentence without markers, cited ids) per sentence; an unmarked line ending in ':' is a label and skipped.

    A sentence is cited only by the markers inside it (one sentence, its own markers).
    """
    out: list[Claim] = []
    for line in answer_text.splitlines():
        if not markers(line) and line.rstrip().endswith(":"):
            continue
        for sentence in split_sentences(line):
            text = strip_markers(sentence)
            if text:
                out.append((text, distinct(markers(sentence))))
    return out


def number_tokens(text: str) -> set[str]:
    """Numbers in the text: digits with their £, % and decimal or thousands separators."""
    return set(NUMBER_RE.findall(text))


def content_words(text: str) -> set[str]:
    """Lower-cased words of two letters or more, without stop words."""
    words = {w.strip("'-") for w in _WORD_RE.findall(fold(text))}
    return {w for w in words if len(w) > 1} - STOPWORDS


def supports(sentence: str, record_text: str) -> bool:
    """Whether the record backs the sentence: verbatim, or same numbers and 60% of the content words."""
    if fold(sentence) in fold(record_text):
        return True
    if not number_tokens(sentence) <= number_tokens(record_text):
        return False
    words = content_words(sentence)
    if not words:
        return False
    return len(words & content_words(record_text)) >= MIN_WORD_SHARE * len(words) - 1e-9


def is_supported(sentence: str, cited_ids: Sequence[str], records_by_id: Mapping[str, HasText]) -> bool:
    """Whether some cited, existing record supports the sentence; an uncited sentence is not supported."""
    return any(rid in records_by_id and supports(sentence, records_by_id[rid].text) for rid in cited_ids)


def citation_validity(citations: Sequence[CitationLike], records_by_id: Mapping[str, HasText]) -> float | None:
    """Share of citations naming an existing record and quoting it verbatim (folded); None without citations."""
    if not citations:
        return None
    valid = [
        c.id in records_by_id and bool(c.quote.strip()) and fold(c.quote) in fold(records_by_id[c.id].text)
        for c in citations
    ]
    return sum(valid) / len(valid)


def citation_precision(sentences: Sequence[Claim], records_by_id: Mapping[str, HasText]) -> float | None:
    """Share of cited sentences that some cited record supports; None without cited sentences."""
    cited = [(text, ids) for text, ids in sentences if ids]
    if not cited:
        return None
    return sum(is_supported(text, ids, records_by_id) for text, ids in cited) / len(cited)


def citation_recall(cited_ids: Iterable[str], gold_ids: Iterable[str]) -> float | None:
    """Share of the gold ids that the answer cites; None without gold ids."""
    gold = set(gold_ids)
    if not gold:
        return None
    return len(gold & set(cited_ids)) / len(gold)


def faithfulness(sentences: Sequence[Claim], records_by_id: Mapping[str, HasText]) -> float | None:
    """Share of claim sentences supported by their cited records (uncited = unsupported); None without any."""
    if not sentences:
        return None
    return sum(is_supported(text, ids, records_by_id) for text, ids in sentences) / len(sentences)


def citation_relevance(sentences: Sequence[Claim], evidence: Sequence[str], answer_facts: Facts) -> float | None:
    """Share of cited sentences that hold gold evidence or an answer fact, or share half their content words
    with the evidence; None without cited sentences or without evidence."""
    cited = [text for text, ids in sentences if ids]
    if not cited or not evidence:
        return None
    snippets = [fold(e) for e in evidence]
    evidence_words = content_words(" ".join(evidence))
    alternatives = [fold(a) for fact in answer_facts for a in fact if a.strip()]

    def relevant(text: str) -> bool:
        folded = fold(text)
        if any(s in folded or folded in s for s in snippets) or any(a in folded for a in alternatives):
            return True
        words = content_words(text)
        return bool(words) and len(words & evidence_words) >= 0.5 * len(words)

    return sum(relevant(t) for t in cited) / len(cited)


# -- refusals --------------------------------------------------------------------


def _ratio(hits: int, total: int) -> float | None:
    """hits / total, or None when total is 0."""
    return hits / total if total else None


def refusal_scores(pairs: Iterable[tuple[bool, bool]]) -> dict[str, float | None]:
    """From (is_out_of_scope, refused) pairs: refusal precision, refusal recall, false refusal rate."""
    items = list(pairs)
    refused_oos = sum(1 for oos, refused in items if oos and refused)
    refused = sum(1 for _, r in items if r)
    oos = sum(1 for o, _ in items if o)
    refused_answerable = sum(1 for o, r in items if r and not o)
    return {
        "precision": _ratio(refused_oos, refused),
        "recall": _ratio(refused_oos, oos),
        "false_refusal_rate": _ratio(refused_answerable, len(items) - oos),
    }


# -- aggregation -----------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0..100) with linear interpolation between order statistics; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * p / 100.0
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def mean_defined(values: Iterable[float | None]) -> float | None:
    """The mean of the values that are not None; None if there are none."""
    defined = [v for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None
