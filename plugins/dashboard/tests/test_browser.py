"""The dashboard in a real browser (Debian's chromium, headless, driven by Playwright) against a
real ``agl serve`` fed by a real runner (see ``live_run.py``).

Screenshots are kept under ``build/test-artifacts/dashboard/`` at the repository root.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from .live_run import LiveRun

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="pip install 'agentlightning-dashboard[test]'"
)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium: apt-get install -y chromium"),
]

TOKEN = "browser-test-token"
ARTIFACTS = Path(__file__).resolve().parents[3] / "build" / "test-artifacts" / "dashboard"
QUESTIONS = [(f"What is {a}+{b}?", a + b) for a, b in [(2, 3), (7, 8), (12, 30), (5, 5), (9, 1), (4, 4)]]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRun]:
    with LiveRun(tmp_path_factory.mktemp("live"), TOKEN) as run:
        ids = run.enqueue(QUESTIONS[:4], mode="train") + run.enqueue(QUESTIONS[4:], mode="val")
        run.wait(ids)
        for step, (train, val) in enumerate([(0.25, 0.2), (0.5, 0.45), (0.75, 0.7), (1.0, 0.9)], start=1):
            run.log_metrics(
                {"train/reward_mean": train, "val/reward_mean": val, "train/loss": 1 / step}, step
            )
        yield run


@pytest.fixture(scope="module")
def browser() -> Iterator[playwright_api.Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def page(browser: playwright_api.Browser, live: LiveRun) -> Iterator[playwright_api.Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.goto(f"{live.url}/dashboard/")
    assert page.url.endswith("/dashboard/login")
    page.fill("#token", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}/dashboard/")
    yield page
    context.close()


def shot(page: playwright_api.Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_refused_without_a_token(browser: playwright_api.Browser, live: LiveRun) -> None:
    context = browser.new_context()
    anonymous = context.new_page()
    anonymous.goto(f"{live.url}/dashboard/rollouts")
    assert anonymous.url.endswith("/dashboard/login")
    api = anonymous.goto(f"{live.url}/dashboard/api/rollouts")
    assert api is not None and api.status == 401
    in_url = anonymous.goto(f"{live.url}/dashboard/?token={TOKEN}")
    assert in_url is not None and in_url.status == 400
    assert "never accepted" in anonymous.content()
    anonymous.goto(f"{live.url}/dashboard/login")
    anonymous.fill("#token", "not-the-token")
    anonymous.click("button[type=submit]")
    assert "Wrong token" in anonymous.inner_text("[data-testid=login-error]")
    shot(anonymous, "login-refused")
    assert not [c for c in context.cookies() if c["name"] == "agl_dashboard_session"]
    context.close()


def test_login_shows_the_overview(page: playwright_api.Page, live: LiveRun) -> None:
    page.goto(f"{live.url}/dashboard/")
    page.wait_for_selector("[data-testid=count-total]")
    assert page.inner_text("[data-testid=count-total] .n") == str(len(QUESTIONS))
    assert page.inner_text("[data-testid=count-succeeded] .n") == str(len(QUESTIONS))
    assert page.inner_text("[data-testid=resources-version] .n") == "v2"
    assert page.locator("[data-testid=status-chart] rect").count() >= 1
    page.wait_for_selector("#live.on")
    if live.context is not None:  # a shared bus: the algorithm's metrics reach the chart
        chart = page.wait_for_selector("[data-testid=metrics-chart]")
        assert chart is not None and page.locator("[data-testid=metrics-chart] polyline").count() == 2
        assert page.inner_text("[data-metric='val/reward_mean']") == "val/reward_mean: 0.900"
    cookie = next(c for c in page.context.cookies() if c["name"] == "agl_dashboard_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and TOKEN not in cookie["value"]
    shot(page, "overview")


def test_filter_and_search_the_table(page: playwright_api.Page, live: LiveRun) -> None:
    page.goto(f"{live.url}/dashboard/rollouts")
    page.wait_for_selector("[data-testid=rollouts] tr[data-rollout-id]")
    assert page.locator("tr[data-rollout-id]").count() == len(QUESTIONS)
    page.select_option("[data-testid=filter-mode]", "val")
    playwright_api.expect(page.locator("tr[data-rollout-id]")).to_have_count(2)
    assert "mode=val" in page.url
    assert "2 rollouts" in page.inner_text("[data-testid=pager]")
    page.select_option("[data-testid=filter-mode]", "")
    page.fill("[data-testid=filter-q]", "12+30")
    page.click("[data-testid=filter-apply]")
    playwright_api.expect(page.locator("tr[data-rollout-id]")).to_have_count(1)
    assert "12+30" in page.inner_text("tr[data-rollout-id] td.input")
    shot(page, "rollouts-search")


def test_open_a_rollout_and_expand_its_span_tree_to_an_llm_call(
    page: playwright_api.Page, live: LiveRun
) -> None:
    page.goto(f"{live.url}/dashboard/rollouts?q=12%2B30")
    page.click("tr[data-rollout-id] a")
    page.wait_for_selector("[data-testid=span-tree]")
    agent = page.locator("details[data-span-type=agent]").first
    llm = agent.locator("details[data-span-type=llm]").first
    assert not llm.is_visible()
    agent.locator("summary").first.click()
    assert llm.is_visible()
    llm.locator("summary").first.click()
    call = llm.locator("[data-testid=llm-call]").first
    call.wait_for()
    assert call.locator("[data-testid=llm-model]").inner_text() == "scripted"
    answers = [a.text_content() for a in page.locator("[data-testid=llm-response]").all()]
    assert "42" in answers
    assert page.locator("details[data-span-type=tool]").count() == 1
    assert page.locator("[data-testid=triplets] tr").count() == 3  # header + two LLM calls
    shot(page, "rollout-detail")


def test_a_new_rollout_appears_live_without_a_reload(page: playwright_api.Page, live: LiveRun) -> None:
    page.goto(f"{live.url}/dashboard/rollouts")
    page.wait_for_selector("tr[data-rollout-id]")
    page.wait_for_selector("#live.on")
    page.evaluate("window.__sameDocument = true")
    (new_id,) = live.enqueue([("What is 20+22?", 42)])
    row = page.wait_for_selector(f"tr[data-rollout-id='{new_id}']", timeout=30_000)
    assert row is not None
    page.wait_for_selector(f"tr[data-rollout-id='{new_id}'][data-status=succeeded]", timeout=30_000)
    assert page.evaluate("window.__sameDocument") is True
    shot(page, "rollouts-live")


def test_resources_show_the_prompt_diff(page: playwright_api.Page, live: LiveRun) -> None:
    page.goto(f"{live.url}/dashboard/resources")
    diff = page.wait_for_selector("[data-testid=prompt-diff]")
    assert diff is not None
    assert "+Use the tool, then reply with only the number." in diff.inner_text()
    shot(page, "resources")


def test_unknown_rollout_is_a_404_page(page: playwright_api.Page, live: LiveRun) -> None:
    response = page.goto(f"{live.url}/dashboard/rollouts/ro-does-not-exist")
    assert response is not None and response.status == 404
    assert "ro-does-not-exist" in page.inner_text("[data-testid=not-found]")
