#!/usr/bin/env python3
"""A demo deployer; run by `3ox agent run deployer` once per task. It deploys nothing real:
a service's releases are recorded in .3ox/deployments/<environment>/<service>.json
({current, previous, history}), written atomically.

What it does depends on THREEOX_TASK (the task name):

build_release     {service, version}             -> {artifact}
deploy_release    {service, version, environment} -> {deployed: true, current, previous}
health_check      {service, environment, simulate_unhealthy}
                  -> {healthy: true}; with simulate_unhealthy true it fails (exit 1), so the
                  run fails and its failureWorkflow rolls back
rollback_release  {service, environment, to}     -> {rolled_back: true, current}; `to`
                  defaults to the recorded previous release
"""

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
    if not isinstance(data, dict) or not isinstance(data.get("service"), str) or not data["service"]:
        print("the task input needs `service` (text)", file=sys.stderr)
        return 2
    service = data["service"]
    if "/" in service or service.startswith("."):
        print(f"`{service}` is not a plain service name", file=sys.stderr)
        return 2
    environment = str(data.get("environment") or "staging")
    if task == "build_release":
        result = {"artifact": f"{service}-{data.get('version')}.tar.gz"}
    elif task == "deploy_release":
        state = load(environment, service)
        state["previous"] = state.get("current")
        state["current"] = str(data.get("version"))
        state.setdefault("history", []).append({"deployed": state["current"]})
        save(environment, service, state)
        result = {"deployed": True, "current": state["current"], "previous": state["previous"]}
    elif task == "health_check":
        if data.get("simulate_unhealthy") is True:
            print(f"{service} on {environment} is unhealthy (simulated): 5 of 5 probes failed", file=sys.stderr)
            return 1
        result = {"healthy": True, "current": load(environment, service).get("current")}
    elif task == "rollback_release":
        state = load(environment, service)
        target = data.get("to") or state.get("previous")
        state["current"], state["previous"] = target, state.get("current")
        state.setdefault("history", []).append({"rolled_back_to": target})
        save(environment, service, state)
        result = {"rolled_back": True, "current": target}
    else:
        print(f"this agent serves build_release, deploy_release, health_check and rollback_release, not {task!r}", file=sys.stderr)
        return 2
    json.dump(result, sys.stdout)
    print()
    return 0


def path_of(environment, service):
    environment = "".join(c for c in environment if c.isalnum() or c in "-_") or "staging"
    return os.path.join(".3ox", "deployments", environment, f"{service}.json")


def load(environment, service):
    try:
        with open(path_of(environment, service), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def save(environment, service, state):
    path = path_of(environment, service)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".deploy.", suffix=".tmp", dir=os.path.dirname(path))
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(state, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
