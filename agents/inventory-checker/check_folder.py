#!/usr/bin/env python3
"""Checks one inventory folder; run by `3ox agent run inventory-checker` once per task.

Input (JSON on stdin): {"station_root": "stations/sample", "folder": "inventory-clean"}
(`item` is accepted instead of `folder`: that is how a dynamic fork hands over a list item).
The folder is relative to station_root, which is relative to the working folder.

Checks:
  manifest        MANIFEST.yaml is present and has a `files:` list
  manifest_files  every file the manifest lists exists
  yaml            every *.yaml / *.yml file parses (needs PyYAML; skipped with a warning without it)
  naming          file names use only a-z, 0-9, '-', '_' and '.' (MANIFEST.yaml excepted)

Files and folders whose names start with '.' are not inventory and are skipped.

Output (JSON on stdout):
  {folder, ok, problem_count, problems: [{check, file, message}], files_checked, warnings}

A folder holding a `.transient-failure` marker fails on attempt 1 with exit code 75 (storage
not ready), to show retries; attempt 2 and later check it normally.
"""

import json
import os
import re
import sys

try:
    import yaml  # PyYAML, when installed
except ImportError:
    yaml = None

MANIFEST = "MANIFEST.yaml"
NAME_RULE = re.compile(r"^[a-z0-9._-]+$")
EX_TEMPFAIL = 75


def main():
    try:
        task = json.load(sys.stdin)
    except ValueError as e:
        print(f"the task input is not JSON: {e}", file=sys.stderr)
        return 2
    if not isinstance(task, dict):
        print("the task input must be an object with station_root and folder", file=sys.stderr)
        return 2
    folder = task.get("folder", task.get("item"))
    if not isinstance(folder, str) or not folder:
        print("the task input has no `folder` (or `item`) naming the folder to check", file=sys.stderr)
        return 2
    station_root = task.get("station_root") or "."

    root = os.path.abspath(station_root)
    path = os.path.abspath(os.path.join(root, folder))
    result = {"folder": folder, "ok": True, "problem_count": 0, "problems": [], "files_checked": 0, "warnings": []}

    if os.path.commonpath([root, path]) != root:
        problem(result, "folder", folder, f"the folder is outside the station root {station_root}")
    elif not os.path.isdir(path):
        problem(result, "folder", folder, f"no such folder below {station_root}")
    else:
        if os.path.exists(os.path.join(path, ".transient-failure")) and os.environ.get("THREEOX_ATTEMPT") == "1":
            print("storage not ready (simulated transient failure on attempt 1)", file=sys.stderr)
            return EX_TEMPFAIL
        check(path, result)

    result["problem_count"] = len(result["problems"])
    result["ok"] = result["problem_count"] == 0
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


def problem(result, check_name, file, message):
    result["problems"].append({"check": check_name, "file": file, "message": message})


def check(path, result):
    files = inventory(path)
    result["files_checked"] = len(files)
    if yaml is None:
        result["warnings"].append("PyYAML is not installed: the yaml check was skipped and MANIFEST.yaml was read with a minimal reader")

    listed = read_manifest(path, result)
    for name in listed:
        target = os.path.normpath(os.path.join(path, name))
        if os.path.isabs(name) or os.path.commonpath([path, target]) != path:
            problem(result, "manifest_files", name, "the manifest lists a path outside the folder")
        elif not os.path.isfile(target):
            problem(result, "manifest_files", name, "listed in MANIFEST.yaml but missing")

    for rel in files:
        base = os.path.basename(rel)
        if rel != MANIFEST and not NAME_RULE.match(base):
            problem(result, "naming", rel, "file names may only use lowercase letters, digits, '-', '_' and '.'")
        if yaml is not None and base.endswith((".yaml", ".yml")):
            try:
                with open(os.path.join(path, rel), encoding="utf-8") as f:
                    list(yaml.safe_load_all(f.read()))
            except UnicodeDecodeError as e:
                problem(result, "yaml", rel, f"is not UTF-8 text: {e}")
            except yaml.YAMLError as e:
                problem(result, "yaml", rel, "does not parse: " + yaml_error(e))


def yaml_error(e):
    """A PyYAML error in one line: what went wrong and where."""
    what = ", ".join(str(part) for part in (getattr(e, "context", None), getattr(e, "problem", None)) if part)
    mark = getattr(e, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return (what or " ".join(str(e).split())) + where


def inventory(path):
    """Files below `path` (relative, '/' separated, sorted), skipping dot names."""
    found = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith("."):
                found.append(os.path.relpath(os.path.join(dirpath, name), path).replace(os.sep, "/"))
    return sorted(found)


def read_manifest(path, result):
    """The `files:` list of MANIFEST.yaml, reporting what is wrong with it."""
    manifest_path = os.path.join(path, MANIFEST)
    if not os.path.isfile(manifest_path):
        problem(result, "manifest", MANIFEST, "missing: every inventory folder needs a MANIFEST.yaml")
        return []
    with open(manifest_path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    if yaml is not None:
        try:
            manifest = yaml.safe_load(text)
        except yaml.YAMLError as e:
            problem(result, "manifest", MANIFEST, "does not parse: " + yaml_error(e))
            return []
        files = manifest.get("files") if isinstance(manifest, dict) else None
    else:
        files = minimal_files_list(text)
    if not isinstance(files, list):
        problem(result, "manifest", MANIFEST, "has no `files:` list")
        return []
    names = []
    for entry in files:
        if isinstance(entry, str) and entry:
            names.append(entry)
        else:
            problem(result, "manifest", MANIFEST, f"`files:` entries must be file names, not {entry!r}")
    return names


def minimal_files_list(text):
    """Without PyYAML: the block list under a top-level `files:` key (plain `- name` items)."""
    files = None
    for line in text.splitlines():
        stripped = line.split(" #", 1)[0].rstrip()
        if files is None:
            if stripped == "files:":
                files = []
            continue
        if stripped.lstrip().startswith("- "):
            files.append(stripped.lstrip()[2:].strip().strip("'\""))
        elif stripped and not stripped.startswith((" ", "\t")):
            break
    return files


if __name__ == "__main__":
    sys.exit(main())
