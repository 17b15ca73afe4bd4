"""The chat in a real headless Chromium: streamed answers, clickable citations, follow-ups, the
Conclusions tab, and inert rendering of hostile input. Screenshots go to test-output/browser/."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from conftest import ROOT, free_port
from playwright.sync_api import expect

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


# --- issue 17: suggestions, export, the deadline timeline, keyboard and screen readers, small screens ------

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CITE = "#wqa-chatbot [data-testid='bot'] button.wqa-cite"


def suggestions(page) -> list[str]:
    """The suggested next questions, once they have been checked and shown."""
    page.locator("#wqa-next .wqa-next-q").first.wait_for(state="visible")
    return page.evaluate(
        """() => [...document.querySelectorAll('#wqa-next .wqa-next-q')]
        .filter(b => b.offsetParent !== null).map(b => b.textContent.trim())"""
    )


def focused(page) -> dict:
    """What has the keyboard focus: tag, classes, text and value."""
    return page.evaluate(
        """() => { const e = document.activeElement;
        return {tag: e.tagName, cls: String(e.className), text: e.textContent.trim().slice(0, 80), value: e.value || ''}; }"""
    )


def no_sideways_scroll(page) -> None:
    width = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"page is {width[0]} px wide in a {width[1]} px window"


def test_suggested_questions_are_answered_and_ask_themselves(page, qa):
    ask(page, "What is the Invest to Save Budget for?")
    shown = suggestions(page)
    assert 2 <= len(shown) <= 3, shown
    history = [
        {"role": "user", "content": "What is the Invest to Save Budget for?"},
        {"role": "assistant", "content": qa.ask("What is the Invest to Save Budget for?").text},
    ]
    for question in shown:  # what the page offers, asked again here: answered, with a citation
        got = qa.ask(question, history)
        assert not got.refused and got.citations, question
    shot(page, "09-suggestions")

    page.locator("#wqa-next .wqa-next-q", has_text=shown[0]).click()
    page.wait_for_function("() => document.querySelectorAll('#wqa-chatbot .wqa-answer').length === 2")
    assert page.locator("#wqa-chatbot [data-testid='user']").last.inner_text().strip() == shown[0]
    assert last_answer(page).locator("button.wqa-cite").count() >= 1
    assert shown[0] not in suggestions(page)  # new suggestions for the new answer


def test_export_conversation_and_answer_snippet(page, qa):
    ask(page, "How much is the Policy Innovation Fund?")
    suggestions(page)  # the exports are written with them, after each answer
    ask(page, "What did conclusion 24 recommend?")
    suggestions(page)
    page.locator("#wqa-export").get_by_text("Export", exact=True).first.click()
    button = page.locator("#wqa-export-chat")
    expect(button).to_be_enabled()
    with page.expect_download() as download:
        button.click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert download.value.suggested_filename.endswith(".md")
    assert "## 1. How much is the Policy Innovation Fund?" in text and "## 2. What did conclusion 24 recommend?" in text
    assert qa.stamp["report_sha256"] in text and "Quoted from the report:" in text
    assert "[3.24.1](" in text and "[Conclusion 24](" in text and "characters " in text

    with page.expect_download() as download:
        page.locator("#wqa-export-answer").click()
    snippet = Path(download.value.path()).read_text(encoding="utf-8")
    assert snippet.startswith("> **What did conclusion 24 recommend?**")
    assert "[Conclusion 24]: <http://127.0.0.1:" in snippet and "?cite=Conclusion+24>" in snippet
    assert "How much is the Policy Innovation Fund" not in snippet  # one answer only
    code = page.locator("#wqa-snippet")
    assert "What did conclusion 24 recommend?" in code.inner_text()
    shot(page, "10-export")

    # The snippet's links lead back to the chat: ?cite= opens the paragraph, ?q= asks the question again.
    cite = re.search(r"<(http://[^>]+\?cite=Conclusion\+24)>", snippet).group(1)
    page.goto(cite)
    page.locator("#wqa-source-panel .wqa-id", has_text="Conclusion 24").wait_for()
    again = re.search(r"\[ask again\]\((http://[^)]+)\)", snippet).group(1)
    page.goto(again)
    page.locator("#wqa-chatbot .wqa-answer button.wqa-cite", has_text="Conclusion 24").first.wait_for()
    assert page.locator("#wqa-chatbot [data-testid='user']").count() == 1


def test_deadline_timeline_opens_conclusions(page):
    from assistant.timeline import parse_deadline

    page.get_by_role("tab", name="Conclusions").click()
    chips = page.locator("#wqa-timeline .wqa-tl-chip")
    chips.first.wait_for()
    assert chips.count() == 42
    numbers = sorted(int(c.inner_text()) for c in chips.all())
    assert numbers == list(range(1, 43))
    undated = page.locator("#wqa-timeline .wqa-tl-undated .wqa-tl-chip")
    assert undated.count() == 14
    assert {c.get_attribute("value") for c in undated.all()} == {
        f"Conclusion {n}" for n in (8, 9, 25, 26, 28, 29, 30, 32, 33, 34, 36, 37, 38, 40)
    }
    # dated groups left to right in order of time, each over the months its deadline spans
    dated = page.locator("#wqa-timeline .wqa-tl-axis .wqa-tl-group").all()
    starts = [parse_deadline(g.locator(".wqa-tl-when").get_attribute("title")).start for g in dated]
    assert starts == sorted(starts)
    lefts = [g.bounding_box()["x"] for g in dated]
    assert all(a <= b + 1 for a, b in zip(lefts, lefts[1:], strict=False))
    april_2002 = page.locator("#wqa-timeline .wqa-tl-chip[value='Conclusion 3']").bounding_box()
    april_2000 = page.locator("#wqa-timeline .wqa-tl-chip[value='Conclusion 24']").bounding_box()
    assert april_2002["x"] > april_2000["x"] + 500  # two years apart on the axis
    shot(page, "11-timeline")

    page.locator("#wqa-timeline .wqa-tl-chip[value='Conclusion 24']").click()
    panel = page.locator("#wqa-conclusion-panel")
    panel.locator(".wqa-id", has_text="Conclusion 24").wait_for()
    assert "By when April 2000" in panel.inner_text()
    page.wait_for_function("() => document.activeElement.classList.contains('wqa-id')")
    shot(page, "12-timeline-conclusion-open")


def test_keyboard_only(page):
    """No mouse: Tab to the question box, type, Enter; Shift+Tab back to a citation, Enter opens it with focus
    in the source panel; Escape brings focus back to the citation. The answer sits in an ARIA live region."""
    for _ in range(60):
        if page.evaluate("() => document.activeElement.matches('#wqa-q textarea, #wqa-q input')"):
            break
        page.keyboard.press("Tab")
    else:
        pytest.fail("the question box is not reachable by Tab")
    page.keyboard.type("What did conclusion 18 recommend?")
    page.keyboard.press("Enter")
    page.locator("#wqa-chatbot .wqa-answer button.wqa-cite").first.wait_for()
    live = page.evaluate(
        """() => { const a = document.querySelector('#wqa-chatbot .wqa-answer').closest('[aria-live]');
        return a && [a.getAttribute('aria-live'), a.getAttribute('role')]; }"""
    )
    assert live and live[0] in ("polite", "assertive"), live  # a screen reader hears the answer as it comes

    chips = page.locator(CITE).count()
    for _ in range(40 + chips):
        page.keyboard.press("Shift+Tab")
        if "wqa-cite" in focused(page)["cls"]:
            break
    else:
        pytest.fail("no citation reachable by Tab")
    chip = focused(page)["value"]
    assert chip
    shot(page, "13-keyboard-citation-focused")
    page.keyboard.press("Enter")
    page.locator("#wqa-source-panel .wqa-id", has_text=chip).wait_for()
    page.wait_for_function(
        "(id) => document.activeElement.classList.contains('wqa-id')"
        " && document.activeElement.textContent.trim() === id",
        arg=chip,
    )
    shot(page, "14-keyboard-source-open")
    page.keyboard.press("Escape")
    page.wait_for_function(
        "(id) => document.activeElement.matches('button.wqa-cite') && document.activeElement.value === id"
        " && !document.activeElement.closest('#wqa-source-panel')",
        arg=chip,
    )
    # every citation in the chat is a real button (so Tab reaches it and Enter opens it), none taken out of order
    assert page.evaluate(
        f"() => [...document.querySelectorAll(\"{CITE}\")].every(b => b.tagName === 'BUTTON' && b.tabIndex === 0)"
    )
    assert page.dialogs == []


def contrast(page, selector: str, fg: str, bg: str) -> float:
    """WCAG contrast ratio between two computed colours of the first element matching `selector`."""
    return page.evaluate(
        """([sel, fg, bg]) => {
        const s = getComputedStyle(document.querySelector(sel));
        const lum = (c) => { const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map(v => v / 255)
            .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
        const pick = (k) => k === 'page' ? getComputedStyle(document.body).backgroundColor : s[k];
        const [a, b] = [lum(pick(fg)), lum(pick(bg))].sort((x, y) => y - x);
        return (a + 0.05) / (b + 0.05); }""",
        [selector, fg, bg],
    )


def test_chip_and_highlight_contrast(page):
    ask(page, "How much is the Policy Innovation Fund?")
    page.locator(CITE).first.click()
    page.locator("#wqa-source-panel mark").first.wait_for()
    assert contrast(page, CITE, "color", "backgroundColor") >= 4.5  # the chip's text
    assert contrast(page, CITE, "borderTopColor", "page") >= 3.0  # the chip's outline against the page
    assert contrast(page, "#wqa-source-panel mark", "color", "backgroundColor") >= 4.5  # the highlighted quote


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed: run `make browser` (npm ci) first")
def test_axe_finds_no_serious_problems_on_either_tab(page):
    """axe-core, the npm package, run in the page on both tabs with their panels open."""
    import json

    def run_axe() -> dict:
        page.add_script_tag(path=str(AXE))
        found = page.evaluate(
            """async () => (await axe.run(document, {resultTypes: ['violations']})).violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))}))"""
        )
        return {"by_impact": _by_impact(found), "violations": found}

    ask(page, "How much is the Policy Innovation Fund?")
    suggestions(page)
    page.locator(CITE).first.click()
    page.locator("#wqa-source-panel mark").first.wait_for()
    results = {"chat": run_axe()}
    page.get_by_role("tab", name="Conclusions").click()
    page.locator("#wqa-timeline .wqa-tl-chip[value='Conclusion 24']").click()
    page.locator("#wqa-conclusion-panel .wqa-id", has_text="Conclusion 24").wait_for()
    results["conclusions"] = run_axe()
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "axe.json").write_text(json.dumps(results, indent=2))
    print(json.dumps({tab: r["by_impact"] for tab, r in results.items()}))
    for tab, result in results.items():
        bad = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
        assert not bad, f"{tab}: {bad}"


def _by_impact(violations: list[dict]) -> dict:
    counts: dict[str, int] = {}
    for v in violations:
        counts[v["impact"]] = counts.get(v["impact"], 0) + len(v["nodes"])
    return counts


@pytest.fixture
def phone(browser, app_url):
    """A 390×844 window, a phone held upright."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(app_url)
    page.locator("#wqa-q textarea, #wqa-q input").first.wait_for()
    yield page
    context.close()


def test_small_screen(phone):
    page = phone
    ask(page, "How much is the Policy Innovation Fund?")
    suggestions(page)
    no_sideways_scroll(page)
    shot(page, "15-phone-chat")
    page.locator(CITE).first.click()
    panel = page.locator("#wqa-source-panel")
    panel.locator("mark").first.wait_for()
    chat_bottom, panel_top, left, right = page.evaluate(
        """() => { const c = document.querySelector('#wqa-chatbot').getBoundingClientRect();
        const p = document.querySelector('#wqa-source-panel').getBoundingClientRect();
        return [c.bottom + scrollY, p.top + scrollY, p.left, p.right]; }"""
    )
    assert panel_top >= chat_bottom  # below the answer, not beside it
    assert left >= 0 and right <= 390
    page.wait_for_function("() => document.activeElement.classList.contains('wqa-id')")
    heading = page.locator("#wqa-source-panel .wqa-id").bounding_box()
    assert 0 <= heading["y"] < 844  # focus brought the panel into view
    no_sideways_scroll(page)
    page.screenshot(path=str(SHOTS / "16-phone-source-open.png"))  # the window as the reader sees it

    page.get_by_role("tab", name="Conclusions").click()
    page.locator("#wqa-timeline .wqa-tl-chip").first.wait_for()
    assert page.locator("#wqa-timeline .wqa-tl-long").first.is_visible()  # the timeline as a list of deadlines
    page.locator("#wqa-table [role='row'].virtual-row").first.wait_for()
    no_sideways_scroll(page)
    for selector in ("#wqa-timeline", "#wqa-table", "#wqa-filter", "#wqa-conclusion-panel"):
        b = page.locator(selector).bounding_box()
        assert b["x"] >= 0 and b["x"] + b["width"] <= 390, selector
    page.locator("#wqa-timeline .wqa-tl-chip[value='Conclusion 3']").click()
    page.locator("#wqa-conclusion-panel .wqa-id", has_text="Conclusion 3").wait_for()
    no_sideways_scroll(page)
    shot(page, "17-phone-conclusions")
