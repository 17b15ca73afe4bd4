"""The optional LLM answerer: an OpenAI-compatible endpoint whose every citation is checked.

A sentence survives only if it cites a retrieved record that supports it; its citation
then quotes that record's best-matching sentence verbatim. When the endpoint is down,
slow or talks nonsense, or nothing it says is supported, the grounded answer is used
with a one-line notice.
"""

from __future__ import annotations

import os
import re

import prompts
from assistant.answering.citations import MARKER_RE, cite
from assistant.answering.grounded import REFUSAL, GroundedAnswerer
from assistant.answering.sentences import Sentence
from assistant.question.query import Query
from assistant.question.routes import Route
from assistant.question.words import content_words
from assistant.retrieval.search import Ranked
from assistant.settings import LLMSettings
from assistant.types import Answer
from index.records import Record
from index.text import fold, split_sentences

CONTEXT_RECORDS = 5
_NUMBER_RE = re.compile(r"£?\d[\d,.]*%?")


class LLMAnswerer:
    """Asks the endpoint, keeps only supported, cited sentences, else falls back to grounded."""

    name = "llm"

    def __init__(self, settings: LLMSettings, fallback: GroundedAnswerer, records: list[Record], client=None):
        self.settings = settings
        self.fallback = fallback
        self.by_id = {r.id: r for r in records}
        self.client = client or _client(settings)

    def answer(self, query: Query, ranked: list[Ranked], route: Route) -> Answer:
        context = [r.record for r in ranked[:CONTEXT_RECORDS]]
        try:
            reply = self._complete(query.original if not query.follow_up else query.text, context)
        except Exception as exc:  # noqa: BLE001 - any endpoint failure means the grounded answer
            return self._fall_back(query, ranked, route, f"the LLM endpoint failed ({_reason(exc)})")
        answer = self._checked(reply, context)
        if answer is None:
            note = "the LLM's answer had no sentence supported by the report"
            return self._fall_back(query, ranked, route, note)
        return answer

    def _complete(self, question: str, context: list[Record]) -> str:
        from llama_index.core.llms import ChatMessage

        extracts = "\n\n".join(f"[{r.id}] {r.text}" for r in context)
        messages = [
            ChatMessage(
                role="system", content=prompts.render("answer_system", max_sentences=self.settings.max_sentences)
            ),
            ChatMessage(role="user", content=prompts.render("answer_user", context=extracts, question=question)),
        ]
        response = self.client.chat(messages)
        text = response.message.content
        if not isinstance(text, str):
            raise ValueError("the reply had no text")
        return text

    def _checked(self, reply: str, context: list[Record]) -> Answer | None:
        if fold(reply).startswith(fold(REFUSAL)):
            return Answer(text=REFUSAL, refused=True, answerer=self.name)
        allowed = {r.id: r for r in context}
        lines, citations = [], []
        for sentence in split_sentences(reply.replace("\n", " ")):
            claim = MARKER_RE.sub("", sentence).strip()
            for rid in [m.group(1).strip() for m in MARKER_RE.finditer(sentence)]:
                record = allowed.get(rid)
                quote = (
                    _supporting_sentence(claim, record, self.fallback, self.settings.min_word_share) if record else None
                )
                if quote is not None:
                    lines.append(f"{claim} [{rid}]")
                    citations.append(cite(quote, self.fallback.source))
                    break
        if not lines:
            return None
        return Answer(text="\n".join(lines), refused=False, citations=citations, answerer=self.name)

    def _fall_back(self, query: Query, ranked: list[Ranked], route: Route, why: str) -> Answer:
        answer = self.fallback.answer(query, ranked, route)
        answer.notice = f"Showing the grounded answer: {why}."
        return answer


def _supporting_sentence(claim: str, record: Record, grounded: GroundedAnswerer, share: float) -> Sentence | None:
    """The record's sentence that supports the claim: it holds every figure of the claim and at least `share` of
    its words, word for word. One sentence, not the record as a whole: that sentence is the quote a reader
    checks the claim against, and words gathered from all over a paragraph let an invented sentence through."""
    words = set(content_words(claim))
    if not words:
        return None
    numbers = {fold(n).rstrip(".,") for n in _NUMBER_RE.findall(claim)}
    best, held = None, 0.0
    for sentence in grounded.sentences_of(record.id):
        if any(n not in fold(sentence.text) for n in numbers):
            continue
        share_held = len(words & set(content_words(sentence.text))) / len(words)
        if share_held > held:
            best, held = sentence, share_held
    return best if held >= share else None


def _client(settings: LLMSettings):
    from llama_index.llms.openai_like import OpenAILike

    return OpenAILike(
        api_base=settings.base_url,
        model=settings.model,
        api_key=os.environ.get(settings.api_key_env, "not-needed"),
        is_chat_model=True,
        timeout=settings.timeout_s,
        max_retries=0,
        max_tokens=settings.max_tokens,
        temperature=0.0,
    )


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:120]}" if text else type(exc).__name__
