"""A real browser for the page tests: headless Chromium (Debian's package) driven over the
DevTools protocol through --remote-debugging-pipe (file descriptors 3 and 4, NUL-separated
JSON), so no websocket client is needed. Networking is off: every host name but the loopback
address resolves to nothing, and every request the page makes is recorded.

`visit(url, screenshot)` returns what a test asserts on: the requests, the failed ones, console
errors and exceptions, and the number of rendered charts (svg and canvas elements).
"""

from __future__ import annotations

import base64
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("REPROSTACK_TEST_ARTIFACTS") or REPO / "test-artifacts")


def chromium() -> str | None:
    if os.access("/usr/lib/chromium/chromium", os.X_OK):  # Debian's binary, not its launcher script
        return "/usr/lib/chromium/chromium"
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Browser:
    def __init__(self) -> None:
        exe = chromium()
        if exe is None:
            raise RuntimeError("no chromium")
        self.profile = tempfile.mkdtemp(prefix="reprostack-chromium-")
        to_child, self._write = os.pipe()
        self._read, from_child = os.pipe()
        args = [
            exe,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--remote-debugging-pipe",
            "--window-size=1280,900",
            f"--user-data-dir={self.profile}",
            "about:blank",
        ]

        def fds() -> None:  # the child's 3 reads our commands, its 4 writes the answers
            high = os.dup(to_child), os.dup(from_child)  # neither may be overwritten by the other
            for fd, target in zip(high, (3, 4)):
                os.dup2(fd, target)  # dup2 onto itself would keep close-on-exec: hence the copies
                os.set_inheritable(target, True)

        self.proc = subprocess.Popen(
            args, preexec_fn=fds, close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        os.close(to_child)
        os.close(from_child)
        self._next, self._answers, self.events = 0, {}, queue.Queue()
        self._lock = threading.Lock()
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._read, 1 << 20)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "id" in message:
                    self._answers[message["id"]] = message
                else:
                    self.events.put(message)

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30) -> dict:
        with self._lock:
            self._next += 1
            ident = self._next
        message = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while ident not in self._answers:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise TimeoutError(f"no answer to {method}")
            time.sleep(0.01)
        answer = self._answers.pop(ident)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    def visit(self, url: str, screenshot: Path, charts: int = 1, timeout: float = 30) -> dict:
        """Open url in a new tab; wait until `charts` svg/canvas charts exist (or timeout)."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.send(f"{domain}.enable", session=session)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            session,
        )
        while not self.events.empty():
            self.events.get_nowait()
        self.send("Page.navigate", {"url": url}, session)
        found = {
            "url": url,
            "requests": [],
            "failed": [],
            "console_errors": [],
            "exceptions": [],
            "charts": 0,
            "loaded": False,
        }
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._drain(session, found)
            if found["loaded"]:
                counted = self.evaluate(session, CHARTS)
                found["charts"] = counted
                if counted >= charts:
                    break
            time.sleep(0.1)
        time.sleep(0.3)  # late console messages and requests
        self._drain(session, found)
        found["title"] = self.evaluate(session, "document.title")
        found["text"] = self.evaluate(session, "document.body ? document.body.innerText : ''")
        shot = self.send(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session, timeout=60
        )
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        self.send("Target.closeTarget", {"targetId": target})
        return found

    def evaluate(self, session: str, expression: str):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
        return result.get("result", {}).get("value")

    def _drain(self, session: str, found: dict) -> None:
        while not self.events.empty():
            event = self.events.get_nowait()
            if event.get("sessionId") != session:
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Page.loadEventFired":
                found["loaded"] = True
            elif method == "Network.requestWillBeSent":
                found["requests"].append(params["request"]["url"])
            elif method == "Network.loadingFailed" and not params.get("canceled"):
                found["failed"].append(params.get("errorText"))
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found["console_errors"].append(
                    " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
                )
            elif method == "Runtime.exceptionThrown":
                found["exceptions"].append(params["exceptionDetails"].get("text"))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found["console_errors"].append(params["entry"].get("text"))

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except (TimeoutError, RuntimeError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._write, self._read):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)


# charts drawn: inline or vega-embed svg with marks, or a vega-embed canvas with a size
CHARTS = """
[...document.querySelectorAll('svg')].filter(s => s.querySelector('path, rect, text, g')).length
+ [...document.querySelectorAll('canvas')].filter(c => c.width > 0 && c.height > 0).length
"""
