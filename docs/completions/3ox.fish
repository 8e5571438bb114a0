# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_3ox_global_optspecs
    string join \n station= log-format= h/help V/version
end

function __fish_3ox_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_3ox_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_3ox_using_subcommand
    set -l cmd (__fish_3ox_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c 3ox -n "__fish_3ox_needs_command" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_needs_command" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_needs_command" -s V -l version -d 'Print version'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "init" -d 'Make a station: agents/, stations/, templates/ and .3ox/'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "validate" -d 'Check workflow files and report every problem with file:line:col and a hint'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "run" -d 'Start a run of a workflow in this station and drive it to the end'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "start" -d 'Submit a run and print its id at once; `3ox up` (or `3ox resume`) drives it'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "up" -d 'Drive every submitted or orphaned run of the station until stopped'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "resume" -d 'Resume runs after a crash (one run, or every run nobody drives) in the foreground; unpauses a paused run first'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "pause" -d 'Pause a run: nothing new is delivered until `3ox resume RUN`'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "terminate" -d 'End a run now: TERMINATED, with a reason'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "retry" -d 'Retry an ended run from its failed or canceled task(s), keeping completed work'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "restart" -d 'Start an ended run again from the top, under the same run id (as Conductor)'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "rerun" -d 'Run an ended run again from a task (it and what follows it)'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "skip" -d 'Skip a pending or failed task: SKIPPED with an empty output; the run goes on'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "status" -d 'Show one run (default: the newest): status, tasks, attempts, agents, output'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "list" -d 'List the station\'s runs, filtered by status or workflow'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "log" -d 'A run\'s journal as a readable timeline of tasks and attempts'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "history" -d 'Finished runs, newest first'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "doctor" -d 'Check the station: verify every journal, rebuild and compare the state snapshot'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "gc" -d 'Archive or delete finished runs and old handled mail'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "approve" -d 'Approve a HUMAN task\'s open request (writes the approval file)'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "reject" -d 'Reject a HUMAN task\'s open request (writes the approval file)'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "approvals" -d 'List the approval requests waiting, and for whom'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "keygen" -d 'Make a signing key for approvals; prints the station.yaml lines that require it'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "agent" -d 'Agent commands'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "complete" -d 'Complete (or fail) a waiting task from outside: a WAIT, or an attempt in flight'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "import" -d 'A Conductor workflow definition (JSON) as readable 3ox YAML'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "export" -d 'A 3ox workflow as Conductor JSON; what Conductor cannot say is reported'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "schema" -d 'Print the JSON Schema of the workflow format (for editors)'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "test" -d 'Run a workflow with mocked task outcomes (no agents, no station) and print its path'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "graph" -d 'Draw a workflow as a diagram: Mermaid, Graphviz DOT or SVG'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "top" -d 'A live terminal dashboard: runs, task trees, events, approvals; approve and steer'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "template" -d 'The station\'s template library: list, show, new, add, verify, update, search'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "schedule" -d 'The station\'s schedules (schedules/*.yaml, fired by `3ox up`): list, pause, resume, trigger, next, import, export'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "new" -d 'Write a workflow from a request: a bridge agent (capability `workflow.generate`) drafts it, 3ox validates and dry-runs it, asks for repairs, and writes it only when valid'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "mcp" -d 'Serve an agent\'s tasks to a model as an MCP server over stdio (list, get, claim, heartbeat, reply)'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "conductor" -d 'Scale out onto a Conductor cluster: register the station\'s workflows, serve its task queues with the station\'s agents'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "man" -d 'Print the manual page (roff): `3ox man | man -l -`'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "serve" -d 'Serve the local web dashboard: runs, diagrams, timelines, approvals, agents'
complete -c 3ox -n "__fish_3ox_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c 3ox -n "__fish_3ox_using_subcommand init" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand init" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand init" -l example -d 'Also write the runnable demo: the inventory-validation workflow, its agents (Python), the `commander` approver, sample folders and the approval-gate template. Files that exist are kept'
complete -c 3ox -n "__fish_3ox_using_subcommand init" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand validate" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand validate" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand validate" -l json -d 'Print one JSON document `{files: [{path, valid, diagnostics}]}` instead of text'
complete -c 3ox -n "__fish_3ox_using_subcommand validate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand run" -s i -l input -d 'An input value; VALUE is read as YAML, so `n=3`, `folders=[a, b]` and `on=true` keep their types. Repeatable; later values win' -r
complete -c 3ox -n "__fish_3ox_using_subcommand run" -l input-file -d 'A YAML or JSON file with a mapping of inputs (applied before --input values)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand run" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand run" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand run" -l json -d 'Print the result as JSON on stdout'
complete -c 3ox -n "__fish_3ox_using_subcommand run" -s q -l quiet -d 'Show no progress, only the result'
complete -c 3ox -n "__fish_3ox_using_subcommand run" -l no-agents -d 'Do not start the station\'s managed agents (their `command`); someone else runs them'
complete -c 3ox -n "__fish_3ox_using_subcommand run" -l relaxed -d 'Skip fsync of the journal and of task messages: faster, but a power cut may lose the last changes. Process crashes lose nothing either way'
complete -c 3ox -n "__fish_3ox_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand start" -s i -l input -d 'An input value; VALUE is read as YAML, so `n=3`, `folders=[a, b]` and `on=true` keep their types. Repeatable; later values win' -r
complete -c 3ox -n "__fish_3ox_using_subcommand start" -l input-file -d 'A YAML or JSON file with a mapping of inputs (applied before --input values)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand start" -l key -d 'Start at most one run per KEY: a second start with the same key prints the run the first one started and submits nothing' -r
complete -c 3ox -n "__fish_3ox_using_subcommand start" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand start" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand start" -l json -d 'Print `{"run_id": ..., "workflow": ..., "existing": ...}` as JSON'
complete -c 3ox -n "__fish_3ox_using_subcommand start" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand up" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand up" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand up" -l json -d 'Print the result as JSON on stdout'
complete -c 3ox -n "__fish_3ox_using_subcommand up" -s q -l quiet -d 'Show no progress, only the result'
complete -c 3ox -n "__fish_3ox_using_subcommand up" -l no-agents -d 'Do not start the station\'s managed agents (their `command`); someone else runs them'
complete -c 3ox -n "__fish_3ox_using_subcommand up" -l relaxed -d 'Skip fsync of the journal and of task messages: faster, but a power cut may lose the last changes. Process crashes lose nothing either way'
complete -c 3ox -n "__fish_3ox_using_subcommand up" -l until-idle -d 'Exit once no run is left to drive (for scripts and tests) instead of waiting for more'
complete -c 3ox -n "__fish_3ox_using_subcommand up" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand resume" -l by -d 'Who unpauses a paused run, as recorded in the journal (default: $USER or $USERNAME)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand resume" -l reason -d 'Why a paused run is unpaused (recorded in the journal)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand resume" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand resume" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand resume" -l json -d 'Print the result as JSON on stdout'
complete -c 3ox -n "__fish_3ox_using_subcommand resume" -s q -l quiet -d 'Show no progress, only the result'
complete -c 3ox -n "__fish_3ox_using_subcommand resume" -l no-agents -d 'Do not start the station\'s managed agents (their `command`); someone else runs them'
complete -c 3ox -n "__fish_3ox_using_subcommand resume" -l relaxed -d 'Skip fsync of the journal and of task messages: faster, but a power cut may lose the last changes. Process crashes lose nothing either way'
complete -c 3ox -n "__fish_3ox_using_subcommand resume" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand pause" -l reason -d 'Why (recorded in the journal)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand pause" -l by -d 'Who asks, as recorded in the journal (default: the user name from $USER or $USERNAME)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand pause" -l wait -d 'How long to wait for the run\'s driver to take the request' -r
complete -c 3ox -n "__fish_3ox_using_subcommand pause" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand pause" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand pause" -l json -d 'Print the outcome as JSON on stdout'
complete -c 3ox -n "__fish_3ox_using_subcommand pause" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand terminate" -l reason -d 'Why (recorded in the journal)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand terminate" -l by -d 'Who asks, as recorded in the journal (default: the user name from $USER or $USERNAME)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand terminate" -l wait -d 'How long to wait for the run\'s driver to take the request' -r
complete -c 3ox -n "__fish_3ox_using_subcommand terminate" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand terminate" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand terminate" -l json -d 'Print the outcome as JSON on stdout'
complete -c 3ox -n "__fish_3ox_using_subcommand terminate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand retry" -l reason -d 'Why (recorded in the journal)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand retry" -l by -d 'Who asks, as recorded in the journal (default: the user name from $USER or $USERNAME)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand retry" -l wait -d 'How long to wait for the run\'s driver to take the request' -r
complete -c 3ox -n "__fish_3ox_using_subcommand retry" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand retry" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand retry" -l json -d 'Print the outcome as JSON on stdout'
complete -c 3ox -n "__fish_3ox_using_subcommand retry" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand restart" -l reason -d 'Why (recorded in the journal)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand restart" -l by -d 'Who asks, as recorded in the journal (default: the user name from $USER or $USERNAME)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand restart" -l wait -d 'How long to wait for the run\'s driver to take the request' -r
complete -c 3ox -n "__fish_3ox_using_subcommand restart" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand restart" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand restart" -l json -d 'Print the outcome as JSON on stdout'
complete -c 3ox -n "__fish_3ox_using_subcommand restart" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand rerun" -l from -d 'The first task to run again (its taskReferenceName)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand rerun" -l reason -d 'Why (recorded in the journal)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand rerun" -l by -d 'Who asks, as recorded in the journal (default: the user name from $USER or $USERNAME)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand rerun" -l wait -d 'How long to wait for the run\'s driver to take the request' -r
complete -c 3ox -n "__fish_3ox_using_subcommand rerun" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand rerun" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand rerun" -l json -d 'Print the outcome as JSON on stdout'
complete -c 3ox -n "__fish_3ox_using_subcommand rerun" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand skip" -l reason -d 'Why (recorded in the journal)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand skip" -l by -d 'Who asks, as recorded in the journal (default: the user name from $USER or $USERNAME)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand skip" -l wait -d 'How long to wait for the run\'s driver to take the request' -r
complete -c 3ox -n "__fish_3ox_using_subcommand skip" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand skip" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand skip" -l json -d 'Print the outcome as JSON on stdout'
complete -c 3ox -n "__fish_3ox_using_subcommand skip" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand status" -l task -d 'Print only this task: each attempt with its input, output, reason, heartbeats and backoff (a HUMAN task\'s requests and decision, a dynamic fork\'s forked tasks)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand status" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand status" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand status" -l json -d 'Print the run as JSON on stdout'
complete -c 3ox -n "__fish_3ox_using_subcommand status" -s w -l watch -d 'Watch the run live: print its status again each time it changes, until it ends (on a terminal the screen is redrawn; otherwise each status follows a `--- HH:MM:SS` line)'
complete -c 3ox -n "__fish_3ox_using_subcommand status" -l all -d 'List every task (or with --task every forked task), not only the first ones: the first 20 tasks of each dynamic fork and 500 in all; and the whole output, not only its first 40 lines'
complete -c 3ox -n "__fish_3ox_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand list" -l status -d 'Only runs with this status' -r -f -a "RUNNING\t''
COMPLETED\t''
FAILED\t''
TERMINATED\t''
TIMED_OUT\t''"
complete -c 3ox -n "__fish_3ox_using_subcommand list" -l workflow -d 'Only runs of the workflow with this name' -r
complete -c 3ox -n "__fish_3ox_using_subcommand list" -l limit -d 'At most N runs (the newest)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand list" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand list" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand list" -l json -d 'Print the runs as JSON on stdout'
complete -c 3ox -n "__fish_3ox_using_subcommand list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand log" -l task -d 'Print only this task: each attempt with its input, output, reason, heartbeats and backoff (a HUMAN task\'s requests and decision, a dynamic fork\'s forked tasks)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand log" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand log" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand log" -l json -d 'Print the timeline as JSON on stdout (with absolute times)'
complete -c 3ox -n "__fish_3ox_using_subcommand log" -s f -l follow -d 'Follow the run live: print the timeline, then each line that is new or changed as the run goes on, until it ends'
complete -c 3ox -n "__fish_3ox_using_subcommand log" -l all -d 'List every task (with --task: every forked task), not only the first ones: the first 20 tasks of each dynamic fork and 500 in all'
complete -c 3ox -n "__fish_3ox_using_subcommand log" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand history" -l workflow -d 'Only runs of the workflow with this name' -r
complete -c 3ox -n "__fish_3ox_using_subcommand history" -l limit -d 'At most N runs (the newest)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand history" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand history" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand history" -l json -d 'Print the runs as JSON on stdout'
complete -c 3ox -n "__fish_3ox_using_subcommand history" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand doctor" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand doctor" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand doctor" -l repair -d 'Also repair: cut torn journal tails away, journal again the archived replies a lost journal tail forgot, move task messages of ended runs into `1N.3OX/done/` and refuse their replies into `0UT.3OX/rejected/`. Corrupt journals are never changed'
complete -c 3ox -n "__fish_3ox_using_subcommand doctor" -l json -d 'Print the report as JSON on stdout'
complete -c 3ox -n "__fish_3ox_using_subcommand doctor" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand gc" -l older-than -d 'Collect runs that ended, and handled mail written, longer ago than this (`30d`, `12h`, `2w 3d`)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand gc" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand gc" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand gc" -l archive -d 'Move collected journals into `.3ox/archive/<yyyy-mm>/` (the default)'
complete -c 3ox -n "__fish_3ox_using_subcommand gc" -l delete -d 'Delete collected journals instead of archiving them'
complete -c 3ox -n "__fish_3ox_using_subcommand gc" -l dry-run -d 'List what would go; change nothing'
complete -c 3ox -n "__fish_3ox_using_subcommand gc" -l json -d 'Print the report as JSON on stdout'
complete -c 3ox -n "__fish_3ox_using_subcommand gc" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand approve" -l comment -d 'A comment for the record' -r
complete -c 3ox -n "__fish_3ox_using_subcommand approve" -l by -d 'Who decides (for the record; default: the approver\'s name)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand approve" -l key -d 'Sign the approval with this private key file (from `3ox keygen`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand approve" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand approve" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand approve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand reject" -l reason -d 'Why (required, for the record)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand reject" -l comment -d 'A comment for the record' -r
complete -c 3ox -n "__fish_3ox_using_subcommand reject" -l by -d 'Who decides (for the record; default: the approver\'s name)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand reject" -l key -d 'Sign the rejection with this private key file (from `3ox keygen`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand reject" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand reject" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand reject" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand approvals" -l approver -d 'Only requests waiting for this approver (an agent name, such as `commander`)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand approvals" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand approvals" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand approvals" -l json -d 'Print the requests as JSON on stdout, with each task\'s input'
complete -c 3ox -n "__fish_3ox_using_subcommand approvals" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand keygen" -l out -d 'Where to write the private key (default: ~/.config/3ox/APPROVER.key)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand keygen" -l approver -d 'The approver (agent) the key is for, used in the printed station.yaml lines and the default file name' -r
complete -c 3ox -n "__fish_3ox_using_subcommand keygen" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand keygen" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand keygen" -l force -d 'Replace an existing key file (approvals signed with the old key stop counting once station.yaml names the new one)'
complete -c 3ox -n "__fish_3ox_using_subcommand keygen" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand agent; and not __fish_seen_subcommand_from run list help" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand agent; and not __fish_seen_subcommand_from run list help" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand agent; and not __fish_seen_subcommand_from run list help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand agent; and not __fish_seen_subcommand_from run list help" -f -a "run" -d 'Serve an agent\'s inbox: run a command once per task message and write its reply'
complete -c 3ox -n "__fish_3ox_using_subcommand agent; and not __fish_seen_subcommand_from run list help" -f -a "list" -d 'List the station\'s agents: capabilities, concurrency, command and waiting messages'
complete -c 3ox -n "__fish_3ox_using_subcommand agent; and not __fish_seen_subcommand_from run list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c 3ox -n "__fish_3ox_using_subcommand agent; and __fish_seen_subcommand_from run" -l concurrency -d 'Tasks run at once (default: `concurrency` in agent.yaml)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand agent; and __fish_seen_subcommand_from run" -l heartbeat -d 'How often a running task sends an IN_PROGRESS heartbeat reply' -r
complete -c 3ox -n "__fish_3ox_using_subcommand agent; and __fish_seen_subcommand_from run" -l mode -d 'Run the command once per task, or keep one process per slot speaking JSON lines (default: `mode` in agent.yaml)' -r -f -a "per-task\t'One process per task: the input on stdin, the output on stdout, the exit code'
persistent\t'One long-lived process per slot: one JSON line in per task, one JSON line back'"
complete -c 3ox -n "__fish_3ox_using_subcommand agent; and __fish_seen_subcommand_from run" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand agent; and __fish_seen_subcommand_from run" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand agent; and __fish_seen_subcommand_from run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand agent; and __fish_seen_subcommand_from list" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand agent; and __fish_seen_subcommand_from list" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand agent; and __fish_seen_subcommand_from list" -l json -d 'Print JSON instead of a table'
complete -c 3ox -n "__fish_3ox_using_subcommand agent; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand agent; and __fish_seen_subcommand_from help" -f -a "run" -d 'Serve an agent\'s inbox: run a command once per task message and write its reply'
complete -c 3ox -n "__fish_3ox_using_subcommand agent; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the station\'s agents: capabilities, concurrency, command and waiting messages'
complete -c 3ox -n "__fish_3ox_using_subcommand agent; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c 3ox -n "__fish_3ox_using_subcommand complete" -l output -d 'The task\'s output, a JSON object' -r
complete -c 3ox -n "__fish_3ox_using_subcommand complete" -l set -d 'One output key (repeatable); the value is JSON when it reads as JSON, else text' -r
complete -c 3ox -n "__fish_3ox_using_subcommand complete" -l reason -d 'Why (recorded in the journal; the failure\'s reason with --failed)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand complete" -l by -d 'Who asks, as recorded in the journal (default: the user name from $USER or $USERNAME)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand complete" -l wait -d 'How long to wait for the run\'s driver to take the request' -r
complete -c 3ox -n "__fish_3ox_using_subcommand complete" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand complete" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand complete" -l failed -d 'Fail the task instead of completing it (its retry policy applies)'
complete -c 3ox -n "__fish_3ox_using_subcommand complete" -l terminal -d 'Fail the task with FAILED_WITH_TERMINAL_ERROR: never retried'
complete -c 3ox -n "__fish_3ox_using_subcommand complete" -l json -d 'Print the outcome as JSON on stdout'
complete -c 3ox -n "__fish_3ox_using_subcommand complete" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand import" -s o -l output -d 'Write the YAML here instead of to stdout' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand import" -l schema -d 'Start the file with a `# yaml-language-server: $schema=SCHEMA` modeline (a path relative to the written file, or a URL), so editors complete and check it' -r
complete -c 3ox -n "__fish_3ox_using_subcommand import" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand import" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand import" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand export" -l format -d 'The target format' -r -f -a "conductor\t'Conductor\'s workflow definition JSON (POST /api/metadata/workflow)'"
complete -c 3ox -n "__fish_3ox_using_subcommand export" -s o -l output -d 'Write the JSON here instead of to stdout' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand export" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand export" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand export" -l strict -d 'Fail (exit 2, nothing written, every reason listed with its location) when the definition would mean something else on a Conductor cluster or does not validate'
complete -c 3ox -n "__fish_3ox_using_subcommand export" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand schema" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand schema" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand schema" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand test" -s m -l mock -d 'The mocks file: task outcomes, the workflow input, approvals, `expect:`. Without it only tasks the engine runs itself can run' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand test" -s i -l input -d 'An input value over the mocks file\'s `input` (VALUE is read as YAML, like `3ox run --input`). Repeatable; later values win' -r
complete -c 3ox -n "__fish_3ox_using_subcommand test" -l expect-status -d 'The status the run must end with (default: the mocks file\'s `expect.status`, else COMPLETED)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand test" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand test" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand test" -l json -d 'Print one JSON document (the path, the result, the expectations) instead of text'
complete -c 3ox -n "__fish_3ox_using_subcommand test" -s v -l verbose -d 'Show each task\'s input too'
complete -c 3ox -n "__fish_3ox_using_subcommand test" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand graph" -l format -d 'The output format' -r -f -a "mermaid\t'Mermaid `flowchart TD` (renders on GitHub and in many editors)'
dot\t'Graphviz DOT'
svg\t'A standalone SVG image, laid out by 3ox'"
complete -c 3ox -n "__fish_3ox_using_subcommand graph" -s o -l output -d 'Write the diagram here instead of to stdout' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand graph" -l max-dynamic -d 'For a run: how many tasks of each dynamic fork to draw; the rest are one "+N more" node' -r
complete -c 3ox -n "__fish_3ox_using_subcommand graph" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand graph" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand graph" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand top" -l by -d 'Who decides and asks, as recorded (default: the approver\'s name for a decision, the user name from $USER for an operation)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand top" -l key -d 'Sign approvals with this private key file (from `3ox keygen`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand top" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand top" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand top" -l read-only -d 'Look only: approve, reject, retry, pause/resume and terminate are disabled'
complete -c 3ox -n "__fish_3ox_using_subcommand top" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand template; and not __fish_seen_subcommand_from list show new add verify update search help" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand template; and not __fish_seen_subcommand_from list show new add verify update search help" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand template; and not __fish_seen_subcommand_from list show new add verify update search help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand template; and not __fish_seen_subcommand_from list show new add verify update search help" -f -a "list" -d 'List the station\'s templates: name, description and inputs'
complete -c 3ox -n "__fish_3ox_using_subcommand template; and not __fish_seen_subcommand_from list show new add verify update search help" -f -a "show" -d 'Show one template: its inputs, the agents it needs, its mocks and a Mermaid diagram'
complete -c 3ox -n "__fish_3ox_using_subcommand template; and not __fish_seen_subcommand_from list show new add verify update search help" -f -a "new" -d 'Make a new workflow from a template: templates/NAME.workflow.yaml with the name changed'
complete -c 3ox -n "__fish_3ox_using_subcommand template; and not __fish_seen_subcommand_from list show new add verify update search help" -f -a "add" -d 'Add templates from a folder, a .tar.gz or a git repository at a ref: checked and dry-run with their mocks first, recorded in templates.lock'
complete -c 3ox -n "__fish_3ox_using_subcommand template; and not __fish_seen_subcommand_from list show new add verify update search help" -f -a "verify" -d 'Check that every file recorded in templates.lock still has its sha256'
complete -c 3ox -n "__fish_3ox_using_subcommand template; and not __fish_seen_subcommand_from list show new add verify update search help" -f -a "update" -d 'Fetch a locked template again: at its recorded commit, or at a new `--ref`'
complete -c 3ox -n "__fish_3ox_using_subcommand template; and not __fish_seen_subcommand_from list show new add verify update search help" -f -a "search" -d 'Search a catalogue\'s index.yaml for templates'
complete -c 3ox -n "__fish_3ox_using_subcommand template; and not __fish_seen_subcommand_from list show new add verify update search help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from list" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from list" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from list" -l json -d 'Print `{templates: [{name, file, description, version, inputs, mocks, problem}]}`'
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from show" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from show" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from show" -l json -d 'Print `{name, file, description, inputs, agents, mocks, mermaid}` as JSON'
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from new" -l from -d 'The template to start from (its workflow or file name)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from new" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from new" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from new" -l force -d 'Replace templates/NAME.workflow.yaml if it exists'
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from new" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from add" -l template -d 'Only this template of the source (its workflow or file name)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from add" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from add" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from add" -l force -d 'Replace station files that exist with other content'
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from verify" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from verify" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from verify" -l json -d 'Print `{ok, templates, changed: [{template, file, how}]}`'
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from update" -l ref -d 'Move a git source to this tag, branch or commit' -r
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from update" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from update" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from update" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from search" -l catalogue -d 'The catalogue: a folder or a git repository (`url` or `url@ref`) with an index.yaml' -r
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from search" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from search" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from search" -l json -d 'Print `{catalogue, templates: [...]}` with every field of the index'
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from search" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the station\'s templates: name, description and inputs'
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one template: its inputs, the agents it needs, its mocks and a Mermaid diagram'
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from help" -f -a "new" -d 'Make a new workflow from a template: templates/NAME.workflow.yaml with the name changed'
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add templates from a folder, a .tar.gz or a git repository at a ref: checked and dry-run with their mocks first, recorded in templates.lock'
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Check that every file recorded in templates.lock still has its sha256'
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from help" -f -a "update" -d 'Fetch a locked template again: at its recorded commit, or at a new `--ref`'
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from help" -f -a "search" -d 'Search a catalogue\'s index.yaml for templates'
complete -c 3ox -n "__fish_3ox_using_subcommand template; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and not __fish_seen_subcommand_from list pause resume trigger next import export help" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and not __fish_seen_subcommand_from list pause resume trigger next import export help" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and not __fish_seen_subcommand_from list pause resume trigger next import export help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and not __fish_seen_subcommand_from list pause resume trigger next import export help" -f -a "list" -d 'List the schedules: workflow, cron line and zone, next fire time, last slot and run'
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and not __fish_seen_subcommand_from list pause resume trigger next import export help" -f -a "pause" -d 'Pause a schedule: it fires nothing until resumed (its slots are passed over)'
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and not __fish_seen_subcommand_from list pause resume trigger next import export help" -f -a "resume" -d 'Resume a paused schedule from now on (the slots passed while paused are not caught up)'
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and not __fish_seen_subcommand_from list pause resume trigger next import export help" -f -a "trigger" -d 'Start a run of a schedule\'s workflow now, whatever its cron line says'
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and not __fish_seen_subcommand_from list pause resume trigger next import export help" -f -a "next" -d 'Print a schedule\'s next slot times in its time zone'
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and not __fish_seen_subcommand_from list pause resume trigger next import export help" -f -a "import" -d 'Read a Conductor schedule (JSON) into schedules/<name>.yaml'
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and not __fish_seen_subcommand_from list pause resume trigger next import export help" -f -a "export" -d 'Print a schedule as Conductor schedule JSON'
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and not __fish_seen_subcommand_from list pause resume trigger next import export help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from list" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from list" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from list" -l json -d 'Print a JSON array instead of a table'
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from pause" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from pause" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from pause" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from resume" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from resume" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from resume" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from trigger" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from trigger" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from trigger" -l json -d 'Print `{"run_id": ..., "schedule": ...}` as JSON'
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from trigger" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from next" -s n -l count -d 'How many slots to print' -r
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from next" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from next" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from next" -l json -d 'Print a JSON array of RFC 3339 times instead of one per line'
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from next" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from import" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from import" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from import" -l stdout -d 'Print the YAML on stdout instead of writing schedules/<name>.yaml'
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from import" -l force -d 'Replace a schedule file that exists'
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from export" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from export" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from export" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the schedules: workflow, cron line and zone, next fire time, last slot and run'
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from help" -f -a "pause" -d 'Pause a schedule: it fires nothing until resumed (its slots are passed over)'
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from help" -f -a "resume" -d 'Resume a paused schedule from now on (the slots passed while paused are not caught up)'
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from help" -f -a "trigger" -d 'Start a run of a schedule\'s workflow now, whatever its cron line says'
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from help" -f -a "next" -d 'Print a schedule\'s next slot times in its time zone'
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from help" -f -a "import" -d 'Read a Conductor schedule (JSON) into schedules/<name>.yaml'
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from help" -f -a "export" -d 'Print a schedule as Conductor schedule JSON'
complete -c 3ox -n "__fish_3ox_using_subcommand schedule; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c 3ox -n "__fish_3ox_using_subcommand new" -s o -l output -d 'Where to write the workflow (default: workflows/<name>.yaml in the station)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand new" -l agent -d 'The bridge agent to ask (default: any agent with capability `workflow.generate`)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand new" -l rounds -d 'At most this many rounds: an answer, then repairs of its diagnostics' -r
complete -c 3ox -n "__fish_3ox_using_subcommand new" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand new" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand new" -l force -d 'Replace the output file when it exists'
complete -c 3ox -n "__fish_3ox_using_subcommand new" -l no-agents -d 'Do not start the station\'s managed agents (their `command`); someone else runs them'
complete -c 3ox -n "__fish_3ox_using_subcommand new" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand mcp" -l agent -d 'The agent whose tasks the model serves (agents/NAME/agent.yaml)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand mcp" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand mcp" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand mcp" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand conductor; and not __fish_seen_subcommand_from register worker help" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand conductor; and not __fish_seen_subcommand_from register worker help" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand conductor; and not __fish_seen_subcommand_from register worker help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand conductor; and not __fish_seen_subcommand_from register worker help" -f -a "register" -d 'Put the station\'s workflows and their task definitions on a Conductor server'
complete -c 3ox -n "__fish_3ox_using_subcommand conductor; and not __fish_seen_subcommand_from register worker help" -f -a "worker" -d 'Serve the server\'s task queues with the station\'s agents (until stopped)'
complete -c 3ox -n "__fish_3ox_using_subcommand conductor; and not __fish_seen_subcommand_from register worker help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c 3ox -n "__fish_3ox_using_subcommand conductor; and __fish_seen_subcommand_from register" -l key -d 'Application key id, exchanged with --secret for a token at /api/token' -r
complete -c 3ox -n "__fish_3ox_using_subcommand conductor; and __fish_seen_subcommand_from register" -l secret -d 'Application key secret' -r
complete -c 3ox -n "__fish_3ox_using_subcommand conductor; and __fish_seen_subcommand_from register" -l token -d 'A token sent as `X-Authorization` as is' -r
complete -c 3ox -n "__fish_3ox_using_subcommand conductor; and __fish_seen_subcommand_from register" -l owner-email -d '`ownerEmail` for the workflows and task definitions (servers may require one)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand conductor; and __fish_seen_subcommand_from register" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand conductor; and __fish_seen_subcommand_from register" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand conductor; and __fish_seen_subcommand_from register" -l dry-run -d 'Print the task definitions and workflows that would be sent; send nothing'
complete -c 3ox -n "__fish_3ox_using_subcommand conductor; and __fish_seen_subcommand_from register" -l strict -d 'Refuse (exit 2, nothing sent) when a workflow would mean something else on the cluster'
complete -c 3ox -n "__fish_3ox_using_subcommand conductor; and __fish_seen_subcommand_from register" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand conductor; and __fish_seen_subcommand_from worker" -l key -d 'Application key id, exchanged with --secret for a token at /api/token' -r
complete -c 3ox -n "__fish_3ox_using_subcommand conductor; and __fish_seen_subcommand_from worker" -l secret -d 'Application key secret' -r
complete -c 3ox -n "__fish_3ox_using_subcommand conductor; and __fish_seen_subcommand_from worker" -l token -d 'A token sent as `X-Authorization` as is' -r
complete -c 3ox -n "__fish_3ox_using_subcommand conductor; and __fish_seen_subcommand_from worker" -l agent -d 'Serve only this agent (repeatable; default: every agent with capabilities)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand conductor; and __fish_seen_subcommand_from worker" -l poll-interval -d 'How long the server holds each poll open, and how often outboxes are rescanned' -r
complete -c 3ox -n "__fish_3ox_using_subcommand conductor; and __fish_seen_subcommand_from worker" -l callback-after -d '`callbackAfterSeconds` sent with an IN_PROGRESS heartbeat' -r
complete -c 3ox -n "__fish_3ox_using_subcommand conductor; and __fish_seen_subcommand_from worker" -l worker-id -d 'The `workerid` sent to the server (default: 3ox@<host>)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand conductor; and __fish_seen_subcommand_from worker" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand conductor; and __fish_seen_subcommand_from worker" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand conductor; and __fish_seen_subcommand_from worker" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand conductor; and __fish_seen_subcommand_from help" -f -a "register" -d 'Put the station\'s workflows and their task definitions on a Conductor server'
complete -c 3ox -n "__fish_3ox_using_subcommand conductor; and __fish_seen_subcommand_from help" -f -a "worker" -d 'Serve the server\'s task queues with the station\'s agents (until stopped)'
complete -c 3ox -n "__fish_3ox_using_subcommand conductor; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c 3ox -n "__fish_3ox_using_subcommand completions" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand completions" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand man" -l dir -d 'Write `3ox.1` and a page per subcommand into DIR instead of printing `3ox.1`' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand man" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand man" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand man" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand serve" -l port -d 'The port to listen on (0: any free port; the address printed says which)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand serve" -l bind -d 'The address to listen on. Anything but a loopback address needs `--allow-remote`' -r
complete -c 3ox -n "__fish_3ox_using_subcommand serve" -l allow-host -d 'Another host name the dashboard answers to (the Host header, with the port), besides the bound address (and `localhost` when bound to loopback). Repeatable' -r
complete -c 3ox -n "__fish_3ox_using_subcommand serve" -l key -d 'Sign approvals made on the dashboard with this private key file (as `3ox approve --key`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand serve" -l by -d 'Who decides and operates, recorded as `web:<NAME>` (default: $USER or $USERNAME)' -r
complete -c 3ox -n "__fish_3ox_using_subcommand serve" -l station -d 'The station to work in (default: the nearest folder at or above the current one with `.3ox/` or `agents/`)' -r -F
complete -c 3ox -n "__fish_3ox_using_subcommand serve" -l log-format -d 'How log lines on stderr look: `text` for people, `json` (one object a line) for machines. What is logged is set with `RUST_LOG` (default `warn`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object a line, with the event\'s fields (`run`, `task`, `agent`, `path`)'"
complete -c 3ox -n "__fish_3ox_using_subcommand serve" -l allow-remote -d 'Allow `--bind` to a non-loopback address: anyone who can reach it and has the token can approve and operate runs'
complete -c 3ox -n "__fish_3ox_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "init" -d 'Make a station: agents/, stations/, templates/ and .3ox/'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "validate" -d 'Check workflow files and report every problem with file:line:col and a hint'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "run" -d 'Start a run of a workflow in this station and drive it to the end'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "start" -d 'Submit a run and print its id at once; `3ox up` (or `3ox resume`) drives it'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "up" -d 'Drive every submitted or orphaned run of the station until stopped'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "resume" -d 'Resume runs after a crash (one run, or every run nobody drives) in the foreground; unpauses a paused run first'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "pause" -d 'Pause a run: nothing new is delivered until `3ox resume RUN`'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "terminate" -d 'End a run now: TERMINATED, with a reason'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "retry" -d 'Retry an ended run from its failed or canceled task(s), keeping completed work'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "restart" -d 'Start an ended run again from the top, under the same run id (as Conductor)'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "rerun" -d 'Run an ended run again from a task (it and what follows it)'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "skip" -d 'Skip a pending or failed task: SKIPPED with an empty output; the run goes on'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "status" -d 'Show one run (default: the newest): status, tasks, attempts, agents, output'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "list" -d 'List the station\'s runs, filtered by status or workflow'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "log" -d 'A run\'s journal as a readable timeline of tasks and attempts'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "history" -d 'Finished runs, newest first'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "doctor" -d 'Check the station: verify every journal, rebuild and compare the state snapshot'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "gc" -d 'Archive or delete finished runs and old handled mail'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "approve" -d 'Approve a HUMAN task\'s open request (writes the approval file)'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "reject" -d 'Reject a HUMAN task\'s open request (writes the approval file)'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "approvals" -d 'List the approval requests waiting, and for whom'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "keygen" -d 'Make a signing key for approvals; prints the station.yaml lines that require it'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "agent" -d 'Agent commands'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "complete" -d 'Complete (or fail) a waiting task from outside: a WAIT, or an attempt in flight'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "import" -d 'A Conductor workflow definition (JSON) as readable 3ox YAML'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "export" -d 'A 3ox workflow as Conductor JSON; what Conductor cannot say is reported'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "schema" -d 'Print the JSON Schema of the workflow format (for editors)'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "test" -d 'Run a workflow with mocked task outcomes (no agents, no station) and print its path'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "graph" -d 'Draw a workflow as a diagram: Mermaid, Graphviz DOT or SVG'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "top" -d 'A live terminal dashboard: runs, task trees, events, approvals; approve and steer'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "template" -d 'The station\'s template library: list, show, new, add, verify, update, search'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "schedule" -d 'The station\'s schedules (schedules/*.yaml, fired by `3ox up`): list, pause, resume, trigger, next, import, export'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "new" -d 'Write a workflow from a request: a bridge agent (capability `workflow.generate`) drafts it, 3ox validates and dry-runs it, asks for repairs, and writes it only when valid'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "mcp" -d 'Serve an agent\'s tasks to a model as an MCP server over stdio (list, get, claim, heartbeat, reply)'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "conductor" -d 'Scale out onto a Conductor cluster: register the station\'s workflows, serve its task queues with the station\'s agents'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "man" -d 'Print the manual page (roff): `3ox man | man -l -`'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "serve" -d 'Serve the local web dashboard: runs, diagrams, timelines, approvals, agents'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and not __fish_seen_subcommand_from init validate run start up resume pause terminate retry restart rerun skip status list log history doctor gc approve reject approvals keygen agent complete import export schema test graph top template schedule new mcp conductor completions man serve help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and __fish_seen_subcommand_from agent" -f -a "run" -d 'Serve an agent\'s inbox: run a command once per task message and write its reply'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and __fish_seen_subcommand_from agent" -f -a "list" -d 'List the station\'s agents: capabilities, concurrency, command and waiting messages'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and __fish_seen_subcommand_from template" -f -a "list" -d 'List the station\'s templates: name, description and inputs'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and __fish_seen_subcommand_from template" -f -a "show" -d 'Show one template: its inputs, the agents it needs, its mocks and a Mermaid diagram'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and __fish_seen_subcommand_from template" -f -a "new" -d 'Make a new workflow from a template: templates/NAME.workflow.yaml with the name changed'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and __fish_seen_subcommand_from template" -f -a "add" -d 'Add templates from a folder, a .tar.gz or a git repository at a ref: checked and dry-run with their mocks first, recorded in templates.lock'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and __fish_seen_subcommand_from template" -f -a "verify" -d 'Check that every file recorded in templates.lock still has its sha256'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and __fish_seen_subcommand_from template" -f -a "update" -d 'Fetch a locked template again: at its recorded commit, or at a new `--ref`'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and __fish_seen_subcommand_from template" -f -a "search" -d 'Search a catalogue\'s index.yaml for templates'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and __fish_seen_subcommand_from schedule" -f -a "list" -d 'List the schedules: workflow, cron line and zone, next fire time, last slot and run'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and __fish_seen_subcommand_from schedule" -f -a "pause" -d 'Pause a schedule: it fires nothing until resumed (its slots are passed over)'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and __fish_seen_subcommand_from schedule" -f -a "resume" -d 'Resume a paused schedule from now on (the slots passed while paused are not caught up)'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and __fish_seen_subcommand_from schedule" -f -a "trigger" -d 'Start a run of a schedule\'s workflow now, whatever its cron line says'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and __fish_seen_subcommand_from schedule" -f -a "next" -d 'Print a schedule\'s next slot times in its time zone'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and __fish_seen_subcommand_from schedule" -f -a "import" -d 'Read a Conductor schedule (JSON) into schedules/<name>.yaml'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and __fish_seen_subcommand_from schedule" -f -a "export" -d 'Print a schedule as Conductor schedule JSON'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and __fish_seen_subcommand_from conductor" -f -a "register" -d 'Put the station\'s workflows and their task definitions on a Conductor server'
complete -c 3ox -n "__fish_3ox_using_subcommand help; and __fish_seen_subcommand_from conductor" -f -a "worker" -d 'Serve the server\'s task queues with the station\'s agents (until stopped)'
