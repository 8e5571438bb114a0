#!/usr/bin/env python3
"""A demo agent for templates/approval-gate.workflow.yaml; run by `3ox agent run change-agent`
once per task. It changes nothing real: it writes what it did to .3ox/changes/<run id>.md.

What it does depends on THREEOX_TASK (the task name):

prepare_change {change}                       -> {summary, steps: [...]}
apply_change   {plan, approved_by}            -> {applied: true, record}
write_note     {change, decision, by, comment} -> {written: true, record}
"""

import json
import os
import sys


def main():
    task = os.environ.get("THREEOX_TASK", "")
    run_id = os.environ.get("THREEOX_RUN_ID", "unknown-run")
    try:
        data = json.load(sys.stdin)
    except ValueError as e:
        print(f"the task input is not JSON: {e}", file=sys.stderr)
        return 2
    if not isinstance(data, dict):
        print("the task input must be an object", file=sys.stderr)
        return 2
    record = os.path.join(".3ox", "changes", f"{run_id}.md")
    if task == "prepare_change":
        change = str(data.get("change") or "").strip()
        if not change:
            print("the task input needs `change` (what to change)", file=sys.stderr)
            return 2
        steps = [f"back up what `{change}` touches", f"apply `{change}`", "check the result"]
        result = {"summary": f"{change}: {len(steps)} steps", "change": change, "steps": steps}
        append(record, f"# Change {change}\n\nprepared: {', '.join(steps)}\n")
    elif task == "apply_change":
        plan = data.get("plan") or {}
        append(record, f"\napplied, approved by {data.get('approved_by')}: {plan.get('summary', '')}\n")
        result = {"applied": True, "record": record}
    elif task == "write_note":
        append(record, f"\nnot applied: {data.get('decision')} by {data.get('by')} ({data.get('comment') or 'no comment'})\n")
        result = {"written": True, "record": record}
    else:
        print(f"this agent serves prepare_change, apply_change and write_note, not {task!r}", file=sys.stderr)
        return 2
    json.dump(result, sys.stdout)
    print()
    return 0


def append(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


if __name__ == "__main__":
    sys.exit(main())
