"""Helpers to drive the dashboard in a real browser: a `voxmem serve` process with seeded
data, and Debian's headless Chromium through Selenium and chromedriver.

Shared by the browser tests and ``scripts/dashboard_screenshots.py``. Nothing here
downloads a browser or a driver: both come from the system packages ``chromium`` and
``chromium-driver`` (``.ci/run`` installs them).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from voxmem import SearchResult

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage")
#: Seconds a page may take to show what a step waits for (a loaded CI machine is slow).
WAIT_S = 60
SERVE_START_S = 120
#: Budget in ms of the searches whose answer a test checks. What recall finds is the
#: point there, not how fast: on a loaded machine a search misses the default 250 ms
#: and comes back empty and degraded, by design.
RECALL_MS = WAIT_S * 1000

PROJECT = "support"
AGENT = "front-desk"
CALLER = {"id": "+14155550123", "name": "Dana Whitfield",
          "metadata": {"email": "dana@example.org", "account": "ACC-4421"}}
OTHER_CALLER = {"id": "+442079460958", "name": "Sam Okafor"}
FIRST_CALL = "call-dana-1"
OTHER_IDENTIFIERS = (("account", "ACC-77120"), ("phone", "+1 212 555 0188"))


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not Path(path).exists():
            return f"{path} is missing (apt-get install {package})"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the selenium package is missing (pip install -e '.[dev]')"
    return None


@dataclasses.dataclass(frozen=True, slots=True)
class Runtime:
    url: str
    token: str
    data_dir: Path


@contextlib.contextmanager
def serve(data_dir: Path, port_range: str) -> Iterator[Runtime]:
    """A real ``voxmem serve`` process on loopback; stopped (SIGTERM) on exit."""
    env = {**os.environ, "VOXMEM_EMBEDDER": "hashing", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "voxmem", "serve", "--data-dir", str(data_dir),
         "--port-range", port_range], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, env=env)
    try:
        assert proc.stdout is not None
        # The runtime prints one line once it answers: "... at http://... (pid N); token
        # in PATH". Reading it waits for exactly that event.
        lines: list[str] = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("voxmem runtime serving"):
                break
        else:
            raise RuntimeError("voxmem serve exited:\n" + "".join(lines))
        url = line.split(" at ", 1)[1].split(" ", 1)[0]
        token_path = line.rsplit("token in ", 1)[1].strip()
        token = Path(token_path).read_text().strip()
        # Keep draining the log so the process never blocks on a full pipe.
        drain = subprocess.Popen(["cat"], stdin=proc.stdout, stdout=subprocess.DEVNULL)
        try:
            yield Runtime(url=url, token=token, data_dir=data_dir)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
            drain.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def client(runtime: Runtime) -> Any:
    from voxmem import VoiceClientSync

    return VoiceClientSync(project_id=PROJECT, agent_id=AGENT, runtime_url=runtime.url,
                           api_key=runtime.token)


def recall(vm: Any, query: str, user: dict[str, Any]) -> SearchResult:
    """``search_memory`` for a test that checks its answer: with a generous budget, and
    failing if the answer is degraded anyway (an empty answer would let a check that
    something is gone pass for the wrong reason)."""
    result: SearchResult = vm.search_memory(query, user=user, timeout_ms=RECALL_MS)
    assert not result.trace.get("degraded"), f"recall of {query!r} degraded: {result.trace}"
    return result


def seed(runtime: Runtime) -> None:
    """Two callers; Dana has one finished call with recall traces, an interrupted turn,
    learned facts (one superseded) and a session report; Sam has an account number and
    a second phone known only as identifiers."""
    with client(runtime) as vm:
        vm.start_session(user=CALLER, session_id=FIRST_CALL)
        recall(vm, "hello", CALLER)
        vm.save_response(user=CALLER, user_text="Hi, my internet keeps dropping, order 4421.",
                         assistant_text="Sorry about that. I opened ticket 8842.")
        vm.remember(memory_type="diet", content="vegan", user=CALLER)
        recall(vm, "Is my internet still dropping?", CALLER)
        vm.save_response(user=CALLER, user_text="Please call me in the mornings before 9am.",
                         assistant_text="Noted, mornings before nine. We will", interrupted=True)
        vm.remember(memory_type="diet", content="vegetarian, eats fish", user=CALLER)
        vm.remember(memory_type="pet", content="a dog called Biscuit", user=CALLER)
        vm.end_session(user=CALLER, reason="caller_hung_up",
                       report={"duration_s": 94, "events": 12})
        vm.start_session(user=OTHER_CALLER)
        vm.save_response(user=OTHER_CALLER, user_text="What are your opening hours?",
                         assistant_text="We open at eight.")
        vm.end_session(user=OTHER_CALLER)
        # Known only to the caller directory (not in Sam's profile, metadata or memory).
        for kind, value in OTHER_IDENTIFIERS:
            vm.link_identifier(kind, value, user=OTHER_CALLER)
        vm.flush()


@contextlib.contextmanager
def chromium(profile_dir: Path, *, width: int = 1280, height: int = 900) -> Iterator[Any]:
    """Headless Chromium with a fresh profile, driven through chromedriver."""
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium must never fetch a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    options.add_argument(f"--window-size={width},{height}")
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile_dir, ignore_errors=True)


def wait(driver: Any, condition: Any) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S).until(condition)


def submit(driver: Any, element: Any) -> None:
    """Submit ``element``'s form and wait until the page it was on has been replaced.

    A wait for what the next page shows could otherwise be met by the page still there
    (the callers page lists every caller before a search narrows it), and the element it
    returns goes stale as the next page arrives.
    """
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    page = driver.find_element(By.TAG_NAME, "html")
    element.submit()
    wait(driver, ec.staleness_of(page))


def follow(driver: Any, link: Any) -> None:
    """Click ``link`` and wait until the page it was on has been replaced (a wait for
    what the next page shows could be met by the page still there)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    page = driver.find_element(By.TAG_NAME, "html")
    link.click()
    wait(driver, ec.staleness_of(page))


def sign_in(driver: Any, runtime: Runtime, path: str = "/callers") -> None:
    """Open ``path``, get sent to the sign-in form, type the token, land back on it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    driver.get(runtime.url + path)
    wait(driver, ec.presence_of_element_located((By.ID, "token")))
    driver.find_element(By.ID, "token").send_keys(runtime.token)
    driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button").click()
    wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, "nav[aria-label=Sections]")))
