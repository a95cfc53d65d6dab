"""A sofp-analyze report and index as a person sees them: rendered by headless Chromium (Debian's chromium and
chromium-driver), the events table filled and every image decoded."""

from __future__ import annotations

import json
import shutil

import pytest

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                reason="no headless Chromium: apt-get install chromium chromium-driver")


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1500"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=DRIVER))
    yield driver
    driver.quit()


IMAGES = "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])"


def test_reports_show_their_events_and_every_image(analysed, browser):
    out, _ = analysed
    browser.get((out / "index.html").as_uri())
    links = browser.find_elements("css selector", "#videos a")
    assert len(links) == 2
    for i in range(len(links)):
        browser.get((out / "index.html").as_uri())
        browser.find_elements("css selector", "#videos a")[i].click()  # the index's link opens the report
        folder = out / "videos" / browser.current_url.split("/videos/")[1].split("/")[0]
        events = [json.loads(x) for x in (folder / "events.jsonl").read_text().splitlines()]
        rows = browser.find_elements("css selector", "#events tr.event")
        assert len(rows) == len(events) >= 1
        for row, ev in zip(rows, events, strict=True):
            cells = [c.text for c in row.find_elements("css selector", "td")]
            assert cells[1] == f"{ev['onset_time']:.3f}" and cells[6] == ev["label"]
        images = browser.execute_script(IMAGES)
        assert len(images) == 1 + 3 * len(events)
        assert all(ok and w > 0 and h > 0 for _, ok, w, h in images), images
        assert images[0][2] >= 800  # the timeline at its own size
