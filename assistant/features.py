"""Features the fitted models read: of a retrieved record, of a candidate sentence, of a whole question.

Every feature is general: it says how well some text matches the question, or whether it holds the kind
of answer the question asks for (a sum, a count, a date, a person, a list, a deadline). None is about a
particular question. Bump FEATURE_VERSION when a feature's meaning changes: the model files record it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from assistant.answering.sentences import ANAPHOR_RE, Sentence, SentenceBank, has_count, has_date, question_stems, stems
from assistant.question.intent import Intent
from assistant.question.query import Query
from assistant.question.words import question_names
from index.records import Record
from index.text import fold

FEATURE_VERSION = "4"

# The kinds of answer a question can ask for, each with the test a sentence must pass to give it.
ASKED_KINDS = ("money", "count", "date", "person", "list", "deadline")

_MONEY_RE = re.compile(r"£\s?\d|\b\d+(?:\.\d+)?\s?(?:million|billion|bn)\b", re.I)
_YEAR_RE = re.compile(r"\b(19\d\d|20\d\d)\b")
# Words that ask about a time after the one a report describes: what came of something since.
_LATER_RE = re.compile(
    r"\b(now|nowadays|today|currently|still|these days|later|eventually|in the end|subsequently|afterwards|"
    r"since then|ever since|end up|ended up|turned out|did it work|succeed(?:ed)?|outcome|result(?:s|ed)? of|"
    r"actually|met|hit|reached|achieved)\b",
    re.I,
)
_CROSS_REFERENCE_RE = re.compile(r"^(?:See (?:also )?|The response to conclusion \d+)", re.I)
_CAPITALISED_RE = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z][\w'’-]+")
_HONORIFICS = frozenset("Sir Lord Lady Baroness Dame Dr Mr Mrs Ms Professor".split())
# Words of posts and bodies: capitalised in the report, but never part of a person's name.
_POST_WORDS = frozenset(
    """secretary minister chancellor general chairman chair director head chief president executive officer
    treasury home state permanent deputy prime parliamentary paymaster attorney lord comptroller auditor cabinet
    office unit committee department service fund council group team board agency commission association
    government parliament house court audit national public""".split()
)
_CAPITALISED_RUN_RE = re.compile(r"\b[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*")

RECORD_FEATURES = (
    "dense_window",
    "dense_sentence",
    "dense_rr",
    "bm25_norm",
    "bm25_rr",
    "named",
    "fused_rr",
    "coverage_record",
    "coverage_sentence",
    "names_found",
    "kind_conclusion",
    "kind_paragraph",
    "kind_intro",
    "kind_table",
    "kind_footnote",
    "kind_abbreviation",
    "abbreviation_asked",
    "kind_met",
    "progress_asked_paragraph",
    "recommend_asked_conclusion",
)

SENTENCE_FEATURES = (
    "record_p",
    "record_rr",
    "routed",
    "cosine",
    "coverage",
    "names_found",
    "first",
    "anaphor",
    "lead_in",
    "cross_reference",
    "log_chars",
    "conclusion_statement",
    "record_coverage",
    "neighbour_coverage",
    "cosine_rank_in_record",
    "progress_asked_paragraph",
    "recommend_asked_statement",
    *(f"gives_{kind}" for kind in ASKED_KINDS),
    *(f"asked_and_gives_{kind}" for kind in ASKED_KINDS),
)

QUESTION_FEATURES = (
    "top_record_p",
    "second_record_p",
    "top_sentence_p",
    "mean_top3_sentence_p",
    "dense_top",
    "sentence_cosine_top",
    "bm25_top",
    "coverage_top",
    "unknown_share",
    "unknown_capitalised",
    "names_asked",
    "names_missing",
    "asks_kind",
    "kind_unmet",
    "later_year",
    "content_words",
    "follow_up",
    "routed",
    "kind_answer_p",
    "kind_subject",
    "missing_share",
    "missing_max_idf",
    "asks_later",
    *(f"asked_{kind}" for kind in ASKED_KINDS),
    *(f"subject_{kind}" for kind in ASKED_KINDS),
)


@dataclass
class Signals:
    """What the searches said of one record, before any model reads it."""

    dense_window: float = 0.0
    dense_sentence: float = 0.0
    dense_rank: int | None = None
    bm25: float = 0.0  # as a share of the best BM25 score of the question
    bm25_raw: float = 0.0
    bm25_rank: int | None = None
    named: bool = False
    fused_rank: int = 0


_COUNTED_RE = re.compile(r"\b(?:how many|number of|count of)\s+(?:the\s+)?((?:[\w'’-]+\s*){1,3})", re.I)


def counted_stems(question: str) -> frozenset[str]:
    """The stems of what a 'how many …' question counts ('projects' of 'how many projects got money')."""
    match = _COUNTED_RE.search(question)
    return frozenset(stems(match.group(1))) if match else frozenset()


def asked_kinds(intent: Intent) -> dict[str, bool]:
    """Which kinds of answer the question asks for."""
    return {
        "money": intent.money_strict or intent.money,
        "count": intent.count and not intent.money_strict,
        "date": intent.when and not intent.by_when,
        "person": intent.person,
        "list": intent.listing,
        "deadline": intent.by_when,
    }


class Lexicon:
    """What the report's own words say about a piece of text: names of people, words it never uses."""

    def __init__(self, records: list[Record]):
        text = "\n".join(r.text for r in records)
        self.lowercase = frozenset(re.findall(r"\b[a-z][a-z'’-]+\b", text))
        self.words = frozenset(w.lower() for w in re.findall(r"[A-Za-z][\w'’-]+", text))
        self.folded = {r.id: fold(f"{r.heading} {r.text}") for r in records}

    def person_names(self, text: str) -> list[str]:
        """Names of people: capitalised words the report never writes in lower case, not words of posts."""
        out = []
        for run in _CAPITALISED_RUN_RE.findall(text):
            words = run.split()
            titled = words[0] in _HONORIFICS
            rest = words[1:] if titled else words
            if rest and (titled or len(rest) >= 2) and all(self._personal(w) for w in rest):
                out.append(run)
        return out

    def _personal(self, word: str) -> bool:
        bare = word.strip("'’-").lower()
        return bare.isalpha() and bare not in self.lowercase and bare not in _POST_WORDS

    def unknown_capitalised(self, question: str) -> int:
        """Capitalised words of the question (not its first) that the report never uses: a place, a person."""
        return sum(1 for w in _CAPITALISED_RE.findall(question) if w.lower().strip("'’-") not in self.words)


def gives(
    kind: str,
    sentence: Sentence,
    lexicon: Lexicon,
    counted: frozenset[str] = frozenset(),
    sentence_stems: frozenset[str] | None = None,
) -> bool:
    """Whether the sentence holds that kind of answer; a count must name what the question counts."""
    text = sentence.text
    if kind == "money":
        return bool(_MONEY_RE.search(text))
    if kind == "count":
        if not has_count(text):
            return False
        return not counted or bool(counted & (sentence_stems or frozenset(stems(text))))
    if kind == "date":
        return has_date(text)
    if kind == "person":
        return bool(lexicon.person_names(text))
    if kind == "list":
        return text.rstrip().endswith(":") or text.count(";") + text.count(",") >= 4
    return is_deadline(sentence)


def is_deadline(sentence: Sentence) -> bool:
    """A conclusion's 'By when' line."""
    return sentence.record.kind == "conclusion" and sentence.text.lower().startswith("by when")


def reciprocal(rank: int | None) -> float:
    return 0.0 if rank is None else 1.0 / (1 + rank)


def names_share(names: list[str], folded_text: str) -> float:
    """Share of the question's names found in the text (1 when the question names nothing)."""
    if not names:
        return 1.0
    return sum(1 for n in names if fold(n) in folded_text) / len(names)


class FeatureBuilder:
    """Computes the three feature rows from the report's sentence bank and lexicon."""

    def __init__(self, bank: SentenceBank, lexicon: Lexicon, covered_until: int | None):
        self.bank = bank
        self.lexicon = lexicon
        self.covered_until = covered_until

    def record_row(
        self, record: Record, signals: Signals, query_stems: dict[str, float], names: list[str], kinds: dict
    ) -> dict[str, float]:
        sentences = self.bank.sentences(record.id)
        record_stems = frozenset().union(*(self.bank.stems_of(s) for s in sentences)) if sentences else frozenset()
        return {
            "dense_window": signals.dense_window,
            "dense_sentence": signals.dense_sentence,
            "dense_rr": reciprocal(signals.dense_rank),
            "bm25_norm": signals.bm25,
            "bm25_rr": reciprocal(signals.bm25_rank),
            "named": float(signals.named),
            "fused_rr": reciprocal(signals.fused_rank),
            "coverage_record": self.bank.coverage_of(query_stems, record_stems),
            "coverage_sentence": max((self.bank.coverage(query_stems, s) for s in sentences), default=0.0),
            "names_found": names_share(names, self.lexicon.folded.get(record.id, "")),
            "kind_conclusion": float(record.kind == "conclusion"),
            "kind_paragraph": float(record.kind == "paragraph"),
            "kind_intro": float(record.kind == "intro"),
            "kind_table": float(record.kind == "table row"),
            "kind_footnote": float(record.kind == "footnote"),
            "kind_abbreviation": float(record.kind == "abbreviation"),
            "abbreviation_asked": float(record.kind == "abbreviation" and kinds.get("abbreviation", False)),
            "kind_met": float(self._meets(sentences, kinds)),
            "progress_asked_paragraph": float(kinds.get("progress", False) and record.kind == "paragraph"),
            "recommend_asked_conclusion": float(kinds.get("recommend", False) and record.kind == "conclusion"),
        }

    def _gives(self, kind: str, sentence: Sentence, kinds: dict) -> bool:
        return gives(kind, sentence, self.lexicon, kinds.get("counted", frozenset()), self.bank.stems_of(sentence))

    def _meets(self, sentences: list[Sentence], kinds: dict) -> bool:
        asked = [k for k in ASKED_KINDS if kinds.get(k)]
        return bool(asked) and any(self._gives(k, s, kinds) for k in asked for s in sentences)

    def sentence_row(
        self,
        sentence: Sentence,
        record_p: float,
        record_rank: int,
        routed: bool,
        cosine: float,
        query_stems: dict[str, float],
        names: list[str],
        kinds: dict,
    ) -> dict[str, float]:
        text = sentence.text
        context = self.bank.leaning_text(sentence)
        row = {
            "record_p": record_p,
            "record_rr": reciprocal(record_rank),
            "routed": float(routed),
            "cosine": cosine,
            "coverage": self.bank.coverage(query_stems, sentence),
            "names_found": names_share(names, fold(context)),
            "first": float(sentence.position == 0),
            "anaphor": float(bool(ANAPHOR_RE.match(text))),
            "lead_in": float(text.rstrip().endswith(":")),
            "cross_reference": float(bool(_CROSS_REFERENCE_RE.match(text))),
            "log_chars": math.log(1 + len(text)),
            "conclusion_statement": float(sentence.record.kind == "conclusion" and not is_deadline(sentence)),
            "progress_asked_paragraph": float(kinds.get("progress", False) and sentence.record.kind == "paragraph"),
            "recommend_asked_statement": float(
                kinds.get("recommend", False) and sentence.record.kind == "conclusion" and not is_deadline(sentence)
            ),
            "record_coverage": 0.0,  # filled in by add_record_context, which sees the record's other sentences
            "neighbour_coverage": 0.0,
            "cosine_rank_in_record": 0.0,
        }
        for kind in ASKED_KINDS:
            has = self._gives(kind, sentence, kinds)
            row[f"gives_{kind}"] = float(has)
            row[f"asked_and_gives_{kind}"] = float(has and kinds.get(kind, False))
        return row

    @staticmethod
    def add_record_context(rows: list[dict[str, float]], sentences: list[Sentence]) -> None:
        """Fill the features that compare a sentence with the others of its record (rows in the same order)."""
        by_record: dict[str, list[int]] = {}
        for i, sentence in enumerate(sentences):
            by_record.setdefault(sentence.record.id, []).append(i)
        for members in by_record.values():
            coverage = max(rows[i]["coverage"] for i in members)
            order = sorted(members, key=lambda i: -rows[i]["cosine"])
            at = {sentences[i].position: i for i in members}
            for rank, i in enumerate(order):
                position = sentences[i].position
                near = [rows[at[p]]["coverage"] for p in (position - 1, position + 1) if p in at]
                rows[i]["record_coverage"] = coverage
                rows[i]["neighbour_coverage"] = max(near, default=0.0)
                rows[i]["cosine_rank_in_record"] = 1.0 / (1 + rank)

    def question_row(
        self,
        query: Query,
        dense: list[float],
        record_ps: list[float],
        top_sentences: list[tuple[Sentence, dict[str, float], float]],
        bm25_top: float,
        kinds: dict,
        routed: bool,
    ) -> dict[str, float]:
        """top_sentences: (sentence, its row, its probability), best first."""
        names = question_names(query.text)
        asked = [k for k in ASKED_KINDS if kinds.get(k)]
        best3 = top_sentences[:3]
        met = any(self._gives(k, s, kinds) for k in asked for s, _, _ in best3)
        found = " ".join(fold(s.record.text) for s, _, _ in best3)
        later = [int(y) for y in _YEAR_RE.findall(query.text)]
        ps = [p for _, _, p in top_sentences]
        return {
            "top_record_p": record_ps[0] if record_ps else 0.0,
            "second_record_p": record_ps[1] if len(record_ps) > 1 else 0.0,
            "top_sentence_p": ps[0] if ps else 0.0,
            "mean_top3_sentence_p": sum(ps[:3]) / 3 if ps else 0.0,
            "dense_top": max(dense[:3], default=0.0),
            "sentence_cosine_top": max((row["cosine"] for _, row, _ in top_sentences[:5]), default=0.0),
            "bm25_top": bm25_top,
            "coverage_top": max((row["coverage"] for _, row, _ in best3), default=0.0),
            "unknown_share": self.bank.unknown_share(stems(query.text)),
            "unknown_capitalised": float(self.lexicon.unknown_capitalised(query.original)),
            "names_asked": float(len(names)),
            "names_missing": float(sum(1 for n in names if fold(n) not in found)),
            "asks_kind": float(bool(asked)),
            "kind_unmet": float(bool(asked) and not met),
            "later_year": float(bool(self.covered_until and later and max(later) > self.covered_until)),
            "content_words": float(len(stems(query.text))),
            "follow_up": float(query.follow_up),
            "routed": float(routed),
            **self._kind_fit(top_sentences, asked, kinds),
            **self._missing(query, best3),
            "asks_later": float(bool(_LATER_RE.search(query.text))),
        }

    def _kind_fit(self, top_sentences: list, asked: list[str], kinds: dict) -> dict[str, float]:
        """How likely, and how much about the question's subject, the best sentence of the asked kind is;
        per kind, how well the sentences giving that kind match the subject (-1 when it is not asked)."""
        giving = [
            (s, row, p) for s, row, p in top_sentences if not asked or any(self._gives(k, s, kinds) for k in asked)
        ]
        out = {
            "kind_answer_p": max((p for _, _, p in giving), default=0.0),
            "kind_subject": max((row["coverage"] * row["names_found"] for _, row, _ in giving), default=0.0),
        }
        for kind in ASKED_KINDS:
            out[f"asked_{kind}"] = float(kind in asked)
            subject = [
                row["coverage"] * row["names_found"] for s, row, _ in top_sentences if self._gives(kind, s, kinds)
            ]
            out[f"subject_{kind}"] = max(subject, default=0.0) if kind in asked else -1.0
        return out

    def _missing(self, query: Query, best3: list) -> dict[str, float]:
        """The question's words that the best evidence's records never use: share of weight, rarest one."""
        question = question_stems(query.text, query.expanded)
        records = {s.record.id: s.record for s, _, _ in best3}
        bag = frozenset().union(*(self.bank.stems_of(x) for rid in records for x in self.bank.sentences(rid)))
        missing = [stem for stem in question if stem not in bag]
        top_idf = self.bank.default_idf
        return {
            "missing_share": 1.0 - self.bank.coverage_of(question, bag) if question else 0.0,
            "missing_max_idf": max((self.bank.weight(m) for m in missing), default=0.0) / top_idf,
        }
