#!/usr/bin/env python3
"""Collects inventory problems and writes the report; run by `3ox agent run inventory-reporter`.

What it does depends on THREEOX_TASK (the task name):

aggregate_problems
  input:  {"results": {"validate_folders_0": <check_folder.py output>, ...}}  (a JOIN's output)
  output: {problem_count, folders_checked: [folder, ...], clean_folders: [...],
           problems: [{folder, check, file, message}, ...]}

write_report
  input:  {station_root, report, verdict, problem_count, problems, folders_checked}
  Writes a Markdown report to `report` (relative to the working folder, the station root;
  default .3ox/reports/inventory-<THREEOX_RUN_ID>.md), atomically (temporary name, fsync,
  rename), and prints {report: <path>, verdict}.
"""

import datetime
import json
import os
import sys
import tempfile


def main():
    task = os.environ.get("THREEOX_TASK", "")
    try:
        data = json.load(sys.stdin)
    except ValueError as e:
        print(f"the task input is not JSON: {e}", file=sys.stderr)
        return 2
    if not isinstance(data, dict):
        print("the task input must be an object", file=sys.stderr)
        return 2
    if task == "aggregate_problems":
        result = aggregate(data)
    elif task == "write_report":
        result = write_report(data)
    else:
        print(f"this agent serves aggregate_problems and write_report, not {task!r}", file=sys.stderr)
        return 2
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


def aggregate(data):
    results = data.get("results") or {}
    if not isinstance(results, dict):
        results = {}
    problems, folders, clean = [], [], []
    for ref, result in results.items():
        if not isinstance(result, dict):
            folders.append(ref)
            problems.append({"folder": ref, "check": "result", "file": "", "message": "the check left no result"})
            continue
        folder = str(result.get("folder", ref))
        folders.append(folder)
        found = [p for p in result.get("problems") or [] if isinstance(p, dict)]
        for p in found:
            problems.append({"folder": folder, "check": p.get("check", ""), "file": p.get("file", ""), "message": p.get("message", "")})
        if not found:
            clean.append(folder)
    return {"problem_count": len(problems), "folders_checked": folders, "clean_folders": clean, "problems": problems}


def write_report(data):
    run_id = os.environ.get("THREEOX_RUN_ID", "unknown-run")
    path = data.get("report") or os.path.join(".3ox", "reports", f"inventory-{run_id}.md")
    verdict = data.get("verdict") or "unknown"
    problems = [p for p in data.get("problems") or [] if isinstance(p, dict)]
    folders = data.get("folders_checked") or []
    if not isinstance(folders, list):
        folders = [str(folders)]

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [
        "# Inventory validation report",
        "",
        f"- station: `{data.get('station_root') or '.'}`",
        f"- run: `{run_id}`",
        f"- written: {now}",
        f"- verdict: **{verdict}**",
        f"- folders checked: {len(folders)}",
        f"- problems: {data.get('problem_count', len(problems))}",
        "",
        "## Folders",
        "",
    ]
    by_folder = {}
    for p in problems:
        by_folder.setdefault(str(p.get("folder", "")), []).append(p)
    for folder in folders:
        count = len(by_folder.get(str(folder), []))
        lines.append(f"- `{folder}`: " + ("clean" if count == 0 else f"{count} problem{'s' if count != 1 else ''}"))
    if problems:
        lines += ["", "## Problems", "", "| folder | check | file | message |", "|---|---|---|---|"]
        for p in problems:
            cells = [cell(p.get(k, "")) for k in ("folder", "check", "file", "message")]
            lines.append("| " + " | ".join(cells) + " |")
    lines.append("")

    write_atomically(path, "\n".join(lines))
    return {"report": path, "verdict": verdict}


def cell(value):
    """A Markdown table cell: one line, pipes escaped."""
    return " ".join(str(value).split()).replace("|", "\\|")


def write_atomically(path, text):
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise


if __name__ == "__main__":
    sys.exit(main())
