"""Screenshots of the demo school for the README.

Run against `make run` (default http://127.0.0.1:5000):
    uv run python docs/demo_screenshots.py [BASE_URL]
Uses Debian's chromium through Playwright (no browser download).
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:5000"
OUT = Path(__file__).parent / "screenshots"
PASSWORD = "demo-password-2026"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def login(page, email: str) -> None:
    page.goto(f"{BASE}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        shots = [
            ("teacher@demo.school", ["/photos/albums/new"], "demo-new-album.png"),
            ("pr@demo.school", ["/photos/", "table a >> nth=0"], "demo-album-status.png"),
            ("pr@demo.school", ["/review/", "main table a >> nth=0"], "demo-review-album.png"),
        ]
        for email, steps, name in shots:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            login(page, email)
            for step in steps:
                if step.startswith("/"):
                    page.goto(BASE + step)
                else:
                    page.click(step)
                    page.wait_for_load_state("networkidle")
            page.screenshot(path=str(OUT / name), full_page=True)
            print("wrote", OUT / name)
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
