"""The web page in a real browser: Playwright driving Debian's chromium headless, offline."""

from __future__ import annotations

from .classifier import CLASSES
from .helpers import running

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def test_page_uploads_a_photo_and_shows_the_labels(classifier_app, classifier_pipeline, tmp_path):
    from playwright.sync_api import sync_playwright

    photo = tmp_path / "chelsea.jpg"
    photo.write_bytes(classifier_pipeline[1])
    outside: list[str] = []
    with running(classifier_app) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.on(
                "request",
                lambda req: outside.append(req.url) if not req.url.startswith((url, "data:")) else None,
            )
            page.goto(url + "/", timeout=30_000)
            page.wait_for_function(
                "document.getElementById('name').textContent === 'tiny-classifier'", timeout=30_000
            )
            assert "classify (infer_torchvision_resnext)" in page.text_content("#tasks")
            page.set_input_files("#file", str(photo))
            page.wait_for_selector(".bar-row", timeout=60_000)
            labels = page.locator(".bar-row .label").all_text_contents()
            assert sorted(labels) == sorted(CLASSES)
            widths = page.locator(".bar").evaluate_all("bars => bars.map(b => parseFloat(b.style.width))")
            assert widths == sorted(widths, reverse=True) and 0 < sum(widths) <= 103
            assert page.locator("#annotated").evaluate("img => img.complete && img.naturalWidth > 0")
            assert "chelsea.jpg" in page.text_content("#status")
        finally:
            browser.close()
    assert outside == []  # the page fetched nothing from anywhere else
