"""Open rendered HTML in a real browser and report what a reader would see broken.

Headless Chromium (Debian's ``chromium`` package; ``make check-browser``
installs it when missing) is driven over the Chrome DevTools Protocol. For
each page the check reports

* every image that did not load (``complete`` false or zero natural width),
* every resource that failed to load (``Network.loadingFailed``),
* every console error and uncaught exception,
* every local link whose target file does not exist, and every same-page
  ``#fragment`` link without a matching element id.

Why a hand-rolled CDP client: Playwright and Selenium would each add a large
dependency (Playwright ships its own Node driver and wants its own browser
build, which cannot be downloaded here); the protocol needs only a websocket,
and tornado's client is already pinned (Jupyter). The browser runs with a
fresh ``--user-data-dir`` and with networking, sync and component updates off.

Command line: ``python -m analysis.report.browser PAGE.html [...]``; exit 0 when
every page is clean, 1 with one line per problem otherwise, 2 when Chromium is
missing or a page does not exist.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

#: Flags of every run (see module docstring).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
)

_JS_PROBE = r"""
(() => {
  const imgs = Array.from(document.images)
    .filter(i => !i.complete || i.naturalWidth === 0)
    .map(i => i.getAttribute('src'));
  const links = Array.from(document.querySelectorAll('a[href]'))
    .map(a => [a.getAttribute('href'), a.href]);
  const ids = Array.from(document.querySelectorAll('[id]')).map(e => e.id);
  return JSON.stringify({imgs, links, ids, title: document.title});
})()
"""


def find_chromium() -> str | None:
    """Path of a Chromium binary (``CHROMIUM`` env var, then the usual names)."""
    env = os.environ.get("CHROMIUM")
    if env and shutil.which(env):
        return shutil.which(env)
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class _Browser:
    def __init__(self, binary: str, timeout: float) -> None:
        self.profile = tempfile.mkdtemp(prefix="enclave-chromium-")
        self.proc = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + timeout
        self.ws_url = None
        assert self.proc.stderr is not None
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                if self.proc.poll() is not None:
                    break
                continue
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            if m:
                self.ws_url = m.group(1)
                break
        if self.ws_url is None:
            self.close()
            raise RuntimeError("chromium did not start (no DevTools endpoint)")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


async def _check_page(ws_url: str, page: Path, timeout: float) -> list[str]:
    from tornado.websocket import websocket_connect

    conn = await websocket_connect(ws_url, max_message_size=64 * 2**20)
    counter = 0
    problems: list[str] = []
    loaded = asyncio.Event()
    pending: dict[int, asyncio.Future] = {}
    session: str | None = None

    async def reader() -> None:
        while True:
            msg = await conn.read_message()
            if msg is None:
                return
            data = json.loads(msg)
            if "id" in data and data["id"] in pending:
                pending.pop(data["id"]).set_result(data)
                continue
            method = data.get("method", "")
            params = data.get("params", {})
            if method == "Page.loadEventFired":
                loaded.set()
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                text = " ".join(
                    str(a.get("value", a.get("description", ""))) for a in params["args"]
                )
                problems.append(f"console error: {text}")
            elif method == "Runtime.exceptionThrown":
                d = params.get("exceptionDetails", {})
                text = d.get("exception", {}).get("description") or d.get("text", "")
                problems.append(f"uncaught exception: {text}")
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                e = params["entry"]
                problems.append(f"console error: {e.get('text', '')} {e.get('url', '')}".strip())
            elif method == "Network.loadingFailed" and not params.get("canceled"):
                problems.append(f"failed to load a resource: {params.get('errorText', '')}")

    async def send(method: str, params: dict | None = None) -> dict:
        nonlocal counter
        counter += 1
        msg = {"id": counter, "method": method, "params": params or {}}
        if session is not None:
            msg["sessionId"] = session
        fut = asyncio.get_running_loop().create_future()
        pending[counter] = fut
        await conn.write_message(json.dumps(msg))
        res = await asyncio.wait_for(fut, timeout)
        if "error" in res:
            raise RuntimeError(f"{method}: {res['error'].get('message')}")
        return res.get("result", {})

    task = asyncio.ensure_future(reader())
    try:
        target = await send("Target.createTarget", {"url": "about:blank"})
        att = await send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
        session = att["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            await send(f"{domain}.enable")
        await send("Page.navigate", {"url": page.resolve().as_uri()})
        await asyncio.wait_for(loaded.wait(), timeout)
        await asyncio.sleep(0.3)  # late console messages
        res = await send("Runtime.evaluate", {"expression": _JS_PROBE, "returnByValue": True})
        probe = json.loads(res["result"]["value"])
        for src in probe["imgs"]:
            problems.append(f"broken image: {src}")
        ids = set(probe["ids"])
        for raw, resolved in probe["links"]:
            u = urlparse(resolved)
            if raw.startswith("#"):
                if raw[1:] and raw[1:] not in ids and unquote(raw[1:]) not in ids:
                    problems.append(f"broken link: {raw} (no element with this id)")
            elif u.scheme == "file":
                if not Path(unquote(u.path)).exists():
                    problems.append(f"broken link: {raw} (file does not exist)")
        await send("Target.closeTarget", {"targetId": target["targetId"]})
    finally:
        task.cancel()
        conn.close()
    return problems


def check_pages(
    pages: list[Path] | list[str], chromium: str | None = None, timeout: float = 60.0
) -> dict[str, list[str]]:
    """Open each page in headless Chromium; ``{page: [problem, ...]}`` (empty = clean).

    Raises ``FileNotFoundError`` for a missing page and ``RuntimeError`` when no
    Chromium is installed.
    """
    binary = chromium or find_chromium()
    if binary is None:
        raise RuntimeError("chromium is not installed (make check-browser installs it)")
    paths = [Path(p) for p in pages]
    for p in paths:
        if not p.exists():
            raise FileNotFoundError(f"{p} does not exist: render it first (make reproduce)")
    browser = _Browser(binary, timeout)
    try:
        out = {}
        for p in paths:
            out[str(p)] = asyncio.run(_check_page(browser.ws_url, p, timeout))
        return out
    finally:
        browser.close()


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        sys.stderr.write("usage: python -m analysis.report.browser PAGE.html [PAGE.html ...]\n")
        return 2
    try:
        results = check_pages(args)
    except (RuntimeError, FileNotFoundError) as e:
        sys.stderr.write(f"browser check: error: {e}\n")
        return 2
    bad = 0
    for page, problems in results.items():
        for p in problems:
            print(f"{page}: {p}")
        bad += len(problems)
        if not problems:
            print(f"{page}: ok (images load, local links resolve, no console errors)")
    return 1 if bad else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
