"""A real browser (headless Chromium, driven by Playwright) follows `/live` as the generated
README shows, and sees an event appear after a command sent over HTTP."""

from __future__ import annotations

from playwright.async_api import async_playwright

from tests.live.browser import chromium
from tests.live.server import Served
from tests.live.service import RESOURCE
from tests.live.test_websocket import open_account

# The README's snippet, with the received messages kept on the page for the test to read.
PAGE_SCRIPT = """([url, token, resource]) => new Promise((subscribed) => {
  window.received = [];
  const live = new WebSocket(url);
  live.onopen = () => {
    live.send(JSON.stringify({type: "auth", token: token}));
    live.send(JSON.stringify({type: "subscribe", id: "s1", resource: resource}));
  };
  live.onmessage = (message) => {
    const msg = JSON.parse(message.data);
    window.received.push(msg);
    if (msg.type === "subscribed") subscribed(msg);
  };
})"""


async def test_a_browser_sees_an_event_appear(served: Served) -> None:
    executable = chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(executable))
        try:
            page = await browser.new_page()
            await page.goto(f"{served.base_url}/healthz")
            arguments = [served.live_url, served.token("teller"), RESOURCE]
            subscribed = await page.evaluate(PAGE_SCRIPT, arguments)
            assert subscribed["type"] == "subscribed"
            account = await open_account(served, "ann", "12")
            await page.wait_for_function(
                "window.received.some((m) => m.type === 'event')", timeout=15_000
            )
            event = await page.evaluate("window.received.find((m) => m.type === 'event')")
        finally:
            await browser.close()
    assert event["event"]["name"] == "account-opened"
    assert event["event"]["aggregate_id"] == account
    assert event["state"]["balance"] == "12"
