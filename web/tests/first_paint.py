"""How fast the web client shows its first view, against a page with nothing to load, both served by
the same local gateway: each sample a fresh headless Chromium (an empty cache: a first visit),
the two pages alternated. scripts/bench --web runs it.

Writes JSON: {"client": [{"fcp", "ready", "load"}...], "baseline": [...]}, milliseconds from
navigation start: first contentful paint, the client's first view (its `chathub-ready` mark: the
sign-in form, modules loaded and run), the load event.
"""

import json
import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

WEB_URL = os.environ["WEB_URL"]
RUNS = int(os.environ.get("RUNS", "11"))
OUT = os.environ["OUT"]


def sample(url, ready):
    options = Options()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,860", "--disable-gpu"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=options)
    try:
        driver.get(url)
        script = "return performance.getEntriesByName(arguments[0]).length > 0"
        WebDriverWait(driver, 15, poll_frequency=0.02).until(
            lambda d: d.execute_script("return document.readyState") == "complete"
            and (not ready or d.execute_script(script, "chathub-ready")))
        return driver.execute_script("""
            const at = (name) => { const e = performance.getEntriesByName(name)[0]; return e ? e.startTime : null; };
            const nav = performance.getEntriesByType('navigation')[0];
            return {fcp: at('first-contentful-paint'), ready: at('chathub-ready'), load: nav ? nav.loadEventEnd : null,
                    transferred: performance.getEntriesByType('resource').reduce((n, r) => n + r.transferSize, nav ? nav.transferSize : 0)};
        """)
    finally:
        driver.quit()


def main():
    results = {"client": [], "baseline": []}
    baseline = WEB_URL.rstrip("/") + "/tests/baseline.html"
    for _ in range(RUNS):
        results["baseline"].append(sample(baseline, False))
        results["client"].append(sample(WEB_URL, True))
    with open(OUT, "w") as f:
        json.dump(results, f, indent=2)
    print(f"first paint: {RUNS} samples of each page in {OUT}")


if __name__ == "__main__":
    sys.exit(main())
