"""Screenshots of the dashboard's main pages for docs/dashboard.md.

Uses the browser tests' helpers: a real `voxmem serve` with the same seeded data, driven
by Debian's headless Chromium (apt-get install chromium chromium-driver).

    python scripts/dashboard_screenshots.py            # writes docs/img/dashboard-*.png
    python scripts/dashboard_screenshots.py --out DIR
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the helpers live in the test package

from tests import _browser  # noqa: E402
from tests._pdf import make_pdf  # noqa: E402

PORTS = "18350-18399"
#: (file name, path, what to do on the page first, window width, height)
SHOTS = (
    ("callers", "/callers?project={p}&q=415+555+0123", None, 1200, 560),
    ("callers-identifier", "/callers?project={p}&q=seven+seven+one+two+zero", None, 1200,
     480),
    ("caller", "/callers/%2B14155550123?project={p}", None, 1200, 1900),
    ("call", "/calls/{call}?project={p}", "open-recall", 1200, 1500),
    ("knowledge", "/knowledge/help-center?project={p}&q=modem+warranty", None, 1200, 1200),
    ("settings", "/settings?project={p}", None, 1200, 900),
    ("health", "/health?project={p}", None, 1200, 1000),
    ("callers-phone", "/callers?project={p}", None, 390, 800),
)


def _upload_sample(runtime: _browser.Runtime) -> None:
    with _browser.client(runtime) as vm:
        text = make_pdf(["The modem warranty lasts twenty-four months."])
        from voxmem._knowledge_files import extract_text

        vm.create_index("help-center", [
            {"id": "warranty.pdf", "text": extract_text("warranty.pdf", text)},
            {"id": "returns.md", "text": "# Returns\n\nUnopened boxes: thirty days."}])


def _merge_sample(runtime: _browser.Runtime) -> None:
    """A guest caller merged into Dana, so her page shows a merge with its evidence."""
    with _browser.client(runtime) as vm:
        vm.remember(memory_type="callback", content="prefers e-mail", user_id="guest-31")
        vm.merge_callers("guest-31", _browser.CALLER["id"], reason="same e-mail address")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "img"))
    args = parser.parse_args()
    missing = _browser.browser_missing()
    if missing:
        print(f"cannot take screenshots: {missing}", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, \
            _browser.serve(Path(tmp) / "vm", PORTS) as runtime:
        _browser.seed(runtime)
        _upload_sample(runtime)
        _merge_sample(runtime)
        for name, path, action, width, height in SHOTS:
            with _browser.chromium(Path(tmp) / f"profile-{name}", width=width,
                                   height=height) as driver:
                _browser.sign_in(driver, runtime)
                driver.get(runtime.url + path.format(p=_browser.PROJECT,
                                                     call=_browser.FIRST_CALL))
                if action == "open-recall":
                    from selenium.webdriver.common.by import By

                    driver.find_elements(By.CSS_SELECTOR, "details.recall summary")[-1].click()
                target = out / f"dashboard-{name}.png"
                driver.save_screenshot(str(target))
                shown = target.relative_to(ROOT) if target.is_relative_to(ROOT) else target
                print(f"wrote {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
