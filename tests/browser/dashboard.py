#!/usr/bin/env python3
"""Browser tests of `3ox serve` in a real Chromium, driven by Playwright for Python.

Run by tests/integration/serve_browser.rs (so `cargo test` runs them) with:
  THREEOX_BIN       the 3ox binary to test
  THREEOX_SHOTS     the folder the screenshots go to (under target/)
It makes a station in a temporary folder, starts two runs (the approval gate, whose HUMAN
task waits for the commander, and a slow run whose first task waits for a file), starts
`3ox serve --port 0` and checks, in the browser:
  - without the token: 401; with it: a HttpOnly, SameSite=Strict cookie and no token left
    in the address;
  - each page loads (screenshots of each), with no script error;
  - a task output holding <script> shows as text (and no dialog opens);
  - the slow run's task turns COMPLETED (green) on the open page, without a reload;
  - a form posted to the dashboard from another site is refused (wrong Origin) and writes
    nothing; a DNS-rebinding name for the dashboard's address is refused (wrong Host);
  - approving the HUMAN task from the approvals page completes the run.
Exits 0 when every check passes; prints what failed otherwise.
"""

import http.server
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from playwright.sync_api import sync_playwright

BIN = os.environ["THREEOX_BIN"]
SHOTS = pathlib.Path(os.environ["THREEOX_SHOTS"])
REPO = pathlib.Path(__file__).resolve().parents[2]
EVIL = "<script>alert('owned')</script>"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # A name that resolves to the dashboard's address: what DNS rebinding does, and the
    # attacker's own site.
    "--host-resolver-rules=MAP rebound.test 127.0.0.1, MAP attacker.test 127.0.0.1",
]


def wait_until(what, check, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def threeox(station, *args, **kw):
    return subprocess.run([BIN, *args], cwd=station, check=True, capture_output=True, text=True, **kw)


def make_station(root):
    threeox(root, "init", ".")
    (root / "templates").mkdir(exist_ok=True)
    shutil.copy(REPO / "templates/approval-gate.workflow.yaml", root / "templates")
    (root / "agents/commander").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "agents/commander/agent.yaml", root / "agents/commander")
    worker = root / "agents/worker"
    worker.mkdir(parents=True)
    (worker / "agent.yaml").write_text(
        "version: 1\ndescription: prepares and applies changes\n"
        "capabilities: [prepare_change, apply_change, write_note]\nconcurrency: 2\n"
        "command: [sh, agents/worker/work.sh]\n")
    (worker / "work.sh").write_text(
        "cat > /dev/null\ncat <<'EOF'\n"
        + json.dumps({"summary": "two files " + EVIL, "files": ["a.yaml", "b.yaml"]})
        + "\nEOF\n")
    slow = root / "agents/slowpoke"
    slow.mkdir(parents=True)
    (slow / "agent.yaml").write_text(
        "version: 1\ndescription: waits for the file `release` before it answers\n"
        "capabilities: [slow_step, after_step]\nconcurrency: 1\n"
        "command: [sh, agents/slowpoke/slow.sh]\n")
    (slow / "slow.sh").write_text(
        "cat > /dev/null\nwhile [ ! -f release ]; do sleep 0.05; done\necho '{\"ok\": true}'\n")
    (root / "templates/slow-one.workflow.yaml").write_text(
        "name: slow_one\nversion: 1\ndescription: one task that waits, then one more\n"
        "tasks:\n"
        "  - name: slow_step\n    taskReferenceName: slow\n"
        "  - name: after_step\n    taskReferenceName: after\n")


def main():
    SHOTS.mkdir(parents=True, exist_ok=True)
    failures = []
    procs = []
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="3ox-browser-"))
    try:
        station = tmp / "station"
        station.mkdir()
        make_station(station)
        gate = threeox(station, "start", "approval_gate", "--input", "change=c42").stdout.strip().splitlines()[-1]
        slow = threeox(station, "start", "slow_one").stdout.strip().splitlines()[-1]
        up = subprocess.Popen([BIN, "up"], cwd=station, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(up)
        inbox = station / "agents/commander/1N.3OX"
        wait_until("the approval request", lambda: any(p.name.endswith(".approval-request.yaml") for p in inbox.glob("*")))
        serve = subprocess.Popen([BIN, "serve", "--port", "0", "--by", "browser"], cwd=station,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(serve)
        url = serve.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and "/?token=" in url, url
        base = url.split("/?token=")[0]
        port = int(base.rsplit(":", 1)[1])

        # The attacker's site: a page whose form posts an approval to the dashboard.
        attack = tmp / "attack"
        attack.mkdir()
        (attack / "attack.html").write_text(
            f'<form id="f" method="post" action="{base}/approvals/{gate}/gate/approve">'
            '<input name="csrf" value="guess"><input name="comment" value="pwned"></form>'
            '<script>document.getElementById("f").submit()</script>')
        handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=str(attack), **kw)
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        attack_port = httpd.server_address[1]

        def check(name, fn):
            try:
                fn()
                print(f"ok   {name}")
            except Exception as e:  # report every failed check, not only the first
                failures.append(name)
                print(f"FAIL {name}: {e!r}\n  at {page.url}: {page.content()[:3000]}")

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
            context = browser.new_context(viewport={"width": 1280, "height": 1000})
            page = context.new_page()
            errors, dialogs = [], []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

            def no_token():
                r = page.goto(base + "/runs")
                assert r.status == 401, r.status
                assert "not signed in" in page.content()
            check("no token: 401", no_token)

            def login():
                r = page.goto(url)
                assert r.status == 200, r.status
                assert "token=" not in page.url, page.url
                cookie = [c for c in context.cookies() if c["name"] == "threeox_session"][0]
                assert cookie["httpOnly"] and cookie["sameSite"] == "Strict", cookie
                assert page.locator(f'tr[data-run="{gate}"]').count() == 1
                page.screenshot(path=str(SHOTS / "runs.png"), full_page=True)
            check("the token gives a strict HttpOnly cookie; runs page", login)

            def pages():
                for name, path in [("approvals", "/approvals"), ("agents", "/agents"),
                                   ("workflows", "/workflows"), ("workflow", "/workflows/approval-gate"),
                                   ("run-waiting", f"/runs/{gate}")]:
                    r = page.goto(base + path)
                    assert r.status == 200, (path, r.status)
                    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
                assert page.locator('.diagram [data-ref="prepare"].state-COMPLETED').count() == 1
            check("every page loads", pages)

            def escaped():
                page.goto(f"{base}/runs/{gate}/tasks/prepare")
                text = page.locator("pre.output").first.inner_text()
                assert EVIL in json.loads(text)["summary"], text
                page.goto(base + "/approvals")
                asked = page.locator("section.approval pre.data").first.text_content()
                assert EVIL in asked, asked
                page.goto(f"{base}/runs/{gate}/tasks/prepare")
                page.screenshot(path=str(SHOTS / "task.png"), full_page=True)
                assert not dialogs, dialogs
            check("a task output holding <script> shows as text", escaped)

            def live():
                page.goto(f"{base}/runs/{slow}")
                node = page.locator('.diagram [data-ref="slow"]')
                assert "state-COMPLETED" not in node.get_attribute("class"), node.get_attribute("class")
                page.evaluate("window.__not_reloaded = true")
                page.wait_for_timeout(300)  # let the event stream connect
                (station / "release").write_text("go")
                # Polled from here: a string for the page to evaluate is refused by the CSP.
                wait_until("the slow task to turn green",
                           lambda: "state-COMPLETED" in node.get_attribute("class"), timeout=20)
                row = page.locator('tr[data-task-row="slow"] [data-field=status]')
                assert row.inner_text() == "COMPLETED", row.inner_text()
                assert page.evaluate("window.__not_reloaded === true"), "the page was reloaded"
                page.screenshot(path=str(SHOTS / "run-live.png"), full_page=True)
            check("a running task turns green without a reload", live)

            def wrong_origin():
                r = page.goto(f"http://attacker.test:{attack_port}/attack.html")
                page.wait_for_url(lambda u: u.startswith(f"{base}/approvals/"), timeout=10000)
                assert "wrong Origin" in page.content(), page.content()
                outbox = station / "agents/commander/0UT.3OX"
                assert not list(outbox.glob("*.approval.yaml")), "the attack wrote a decision"
            check("a form from another site is refused (wrong Origin)", wrong_origin)

            def wrong_host():
                r = page.goto(f"http://rebound.test:{port}/runs")
                assert r.status == 403, r.status
                assert "wrong Host" in page.content()
            check("a rebinding name is refused (wrong Host)", wrong_host)

            def approve():
                page.goto(base + "/approvals")
                form = page.locator(f'section[data-approval="{gate}/gate"] form').first
                form.locator('input[name="comment"]').fill("looks good from the browser")
                form.locator("button.op-approve").click()
                page.wait_for_url(lambda u: u.startswith(f"{base}/approvals?done="))
                assert "approved task gate" in page.locator("#done").inner_text()
                page.goto(f"{base}/runs/{gate}")
                status = page.locator("#run-status")
                wait_until("the run to complete on the open page", lambda: status.inner_text() == "COMPLETED")
                page.goto(f"{base}/runs/{gate}")
                assert page.locator('.diagram [data-ref="apply"].state-COMPLETED').count() == 1
                page.screenshot(path=str(SHOTS / "run.png"), full_page=True)
                page.goto(f"{base}/runs?status=COMPLETED")
                assert page.locator(f'tr[data-run="{gate}"]').count() == 1
            check("approving the HUMAN task from the page completes the run", approve)

            check("no script errors", lambda: (_ for _ in ()).throw(AssertionError(errors)) if errors else None)
            browser.close()
        httpd.shutdown()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} browser check(s) failed: {', '.join(failures)}")
        return 1
    print("every browser check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
