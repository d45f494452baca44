"""The README's screenshots, taken by the browser tests so that they stay true.

`screenshot(page, "run-in-progress")` writes docs/screenshots/run-in-progress.png, at a 1280x800
viewport, only when LEADSYNC_SCREENSHOTS=1 (`make screenshots` sets it): ordinary test runs never
touch the tree. Names are the README's: a shot's name says what it shows."""

import os
from pathlib import Path

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}


def screenshots_wanted() -> bool:
    return os.environ.get("LEADSYNC_SCREENSHOTS") == "1"


def screenshot(page, name: str, *, scroll_to=None, full_page=False):
    """Write the page as docs/screenshots/NAME.png when screenshots are wanted (scrolled so that the
    `scroll_to` selector's element is at the top); returns the path, or None."""
    if not screenshots_wanted():
        return None
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.set_viewport_size(VIEWPORT)
    # The admin's navigation sidebar folded for the shot (the page gets its width), unfolded after.
    toggle = page.locator("#toggle-nav-sidebar")
    folded = toggle.count() and page.locator("#nav-sidebar").is_visible()
    if folded:
        toggle.click()
    if scroll_to:
        page.locator(scroll_to).first.evaluate("element => element.scrollIntoView({block: 'start'})")
    else:
        page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=path, full_page=full_page)
    if folded:
        toggle.click()
    return path
