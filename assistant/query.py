"""Question clean-up, names and abbreviation expansion: deterministic, no LLM (follow-ups: conversation.py)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from assistant.routes import find_route
from assistant.types import BadInput
from index.records import Record
from index.text import FUNCTION_WORDS

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_ACRONYM_RE = re.compile(r"\(([A-Z][A-Za-z&]{1,6})\)")
_WORD_RE = re.compile(r"[A-Za-z0-9£%][\w'’£%.-]*")

# Function words, and words that a question uses around its subject without naming anything.
STOPWORDS = FUNCTION_WORDS | frozenset(
    """
    tell say says said please report wiring happened happen give list much many whats what's supposed suppose big
    bigger large larger size name named exact exactly really anything something someone somewhere got get gets
    know known according overall kind sort way ways actually
    """.split()
)
FOLLOW_UP_RE = re.compile(
    r"^(and|but|also|so|what about|how about|and what|then|ok|okay)\b|\b(it|its|it's|they|them|their|this|that|these|those|he|she|his|her)\b",
    re.I,
)


@dataclass(frozen=True)
class Query:
    """A question ready for retrieval."""

    original: str
    text: str  # resolved against history, for retrieval and sentence scoring
    expanded: str  # text plus abbreviation expansions
    follow_up: bool
    understood_as: str = ""  # the resolved question shown to the reader when it differs from what they typed


def clean_question(question: object, max_chars: int) -> str:
    """A usable question or BadInput with one line saying why."""
    if isinstance(question, bytes):
        try:
            question = question.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadInput("the question is not valid UTF-8 text") from exc
    if not isinstance(question, str):
        raise BadInput("the question must be text")
    # Lone surrogates (invalid UTF-8 smuggled into a str) become "?".
    question = question.encode("utf-8", "replace").decode("utf-8")
    text = unicodedata.normalize("NFC", question.replace("\ufffd", " "))
    text = " ".join(_CONTROL_RE.sub(" ", text).split())
    if not text:
        raise BadInput("the question is empty")
    if len(text) > max_chars:
        raise BadInput(f"the question is {len(text):,} characters; the limit is {max_chars:,}")
    return text


def clean_history(history: object) -> list[dict]:
    """Prior turns as [{'role', 'content'}]; anything else raises BadInput."""
    if history is None:
        return []
    if not isinstance(history, list | tuple):
        raise BadInput("history must be a list of {role, content} turns")
    turns = []
    for turn in history:
        if isinstance(turn, list | tuple) and len(turn) == 2:  # Gradio's (user, assistant) pairs
            turns += [{"role": "user", "content": turn[0]}, {"role": "assistant", "content": turn[1]}]
            continue
        if not isinstance(turn, dict) or turn.get("role") not in {"user", "assistant", "system"}:
            raise BadInput("each history turn must be {role: user|assistant, content: text}")
        content = turn.get("content")
        if not isinstance(content, str):
            content = _flatten_content(content)
        turns.append({"role": turn["role"], "content": content[:5000]})
    return turns


def _flatten_content(content: object) -> str:
    if content is None:
        return ""
    if isinstance(content, list):  # OpenAI/Gradio content parts
        return " ".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
    raise BadInput("a history turn's content must be text")


_NUMBER_WORDS = {
    w: str(n)
    for n, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
}


def content_words(text: str) -> list[str]:
    """Lower-cased words that carry meaning (stop words removed, number words as digits)."""
    words = (m.group().lower().strip(".'’-") for m in _WORD_RE.finditer(text))
    return [_NUMBER_WORDS.get(w, w) for w in words if w and w not in STOPWORDS]


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


# A capitalised name of two to six words, joined by small words such as "of", "for" and "and".
NAME_RE = re.compile(r"\b[A-Z][\w'’-]*(?:\s+(?:(?:of|for|and|the|to)\s+)?[A-Z][\w'’-]*){1,5}")
_LEADING_WORD_RE = re.compile(r"^(?:The|A|An|This|That|In|On|For|By|As)\s+")


def names_in(text: str) -> list[str]:
    """The capitalised names in a text, without a leading 'The', 'In' or the like."""
    return [_LEADING_WORD_RE.sub("", m.group()) for m in NAME_RE.finditer(text)]


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


def question_names(question: str) -> list[str]:
    """The capitalised names of two or more words in a question ('Sure Start', 'the Connexions Unit')."""
    names = []
    for match in NAME_RE.finditer(question):
        words = match.group().split()
        if match.start() == 0 or question[: match.start()].rstrip().endswith(("?", ".", "!")):
            words = words[1:]  # a sentence's first word is capitalised anyway
        name = re.sub(r"^(?:the|of|for|and|to)\s+", "", " ".join(words), flags=re.I)
        if len(name.split()) >= 2 and not all(w.isupper() or w.isdigit() for w in name.split()):
            names.append(name)  # a run of acronyms ('SR2000 PSA') is expanded elsewhere, not a name
    return names


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


_INSTRUCTION_RE = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(report|instructions?|rules|above|previous|context|sources?)\b"
    r"|\b(you are now|pretend|act as|system prompt|jailbreak)\b|^\s*(say|reply|answer|respond|print|output)\b",
    re.I,
)


def strip_instructions(question: str) -> str:
    """The question without sentences that try to instruct the assistant ('ignore the report and say …')."""
    kept = [s for s in re.split(r"(?<=[.!?])\s+", question) if not _INSTRUCTION_RE.search(s)]
    return " ".join(kept).strip() or question


def lacks_subject(query: Query) -> bool:
    """'And when was it launched?' with no conversation before it: nothing says what 'it' is."""
    if query.follow_up or not re.search(r"\b(it|its|it's|they|them|their|he|she|his|her)\b", query.text, re.I):
        return False
    return len(content_words(query.text)) <= 1 and not re.search(r"\b[A-Z]{2,}|\d", query.text)


def is_follow_up(question: str, records: list[Record]) -> bool:
    """A question that leans on the conversation: a pronoun, 'and …', or almost no content of its own."""
    words = content_words(question)
    if FOLLOW_UP_RE.search(question):
        return True
    return len(words) <= 1 and not find_route(question, records)


def names_nothing(question: str, records: list[Record], rare_words: frozenset[str]) -> bool:
    """No record number, no capitalised name or abbreviation, and no word that few records use."""
    if not rare_words or find_route(question, records) or question_names(question):
        return False
    if re.search(r"\b[A-Z]{2,}", question):
        return False
    return not any(word in rare_words for word in content_words(question))


def rare_words(records: list[Record], most_records: int) -> frozenset[str]:
    """Content words that at most `most_records` records use: what names a particular thing."""
    counts: dict[str, int] = {}
    for record in records:
        for word in set(content_words(record.text)):
            counts[word] = counts.get(word, 0) + 1
    return frozenset(w for w, n in counts.items() if n <= most_records)
