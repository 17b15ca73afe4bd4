"""The report's sentences, scored against a question by weighted term overlap."""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from functools import lru_cache

from assistant.question.words import NAME_RE, STOPWORDS, content_words
from index.records import Record
from index.text import sentence_spans

_NUMBER_RE = re.compile(
    r"£\s?\d|\d+(?:[.,]\d+)?\s?(?:%|per cent|million|billion|m\b|bn\b)|\b\d{1,3}(?:,\d{3})+\b|\b\d+\b"
)
# A sentence that leans on the one before it ('This was called …', 'The Unit launched …').
ANAPHOR_RE = re.compile(
    r"^(?:This|These|That|Those|It|Its|They|Their|Such|He|She|His|Her|"
    r"The (?:Unit|series|scheme|team|group|website|site|report|fund|panel|review|committee))\b"
)
_MONEY_RE = re.compile(r"£\s?\d+(?:[.,]\d+)?\s?(?:million|billion|m|bn|M)?\b", re.I)
_DATE_RE = re.compile(
    r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December|spring|summer|autumn|winter|early|19\d\d|20\d\d)\b",
    re.I,
)

# A word the report never uses still counts as known when it is a likely misspelling of one it does: at least
# this long, and this similar (difflib ratio) to a report word of about its length and first letter.
MISSPELT_MIN_CHARS = 5
MISSPELT_SIMILARITY = 0.85
PART_MIN_CHARS = 3  # a part of a hyphenated word this long may be a report word cut short


@dataclass(frozen=True)
class Sentence:
    record: Record
    start: int  # offsets in record.text
    end: int
    position: int  # index of the sentence in its record

    @property
    def text(self) -> str:
        return self.record.text[self.start : self.end]


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def stems(text: str) -> list[str]:
    """Stemmed content words."""
    return _stemmer().stemWords(content_words(text))


class SentenceBank:
    """Every sentence of every record, with inverse document frequencies of their stems."""

    def __init__(self, records: list[Record]):
        self.by_record: dict[str, list[Sentence]] = {}
        self.stems: dict[tuple[str, int], frozenset[str]] = {}
        counts: dict[str, int] = {}
        total = 0
        for record in records:
            sentences = [Sentence(record, s, e, i) for i, (s, e) in enumerate(sentence_spans(record.text))]
            self.by_record[record.id] = sentences
            for sentence in sentences:
                bag = frozenset(stems(sentence.text))
                self.stems[(record.id, sentence.position)] = bag
                total += 1
                for stem in bag:
                    counts[stem] = counts.get(stem, 0) + 1
        self.idf = {stem: math.log(1 + total / n) for stem, n in counts.items()}
        self.default_idf = math.log(1 + total)

        self.vocabulary = frozenset(counts)

    def unknown_share(self, query_stems: list[str]) -> float:
        """Weighted share of the stems that occur nowhere in the report, even as a near spelling."""
        stems_ = set(query_stems)
        if not stems_:
            return 0.0
        unknown = [s for s in stems_ if not self._known(s)]
        return sum(self.weight(s) for s in unknown) / sum(self.weight(s) for s in stems_)

    def _known(self, stem: str) -> bool:
        if "-" in stem.strip("-") and stem not in self.vocabulary:  # 'spend-to-save' is known by its parts
            return all(self._known_part(part) for part in stem.split("-") if part and part not in STOPWORDS)
        if stem in self.vocabulary or len(stem) < MISSPELT_MIN_CHARS:
            return stem in self.vocabulary
        near = [v for v in self.vocabulary if abs(len(v) - len(stem)) <= 1 and v[0] == stem[0]]
        return bool(difflib.get_close_matches(stem, near, n=1, cutoff=MISSPELT_SIMILARITY))

    def _known_part(self, part: str) -> bool:
        """A part of a hyphenated word, already cut short by the stemmer ('sav' of 'spend-to-sav')."""
        return self._known(part) or (len(part) >= PART_MIN_CHARS and any(v.startswith(part) for v in self.vocabulary))

    def sentences(self, record_id: str) -> list[Sentence]:
        return self.by_record.get(record_id, [])

    def weight(self, stem: str) -> float:
        return self.idf.get(stem, self.default_idf)

    def stems_of(self, sentence: Sentence) -> frozenset[str]:
        return self.stems[(sentence.record.id, sentence.position)]

    def coverage(self, query_stems: set[str] | dict[str, float], sentence: Sentence) -> float:
        """Share of the question's weighted stems that the sentence contains (a dict gives each stem a share:
        the words of an abbreviation's expansion share the abbreviation's weight)."""
        if not query_stems:
            return 0.0
        shares = query_stems if isinstance(query_stems, dict) else dict.fromkeys(query_stems, 1.0)
        bag = self.stems[(sentence.record.id, sentence.position)]
        total = sum(self.weight(s) * share for s, share in shares.items())
        return sum(self.weight(s) * share for s, share in shares.items() if s in bag) / total

    def coverage_of(self, query_stems: dict[str, float], bag: frozenset[str]) -> float:
        """Share of the question's weighted stems found in a bag of stems (a record's, say)."""
        total = sum(self.weight(s) * share for s, share in query_stems.items())
        return sum(self.weight(s) * share for s, share in query_stems.items() if s in bag) / total if total else 0.0

    def leaning_text(self, sentence: Sentence) -> str:
        """The sentence with the one before it when it leans on it ('It is a seed corn fund …')."""
        if sentence.position > 0 and ANAPHOR_RE.match(sentence.text):
            return self.by_record[sentence.record.id][sentence.position - 1].text + " " + sentence.text
        return sentence.text

    def all_sentences(self):
        for sentences in self.by_record.values():
            yield from sentences


def question_stems(text: str, expanded: str) -> dict[str, float]:
    """The question's stems, each with its share: 1 for its own words; the words an abbreviation
    was expanded into ('… (Department of the Environment, Transport and the Regions)') share one."""
    shares = dict.fromkeys(stems(text), 1.0)
    tail = expanded[len(text) :].strip()
    for expansion in tail.removeprefix("(").removesuffix(")").split(";") if tail else []:
        words = [s for s in stems(expansion) if s not in shares]
        for stem in words:
            shares[stem] = max(shares.get(stem, 0.0), 1.0 / len(words))
    return shares


_NUMBER_WORD_RE = re.compile(
    r"\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    r"seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|hundred|thousand|million|dozen)\b",
    re.I,
)
_YEAR_OR_REF_RE = re.compile(
    r"\b(?:19|20)\d\d(?:/\d\d)?\b|\b\d+\.\d+(?:\.\d+)?\b|\b(?:page|paragraph|conclusion)s? \d+", re.I
)


def has_count(text: str) -> bool:
    """A number that counts something: not a year or a paragraph reference ('one' is too common to count)."""
    text = _YEAR_OR_REF_RE.sub(" ", text)
    return has_number(text) or bool(_NUMBER_WORD_RE.search(text))


def has_number(text: str) -> bool:
    return bool(_NUMBER_RE.search(text))


def money_figures(text: str) -> list[str]:
    return [m.group().strip() for m in _MONEY_RE.finditer(text)]


def names_and_figures(text: str) -> frozenset[str]:
    """The capitalised names and the figures a sentence states, as written."""
    return frozenset(m.group() for m in NAME_RE.finditer(text)) | frozenset(_NUMBER_RE.findall(text))


def has_date(text: str) -> bool:
    return bool(_DATE_RE.search(text))
