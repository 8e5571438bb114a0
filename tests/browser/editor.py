#!/usr/bin/env python3
"""Browser test of the workflow editor of `3ox serve`, in a real Chromium through Playwright.

Run by tests/integration/serve_browser.rs with THREEOX_BIN (the binary) and THREEOX_SHOTS
(the screenshot folder). In a temporary station with the template `tidy`, it opens
/workflows/tidy/edit, types an error and sees its diagnostic with its line (listed, and
marked in the gutter), fixes it and sees the diagram drawn, saves, and finds the file
written; a save of an invalid text is refused and writes nothing. No script error and no
CSP violation may happen on the page. Exits 0 when every check passes.
"""

import os
import pathlib
import subprocess
import sys
import tempfile
import time

from playwright.sync_api import sync_playwright

BIN = os.environ["THREEOX_BIN"]
SHOTS = pathlib.Path(os.environ["THREEOX_SHOTS"])
GOOD = "name: tidy\nversion: 1\ntasks:\n  - name: first_step\n    taskReferenceName: first\n    type: NOOP\n"
BAD = GOOD.replace("type: NOOP", "type: NOPE")
FIXED = GOOD + "  - name: second_step\n    taskReferenceName: second\n    type: NOOP\n"


def wait_until(what, check, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def main():
    SHOTS.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="3ox-editor-"))
    station = tmp / "station"
    station.mkdir()
    subprocess.run([BIN, "init", "."], cwd=station, check=True, capture_output=True)
    target = station / "templates/tidy.workflow.yaml"
    target.parent.mkdir(exist_ok=True)
    target.write_text(GOOD)
    serve = subprocess.Popen([BIN, "serve", "--port", "0", "--by", "browser"], cwd=station,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    failures = []
    try:
        url = serve.stdout.readline().strip()
        base = url.split("/?token=")[0]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            # CSP violations are console errors; a refused save (422) and the favicon (404)
            # are expected "failed to load resource" lines.
            page.on("console", lambda m: errors.append(m.text)
                    if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
            page.goto(url)
            page.goto(base + "/workflows/tidy/edit")
            diagnostics = page.locator("#diagnostics li")
            verdict = page.locator("#verdict")

            def step(name, fn):
                try:
                    fn()
                    print(f"ok   {name}")
                except Exception as e:
                    failures.append(name)
                    print(f"FAIL {name}: {e!r}\n  {page.content()[:3000]}")

            def opened():
                wait_until("the first check", lambda: verdict.inner_text() == "valid")
                assert page.locator("#editor-diagram svg").count() == 1
            step("the editor opens with the file, checked", opened)

            def error():
                page.fill("#yaml", BAD)
                wait_until("the diagnostic", lambda: diagnostics.count() > 0)
                first = diagnostics.first.inner_text()
                assert first.startswith("6:11 error:") and "NOPE" in first, first
                assert verdict.inner_text() == "invalid"
                marked = page.locator('#gutter span[data-line="6"]')
                assert marked.get_attribute("class") == "error", marked.get_attribute("class")
                page.screenshot(path=str(SHOTS / "editor-error.png"), full_page=True)
            step("an error shows with its line, listed and in the gutter", error)

            def refused():
                page.click("#save")
                wait_until("the refusal", lambda: "not saved" in page.locator("#save-status").inner_text())
                assert target.read_text() == GOOD
            step("an invalid text is not saved", refused)

            def fixed():
                page.fill("#yaml", FIXED)
                wait_until("valid", lambda: verdict.inner_text() == "valid")
                assert diagnostics.count() == 0, diagnostics.all_inner_texts()
                assert page.locator('#gutter span[data-line="6"]').get_attribute("class") in (None, "")
                wait_until("the new task in the diagram",
                           lambda: page.locator('#editor-diagram [data-ref="second"]').count() == 1)
                page.click("#save")
                wait_until("saved", lambda: "saved" in page.locator("#save-status").inner_text())
                assert target.read_text() == FIXED, target.read_text()
                page.screenshot(path=str(SHOTS / "editor.png"), full_page=True)
            step("fixed: the diagram is drawn and Save writes the file", fixed)

            if errors:
                failures.append("script errors")
                print(f"FAIL script errors: {errors}")
            browser.close()
    finally:
        serve.terminate()
        serve.wait(timeout=10)
    if failures:
        print(f"{len(failures)} editor check(s) failed: {failures}")
        return 1
    print("every editor check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
