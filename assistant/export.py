"""Answers as Markdown to keep or share: a whole conversation, or one answer as a permalink-style snippet.

Both carry what a reader needs to check a claim without the app: every answer's [id] citations, the sentence
quoted from each record with its place in the report file, and the stamp of the index that answered.
User and report text is plain text here, so a "<" that Markdown viewers would read as HTML is escaped. Links
(given the chat's address) point back at the chat: `?cite=3.24.1` opens a paragraph, `?q=…` asks a question.
"""

from __future__ import annotations

from urllib.parse import urlencode

from assistant.types import Answer

REPORT = "*Wiring It Up*, the progress report of the Cabinet Office and HM Treasury (2001)"
# The parts of ReportAssistant.stamp worth keeping with an answer (its `location` is a local path: left out).
STAMP_FIELDS = (
    ("report sha256", "report_sha256"),
    ("parser", "parser_version"),
    ("embedding model", "model_id"),
    ("index key", "key"),
    ("built", "built_at"),
)
Exchange = tuple[str, Answer]  # a question and the answer it got


def conversation_markdown(exchanges: list[Exchange], stamp: dict, base_url: str = "") -> str:
    """The whole conversation: each question, its answer, and the quoted sentences of every citation."""
    lines = [
        "# Wiring It Up (2001): a conversation with the report",
        "",
        f"Answers from {REPORT}. Each [id] is the report's own paragraph number.",
        "",
        f"Index: {stamp_line(stamp)}",
    ]
    for number, (question, answer) in enumerate(exchanges, 1):
        lines += ["", f"## {number}. {_inline(question) or '(empty question)'}", ""]
        lines += _answer_lines(answer)
        lines += _source_lines(answer, base_url)
    return "\n".join(lines) + "\n"


def answer_markdown(question: str, answer: Answer, stamp: dict, base_url: str = "") -> str:
    """One answer as a snippet to paste elsewhere: the answer quoted, each [id] a link to its paragraph."""
    asked = answer.understood_as or question  # a follow-up, read as a question that stands alone
    lines = [f"> **{_inline(asked) or '(empty question)'}**", ">"]
    lines += [f"> {line}" if line else ">" for line in _answer_lines(answer, understood=False)]
    # With the chat's address each [id] links to its paragraph (the link's title holds the quote); without it
    # the quotes are listed.
    lines += [*(_reference_lines(answer, base_url) if base_url else _source_lines(answer, base_url)), ""]
    again = f" · [ask again]({_link(base_url, q=asked)})" if base_url and asked.strip() else ""
    lines.append(f"— {REPORT}; index: {stamp_line(stamp)}{again}")
    return "\n".join(lines) + "\n"


def stamp_line(stamp: dict) -> str:
    """What made the index, on one line."""
    return "; ".join(f"{label} `{_inline(str(stamp[key]))}`" for label, key in STAMP_FIELDS if stamp.get(key))


def cited_ids(answer: Answer) -> list[str]:
    """The records an answer cites, once each, in the order it first cites them."""
    return list(dict.fromkeys(c.id for c in answer.citations))


def _answer_lines(answer: Answer, understood: bool = True) -> list[str]:
    lines = []
    if understood and answer.understood_as:
        lines += [f"*Understood as: {_inline(answer.understood_as)}*", ""]
    lines += [_escape(line) for line in answer.text.strip().splitlines() if line.strip()]
    if answer.notice:
        lines += ["", f"*{_inline(answer.notice)}*"]
    if answer.refused and answer.nearest:
        nearest = ", ".join(f"[{i}]" for i in answer.nearest)
        lines += ["", f"Nearest paragraphs: {nearest}"]
    return lines


def _source_lines(answer: Answer, base_url: str) -> list[str]:
    if not answer.citations:
        return []
    lines = ["", "Quoted from the report:", ""]
    for rid in cited_ids(answer):
        for citation in [c for c in answer.citations if c.id == rid]:
            where = f"characters {citation.start}–{citation.end} of the report file"
            lines.append(f"- {_cite(rid, base_url)} “{_inline(citation.quote)}” ({where})")
    return lines


def _reference_lines(answer: Answer, base_url: str) -> list[str]:
    """Markdown link reference definitions, so every [id] already in the answer text becomes a link whose title
    holds the sentence it quotes."""
    lines = [""]
    for rid in cited_ids(answer):
        quotes = " … ".join(_inline(c.quote) for c in answer.citations if c.id == rid)
        title = f"Wiring It Up (2001), {rid}: {quotes}".replace('"', "'")
        lines.append(f'[{rid}]: <{_link(base_url, cite=rid)}> "{title}"')
    return lines


def _cite(rid: str, base_url: str) -> str:
    return f"[{rid}]({_link(base_url, cite=rid)})" if base_url else f"[{rid}]"


def _link(base_url: str, **query: str) -> str:
    """The chat page with a query: `?cite=ID` opens that paragraph, `?q=…` asks that question."""
    return f"{base_url}?{urlencode(query)}"


def _escape(text: str) -> str:
    """Plain text that Markdown viewers show as text, never as HTML (a tag needs its "<")."""
    return text.replace("<", "&lt;")


def _inline(text: str) -> str:
    """Escaped and on one line (headings, quotes and titles must not break across lines)."""
    return _escape(" ".join((text or "").split()))
