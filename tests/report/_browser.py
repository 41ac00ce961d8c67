"""A minimal headless Chromium driver over the DevTools protocol, standard library only.

Test support: checks that a report renders, without Playwright. Chromium is
started with ``--remote-debugging-pipe``: it reads protocol messages from file descriptor 3 and
writes to descriptor 4, each message JSON terminated by a NUL byte. No websocket, no
chromedriver, no Python package.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import pathlib
import select
import shutil
import subprocess
import tempfile
import time

__all__ = ["BrowserError", "Chromium", "find_chromium"]

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio", "--remote-debugging-pipe",
)


class BrowserError(RuntimeError):
    """Chromium could not be started, or a protocol command failed or timed out."""


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome binary: ``$RARETUNE_CHROMIUM`` or the first one on PATH."""
    explicit = os.environ.get("RARETUNE_CHROMIUM")
    if explicit:
        return shutil.which(explicit)
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _high_fd(fd: int) -> int:
    """Move ``fd`` to a number >= 10 (close-on-exec) so that it cannot collide with 3 or 4."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class Chromium:
    """One headless Chromium with one page, driven over ``--remote-debugging-pipe``.

    Parameters
    ----------
    binary : str, optional
        Browser executable; default :func:`find_chromium`.
    width, height : int
        Viewport size in CSS pixels.
    timeout : float
        Seconds to wait for any one command or page load.

    Examples
    --------
    >>> with Chromium() as browser:  # doctest: +SKIP
    ...     browser.open("report.html")
    ...     browser.evaluate("document.title")
    """

    def __init__(self, binary: str | None = None, *, width: int = 1280, height: int = 900,
                 timeout: float = 60.0):
        self.binary = binary or find_chromium()
        if self.binary is None:
            raise BrowserError("No Chromium found: install Debian's 'chromium' package or set "
                               "RARETUNE_CHROMIUM.")
        self.width, self.height, self.timeout = width, height, timeout
        self.events: list[dict] = []
        self._next_id = 0
        self._buffer = b""
        self._session: str | None = None
        self._profile = tempfile.mkdtemp(prefix="raretune-chromium-")
        self._stderr = tempfile.TemporaryFile()
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        to_child_r, from_child_w = _high_fd(to_child_r), _high_fd(from_child_w)
        self._write_fd, self._read_fd = to_child_w, from_child_r

        def wire_pipes():  # runs in the child between fork and exec
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        try:
            self._process = subprocess.Popen(
                [self.binary, *_FLAGS, f"--user-data-dir={self._profile}",
                 f"--window-size={width},{height}", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr,
                preexec_fn=wire_pipes, close_fds=False,
            )
        except OSError as exc:
            self._process = None
            self.close()
            raise BrowserError(f"Could not start {self.binary}: {exc}") from None
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        try:
            target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            self._session = self.send("Target.attachToTarget",
                                      {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.send(f"{domain}.enable")
            self.send("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 1,
                       "mobile": False})
        except BaseException:
            self.close()
            raise

    # -- protocol

    def send(self, method: str, params: dict | None = None) -> dict:
        """Send one command (to the page once attached) and return its result."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if self._session is not None:
            message["sessionId"] = self._session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._write_fd, data):]
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read(deadline, f"a reply to {method}")
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method} failed: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_for(self, method: str) -> dict:
        """Return the first recorded event named ``method``, waiting for it if needed."""
        deadline = time.monotonic() + self.timeout
        seen = 0
        while True:
            for event in self.events[seen:]:
                if event["method"] == method:
                    return event
            seen = len(self.events)
            reply = self._read(deadline, f"the event {method}")
            if "method" in reply:
                self.events.append(reply)

    def _read(self, deadline: float, waiting_for: str) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"Timed out after {self.timeout:g} s waiting for {waiting_for}.")
            ready, _, _ = select.select([self._read_fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._read_fd, 1 << 20)
            if not chunk:
                raise BrowserError(f"Chromium exited while waiting for {waiting_for}. "
                                   f"Its stderr ends with: {self._stderr_tail()}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _stderr_tail(self, limit: int = 2000) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-limit:]

    # -- conveniences

    def open(self, path: str | os.PathLike) -> None:
        """Load a local file and wait for its ``load`` event."""
        url = pathlib.Path(path).resolve().as_uri()
        self.events.clear()
        result = self.send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise BrowserError(f"Could not open {url}: {result['errorText']}")
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str):
        """Value of a JavaScript expression in the page (JSON-serialisable results only)."""
        result = self.send("Runtime.evaluate", {"expression": expression,
                                                "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"Evaluating {expression[:60]!r} failed: "
                               f"{result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def console_errors(self) -> list[str]:
        """Console errors, uncaught exceptions and browser log errors seen since :meth:`open`."""
        errors = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append(" ".join(str(a.get("value", a.get("description", "")))
                                       for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                errors.append(details.get("exception", {}).get("description")
                              or details.get("text", "exception"))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")
        return errors

    def requested_urls(self) -> list[str]:
        """URLs of every request the page made since :meth:`open`."""
        return [e["params"]["request"]["url"] for e in self.events
                if e["method"] == "Network.requestWillBeSent"]

    def screenshot(self, path: str | os.PathLike, *, full_page: bool = True) -> pathlib.Path:
        """Save a PNG of the page (its whole height when ``full_page``) at the viewport width."""
        params = {"format": "png", "captureBeyondViewport": full_page}
        if full_page:
            size = self.send("Page.getLayoutMetrics")["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": self.width,
                              "height": max(int(size["height"]), 1), "scale": 1}
        data = base64.b64decode(self.send("Page.captureScreenshot", params)["data"])
        path = pathlib.Path(path)
        path.write_bytes(data)
        return path

    def close(self) -> None:
        """Stop Chromium and remove its temporary profile."""
        process = getattr(self, "_process", None)
        if process is not None and process.poll() is None:
            try:
                self._session = None
                self._next_id += 1
                os.write(self._write_fd, json.dumps(
                    {"id": self._next_id, "method": "Browser.close"}).encode() + b"\0")
                process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                process.kill()
                process.wait()
        for fd in ("_write_fd", "_read_fd"):
            if getattr(self, fd, None) is not None:
                os.close(getattr(self, fd))
                setattr(self, fd, None)
        self._stderr.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
