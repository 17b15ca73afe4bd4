"""Conversation state, rebuilt from the history alone on every turn (no session is kept, so replicas stay
stateless), and the resolution of a new question against it.

Each earlier user turn leaves a `Focus`: the thing it was about (the name, abbreviation or conclusion its
words named, or what it inherited when it named nothing) and the records the assistant cited in reply. A
follow-up that leans on the conversation ('how big is it?', 'and the Treasury's part?') is resolved against
the newest focus: a pronoun is replaced by the thing, an ellipsis is told what it is about, a correction
('no, I meant …') keeps the earlier question's ask and swaps its subject. A question that names a thing of its
own starts a new focus; the older ones stay in the state, so a later turn can go back to them by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.answering.citations import markers
from assistant.question.query import is_follow_up, names_nothing
from assistant.question.routes import find_route
from assistant.question.words import STOPWORDS, content_words, question_names
from assistant.settings import ConversationSettings
from index.records import Record
from index.text import fold

# The words of a question that name what it is about, in the order they are tried.
_ABBREVIATION_RE = re.compile(r"\b[A-Z][A-Z&]{1,6}s?\b")
# The pronouns replaced by the subject; a possessive ('its targets') is left alone, since it as often points
# at a thing named earlier in the same question (a body and then its own budget).
# The 'It' of the report's own title is no pronoun.
_PRONOUN_RE = re.compile(
    r"(?<!wiring )\b(it|it's|they|them|he|she|him)\b|\b(that|this)\b(?=\s*(?:or\b|and\b|,|\?|$))", re.I
)
_BACK_RE = re.compile(r"\b(back to|return(?:ing)? to|going back|as for|on the earlier)\b", re.I)

CORRECTION_RE = re.compile(
    r"^\W*(no+|nope|sorry|apologies|not that|wrong)\b|\b(i\s+(meant|mean)|was asking about)\b|\bnot the\b.*\bthe\b",
    re.I,
)


@dataclass(frozen=True)
class Focus:
    """What one user turn was about, and what the assistant cited in reply."""

    subject: str  # what a pronoun in a later question stands for
    words: tuple[str, ...]  # the words that name it, added to a follow-up's search text
    question: str  # the turn as resolved (a correction keeps its ask)
    cited: tuple[str, ...] = ()
    named: bool = True  # the subject is a name, abbreviation or conclusion, not just the question's words


@dataclass(frozen=True)
class State:
    """The conversation so far: one focus per user turn, oldest first."""

    turns: tuple[Focus, ...] = ()

    @property
    def current(self) -> Focus | None:
        return self.turns[-1] if self.turns else None

    @property
    def cited(self) -> tuple[str, ...]:
        """The records the newest answer cited: what the conversation is looking at now."""
        return self.current.cited if self.current else ()


@dataclass(frozen=True)
class Resolution:
    """A question read in its conversation."""

    text: str  # what is searched and scored
    understood_as: str  # what the reader is shown when it differs from what they typed
    follow_up: bool
    focus: Focus


class Conversation:
    """Resolves questions against the state rebuilt from a history."""

    def __init__(self, records: list[Record], rare_words: frozenset[str], settings: ConversationSettings | None = None):
        """`rare_words`: words few records use, which name a particular thing (see words.rare_words)."""
        self.records = records
        self.rare_words = rare_words
        self.settings = settings or ConversationSettings()
        self._vocabularies = [{fold(w) for w in content_words(r.text)} for r in records]

    def leans_back(self, question: str) -> bool:
        """A pronoun, 'and …', almost no words of its own, or nothing that names a particular thing."""
        return is_follow_up(question, self.records) or names_nothing(question, self.records, self.rare_words)

    def names_of(self, question: str) -> list[str]:
        """What in the question could name its subject: names, abbreviations, runs of words holding a rare word."""
        return list(dict.fromkeys(self._proper_names(question) + self._rare_runs(question)))

    def _proper_names(self, question: str) -> list[str]:
        """The capitalised names and abbreviations of the question that the report uses."""
        return [n for n in dict.fromkeys(_whole_names(question) + abbreviations(question)) if self._records_with(n)]

    def _rare_runs(self, question: str) -> list[str]:
        return [
            run
            for run in _runs(question, self.settings.phrase_words)
            if any(w in self.rare_words for w in content_words(run))
        ]

    def _records_with(self, phrase: str) -> int:
        """How many records use every content word of the phrase (0: none, or it has no content words)."""
        words = {fold(w) for w in content_words(phrase)}
        return sum(words <= vocabulary for vocabulary in self._vocabularies) if words else 0

    def state(self, history: list[dict]) -> State:
        """Replay the history: each user turn resolved against the turns before it."""
        state = State()
        for question, answer in _pairs(history):
            resolution = self.resolve(question, state)
            focus = resolution.focus
            cited = tuple(markers(answer))
            state = State((*state.turns, Focus(focus.subject, focus.words, focus.question, cited, focus.named)))
        return state

    def resolve(self, question: str, state: State) -> Resolution:
        """The question as meant in this conversation, and the focus it leaves."""
        current = state.current
        own = self._focus(question)
        if current is None:
            return Resolution(question, "", False, own)
        if CORRECTION_RE.search(question) and content_words(_corrected_subject(question)):
            return self._corrected(question, own, current)
        route, earlier = find_route(question, self.records), find_route(current.question, self.records)
        if route and earlier and _only_a_target(question):
            # A bare new target after a question about another record: the same ask, a new target. A turn
            # with an ask of its own ("what does it say", "who leads it") is not rewritten.
            text = " ".join(f"{_without_refs(current.question)} {question}".split())
            return Resolution(text, text, True, self._focus(text))
        if route or not self.leans_back(question):
            return Resolution(question, "", False, own)
        return self._followed(question, own, self._went_back_to(question, state) or current)

    def _went_back_to(self, question: str, state: State) -> Focus | None:
        """'Back to the fund …': the earlier turn sharing most words with the question (the newest on a tie)."""
        if not _BACK_RE.search(question):
            return None
        words = _word_forms(question)
        shared = [(len(words & _word_forms(f.question)), i) for i, f in enumerate(state.turns[:-1])]
        best = max(shared, default=(0, 0))
        return state.turns[best[1]] if best[0] else None

    def _followed(self, question: str, own: Focus, current: Focus) -> Resolution:
        """A pronoun stands for the current subject, an ellipsis is told what it is about; the search also
        reads the words of the turn it follows."""
        subject = current.subject
        shown = question
        # Says enough itself, or names a thing of its own that a bare 'that' points at:
        # read along with the turn before, never rewritten.
        names_own = bool(self._proper_names(question))
        if names_own or len(content_words(question)) >= self.settings.self_contained_words:
            seen = {fold(w) for w in content_words(question)}
            earlier = [w for w in dict.fromkeys(content_words(current.question)) if fold(w) not in seen]
            text = " ".join([question, *earlier[: self.settings.earlier_words]])
            focus = own if names_own else current  # what a later pronoun will stand for
            words = tuple(dict.fromkeys(own.words + current.words))
            return Resolution(text, "", True, Focus(focus.subject, words, question, named=focus.named))
        if current.named:
            shown = _PRONOUN_RE.sub(lambda m: _replace(m.group(), subject), question, count=1)
        display = shown
        if shown == question:
            after = current.question
            shown = f"{question.rstrip()} ({'about ' + subject if current.named else 'after: ' + after})"
            # The search reads the whole chain of earlier turns; the user is shown only the last one.
            display = f"{question.rstrip()} ({'about ' + subject if current.named else 'after: ' + _bare(after)})"
        seen = {fold(w) for w in content_words(shown)}
        earlier = [w for w in dict.fromkeys(content_words(current.question)) if fold(w) not in seen]
        text = " ".join([shown, *earlier[: self.settings.earlier_words]])
        words = tuple(dict.fromkeys(own.words + current.words))
        return Resolution(text, display, True, Focus(subject, words, shown, named=current.named))

    def _corrected(self, question: str, own: Focus, current: Focus) -> Resolution:
        """A correction ('no, I meant …'): the earlier ask, about the thing now named."""
        ask = re.sub(re.escape(current.subject), " ", current.question, flags=re.I)  # the thing, not the ask
        ask = " ".join(_without_refs(ask).split())
        text = f"{ask} ({_corrected_subject(question)})"
        return Resolution(text, text, True, Focus(own.subject, own.words, text))

    def _focus(self, question: str) -> Focus:
        """What the question is about, by its own words: a conclusion it names by number, else the candidate
        name fewest records use (the most particular thing), else its plain words."""
        names = self.names_of(question)
        route = find_route(question, self.records)
        if route.conclusions:
            return Focus(f"conclusion {route.conclusions[0]}", tuple(names), question)
        # A name or abbreviation is a subject before a run of rare words; among them, the most particular.
        proper = set(self._proper_names(question))
        used = [(n not in proper, self._records_with(n), i, n) for i, n in enumerate(names)]
        particular = sorted(u for u in used if u[1])
        if particular:
            name = particular[0][3]
            article = re.search(rf"\b(the)\s+{re.escape(name)}", question, re.I)
            return Focus(f"the {name}" if article else name, tuple(names), question)
        return Focus(
            " ".join(_plain_words(question)[: self.settings.subject_words]), tuple(names), question, named=False
        )


_MEANT_RE = re.compile(r"\b(?:i\s+meant|i\s+mean|was asking about)\b|^\W*(?:no+|sorry|apologies)\W+meant\b", re.I)
_LEADING_NO_RE = re.compile(r"^\W*(?:no+|nope|sorry|apologies)\b[\s,.!-]*", re.I)
_NOT_THAT_RE = re.compile(r"[,;]?\s*\b(?:not|rather than|instead of)\b.*$", re.I)


def _corrected_subject(question: str) -> str:
    """What a correction says was meant: the words after 'I meant' (or after a leading 'no,'), without the
    'not the other one' that often follows."""
    meant = _MEANT_RE.search(question)
    if meant:
        rest = question[meant.end() :]
    else:
        lead = _LEADING_NO_RE.match(question)
        rest = question[lead.end() :] if lead else ""
    return _NOT_THAT_RE.sub("", rest).strip(" .?!-")


_ANNOTATION_RE = re.compile(r"\s*\((?:about |after: ).*\)\s*$", re.S)


def _bare(question: str) -> str:
    """A resolved question without the '(about …)' or '(after: …)' the resolver added to it."""
    return _ANNOTATION_RE.sub("", question)


_ASK_WORDS = frozenset(
    "what when who whom which where why how much many is are was were do does did the a an of to for in on and or "
    "about tell me please i you it its they their that this there any can could would should will has have had".split()
)


# A capitalised name, its words joined by small words such as 'of', 'on' and 'in'.
_WHOLE_NAME_RE = re.compile(r"\b[A-Z][\w'’-]*(?:\s+(?:(?:of|for|and|the|to|on|in)\s+)?[A-Z][\w'’-]*)+")


def _whole_names(question: str) -> list[str]:
    """The question's names at their full length (query.question_names cuts at 'on' and 'in')."""
    names = question_names(question)
    spans = [m.group() for m in _WHOLE_NAME_RE.finditer(question)]
    return list(dict.fromkeys(next((s for s in spans if name in s and len(s) > len(name)), name) for name in names))


def _runs(question: str, longest: int) -> list[str]:
    """Runs of words with no stop word or punctuation between them (a noun phrase such as 'cross-cutting budgets')."""
    runs, current = [], []
    for token in re.findall(r"[\w'’£%-]+|[^\w\s]", question):
        if re.match(r"[\w£%]", token) and token.lower() not in STOPWORDS:
            current.append(token)
            continue
        runs.append(current)
        current = []
    runs.append(current)
    return [" ".join(run[-longest:]) for run in runs if run]


def _word_forms(text: str) -> set[str]:
    """Content words folded, a plural's 's' dropped ('reviews' meets 'review')."""
    return {fold(w).removesuffix("s") for w in content_words(text) if fold(w) not in _BACK_WORDS}


_BACK_WORDS = frozenset({"back", "return", "returning", "going", "earlier"})


def _plain_words(question: str) -> list[str]:
    return [w for w in re.findall(r"[\w'’£%-]+", question) if w.lower() not in _ASK_WORDS]


def _replace(pronoun: str, subject: str) -> str:
    """The subject in the pronoun's place ("it's" becomes 'the fund is')."""
    return f"{subject} is" if pronoun.lower() == "it's" else subject


def _without_refs(text: str) -> str:
    """The text without references to conclusions, paragraphs, parts and footnotes."""
    text = re.sub(
        r"\b(conclusions?|recommendations?|paragraphs?|paras?|part|footnote)\s+[\dIVX.\-–]+", " ", text, flags=re.I
    )
    text = re.sub(r"\b\d\.\d+(?:\.\d+)?\b", " ", text)
    return re.sub(r"\b(what|how)\s+about\b", " ", text, flags=re.I)


_POINTER_WORDS = frozenset("and or then now so ok okay what how about for the same with also".split())


def _only_a_target(question: str) -> bool:
    """The question names records and nothing else: no ask of its own beyond 'and', 'what about' and the like."""
    return all(w.lower() in _POINTER_WORDS for w in re.findall(r"[A-Za-z']+", _without_refs(question)))


def _pairs(history: list[dict]) -> list[tuple[str, str]]:
    """(user question, the assistant's reply) per user turn, in order; a question with no reply gets ''."""
    out: list[tuple[str, str]] = []
    for turn in history:
        content = " ".join(str(turn.get("content", "")).split())
        if turn.get("role") == "user" and content:
            out.append((content[:500], ""))
        elif turn.get("role") == "assistant" and out and not out[-1][1]:
            out[-1] = (out[-1][0], content)
    return out


def abbreviations(question: str) -> list[str]:
    """The abbreviations a question uses ('LSP', 'CMPS')."""
    return [m.group() for m in _ABBREVIATION_RE.finditer(question)]
