"""The chat in a real headless Chromium: streamed answers, clickable citations, follow-ups, the
Conclusions tab, and inert rendering of hostile input. Screenshots go to test-output/browser/."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from conftest import ROOT, free_port

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "test-output" / "browser"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]
TIMEOUT_MS = 120_000
HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium)"
    ),
]


@pytest.fixture(scope="module")
def app_url(qa, settings):
    """One app server for the module, on a free loopback port."""
    from assistant.web import build_app

    port = free_port()
    demo = build_app(qa, settings)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True, ssr_mode=False)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, app_url):
    """A fresh browser session (its own conversation) with every dialog recorded and dismissed."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)  # generous: `make test` may share two cores with other suites
    page = context.new_page()
    page.dialogs = []

    def on_dialog(dialog):
        page.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(app_url)
    page.locator("#wqa-q textarea, #wqa-q input").first.wait_for()
    yield page
    context.close()


def shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def ask(page, question: str) -> str:
    """Type a question, send it, and return the answer text once it has finished streaming."""
    bots = "#wqa-chatbot [data-testid='bot']"
    before = page.locator(bots).count()
    page.locator("#wqa-q textarea, #wqa-q input").first.fill(question)
    page.locator("#wqa-send").click()
    page.wait_for_function(
        "([sel, n]) => { const b = document.querySelectorAll(sel);"
        " return b.length > n && b[b.length - 1].querySelector('.wqa-answer'); }",
        arg=[bots, before],
    )
    return last_answer(page).inner_text()


def watch_streaming(page) -> None:
    """Remember whether an answer in progress ever appears, however briefly."""
    page.evaluate(
        """() => {
        window.__sawStreaming = false;
        new MutationObserver(() => {
            if (document.querySelector('#wqa-chatbot .wqa-streaming')) window.__sawStreaming = true;
        }).observe(document.querySelector('#wqa-chatbot'), {subtree: true, childList: true, characterData: true});
    }"""
    )


def last_answer(page):
    return page.locator("#wqa-chatbot [data-testid='bot']").last


def test_ask_click_citation_and_follow_up(page):
    assert "50" in ask(page, "How much is the Policy Innovation Fund?")
    answer = last_answer(page)
    cite = answer.locator("button.wqa-cite").first
    cite.wait_for()
    cited = cite.inner_text().strip()
    assert cited in {"3.24.1", "2.12"}
    shot(page, "01-answer")

    cite.click()
    panel = page.locator("#wqa-source-panel")
    panel.locator(".wqa-id", has_text=cited).wait_for()
    mark = panel.locator("mark").first
    mark.wait_for()
    assert "Policy Innovation Fund" in mark.inner_text()
    shot(page, "02-citation-open")

    follow = ask(page, "And when was it devised?")
    ids = [b.inner_text().strip() for b in last_answer(page).locator("button.wqa-cite").all()]
    assert "3.24.1" in ids or "2.12" in ids or re.search(r"Spending Review 2000", follow), follow
    understood = last_answer(page).locator(".wqa-understood")
    assert "Policy Innovation Fund" in understood.inner_text(), follow  # the pronoun, resolved and shown
    shot(page, "03-follow-up")

    bots = page.locator("#wqa-chatbot [data-testid='bot']")
    watch_streaming(page)
    page.locator("#wqa-retry").click()
    page.wait_for_function(
        "() => window.__sawStreaming && !document.querySelector('#wqa-chatbot .wqa-streaming')"
        " && document.querySelectorAll('#wqa-chatbot .wqa-answer').length === 2"
    )
    assert bots.count() == 2 and bots.last.inner_text() == follow  # the last answer replaced, not added
    page.locator("#wqa-clear").click()
    page.wait_for_function("() => !document.querySelector(\"#wqa-chatbot [data-testid='bot']\")")
    assert page.locator("#wqa-source-panel mark").count() == 0
    assert page.dialogs == []


def test_conclusions_tab_filter_and_open(page):
    page.get_by_role("tab", name="Conclusions").click()
    rows = page.locator("#wqa-table [role='row'].virtual-row")
    rows.first.wait_for()
    page.locator("#wqa-filter textarea, #wqa-filter input").first.fill("Accounting Officer")
    page.locator("#wqa-count", has_text="3 of 42").wait_for()
    page.wait_for_function("() => document.querySelectorAll(\"#wqa-table [role='row'].virtual-row\").length === 3")
    assert "Accounting Officer" in page.locator("#wqa-table").inner_text()
    shot(page, "04-conclusions-filtered")
    with page.expect_download() as download:
        page.locator("#wqa-csv").click()
    with open(download.value.path(), newline="", encoding="utf-8") as fh:
        table = list(csv.reader(fh))
    assert table[0] == ["No.", "Conclusion", "By when", "Part", "Paragraphs"]
    assert [row[0] for row in table[1:]] == ["27", "29", "34"]  # the filtered view, not all 42

    page.locator("#wqa-table [data-testid='cell-0-1']").click()
    panel = page.locator("#wqa-conclusion-panel")
    panel.locator(".wqa-id", has_text="Conclusion").wait_for()
    assert "Progress reported" in panel.inner_text()
    assert "Accounting Officer" in panel.inner_text()
    shot(page, "05-conclusion-open")

    link = panel.locator(".wqa-progress button.wqa-cite").first
    target = link.inner_text().strip()
    link.click()
    panel.locator(".wqa-id", has_text=target).wait_for()
    shot(page, "06-conclusion-paragraph")


def test_example_button_asks_it(page):
    from assistant.web import EXAMPLES

    page.get_by_role("button", name=EXAMPLES[1]).click()  # the conclusion 18 example
    page.locator("#wqa-chatbot .wqa-answer button.wqa-cite", has_text="Conclusion 18").first.wait_for()
    assert "conclusion 18" in page.locator("#wqa-chatbot [data-testid='user']").last.inner_text().lower()


def test_hostile_question_renders_inertly(page):
    ask(page, HOSTILE)
    page.wait_for_timeout(1000)
    assert page.evaluate("() => window.__pwned") is None
    assert page.dialogs == []
    user = page.locator("#wqa-chatbot [data-testid='user']").last
    assert "<script>" in user.inner_text()  # shown as text, not run
    assert user.locator("img, script").count() == 0
    nearest = page.locator("#wqa-chatbot [data-testid='bot'] button.wqa-cite").first  # a refusal's nearest paragraphs
    target = nearest.inner_text().strip()
    nearest.click()
    page.locator("#wqa-source-panel .wqa-id", has_text=target).wait_for()
    assert page.evaluate("() => window.__pwned") is None
    shot(page, "07-hostile-input")


def test_settings_panel_shows_answerers_and_stamp(page, qa):
    # The accordion, not the Gradio footer's own "Settings" link, which comes first in some renders.
    page.locator("#wqa-settings").get_by_text("Settings", exact=True).first.click()
    radio = page.locator("#wqa-answerer")
    radio.wait_for()
    for name in qa.answerers:
        assert name in radio.inner_text()
    assert qa.stamp["report_sha256"] in page.locator(".wqa-stamp").inner_text()
    assert page.locator("#wqa-topk input[type='number']").first.input_value() == str(
        min(qa.settings.retrieval.top_k, 20)
    )
    shot(page, "08-settings")
