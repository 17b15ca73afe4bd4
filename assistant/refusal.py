"""When to refuse: evidence too weak, or a question whose kind of answer (a sum, a count, a person,
an outcome after the report was written) the retrieved sentences do not give."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.intent import Intent
from assistant.query import Query, build_glossary, content_words, question_names
from assistant.sentences import ANAPHOR_RE, Sentence, SentenceBank, has_count, stems
from index.records import Record
from index.text import fold

REFUSAL = "The report does not cover this."


@dataclass(frozen=True)
class RefusalPolicy:
    """Evidence below these lines is too weak to answer from (calibrated on the eval set)."""

    max_unknown: float = 0.5  # share of the question's terms that the report never uses
    min_dense: float = 0.30  # best cosine of the top records
    rescue_coverage: float = 0.68  # below min_dense, only a sentence covering this much is trusted
    near_chars: int = 40  # how close a person's name must stand to the post the question asks about


@dataclass(frozen=True)
class Evidence:
    """How well the best retrieved text matches the question."""

    coverage: float  # weighted share of the question's terms in the best sentence
    dense: float  # best cosine among the top three records
    unknown: float  # weighted share of the question's terms found nowhere in the report
    unmet: str | None = None  # why the retrieved sentences do not give the kind of answer asked for, if they do not


_HONORIFICS = frozenset("Sir Lord Lady Baroness Dame Dr Mr Mrs Ms Professor".split())
# Words of posts and bodies: capitalised in the report, but never a person's name.
_POST_WORDS = frozenset(
    """secretary minister chancellor general chairman chair director head chief president executive officer
    treasury home state permanent deputy prime parliamentary paymaster attorney lord comptroller auditor cabinet
    office unit committee department service fund council group team board agency commission association
    government parliament house court audit national public""".split()
)
_POST_TITLES = frozenset(
    "secretary minister chancellor general chairman chair chairwoman director head chief president executive "
    "officer paymaster governor commissioner comptroller auditor leader".split()
)
_CAPITALISED_RUN_RE = re.compile(r"\b[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*")
_ASKS_FOR_POST_HOLDER_RE = re.compile(
    r"\b(?i:who)\s+(?i:is|was|were|are)\s+(?:(?i:the)\s+)?((?:[A-Z][\w'’-]*\s+)*[A-Z][\w'’-]*)"
    r"(?:\s+(?:of|for)\s+(?:the\s+)?(?:[A-Z][\w'’-]*\s*)+)?"
)
_ASKS_FOR_LEADER_RE = re.compile(r"\bwho\s+(chaired|led|headed|ran|directed)\s+([^?.;]*)", re.I)
_LEADING_WORDS = ("chair", "led", "lead", "head", "ran", "run", "direct")
# "How many staff …": what is counted; not "in how many places", whose noun is often said another way.
_COUNTED_RE = re.compile(r"(?<!\bin )(?<!\bfor )\bhow many\s+(?:of\s+(?:the\s+)?)?(.*)", re.I)
# "Did it hit …", "Was the target met …", "… actually achieved": asks what came of something, not what was planned.
_OUTCOME_RE = re.compile(
    r"^(?:did|was|were|has|have|had)\b.*\b(?:hit|met|achieved|reached|happened|succeeded|delivered)\b"
    r"|\b(?:actually|in the end|eventually|turned out)\b",
    re.I,
)
_YEAR_RE = re.compile(r"\b(19\d\d|20\d\d)\b")
_COVERED_RE = re.compile(r"progress up to ((?:the )?(?:\w+ of )?(19\d\d|20\d\d))", re.I)


class AnswerKinds:
    """Checks that the retrieved sentences give the kind of answer a question asks for."""

    def __init__(self, records: list[Record], bank: SentenceBank, policy: RefusalPolicy):
        self.bank = bank
        self.policy = policy
        self.abbreviations = {expansion: term for term, expansion in build_glossary(records).items()}
        self.lowercase = frozenset(w for r in records for w in re.findall(r"\b[a-z][a-z'’-]+\b", r.text))
        self.covered = _covered_until(records)

    def unmet(self, query: Query, intent: Intent, top: list[Sentence]) -> str | None:
        """Why the top sentences do not give the kind of answer asked for, in a sentence for the reader;
        None when they do (or the question asks for no particular kind)."""
        checks = (self._after_the_report, self._sum_unmet, self._count_unmet, self._post_unmet, self._leader_unmet)
        for check in checks:
            reason = check(query, intent, top)
            if reason is not None:
                return reason
        return None

    def _sum_unmet(self, query: Query, intent: Intent, top: list[Sentence]) -> str | None:
        """A 'how much' question needs a sum next to the thing it names ('the Connexions Unit')."""
        if not intent.money_strict:
            return None
        names = question_names(query.text)
        if any(all(self.mentions(s, name) for name in names) for s in top if "£" in s.text):
            return None
        return f"The closest passages give no sum for {' and '.join(names) or 'this'}."

    def mentions(self, sentence: Sentence, name: str, whole_record: bool = False) -> bool:
        """The sentence names the thing, itself or through the sentence its 'It' points at (or anywhere in
        its record); 'Community Legal Service Partnerships' is also found as 'CLS Partnerships'."""
        context = sentence.text
        if whole_record:
            context = sentence.record.text
        elif sentence.position > 0 and ANAPHOR_RE.match(sentence.text):
            context = self.bank.sentences(sentence.record.id)[sentence.position - 1].text + " " + context
        return any(fold(form) in fold(context) for form in self._forms(name))

    def _forms(self, name: str) -> set[str]:
        forms = {name}
        for expansion, short in self.abbreviations.items():
            if len(expansion.split()) > 1 and expansion.lower() in name.lower():
                forms.add(re.sub(re.escape(expansion), short, name, flags=re.I))
        return forms

    def _after_the_report(self, query: Query, intent: Intent, top: list[Sentence]) -> str | None:
        """'Was the 2004 target met?': the report cannot know what happened after the period it covers."""
        if self.covered is None or not _OUTCOME_RE.search(query.text):
            return None
        later = [int(y) for y in _YEAR_RE.findall(query.text) if int(y) > self.covered[1]]
        if not later:
            return None
        return f"It covers progress up to {self.covered[0]}, so it cannot say what happened by {max(later)}."

    def _count_unmet(self, query: Query, intent: Intent, top: list[Sentence]) -> str | None:
        """'How many staff …' needs a number (not a year) in a sentence about staff."""
        match = _COUNTED_RE.search(query.text)
        if not match:
            return None
        nouns = set(stems(" ".join(_leading_content(match.group(1)))))
        if not nouns:  # 'how many were signed': nothing named to count
            return None
        names = question_names(query.text)

        def counts_them(sentence: Sentence) -> bool:
            named = all(self.mentions(sentence, name, whole_record=True) for name in names)
            return has_count(sentence.text) and bool(nouns & self.bank.stems_of(sentence)) and named

        if any(counts_them(s) for s in top):
            return None
        return f"The closest passages do not say how many {_clip(match.group(1))}."

    def _post_unmet(self, query: Query, intent: Intent, top: list[Sentence]) -> str | None:
        """'Who was the Paymaster General?' needs a person's name next to the post."""
        post = self._post_asked_for(query.text)
        if not post or any(self._name_near(s.text, post[1]) for s in top):
            return None
        return f"The closest passages name no one as {post[0]}."

    def _leader_unmet(self, query: Query, intent: Intent, top: list[Sentence]) -> str | None:
        """'Who chaired the steering group?' needs a sentence about that group that says who leads it."""
        match = _ASKS_FOR_LEADER_RE.search(query.text)
        if not match:
            return None
        names = question_names(query.text)
        if any(_says_who_leads(s.text) and all(self.mentions(s, name) for name in names) for s in top):
            return None
        return f"The closest passages do not say who {match.group(1).lower()} {_clip(match.group(2))}."

    def _post_asked_for(self, question: str) -> tuple[str, str] | None:
        """('Chairman of the Audit Commission', 'Chairman') for 'Who was the Chairman of the Audit Commission?';
        None for 'Who is John Makinson?'."""
        match = _ASKS_FOR_POST_HOLDER_RE.search(question)
        if not match or match.group(1).split()[-1].lower() not in _POST_TITLES:
            return None  # 'Who are the PATs?', 'Who is John Makinson?': not a post
        words = match.group(1).split()
        return match.group(0).split(maxsplit=2)[-1].removeprefix("the ").strip(), " ".join(words[-2:])

    def _name_near(self, text: str, post: str) -> bool:
        """A person's name stands within a few words of the post ('Lord Falconer, Minister of State')."""
        people = [m.span() for m in _CAPITALISED_RUN_RE.finditer(text) if self.person_names(m.group())]
        near = self.policy.near_chars
        for at in re.finditer(re.escape(post), text, re.I):
            if any(start < at.end() + near and at.start() - near < end for start, end in people):
                return True
        return False

    def person_names(self, text: str) -> list[str]:
        """Names of people: 'Lord Falconer', 'Mavis McDonald' (capitalised words the report never writes in
        lower case and that are not words of posts or bodies)."""
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


def _clip(words: str, most: int = 12) -> str:
    """The user's own words, short, for a refusal that quotes them."""
    kept = words.strip().rstrip("?.!").split()
    return " ".join(kept[:most]) + (" …" if len(kept) > most else "")


def _leading_content(text: str, most: int = 4) -> list[str]:
    """The words before the first stop word: 'staff' of 'staff work in …', 'PAT recommendations' of '… were'."""
    out = []
    for word in text.split():
        if not content_words(word) or len(out) == most:
            break
        out.append(word.strip("?,.;:"))
    return out


def _says_who_leads(text: str) -> bool:
    lowered = text.lower()
    return any(re.search(rf"\b{w}", lowered) for w in _LEADING_WORDS)


def _covered_until(records: list[Record]) -> tuple[str, int] | None:
    """The period the report says it covers ('progress up to the spring of 2001')."""
    for record in records:
        if match := _COVERED_RE.search(record.text):
            return match.group(1), int(match.group(2))
    return None
