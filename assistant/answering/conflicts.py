"""Where the report disagrees with itself: different sums for one fund, different names for one body.

Readers quoting the report need to see both, each cited, rather than the one the search ranked first.
"""

from __future__ import annotations

import re
from itertools import combinations

from assistant.answering.sentences import Sentence, SentenceBank, money_figures
from assistant.question.words import names_in

FIGURES_LABEL = "The report gives different figures for this in different places:"
NAMES_LABEL = "The report names this differently in different places:"

_FUNDED_RE = re.compile(r"\b(?:[A-Z][\w'’-]+\s+){1,5}(?:Fund|Budget|Reserve|Scheme|Service|Unit|Agency)\b")
_CONNECTIVES = frozenset({"of", "for", "and", "the", "to"})

VARIANT_MIN_WORDS = 3  # two names are variants of one only when they run to this many words
NEAR_BEFORE_CHARS, NEAR_AFTER_CHARS = 10, 80  # the context of a name that a conflict is judged on


class Conflicts:
    """Finds, for the sentences of an answer, sentences elsewhere that contradict them on a sum or a name."""

    def __init__(self, bank: SentenceBank):
        self.bank = bank
        self.variants = _name_variants(bank)

    def find(self, picked: list[Sentence]) -> tuple[str, list[Sentence]]:
        """A label and the contradicting sentences still to add, or ("", []) when the report agrees with itself."""
        figures = self._other_figures(picked)
        if figures:
            return FIGURES_LABEL, figures
        named, extra = self._other_names(picked)
        return (NAMES_LABEL, extra) if named else ("", [])

    def _other_figures(self, picked: list[Sentence]) -> list[Sentence]:
        """Sentences elsewhere that give a different sum for a fund the answer names."""
        extra = []
        for sentence in picked[:2]:
            for name in _FUNDED_RE.findall(sentence.text):
                figures = set(money_figures(_near(sentence.text, name)))
                if not figures:
                    continue
                for other in self.bank.all_sentences():
                    if other.record.id == sentence.record.id or name not in other.text:
                        continue
                    theirs = set(money_figures(_near(other.text, name)))
                    if theirs and not theirs & figures and not _same_amount(theirs, figures):
                        extra.append(other)
        return list(dict.fromkeys(extra))[:2]

    def _other_names(self, picked: list[Sentence]) -> tuple[bool, list[Sentence]]:
        """Whether the answer names a body the report also calls otherwise ('Office of/for …'), and a
        sentence with the other name when the answer does not hold one already."""
        named, extra = False, []
        for sentence in picked[:2]:
            for name in names_in(sentence.text):
                for variant in self.variants.get(name, []):
                    named = True
                    if not any(variant in p.text for p in picked):
                        extra += [o for o in self.bank.all_sentences() if variant in o.text][:1]
        return named, list(dict.fromkeys(extra))[:2]


def _name_variants(bank: SentenceBank) -> dict[str, list[str]]:
    """Names of three or more words that differ only by a swap, a connective or one like word."""
    names = sorted({name for sentence in bank.all_sentences() for name in names_in(sentence.text)})
    out: dict[str, list[str]] = {}
    for a, b in combinations(names, 2):
        if _variant(a.split(), b.split()):
            out.setdefault(a, []).append(b)
            out.setdefault(b, []).append(a)
    return out


def _variant(a: list[str], b: list[str]) -> bool:
    if len(a) != len(b) or len(a) < VARIANT_MIN_WORDS or a[0] != b[0] or a[-1] != b[-1]:
        return False
    if [_spelling(w) for w in a] == [_spelling(w) for w in b]:
        return False  # "Office's" and "Office", "Co-ordination" and "Coordination": one name spelt two ways
    if sorted(a) == sorted(b):
        return True  # the same words in another order: "X and Y Unit" / "Y and X Unit"
    diff = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
    if len(diff) != 1:
        return False
    x, y = diff[0]
    return {x.lower(), y.lower()} <= _CONNECTIVES or (x[0] == y[0] and x[0].isupper())


def _spelling(word: str) -> str:
    return re.sub(r"['’]s$", "", word).replace("-", "").lower()


def _near(text: str, name: str, width: int = NEAR_AFTER_CHARS) -> str:
    """The name with a little of the text before it and `width` characters after."""
    at = text.find(name)
    return text[max(0, at - NEAR_BEFORE_CHARS) : at + len(name) + width]


def _same_amount(a: set[str], b: set[str]) -> bool:
    def norm(x: str) -> str:
        return x.lower().replace(" ", "").replace("million", "m").replace("billion", "bn")

    return bool({norm(x) for x in a} & {norm(x) for x in b})
