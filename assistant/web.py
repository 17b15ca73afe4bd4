"""The Gradio chat: rendering helpers and the Blocks builder. A thin adapter over ReportAssistant.

Everything shown here is text from the report or from the user, so every string is escaped before it
becomes HTML; the only markup is what this module writes itself (citation buttons, <mark>, layout).
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

# Gradio's usage analytics would phone home; nothing leaves this machine.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import gradio as gr  # noqa: E402 - after the analytics switch
import pandas as pd  # noqa: E402

from assistant.answering.citations import MARKER_RE
from assistant.catalog import conclusion_list
from assistant.core import ReportAssistant
from assistant.export import answer_markdown, conversation_markdown
from assistant.settings import Settings
from assistant.suggest import suggest
from assistant.timeline import Group as TimelineGroup
from assistant.timeline import Timeline, build_timeline
from assistant.types import Answer, BadInput, one_line

log = logging.getLogger("wiring_qa.web")

EXAMPLES = (
    "Tell me the size of the Policy Innovation Fund.",
    "Conclusion 18: what was recommended, and what came of it?",
    "When was it devised?",
)
ALL_PARTS = "All parts"
TABLE_HEADERS = ["No.", "Conclusion", "By when", "Part", "Paragraphs"]

# Gradio's chat sanitiser drops data-* attributes and <style>, but keeps class, name, value, title and
# style: so a citation is a <button> whose value is the record id and whose name is the chat turn,
# styled inline so it looks clickable wherever it is shown. Its colours pass WCAG AA: text 14.7:1 on the
# chip, the chip's border 5.2:1 against the page (PAGE_CSS gives dark mode its own).
CITE_STYLE = (
    "display:inline-block;margin:0 2px;padding:0 7px;border:1px solid #c2410c;"
    "border-radius:999px;background:#fff7ed;color:#1f2937;"
    "font-size:0.85em;font-weight:600;line-height:1.6;cursor:pointer;white-space:nowrap;"
)

# One document-level listener (bound once per page) routes every citation click, or Enter on a focused
# citation, to the panel of the tab it sits in; each panel registers its own `trigger` whenever Gradio
# (re)mounts it. Focus follows: to the panel's heading once it shows the record (now, and again after the
# panel re-renders), and back to the citation that opened it on Escape or the panel's Back button.
PANEL_JS = """
const panels = (window.__wqaPanels = window.__wqaPanels || {});
panels["%(key)s"] = (id, turn) => trigger("click", { cite: id, turn: turn || "" });
if (typeof watch === "function") watch("value", () => window.__wqaFocusPanel && window.__wqaFocusPanel("%(key)s"));
if ("%(key)s" === "chat" && !window.__wqaLinked) {
  // A link to the chat may name a paragraph to open (?cite=3.24.1) or a question to ask (?q=...).
  window.__wqaLinked = true;
  const params = new URLSearchParams(window.location.search);
  if (params.get("cite")) panels.chat(params.get("cite"), "");
  const question = (params.get("q") || "").trim();
  const ask = (tries) => {
    const box = document.querySelector("#wqa-q textarea, #wqa-q input");
    const send = document.querySelector("#wqa-send");
    if (!box || !send) { if (tries > 0) setTimeout(() => ask(tries - 1), 100); return; }
    const proto = box.tagName === "TEXTAREA" ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
    Object.getOwnPropertyDescriptor(proto, "value").set.call(box, question);
    box.dispatchEvent(new Event("input", { bubbles: true }));
    setTimeout(() => send.click(), 50);
  };
  if (question) ask(50);
}
if (!window.__wqaBound) {
  window.__wqaBound = true;
  const PANEL_IDS = { chat: "wqa-source-panel", conclusions: "wqa-conclusion-panel" };
  const HOME = { chat: "#wqa-q textarea", conclusions: "#wqa-filter textarea, #wqa-filter input" };
  const origins = {}, pending = {};
  const keyOf = (el) => (el.closest(".wqa-conclusions-tab") ? "conclusions" : "chat");
  window.__wqaFocusPanel = (key) => {
    const wanted = pending[key];
    const heading = document.querySelector("#" + PANEL_IDS[key] + " .wqa-id");
    if (!wanted || Date.now() - wanted.at > 15000 || !heading || heading.textContent.trim() !== wanted.id) return;
    heading.focus({ preventScroll: true });
    const box = heading.getBoundingClientRect();  // bring the panel into view (on a phone it sits below the chat)
    if (box.top < 0 || box.bottom > window.innerHeight) document.getElementById(PANEL_IDS[key]).scrollIntoView({ block: "start" });
  };
  const goBack = (key) => {
    delete pending[key];
    const o = origins[key];
    let el = o && o.el.isConnected ? o.el : null;
    if (o && !el) {
      const named = o.name ? '[name="' + CSS.escape(o.name) + '"]' : "";
      el = document.querySelector('button.wqa-cite[value="' + CSS.escape(o.value) + '"]' + named);
    }
    el = el || document.querySelector(HOME[key]);
    if (el) { el.focus({ preventScroll: true }); el.scrollIntoView({ block: "center" }); }
  };
  document.addEventListener("click", (event) => {
    const target = event.target.closest ? event.target : null;
    if (!target) return;
    const back = target.closest("button.wqa-back");
    if (back) { event.preventDefault(); goBack(keyOf(back)); return; }
    const button = target.closest("button.wqa-cite");
    if (!button) return;
    event.preventDefault();
    const key = keyOf(button);
    if (!button.closest("#" + PANEL_IDS[key])) origins[key] = { el: button, value: button.value, name: button.name };
    pending[key] = { id: button.value, at: Date.now() };
    const open = window.__wqaPanels[key];
    if (open) open(button.value, button.name);
    window.__wqaFocusPanel(key);  // already showing it: no re-render will come
  });
  document.addEventListener("keydown", (event) => {
    const inside = event.key === "Escape" && event.target.closest;
    const panel = inside && event.target.closest("#" + PANEL_IDS.chat + ", #" + PANEL_IDS.conclusions);
    if (panel) { event.preventDefault(); goBack(panel.id === PANEL_IDS.chat ? "chat" : "conclusions"); }
  });
}
"""

PANEL_CSS = """
.wqa-panel { font-size: 0.95rem; line-height: 1.55; }
.wqa-empty { color: var(--body-text-color-subdued); padding: 12px 4px; }
.wqa-head { display: flex; align-items: baseline; gap: 10px; flex-wrap: wrap; margin: 10px 0 4px 0; }
.wqa-id { font-size: 1.25rem; font-weight: 700; margin: 0; padding: 0; }
.wqa-kind { font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.05em; color: var(--body-text-color-subdued); }
.wqa-label { color: var(--body-text-color); opacity: 0.8; font-size: 0.9rem; margin-bottom: 10px; }
.wqa-text { white-space: pre-wrap; overflow-wrap: anywhere; padding: 10px 12px; border-left: 3px solid var(--color-accent);
  background: var(--background-fill-secondary); border-radius: 4px; }
.wqa-text mark { background: #fde68a; color: #111827; padding: 0 2px; border-radius: 2px; }
.wqa-links { margin-top: 10px; }
.wqa-links-title { font-weight: 600; margin-right: 4px; }
.wqa-progress { margin-top: 14px; }
.wqa-progress-item { margin: 10px 0; }
.wqa-progress-item .wqa-text { border-left-color: var(--border-color-primary); }
.wqa-stamp code { font-size: 0.85em; word-break: break-all; }
.wqa-back { margin-left: auto; font-size: 0.85rem; padding: 2px 10px; border: 1px solid #6b7280; border-radius: 6px;
  background: transparent; color: var(--body-text-color); cursor: pointer; }
"""

# Page-wide rules, injected once through the header's `head` (Gradio 6 takes css only at launch()).
# The colour overrides bring Gradio's own subdued text and primary buttons to WCAG AA contrast (4.5:1).
PAGE_CSS = """
<style>
/* Gradio ships SourceSansPro-SemiBold as a 55-glyph subset, so bold text mixed two fonts; use the full Bold. */
@font-face { font-family: 'Source Sans Pro'; src: url('static/fonts/SourceSansPro/SourceSansPro-Bold.woff2')
  format('woff2'); font-weight: 600 700; font-style: normal; }
body:not(.dark) { --body-text-color-subdued: #4b5563; --block-label-text-color: #374151;
  --button-primary-background-fill: #c2410c; --button-primary-background-fill-hover: #9a3412;
  --button-primary-text-color: #ffffff; --button-primary-border-color: #c2410c; --input-placeholder-color: #6b7280; }
body.dark { --body-text-color-subdued: #d1d5db; }
body:not(.dark) [role="tab"][aria-selected="true"], body:not(.dark) [role="tab"].selected { color: #c2410c !important; }
footer, footer a, footer button, footer .show-api { color: var(--body-text-color-subdued) !important; opacity: 1 !important; }
#wqa-table { --font-mono: var(--font); }
button.wqa-cite:hover { filter: brightness(0.95); text-decoration: underline; }
button.wqa-cite:focus-visible, button.wqa-back:focus-visible, .wqa-next-q:focus-visible {
  outline: 3px solid #1d4ed8; outline-offset: 2px; }
.wqa-id:focus { outline: 3px solid #1d4ed8; outline-offset: 2px; border-radius: 2px; }
.dark button.wqa-cite { background: #431407 !important; color: #ffedd5 !important; border-color: #fb923c !important; }
.dark button.wqa-cite:focus-visible, .dark .wqa-id:focus { outline-color: #93c5fd; }
#wqa-header h1 { margin: 0 0 2px 0; font-size: 1.6rem; }
#wqa-header p { margin: 0; color: var(--body-text-color); opacity: 0.85; }
.wqa-sr-only { position: absolute; width: 1px; height: 1px; margin: -1px; overflow: hidden; clip: rect(0 0 0 0); }
#wqa-next-label p { margin: 4px 0 0 0; }
.wqa-next-q { white-space: normal !important; text-align: left !important; justify-content: flex-start !important; }
/* The deadline timeline: a grid of months, each group of conclusions placed over the months its deadline spans. */
.wqa-timeline { font-size: 0.9rem; }
.wqa-tl-intro { margin: 0 0 8px 0; }
.wqa-tl-axis { display: grid; grid-template-columns: repeat(var(--wqa-months), minmax(0, 1fr));
  grid-auto-flow: row dense; gap: 6px 2px; align-items: start; }
.wqa-tl-year { font-weight: 700; border-bottom: 2px solid var(--border-color-primary); padding: 0 4px; }
.wqa-tl-month { font-size: 0.75rem; text-align: center; color: var(--body-text-color-subdued);
  border-left: 1px solid var(--border-color-primary); }
.wqa-tl-group { border-top: 3px solid #c2410c; background: var(--background-fill-secondary); border-radius: 4px;
  padding: 2px; min-width: 0; }
.wqa-tl-when { display: block; font-size: 0.75rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.wqa-tl-long { display: none; }
.wqa-tl-chips { display: flex; flex-wrap: wrap; gap: 3px; }
button.wqa-cite.wqa-tl-chip { margin: 0 !important; padding: 0 5px !important; font-size: 0.8rem !important; }
.wqa-tl-undated { margin-top: 12px; display: flex; flex-direction: column; gap: 6px; }
.wqa-tl-undated .wqa-tl-group { display: flex; gap: 8px; align-items: baseline; border-top: none;
  border-left: 3px solid #6b7280; padding: 4px 6px; }
.wqa-tl-undated .wqa-tl-when { flex: 0 0 auto; font-size: 0.85rem; white-space: normal; }
/* Small screens: the timeline becomes a list of deadlines, the table drops its narrow columns, and nothing
   is wider than the screen. */
@media (max-width: 640px) {
  .wqa-tl-axis { display: flex; flex-direction: column; gap: 4px; }
  .wqa-tl-year, .wqa-tl-month, .wqa-tl-short { display: none; }
  .wqa-tl-long { display: inline; }
  .wqa-tl-axis .wqa-tl-group { display: flex; gap: 8px; align-items: baseline; border-top: none;
    border-left: 3px solid #c2410c; padding: 4px 6px; }
  .wqa-tl-axis .wqa-tl-when { flex: 0 0 8.5em; white-space: normal; font-size: 0.85rem; }
  #wqa-table [data-heading="3"], #wqa-table [data-heading="4"], #wqa-table [data-col="3"], #wqa-table [data-col="4"] {
    display: none !important; }
  #wqa-table table { width: 100% !important; table-layout: fixed !important; }
  #wqa-table [data-heading="0"], #wqa-table [data-col="0"] { width: 16% !important; min-width: 16% !important;
    max-width: 16% !important; flex: 0 0 16% !important; }
  #wqa-table [data-heading="1"], #wqa-table [data-col="1"] { width: 56% !important; min-width: 56% !important;
    max-width: 56% !important; flex: 0 0 56% !important; }
  #wqa-table [data-heading="2"], #wqa-table [data-col="2"] { width: 28% !important; min-width: 28% !important;
    max-width: 28% !important; flex: 0 0 28% !important; }
}
</style>
"""

BACK_TO_ANSWER = "Back to the answer (Esc)"
BACK_TO_LIST = "Back (Esc)"
NEXT_LABEL = "**Ask next** (each one checked: the report answers it)"
PANEL_HINT = "Click a paragraph number in an answer (such as 3.24.1) to read the paragraph here."
CONCLUSION_HINT = "Click a row of the table to read the conclusion and the progress reported on it."


# --- rendering: pure functions from answers and records to escaped HTML -------------------------


def cite_button(record_id: str, turn: int | None = None) -> str:
    """A clickable [id]; the turn says which answer's quotes to highlight."""
    rid = html.escape(record_id, quote=True)
    name = f' name="{turn}"' if turn is not None else ""
    return (
        f'<button type="button" class="wqa-cite" value="{rid}"{name} title="Open {rid}" style="{CITE_STYLE}">'
        f"{rid}</button>"
    )


def render_marked_text(text: str, known: set[str] | dict, turn: int | None = None) -> str:
    """Escaped text whose [id] markers for real records become citation buttons."""
    out, last = [], 0
    for match in MARKER_RE.finditer(text):
        if match.group(1) not in known:
            continue  # not a record: leave "[...]" as plain text
        out += [html.escape(text[last : match.start()]), cite_button(match.group(1), turn)]
        last = match.end()
    out.append(html.escape(text[last:]))
    return "".join(out).replace("\n", "<br>")


def render_user(question: str) -> str:
    return html.escape(question or "").replace("\n", "<br>") or "<em>(empty question)</em>"


def render_answer(answer: Answer, turn: int, known: set[str] | dict) -> str:
    """A finished answer: cited text, then the nearest paragraphs (refusal) or related ones, all clickable."""
    parts = [render_marked_text(answer.text, known, turn)]
    if answer.understood_as:  # a follow-up read in its conversation: show the reader how
        parts.insert(0, f'<em class="wqa-understood">Understood as: {html.escape(answer.understood_as)}</em>')
    if answer.notice:
        parts.append(f"<em>{html.escape(answer.notice)}</em>")
    if answer.refused:
        nearest = [i for i in answer.nearest if i in known]
        if nearest:
            parts.append("Nearest paragraphs: " + " ".join(cite_button(i, turn) for i in nearest))
    elif answer.related:
        parts.append("See also: " + " ".join(cite_button(i, turn) for i in answer.related[:5] if i in known))
    return "<br><br>".join(parts)


def render_chat(turns: list[dict], known: set[str] | dict, pending: tuple[str, str] | None = None) -> list[dict]:
    """Chatbot messages for the finished turns plus, while streaming, the turn in progress.

    Finished replies sit in div.wqa-answer and the one in progress in div.wqa-streaming, so a page
    (or a browser test) can tell a complete answer from a half-streamed one.
    """
    messages = []
    for i, turn in enumerate(turns):
        messages.append({"role": "user", "content": render_user(turn["question"])})
        if turn.get("error"):
            body = f"<strong>{html.escape(turn['error'])}</strong>"
        else:
            body = render_answer(turn["answer"], i, known)
        messages.append({"role": "assistant", "content": f'<div class="wqa-answer">{body}</div>'})
    if pending is not None:
        question, partial = pending
        body = render_marked_text(partial, known) or "…"
        messages.append({"role": "user", "content": render_user(question)})
        messages.append({"role": "assistant", "content": f'<div class="wqa-streaming">{body}</div>'})
    return messages


def quote_spans(text: str, quotes: list[str]) -> list[tuple[int, int]]:
    """Where each quote sits in the text, tolerant of line breaks; overlapping spans merged."""
    spans = []
    for quote in quotes:
        words = quote.split()
        if not words:
            continue
        pattern = r"\s+".join(re.escape(w) for w in words)
        spans += [m.span() for m in re.finditer(pattern, text)]
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight(text: str, quotes: list[str]) -> str:
    """Escaped text with each quote wrapped in <mark>."""
    out, last = [], 0
    for start, end in quote_spans(text, quotes):
        out += [html.escape(text[last:start]), "<mark>", html.escape(text[start:end]), "</mark>"]
        last = end
    out.append(html.escape(text[last:]))
    return "".join(out)


def link_row(title: str, ids: list[str] | tuple[str, ...]) -> str:
    if not ids:
        return ""
    buttons = " ".join(cite_button(i) for i in ids)
    return f'<div class="wqa-links"><span class="wqa-links-title">{html.escape(title)}</span> {buttons}</div>'


def render_record(qa: ReportAssistant, record_id: str, quotes: list[str] | None = None, back: str = "") -> str:
    """The source panel: id, where it sits, full text with quotes marked, and its links both ways.

    The id is a focusable heading (focus moves there when a citation opens it); `back` labels a button
    that returns focus to where the reader came from."""
    record = qa.record(record_id)
    if record is None:
        return f'<div class="wqa-panel wqa-empty">No paragraph {html.escape(record_id)} in the report.</div>'
    back_button = f'<button type="button" class="wqa-back">{html.escape(back)}</button>' if back else ""
    parts = [
        '<div class="wqa-panel">',
        f'<div class="wqa-head"><h2 class="wqa-id" tabindex="-1">{html.escape(record.id)}</h2>'
        f'<span class="wqa-kind">{html.escape(record.kind)}</span>{back_button}</div>',
        f'<div class="wqa-label">{html.escape(record.label()) or "&nbsp;"}</div>',
        f'<div class="wqa-text">{highlight(record.text, quotes or [])}</div>',
    ]
    if record.conclusion and record.kind != "conclusion":
        parts.append(link_row("Responds to:", [f"Conclusion {record.conclusion}"]))
    parts.append(link_row("Cross-references:", [i for i in record.links if qa.record(i)]))
    parts.append(link_row("Referenced by:", qa.referenced_by(record.id)))
    if record.kind == "conclusion":
        parts.append(render_progress(qa, record.conclusion))
    parts.append("</div>")
    return "".join(parts)


def render_progress(qa: ReportAssistant, number: int | None) -> str:
    """A conclusion's progress paragraphs, each in full with its own clickable id."""
    paragraphs = progress_paragraphs(qa, number)
    if not paragraphs:
        return '<div class="wqa-progress wqa-empty">No progress paragraphs under this conclusion.</div>'
    items = "".join(
        f'<div class="wqa-progress-item">{cite_button(p.id)}<div class="wqa-text">{html.escape(p.text)}</div></div>'
        for p in paragraphs
    )
    return f'<div class="wqa-progress"><strong>Progress reported ({len(paragraphs)})</strong>{items}</div>'


def progress_paragraphs(qa: ReportAssistant, number: int | None) -> list:
    return qa.progress_of(number)


def render_stamp(stamp: dict) -> str:
    """What the index was built from, so a reader can tell which report and model answered."""
    rows = [
        ("Report sha256", stamp.get("report_sha256", "?")),
        ("Model", stamp.get("model_id", "?")),
        ("Built", stamp.get("built_at", "?")),
    ]
    cells = "".join(
        f"<div><strong>{html.escape(k)}:</strong> <code>{html.escape(str(v))}</code></div>" for k, v in rows
    )
    return f'<div class="wqa-stamp">{cells}</div>'


def empty_panel(hint: str) -> str:
    return f'<div class="wqa-panel wqa-empty">{html.escape(hint)}</div>'


# --- conversation: per-session turns kept in gr.State, never in the shared assistant -------------


def history_of(turns: list[dict]) -> list[dict]:
    """Prior turns as the core expects them; failed turns are left out so they cannot mislead follow-ups."""
    history = []
    for turn in turns:
        if turn.get("answer"):
            history += [
                {"role": "user", "content": turn["question"]},
                {"role": "assistant", "content": turn["answer"].text},
            ]
    return history


def quotes_for(turns: list[dict], turn: str, record_id: str) -> list[str]:
    """The sentences that answer `turn` quoted from this record (what the panel highlights)."""
    try:
        answer = (turns or [])[int(turn)].get("answer")
    except (ValueError, IndexError, TypeError):
        return []
    return [c.quote for c in answer.citations if c.id == record_id] if answer else []


def event_value(evt: gr.EventData, key: str) -> str:
    """A field that PANEL_JS sent with trigger(); "" when the event carried none."""
    try:
        return str(getattr(evt, key) or "")
    except (AttributeError, TypeError):  # EventData raises TypeError when no data came at all
        return ""


# --- conclusions table ------------------------------------------------------------------------


def conclusion_rows(qa: ReportAssistant) -> list[list]:
    rows = []
    for r in qa.records:
        if r.kind == "conclusion":
            part = f"Part {r.part}" if r.part else ""
            rows.append(
                [r.conclusion, r.conclusion_statement, r.by_when, part, len(progress_paragraphs(qa, r.conclusion))]
            )
    return rows


def part_choices(qa: ReportAssistant) -> list[str]:
    """The dropdown shows "Part N: title"; the table only "Part N", to stay narrow."""
    parts = {r.part: r.part_title for r in qa.records if r.kind == "conclusion" and r.part}
    return [ALL_PARTS, *(f"Part {n}: {title}" for n, title in sorted(parts.items()))]


def filter_rows(rows: list[list], text: str, part: str) -> list[list]:
    """Rows whose visible cells contain every word of `text`, in the chosen part."""
    words = (text or "").lower().split()
    out = []
    for row in rows:
        if part and part != ALL_PARTS and part.split(":")[0] != row[3]:
            continue
        haystack = " ".join(str(cell) for cell in row).lower()
        if all(w in haystack for w in words):
            out.append(row)
    return out


def write_csv(rows: list[list], folder: Path) -> str:
    """The rows, with the table's headers, as a CSV download."""
    out = io.StringIO(newline="")
    csv.writer(out).writerows([TABLE_HEADERS, *rows])
    return write_download(out.getvalue(), folder, "wiring-it-up-conclusions", ".csv")


def count_text(shown: int, total: int) -> str:
    return f"{shown} of {total} conclusions; click a row to open it."


def table_frame(rows: list[list]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=TABLE_HEADERS)


# --- deadline timeline -------------------------------------------------------------------------

TIMELINE_INTRO = (
    "Each conclusion's deadline (\u201cBy when\u201d) on a time line; a number opens the conclusion. "
    "Deadlines that name no date are listed below it."
)


def render_timeline(timeline: Timeline) -> str:
    """The conclusions on a grid of months (a list on small screens), each number a button that opens it."""
    months = timeline.months
    cells = [
        f'<div class="wqa-tl-year" style="grid-column:{i + 1} / span {n}">{year}</div>' for year, i, n in _years(months)
    ]
    cells += [
        f'<div class="wqa-tl-month" style="grid-column:{i + 1}" aria-hidden="true">{m.strftime("%b")[0]}</div>'
        for i, m in enumerate(months)
    ]
    for group in timeline.dated:
        short = months[group.first].strftime("%b") if group.months == 1 else group.label.split()[0]
        cells.append(
            f'<div class="wqa-tl-group" role="listitem" style="grid-column:{group.first + 1} / span {group.months}">'
            f"{_when(group, short)}{_chips(group)}</div>"
        )
    undated = "".join(
        f'<div class="wqa-tl-group" role="listitem">{_when(group, group.label)}{_chips(group)}</div>'
        for group in timeline.undated
    )
    return (
        f'<div class="wqa-timeline"><p class="wqa-tl-intro">{html.escape(TIMELINE_INTRO)}</p>'
        f'<div class="wqa-tl-axis" role="list" aria-label="Dated deadlines, earliest first" '
        f'style="--wqa-months:{len(months)}">{"".join(cells)}</div>'
        f'<div class="wqa-tl-undated" role="list" aria-label="Deadlines with no date">{undated}</div></div>'
    )


def _years(months: list) -> list[tuple[int, int, int]]:
    """(year, first column, number of columns) for each year on the axis."""
    out: list[tuple[int, int, int]] = []
    for i, month in enumerate(months):
        if out and out[-1][0] == month.year:
            out[-1] = (month.year, out[-1][1], out[-1][2] + 1)
        else:
            out.append((month.year, i, 1))
    return out


def _when(group: TimelineGroup, short: str) -> str:
    count = f" ({len(group.entries)})" if len(group.entries) > 1 else ""
    return (
        f'<span class="wqa-tl-when" title="{html.escape(group.label)}">'
        f'<span class="wqa-tl-short" aria-hidden="true">{html.escape(short)}</span>'
        f'<span class="wqa-tl-long">{html.escape(group.label)}{count}</span></span>'
    )


def _chips(group: TimelineGroup) -> str:
    buttons = "".join(
        f'<button type="button" class="wqa-cite wqa-tl-chip" value="Conclusion {e.number}" '
        f'aria-label="Conclusion {e.number}, by {html.escape(e.deadline.text, quote=True)}" '
        f'title="Conclusion {e.number}: {html.escape(e.statement, quote=True)} By when: '
        f'{html.escape(e.deadline.text, quote=True)}" style="{CITE_STYLE}">{e.number}</button>'
        for e in group.entries
    )
    return f'<span class="wqa-tl-chips">{buttons}</span>'


# --- export and suggestions: what the chat offers after each answer ----------------------------


def exchanges_of(turns: list[dict]) -> list[tuple[str, Answer]]:
    """The answered turns as (question, answer) pairs; failed turns have nothing to export."""
    return [(turn["question"], turn["answer"]) for turn in turns or [] if turn.get("answer")]


def write_download(text: str, folder: Path, stem: str, suffix: str = ".md") -> str:
    """A file to download, named by its content, so concurrent users never overwrite each other's file and the
    same content is written once."""
    path = folder / f"{stem}-{hashlib.sha256(text.encode()).hexdigest()[:12]}{suffix}"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8", newline="")
        tmp.replace(path)
    return str(path)


def page_address(request: gr.Request | None) -> str:
    """The chat's own address as the browser reached it (links in exports point back at it); "" if unknown."""
    try:
        return str(request.base_url) if request is not None else ""
    except (AttributeError, TypeError):
        return ""


# --- the app --------------------------------------------------------------------------------


def build_app(qa: ReportAssistant, settings: Settings) -> gr.Blocks:
    """The whole UI around one shared, read-only assistant; all per-user state lives in gr.State."""
    with gr.Blocks(title="Wiring It Up: questions answered from the report") as demo:
        gr.HTML(
            "<h1>Wiring It Up (2001): ask the report</h1><p>Every answer sentence cites the report's own paragraph"
            " number. Click a number to read the paragraph, with the quoted sentence highlighted.</p>",
            head=PAGE_CSS,
            js_on_load=None,
            elem_id="wqa-header",
        )
        with gr.Tab("Chat"):
            _chat_tab(qa, settings)
        with gr.Tab("Conclusions"):
            _conclusions_tab(qa)
        _api(qa)
    demo.queue(default_concurrency_limit=settings.app.concurrency, max_size=max(32, settings.app.concurrency * 16))
    return demo


def _chat_tab(qa: ReportAssistant, settings: Settings) -> None:
    ui = _chat_layout(qa, settings)
    handlers = _chat_handlers(qa)
    outputs = [ui.question, ui.chatbot, ui.turns]
    asked = [ui.question, ui.turns, ui.top_k, ui.answerer]
    again = [ui.turns, ui.top_k, ui.answerer]
    after = [ui.next_box, *ui.next, ui.export_chat, ui.export_answer, ui.snippet]
    cleared = [ui.question, ui.chatbot, ui.turns, ui.panel, *after]
    private = {"api_visibility": "private"}

    triggers = []

    def answered_by(trigger, fn, inputs, **options) -> None:
        """Answer on `trigger`; the suggestions and exports follow the answer."""
        answer = trigger(fn, inputs, outputs, **{**private, **options})
        answer.then(handlers.after_answer, [ui.turns], after, show_progress="hidden", **private)
        triggers.append(trigger)

    answered_by(ui.question.submit, handlers.respond, asked, api_visibility="public", api_name="chat")
    answered_by(ui.send.click, handlers.respond, asked)
    answered_by(ui.retry.click, handlers.retry_last, again)
    answered_by(ui.chatbot.retry, handlers.retry_last, again)
    for button in ui.next:  # a suggestion asks itself
        answered_by(button.click, handlers.respond, [button, ui.turns, ui.top_k, ui.answerer])
    for button, text in zip(ui.examples, EXAMPLES, strict=True):
        fill = button.click(lambda t=text: t, None, ui.question, queue=False, **private)
        answered_by(fill.then, handlers.respond, asked)
    for trigger in triggers:  # a new question hides the old suggestions at once
        trigger(handlers.hide_next, None, ui.next_box, queue=False, **private)
    ui.clear.click(handlers.reset, None, cleared, **private)
    ui.chatbot.clear(handlers.reset, None, cleared, **private)
    ui.panel.click(handlers.open_source, [ui.turns], ui.panel, show_progress="hidden", **private)


def _chat_layout(qa: ReportAssistant, settings: Settings) -> SimpleNamespace:
    """Conversation on the left, the source panel on the right (below it on a small screen); suggestions
    under the conversation, export and settings folded away below."""
    ui = SimpleNamespace(turns=gr.State([]))
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):
            ui.chatbot = gr.Chatbot(
                label="Conversation",
                height=520,
                render_markdown=False,  # messages are HTML this module escaped itself, never markdown
                sanitize_html=True,
                buttons=[],
                feedback_options=None,
                placeholder="Ask a question about *Wiring It Up* (2001), or pick an example below.",
                elem_id="wqa-chatbot",
            )
            with gr.Column(visible=False, elem_id="wqa-next") as ui.next_box:
                gr.Markdown(NEXT_LABEL, elem_id="wqa-next-label")
                ui.next = [
                    gr.Button("", size="sm", variant="secondary", visible=False, elem_classes=["wqa-next-q"])
                    for _ in range(settings.suggest.shown)
                ]
            with gr.Row():
                ui.question = gr.Textbox(
                    show_label=False,
                    placeholder="Ask about the report…",
                    scale=5,
                    lines=1,
                    max_lines=4,
                    container=False,
                    elem_id="wqa-q",
                )
                ui.send = gr.Button("Send", variant="primary", scale=1, min_width=80, elem_id="wqa-send")
            with gr.Row():
                ui.retry = gr.Button("Retry last", size="sm", elem_id="wqa-retry")
                ui.clear = gr.Button("Clear conversation", size="sm", elem_id="wqa-clear")
            gr.Markdown("**Try:**")
            with gr.Row():
                ui.examples = [gr.Button(q, size="sm", variant="secondary") for q in EXAMPLES]
            with gr.Accordion("Export", open=False, elem_id="wqa-export"):
                with gr.Row():
                    ui.export_chat = gr.DownloadButton(
                        "Download the conversation (.md)", size="sm", interactive=False, elem_id="wqa-export-chat"
                    )
                    ui.export_answer = gr.DownloadButton(
                        "Download the last answer (.md)", size="sm", interactive=False, elem_id="wqa-export-answer"
                    )
                ui.snippet = gr.Code(
                    "",
                    language="markdown",
                    label="The last answer as a Markdown snippet (each [id] links to its paragraph)",
                    interactive=False,
                    lines=4,
                    max_lines=14,
                    wrap_lines=True,
                    show_line_numbers=False,
                    buttons=["copy"],
                    elem_id="wqa-snippet",
                )
            with gr.Accordion("Settings", open=False, elem_id="wqa-settings"):
                ui.answerer = gr.Radio(
                    list(qa.answerers), value=qa.answerer.name, label="Answerer", elem_id="wqa-answerer"
                )
                top_k = min(settings.retrieval.top_k, 20)
                ui.top_k = gr.Slider(1, 20, value=top_k, step=1, label="Number of sources", elem_id="wqa-topk")
                gr.HTML(render_stamp(qa.stamp), js_on_load=None)
        with gr.Column(scale=2, min_width=300):
            ui.panel = source_panel("Source", PANEL_HINT, "chat", "wqa-source-panel")
    return ui


def source_panel(label: str, hint: str, key: str, elem_id: str) -> gr.HTML:
    """An HTML panel that opens whatever citation is clicked in its tab (see PANEL_JS)."""
    return gr.HTML(
        empty_panel(hint),
        label=label,
        show_label=True,
        container=True,
        padding=True,
        min_height=200,
        js_on_load=PANEL_JS % {"key": key},
        css_template=PANEL_CSS,
        elem_id=elem_id,
    )


def _chat_handlers(qa: ReportAssistant) -> SimpleNamespace:
    """Event handlers; they read and return the session's turns, never keep any themselves."""
    known = qa.by_id
    folder = Path(tempfile.mkdtemp(prefix="wiring-qa-export-"))

    def respond(text: str, state: list, k: float, name: str) -> Iterator[tuple]:
        """Stream one answer into the chat; the finished turn is saved in this session's state only."""
        state = list(state or [])
        turn = {"question": text or "", "answer": None, "error": None}
        yield "", render_chat(state, known, (turn["question"], "")), state
        try:
            for item in qa.stream(text, history_of(state), int(k or 0) or None, name or None):
                if isinstance(item, Answer):
                    turn["answer"] = item
                else:
                    yield "", render_chat(state, known, (turn["question"], item)), state
        except BadInput as exc:
            turn["error"] = f"Sorry, I can't use that question: {one_line(exc)}."
        except Exception as exc:  # noqa: BLE001 - the user gets one line; the console gets the traceback
            log.exception("answering failed")
            turn["error"] = f"Something went wrong: {one_line(exc)}"
        state = [*state, turn]
        yield "", render_chat(state, known), state

    def retry_last(state: list, k: float, name: str) -> Iterator[tuple]:
        """Ask the last question again, in place of its answer."""
        state = list(state or [])
        if not state:
            yield "", render_chat(state, known), state
            return
        yield from respond(state[-1]["question"], state[:-1], k, name)

    def after_answer(state: list, request: gr.Request) -> tuple:
        """The suggestions for the last answer, each already answered, and the conversation as Markdown."""
        exchanges = exchanges_of(state)
        last = (state or [{}])[-1].get("answer")
        found = suggest(qa, last, history_of(state)) if last is not None else []
        buttons = [gr.update(value=s.question, visible=True) for s in found]
        buttons += [gr.update(value="", visible=False)] * (qa.settings.suggest.shown - len(found))
        if not exchanges:
            return gr.update(visible=False), *buttons, *_no_exports()
        base = page_address(request)
        question, answer = exchanges[-1]
        whole = write_download(conversation_markdown(exchanges, qa.stamp, base), folder, "wiring-it-up-conversation")
        snippet = answer_markdown(question, answer, qa.stamp, base)
        one = write_download(snippet, folder, "wiring-it-up-answer")
        exports = (gr.update(value=whole, interactive=True), gr.update(value=one, interactive=True), snippet)
        return gr.update(visible=bool(found)), *buttons, *exports

    def hide_next() -> dict:
        return gr.update(visible=False)

    def reset() -> tuple:
        hidden = [gr.update(value="", visible=False)] * qa.settings.suggest.shown
        return "", [], [], empty_panel(PANEL_HINT), gr.update(visible=False), *hidden, *_no_exports()

    def open_source(state: list, evt: gr.EventData) -> str:
        record_id = event_value(evt, "cite")
        if not record_id:
            return gr.skip()
        return render_record(qa, record_id, quotes_for(state, event_value(evt, "turn"), record_id), BACK_TO_ANSWER)

    return SimpleNamespace(
        respond=respond,
        retry_last=retry_last,
        after_answer=after_answer,
        hide_next=hide_next,
        reset=reset,
        open_source=open_source,
    )


def _no_exports() -> tuple:
    return gr.update(value=None, interactive=False), gr.update(value=None, interactive=False), ""


def _conclusions_tab(qa: ReportAssistant) -> None:
    rows = conclusion_rows(qa)
    folder = Path(tempfile.mkdtemp(prefix="wiring-qa-csv-"))
    with gr.Column(elem_classes=["wqa-conclusions-tab"]):
        with gr.Accordion("Deadlines on a time line", open=True, elem_id="wqa-timeline-box"):
            gr.HTML(render_timeline(build_timeline(conclusion_list(qa))), js_on_load=None, elem_id="wqa-timeline")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=300):
                with gr.Row():
                    text = gr.Textbox(
                        label="Filter",
                        placeholder="e.g. Accounting Officer",
                        scale=3,
                        min_width=160,
                        elem_id="wqa-filter",
                    )
                    part = gr.Dropdown(
                        part_choices(qa), value=ALL_PARTS, label="Part", scale=2, min_width=160, elem_id="wqa-part"
                    )
                with gr.Row(equal_height=True):
                    count = gr.Markdown(count_text(len(rows), len(rows)), elem_id="wqa-count")
                    download = gr.DownloadButton(
                        "Download CSV",
                        value=write_csv(rows, folder),
                        size="sm",
                        scale=0,
                        min_width=160,
                        elem_id="wqa-csv",
                    )
                table = gr.Dataframe(
                    table_frame(rows),
                    interactive=False,
                    wrap=True,
                    max_height=560,
                    column_widths=["6%", "55%", "17%", "10%", "12%"],
                    elem_id="wqa-table",
                )
            with gr.Column(scale=2, min_width=300):
                panel = source_panel("Conclusion", CONCLUSION_HINT, "conclusions", "wqa-conclusion-panel")

    def refilter(words: str, chosen: str) -> tuple:
        shown = filter_rows(rows, words, chosen)
        return table_frame(shown), count_text(len(shown), len(rows)), write_csv(shown, folder)

    def open_row(evt: gr.SelectData) -> str:
        row = evt.row_value or []
        return render_record(qa, f"Conclusion {int(float(row[0]))}", back=BACK_TO_LIST) if row else gr.skip()

    def open_link(evt: gr.EventData) -> str:
        record_id = event_value(evt, "cite")
        return render_record(qa, record_id, back=BACK_TO_LIST) if record_id else gr.skip()

    for event in (text.change, part.change):
        event(refilter, [text, part], [table, count, download], api_visibility="private", trigger_mode="always_last")
    table.select(open_row, None, panel, api_visibility="private", show_progress="hidden")
    panel.click(open_link, None, panel, api_visibility="private", show_progress="hidden")


def _api(qa: ReportAssistant) -> None:
    """The named endpoint for programs: one question in, Answer.to_dict() out."""

    def ask(question: str, history_json: str = "[]", top_k: int = 0, answerer: str = "") -> dict:
        """Answer one question about 'Wiring It Up'; history_json is a JSON list of {role, content} turns."""
        try:
            history = json.loads(history_json) if (history_json or "").strip() else None
        except ValueError as exc:
            raise gr.Error(f"history_json is not valid JSON: {one_line(exc)}", print_exception=False) from None
        try:
            return qa.ask(question, history, int(top_k or 0) or None, answerer or None).to_dict()
        except BadInput as exc:
            raise gr.Error(one_line(exc), title="Bad input", print_exception=False) from None
        except Exception as exc:  # noqa: BLE001 - callers get one line, the console the traceback
            log.exception("api ask failed")
            raise gr.Error(f"Something went wrong: {one_line(exc)}", print_exception=False) from None

    gr.api(ask, api_name="ask")


def launch_options(settings: Settings) -> dict:
    """Where and how to listen: loopback unless the settings say otherwise, basic auth when both are set."""
    app = settings.app
    auth = (app.auth_user, app.auth_password) if app.auth_user and app.auth_password else None
    return {
        "server_name": app.host,
        "server_port": app.port,
        "auth": auth,
        "ssr_mode": False,  # no Node side-server: one Python process serves everything
        "show_error": False,  # tracebacks stay in the console
        "mcp_server": False,
        "footer_links": ["api"],
    }


def mount_options(settings: Settings) -> dict:
    """launch_options() for gr.mount_gradio_app, which takes no host or port (the server has them)."""
    options = launch_options(settings)
    return {k: options[k] for k in ("auth", "ssr_mode", "show_error", "mcp_server", "footer_links")}
