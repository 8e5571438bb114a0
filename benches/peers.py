#!/usr/bin/env python3
"""Side-by-side benchmark: 3ox beside make, doit, Luigi and Huey, in one go.

Run it through `benches/peers.sh`, which builds the release binary and installs the peers
(doit, Luigi and Huey into a venv under target/, make from Debian when it is missing).

Every tool runs the same three workloads, whole process wall time, start-up included, median
of N runs (5 by default) after one untimed warm-up:

- chain:   100 no-op tasks (`true`), each after the previous one;
- fan-out: one start task, 200 independent no-op tasks, one join;
- shell:   the fan-out with `sleep 0.1` as each task, at concurrency 200.

Each task is served the way a user of that tool serves it: a real process per task (`true` or
`sleep 0.1`). For 3ox that is `3ox run` with a managed agent (agent.yaml `command:`), which
starts `3ox agent run`, in durable mode (fsync) and relaxed mode (`--relaxed`). "3ox persistent"
is durable mode with a persistent agent (agent.yaml `mode: persistent`): one long-lived Python
process per slot answers each task with a JSON line, so no process is spawned per task; it runs
chain and fan-out (at most PERSISTENT_SLOTS processes), not the shell workload, whose point is
a process per task.

The table goes to stdout and to target/bench-peers.md. Ratios are each cell divided by the
3ox durable cell of the same workload (below 1.0: that tool is faster than 3ox).
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "target"
SCRATCH = TARGET / "bench-peers"
VENV = TARGET / "peers-venv"
# PEERS_3OX: another 3ox binary (e.g. target/debug/3ox to try the script on a small case).
BIN = Path(os.environ.get("PEERS_3OX", TARGET / "release" / "3ox"))
RUNS = int(os.environ.get("PEERS_RUNS", "5"))
CHAIN = 100
FAN = 200
# Processes of the persistent agent at most (one per slot); 200 Pythons would measure memory.
PERSISTENT_SLOTS = 8

WORKLOADS = [
    # (name, kind, command per task, concurrency)
    ("chain", "chain", ["true"], 1),
    ("fan-out", "fan", ["true"], FAN),
    ("shell", "fan", ["sleep", "0.1"], FAN),
]


def py():
    return str(VENV / "bin" / "python")


# ---------------------------------------------------------------- make
def make_setup(d: Path, kind, cmd, conc):
    sh = " ".join(cmd)
    lines = [".PHONY: all"]
    if kind == "chain":
        lines.append(f"all: t{CHAIN - 1}")
        for i in range(CHAIN):
            dep = f" t{i - 1}" if i else ""
            lines += [f".PHONY: t{i}", f"t{i}:{dep}", f"\t@{sh}"]
    else:
        tasks = " ".join(f"t{i}" for i in range(FAN))
        lines += ["all: join", ".PHONY: start join " + tasks, "start:", f"\t@{sh}"]
        for i in range(FAN):
            lines += [f"t{i}: start", f"\t@{sh}"]
        lines += [f"join: {tasks}", "\t@true"]
    (d / "Makefile").write_text("\n".join(lines) + "\n")
    return ["make", "-s", f"-j{conc}", "-C", str(d)]


# ---------------------------------------------------------------- doit
def doit_setup(d: Path, kind, cmd, conc):
    (d / "dodo.py").write_text(textwrap.dedent(f"""\
        CMD = {cmd!r}
        KIND = {kind!r}
        N = {CHAIN if kind == "chain" else FAN}
        DOIT_CONFIG = {{"verbosity": 0, "dep_file": "doit.db"}}

        def task_t():
            if KIND == "chain":
                for i in range(N):
                    yield {{"name": str(i), "actions": [CMD], "uptodate": [False],
                           "task_dep": [f"t:{{i - 1}}"] if i else []}}
            else:
                yield {{"name": "start", "actions": [CMD], "uptodate": [False]}}
                for i in range(N):
                    yield {{"name": str(i), "actions": [CMD], "uptodate": [False],
                           "task_dep": ["t:start"]}}
                yield {{"name": "join", "actions": ["true"], "uptodate": [False],
                       "task_dep": [f"t:{{i}}" for i in range(N)]}}
        """))
    args = [str(VENV / "bin" / "doit"), "-f", str(d / "dodo.py"), "-d", str(d)]
    if conc > 1:
        args += ["-n", str(conc), "-P", "thread"]
    return args


# ---------------------------------------------------------------- Luigi
def luigi_setup(d: Path, kind, cmd, conc):
    (d / "flow.py").write_text(textwrap.dedent(f"""\
        import subprocess, luigi
        CMD = {cmd!r}
        OUT = {str(d / "out")!r}

        class T(luigi.Task):
            i = luigi.Parameter()
            def requires(self):
                return [T(i=a) for a in AFTER[self.i]]
            def output(self):
                return luigi.LocalTarget(f"{{OUT}}/{{self.i}}")
            def run(self):
                subprocess.run(CMD, check=True)
                with self.output().open("w") as f:
                    f.write("done")

        AFTER = {{}}
        if {kind!r} == "chain":
            for n in range({CHAIN}):
                AFTER[str(n)] = [str(n - 1)] if n else []
            top = str({CHAIN} - 1)
        else:
            AFTER["start"] = []
            for n in range({FAN}):
                AFTER[str(n)] = ["start"]
            AFTER["join"] = [str(n) for n in range({FAN})]
            top = "join"
        ok = luigi.build([T(i=top)], local_scheduler=True, workers={conc}, log_level="ERROR")
        raise SystemExit(0 if ok else 1)
        """))
    return [py(), str(d / "flow.py")]


# ---------------------------------------------------------------- Huey
def huey_setup(d: Path, kind, cmd, conc):
    (d / "flow.py").write_text(textwrap.dedent(f"""\
        import subprocess, logging
        from huey import SqliteHuey
        from huey.consumer import Consumer
        logging.disable(logging.CRITICAL)
        huey = SqliteHuey(filename={str(d / "huey.db")!r})
        CMD = {cmd!r}

        @huey.task()
        def step(i):
            subprocess.run(CMD, check=True)
            return i

        consumer = huey.create_consumer(workers={conc}, worker_type="thread",
                                        periodic=False, initial_delay=0.005,
                                        backoff=1.1, max_delay=0.05)
        consumer.start()
        try:
            wait = dict(blocking=True, timeout=60, backoff=1.0, max_delay=0.002)
            if {kind!r} == "chain":
                # A pipeline: the consumer enqueues each step when the previous one is done.
                pipe = step.s(0)
                for n in range(1, {CHAIN}):
                    pipe = pipe.then(step)
                list(huey.enqueue(pipe))[-1].get(**wait)
            else:
                step("start").get(**wait)
                results = [step(n) for n in range({FAN})]
                for r in results:
                    r.get(**wait)
                step("join").get(**wait)
        finally:
            consumer.stop(graceful=True)
        """))
    return [py(), str(d / "flow.py")]


# ---------------------------------------------------------------- 3ox
# The persistent agent: one task line in, one answer line out (a no-op task).
PERSISTENT_AGENT = """\
import json, sys
for line in sys.stdin:
    print(json.dumps({"task_id": json.loads(line)["task_id"], "status": "COMPLETED"}), flush=True)
"""


def threeox_setup(d: Path, kind, cmd, conc, relaxed, persistent=False):
    subprocess.run([str(BIN), "--station", str(d), "init"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    agent = d / "agents" / "worker"
    agent.mkdir(parents=True, exist_ok=True)
    mode = ""
    if persistent:
        (agent / "agent.py").write_text(PERSISTENT_AGENT)
        cmd = [sys.executable, str(agent / "agent.py")]
        conc = min(conc, PERSISTENT_SLOTS)
        mode = "mode: persistent\n"
    (agent / "agent.yaml").write_text(
        "version: 1\ncapabilities: [work]\n"
        # JSON strings: a bare `true` would be read as a YAML boolean.
        f"concurrency: {conc}\ncommand: {json.dumps(cmd)}\n{mode}")
    if kind == "chain":
        tasks = ["  - {name: work, taskReferenceName: t0}"]
        tasks += [f"  - {{name: work, taskReferenceName: t{i}, inputParameters: "
                  f"{{previous: \"${{t{i - 1}.output}}\"}}}}" for i in range(1, CHAIN)]
        (d / "flow.yaml").write_text("name: chain\ntasks:\n" + "\n".join(tasks) + "\n")
        extra = []
    else:
        (d / "flow.yaml").write_text(textwrap.dedent("""\
            name: fan-out
            inputParameters: [items]
            tasks:
              - {name: work, taskReferenceName: start}
              - name: fan
                taskReferenceName: fan
                type: FORK_JOIN_DYNAMIC
                inputParameters: {forkTaskName: work, forkTaskInputs: "${workflow.input.items}"}
              - {name: join, taskReferenceName: gather, type: JOIN}
            """))
        extra = ["--input", "items=[" + ", ".join(str(i) for i in range(FAN)) + "]"]
    args = [str(BIN), "--station", str(d), "run", str(d / "flow.yaml"), "--quiet"] + extra
    if relaxed:
        args.append("--relaxed")
    return args


TOOLS = [
    ("make -j", make_setup),
    ("doit", doit_setup),
    ("Luigi", luigi_setup),
    ("Huey (SQLite)", huey_setup),
    ("3ox durable", lambda d, k, c, n: threeox_setup(d, k, c, n, False)),
    ("3ox relaxed", lambda d, k, c, n: threeox_setup(d, k, c, n, True)),
    ("3ox persistent", lambda d, k, c, n: threeox_setup(d, k, c, n, False, persistent=True)),
]

# Workloads a tool does not run (its cell reads "-").
SKIP = {("3ox persistent", "shell")}


ONLY = [t for t in os.environ.get("PEERS_TOOLS", "").split(",") if t]
if ONLY:
    TOOLS = [t for t in TOOLS if any(o.lower() in t[0].lower() for o in ONLY)]


def one_run(setup, name, workload, i):
    wname, kind, cmd, conc = workload
    slug = "".join(c if c.isalnum() else "-" for c in name.lower())
    d = SCRATCH / f"{slug}-{wname}-{i}"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    args = setup(d, kind, cmd, conc)
    start = time.perf_counter()
    done = subprocess.run(args, cwd=d, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    took = time.perf_counter() - start
    if done.returncode != 0:
        sys.stderr.write(f"{name} {wname} failed (exit {done.returncode}):\n"
                         f"{done.stdout.decode(errors='replace')[-2000:]}\n"
                         f"{done.stderr.decode(errors='replace')[-2000:]}\n")
        raise SystemExit(1)
    shutil.rmtree(d, ignore_errors=True)
    return took


def main():
    SCRATCH.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    results = {}
    for workload in WORKLOADS:
        for name, setup in TOOLS:
            if (name, workload[0]) in SKIP:
                continue
            one_run(setup, name, workload, "warm")
            times = [one_run(setup, name, workload, i) for i in range(RUNS)]
            results[(name, workload[0])] = statistics.median(times)
            sys.stderr.write(f"{workload[0]:8} {name:14} {results[(name, workload[0])]:.3f} s\n")
    load_after = os.getloadavg()[0]
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [f"{when}, {os.cpu_count()} cores ({cpu}), median of {RUNS}, "
           f"load average {load_before:.2f} before, {load_after:.2f} after", "",
           "| tool | " + " | ".join(w[0] for w in WORKLOADS) + " |",
           "|---|" + "---|" * len(WORKLOADS)]
    for name, _ in TOOLS:
        cells = []
        for w in WORKLOADS:
            t = results.get((name, w[0]))
            if t is None:
                cells.append("-")
                continue
            base = results.get(("3ox durable", w[0]))
            cells.append(f"{t:.3f} s ({t / base:.2f}x)" if base else f"{t:.3f} s")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    out += ["", "Each cell: median wall time (that time / 3ox durable's time for the same workload).",
            f"3ox persistent: one Python process per slot, at most {PERSISTENT_SLOTS}, "
            "answering JSON lines; it does not run the shell workload (a process per task)."]
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    (TARGET / "bench-peers.md").write_text(text)


if __name__ == "__main__":
    main()
