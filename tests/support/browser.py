"""Headless Chromium for the playground's browser tests: Debian's `chromium` and `chromium-driver`
driven by selenium (docs/playground.md "Tests").

Outside CI the tests skip, saying what is missing, where no browser is installed; with CI=true a
missing browser fails them (.ci/run installs it). The browser runs with a fresh profile and with
its own background traffic off, and records the console and every network request, so a test can
say the console is clean and nothing was asked of any host but 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1000",
)
INSTALL_HINT = "apt-get install chromium chromium-driver; pip install -e '.[test]' for selenium"


def browser_paths() -> tuple[str, str]:
    """(chromium, chromedriver), or skip (fail under CI) naming what is missing."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    missing = [name for name, path in (("chromium", chromium), ("chromedriver", driver)) if path is None]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    if missing:
        reason = f"no browser to drive: {', '.join(missing)} not installed ({INSTALL_HINT})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must run the browser tests (.ci/run installs them)")
        pytest.skip(reason)
    assert chromium is not None and driver is not None
    return chromium, driver


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = browser_paths()
    profile = tempfile.mkdtemp(prefix="ecs-admission-chromium-")
    options = webdriver.ChromeOptions()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.binary_location = binary
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    # Both paths are given, so selenium never looks for (or downloads) a driver itself.
    os.environ.setdefault("SE_OFFLINE", "true")
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def console_problems(driver: Any) -> list[dict[str, Any]]:
    """Console entries at warning level or above (CSP violations, script errors, failed loads)."""
    return [entry for entry in driver.get_log("browser") if entry.get("level") in ("SEVERE", "WARNING")]


def requested_urls(driver: Any) -> list[str]:
    """Every URL the page asked for since the last call, from the DevTools network events."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def wait_for(driver: Any, condition: str, *args: Any, timeout: float = 60) -> Any:
    """Wait until the JavaScript expression `condition` (a function body returning a value) is truthy."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: d.execute_script(condition, *args))


class ThreadedServer:
    """A WSGI app on 127.0.0.1 in a thread of the test process, recording each request's path."""

    def __init__(self, app: Any):
        from werkzeug.serving import make_server

        self.paths: list[str] = []
        self._app = app

        def recording(environ: dict[str, Any], start_response: Any) -> Any:
            self.paths.append(environ.get("PATH_INFO", "") + "?" + environ.get("QUERY_STRING", ""))
            return app(environ, start_response)

        self._server = make_server("127.0.0.1", 0, recording, threaded=True)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> ThreadedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)


# --- the playground page ----------------------------------------------------------------------

# The "Done when": a privileged container and the host's PID namespace.
PRIVILEGED_HOST_PID = """{
  "family": "debug-shell",
  "networkMode": "bridge",
  "pidMode": "host",
  "containerDefinitions": [
    {
      "name": "shell",
      "image": "public.ecr.aws/docker/library/busybox:1.36",
      "essential": true,
      "memory": 128,
      "privileged": true
    }
  ]
}"""


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def open_page(driver: Any, url: str) -> None:
    driver.get("about:blank")
    driver.get_log("browser")  # start each page with empty logs
    requested_urls(driver)
    driver.get(url)
    wait_for(driver, "return document.body.dataset.ready === 'true'")


def paste(driver: Any, text: str) -> None:
    """Replace the editor's text the way a paste does: the browser inserts it (DevTools
    Input.insertText), firing the editor's own input events."""
    driver.execute_script("const e = document.getElementById('task-definition'); e.focus(); e.select();")
    driver.execute_cdp_cmd("Input.insertText", {"text": text})
    assert driver.execute_script("return document.getElementById('task-definition').value") == text


VERDICTS = ("ALLOWED", "DENIED", "INPUT ERROR", "NOT AUTHORISED", "COULD NOT DECIDE", "POLICY ERROR", "ERROR")


def evaluate(driver: Any) -> str:
    """Press Evaluate and wait for the verdict (the panel reads "…" while the call is out)."""
    driver.execute_script("document.getElementById('verdict').textContent = ''")
    driver.find_element("id", "evaluate").click()
    return wait_for(
        driver,
        "const v = document.getElementById('verdict').textContent; return arguments[0].includes(v) && v;",
        list(VERDICTS),
    )


def findings(driver: Any) -> list[dict[str, Any]]:
    return driver.execute_script(
        "return [...document.querySelectorAll('#findings li.finding')].map(li => ({"
        "rule: li.dataset.rule, line: li.dataset.line ? Number(li.dataset.line) : null,"
        "text: li.textContent}))"
    )


def flagged_lines(driver: Any) -> set[int]:
    return set(
        driver.execute_script(
            "return [...document.querySelectorAll('#backdrop .line.flagged')].map(d => Number(d.dataset.line))"
        )
    )


def assert_local_only(driver: Any, port: int) -> None:
    urls = requested_urls(driver)
    assert urls, "no request was recorded"
    outside = [url for url in urls if urlsplit(url).netloc != f"127.0.0.1:{port}"]
    assert outside == [], outside
    entries = driver.execute_script(
        "return performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))"
        ".map(e => e.name)"
    )
    assert entries and all(urlsplit(name).netloc == f"127.0.0.1:{port}" for name in entries), entries
