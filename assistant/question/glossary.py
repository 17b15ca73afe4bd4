"""Abbreviations: the annex and in-text definitions, initials of names, and expanding a question with them."""

from __future__ import annotations

import re

from assistant.question.words import names_in
from index.records import Record

_ACRONYM_RE = re.compile(r"\(([A-Z][A-Za-z&]{1,6})\)")


def build_glossary(records: list[Record]) -> dict[str, str]:
    """Abbreviation -> expansion: the annex, then definitions in the text such as 'Regional Co-ordination Unit (RCU)'."""
    glossary: dict[str, str] = {}
    for record in records:
        if record.kind == "abbreviation":
            term = record.id.removeprefix("Abbreviation: ")
            glossary[term] = record.text[len(term) :].strip()
    for record in records:
        for term, expansion in _in_text_definitions(record.text):
            glossary.setdefault(term, expansion)
    return glossary


def build_initialisms(records: list[Record]) -> dict[str, str]:
    """Initials -> name for capitalised names in the text ('PIF' -> 'Policy Innovation Fund'), for user shorthand."""
    counts: dict[tuple[str, str], int] = {}
    for record in records:
        for name in names_in(record.text):
            initials = "".join(w[0] for w in name.split() if w[0].isupper())
            if len(initials) >= 2:
                counts[(initials, name)] = counts.get((initials, name), 0) + 1
    best: dict[str, tuple[int, str]] = {}
    for (initials, name), n in counts.items():
        if n > best.get(initials, (0, ""))[0]:
            best[initials] = (n, name)
    return {initials: name for initials, (_, name) in best.items()}


def _in_text_definitions(text: str):
    """Pairs (ABC, 'Alpha Beta Charlie') where the capitals before '(ABC)' spell it."""
    for match in _ACRONYM_RE.finditer(text):
        term = match.group(1)
        letters = [c for c in term if c.isupper()]
        picked: list[str] = []
        capitals: list[str] = []
        for word in reversed(text[: match.start()].split()[-10:]):
            word = word.strip(",;:'’")
            picked.insert(0, word)
            if word[:1].isupper():
                capitals.insert(0, word[0])
            if capitals == letters:
                yield term, " ".join(picked).removesuffix("'s")
                break
            if len(capitals) > len(letters):
                break


def expand(text: str, glossary: dict[str, str], initialisms: dict[str, str] | None = None) -> str:
    """Add the expansion of each abbreviation in the text, and the abbreviation of each expansion."""
    extra = [
        initialisms[token]
        for token in re.findall(r"\b[A-Z]{2,6}\b", text)
        if initialisms and token not in glossary and token in initialisms
    ]
    lowered = text.lower()
    tokens = set(re.findall(r"[A-Za-z&]+(?: 2000)?", text))
    for term, expansion in glossary.items():
        if term in tokens or (len(term) >= 3 and term.lower() in {t.lower() for t in tokens} and term.isupper()):
            extra.append(expansion)
        elif expansion.lower() in lowered:
            extra.append(term)
    return text if not extra else f"{text} ({'; '.join(extra)})"
