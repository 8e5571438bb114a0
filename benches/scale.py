#!/usr/bin/env python3
"""Scale benchmark: many queued runs driven by one `3ox up` (issue 11's station target).

Run it through `benches/scale.sh` (builds the release binary). It makes a station with AGENTS
persistent agents (agent.yaml `mode: persistent`: one long-lived Python process per agent,
answering each task with a JSON line), submits RUNS runs of a TASKS-task chain with
`3ox start`, then times one `3ox up --until-idle` driving them all, and reports:

- wall time of `up` and how many runs COMPLETED (the rest were left undriven: `up` exits 1);
- peak RSS of the `up` process (from /proc, sampled every 50 ms);
- the inotify watches `up` holds (from /proc/<pid>/fdinfo), at its peak;
- then, beside the finished runs: `3ox list` wall time, and the CPU an idle `up` uses over
  5 s (it should do nothing but a stat per journal every 2 s).

Sizes: SCALE_RUNS (default 1000), SCALE_TASKS (5), SCALE_AGENTS (100); SCALE_RELAXED=1 adds
`--relaxed`. The report goes to stdout and target/bench-scale.md.
"""

import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "target"
BIN = Path(os.environ.get("PEERS_3OX", TARGET / "release" / "3ox"))
RUNS = int(os.environ.get("SCALE_RUNS", "1000"))
TASKS = int(os.environ.get("SCALE_TASKS", "5"))
AGENTS = int(os.environ.get("SCALE_AGENTS", "100"))
RELAXED = os.environ.get("SCALE_RELAXED") == "1"
STATION = TARGET / "bench-scale"

AGENT = """\
import json, sys
for line in sys.stdin:
    print(json.dumps({"task_id": json.loads(line)["task_id"], "status": "COMPLETED"}), flush=True)
"""


def threeox(*args, **kw):
    return subprocess.run([str(BIN), "--station", str(STATION), *args], **kw)


def setup():
    subprocess.run(["rm", "-rf", str(STATION)], check=True)
    subprocess.run([str(BIN), "init", str(STATION)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    (STATION / "agent.py").write_text(AGENT)
    for i in range(AGENTS):
        agent = STATION / "agents" / f"worker-{i:03}"
        agent.mkdir(parents=True)
        (agent / "agent.yaml").write_text(
            "version: 1\ncapabilities: [work]\nconcurrency: 1\nmode: persistent\n"
            f"command: [{sys.executable!r}, {str(STATION / 'agent.py')!r}]\n")
    tasks = ["  - {name: work, taskReferenceName: t0}"]
    tasks += [f"  - {{name: work, taskReferenceName: t{i}}}" for i in range(1, TASKS)]
    (STATION / "flow.yaml").write_text("name: chain\ntasks:\n" + "\n".join(tasks) + "\n")


def submit():
    # `3ox start` per run, 16 at a time (submission is not what is measured).
    started = time.monotonic()
    pending = []
    for _ in range(RUNS):
        pending.append(subprocess.Popen(
            [str(BIN), "--station", str(STATION), "start", str(STATION / "flow.yaml")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        if len(pending) >= 16:
            pending.pop(0).wait()
    for p in pending:
        p.wait()
    submitted = len(list((STATION / ".3ox" / "runs").glob("*.journal.yaml")))
    if submitted != RUNS:
        sys.exit(f"only {submitted} of {RUNS} runs were submitted")
    return time.monotonic() - started


def rss_kb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def inotify_watches(pid):
    watches = 0
    try:
        for fd in os.listdir(f"/proc/{pid}/fdinfo"):
            try:
                text = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
            except OSError:
                continue
            watches += text.count("inotify wd:")
    except OSError:
        pass
    return watches


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drive():
    args = [str(BIN), "--station", str(STATION), "up", "--until-idle", "--quiet"]
    if RELAXED:
        args.append("--relaxed")
    started = time.monotonic()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = {"rss": 0, "watches": 0}

    def sample():
        while proc.poll() is None:
            peak["rss"] = max(peak["rss"], rss_kb(proc.pid))
            peak["watches"] = max(peak["watches"], inotify_watches(proc.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    err = proc.stderr.read()
    proc.wait()
    wall = time.monotonic() - started
    sampler.join()
    completed = err.count(" COMPLETED (")
    return wall, proc.returncode, completed, peak, err


def idle_cost():
    proc = subprocess.Popen([str(BIN), "--station", str(STATION), "up", "--no-agents"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Let it take its first look at every journal (about 0.3 ms each, more on a busy disk).
    time.sleep(3 + RUNS / 500)
    before = cpu_seconds(proc.pid)
    time.sleep(5)
    used = cpu_seconds(proc.pid) - before
    proc.terminate()
    proc.wait()
    return used / 5 * 100


def main():
    if not BIN.exists():
        sys.exit(f"no {BIN}: run benches/scale.sh (it builds the release binary)")
    setup()
    submitted = submit()
    wall, code, completed, peak, err = drive()
    started = time.monotonic()
    threeox("list", stdout=subprocess.DEVNULL, check=True)
    list_cold = time.monotonic() - started
    started = time.monotonic()
    threeox("list", stdout=subprocess.DEVNULL, check=True)
    list_warm = time.monotonic() - started
    idle = idle_cost()
    mode = "relaxed" if RELAXED else "durable"
    lines = [
        f"# 3ox scale benchmark ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores)",
        "",
        f"{RUNS} runs x {TASKS} tasks (a chain), {AGENTS} persistent agents, one `3ox up --until-idle`, {mode}",
        "",
        "| measure | value |",
        "|---|---|",
        f"| submitting with `3ox start` (16 at a time; not part of the rest) | {submitted:.1f} s |",
        f"| `up` wall time, all runs | {wall:.2f} s |",
        f"| runs COMPLETED | {completed} of {RUNS} (exit {code}) |",
        f"| tasks per second | {completed * TASKS / wall:.0f} |",
        f"| peak RSS of `up` | {peak['rss'] / 1024:.0f} MB |",
        f"| peak inotify watches of `up` | {peak['watches']} |",
        f"| `3ox list` over {RUNS} finished runs, first (reads every journal) | {list_cold:.3f} s |",
        f"| `3ox list` again (from .3ox/runs.index.json) | {list_warm:.3f} s |",
        f"| idle `up` beside them, CPU | {idle:.1f} % of a core |",
    ]
    if completed != RUNS:
        lines += ["", "```", err[-3000:], "```"]
    text = "\n".join(lines) + "\n"
    print(text)
    (TARGET / "bench-scale.md").write_text(text)


if __name__ == "__main__":
    main()
