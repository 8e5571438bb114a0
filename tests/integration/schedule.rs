//! Schedules fired by `3ox up` (issue 14 item 3) and `3ox schedule` (docs/schedules.md): a
//! schedule every second starts runs, two orchestrators fire each slot once, kill -9 and a
//! restart neither fires a slot again nor catches up beyond the window, a bad schedule is
//! refused with a warning while the others fire, pause stops firing.

use std::collections::BTreeSet;
use std::io::BufRead as _;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::{ChildGuard, TestEnv, output_within, stderr, stdout, wait_for};

const TICK: &str = "name: tick\ntasks:\n  - {name: n, taskReferenceName: n, type: NOOP}\n";

/// A `3ox up --no-agents` whose stderr lines are collected while it runs.
struct Up {
    child: ChildGuard,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Up {
    fn start(env: &TestEnv) -> Up {
        let mut child = env
            .cmd(&["up", "--no-agents"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn 3ox up");
        let pipe = child.stderr.take().expect("stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Up {
            child: ChildGuard(child),
            lines,
        }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// The (slot, run id) of every `started run` line of schedule `name`.
    fn started(&self, name: &str) -> Vec<(String, String)> {
        started_in(&self.lines(), name)
    }

    /// Waits until a line holds `needle`; returns its index.
    fn wait_line(&self, needle: &str, limit: Duration) -> usize {
        wait_for(limit, || {
            self.lines().iter().position(|l| l.contains(needle))
        })
        .unwrap_or_else(|| {
            panic!(
                "no line with {needle:?} within {limit:?}:\n{}",
                self.lines().join("\n")
            )
        })
    }

    fn wait_started(&self, name: &str, count: usize, limit: Duration) {
        if wait_for(limit, || (self.started(name).len() >= count).then_some(())).is_none() {
            panic!(
                "schedule {name} did not start {count} runs within {limit:?}:\n{}",
                self.lines().join("\n")
            );
        }
    }
}

fn started_in(lines: &[String], name: &str) -> Vec<(String, String)> {
    let prefix = format!("3ox up: schedule `{name}` started run ");
    lines
        .iter()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter_map(|rest| {
            let (run, slot) = rest.split_once(" for slot ")?;
            Some((slot.to_string(), run.to_string()))
        })
        .collect()
}

/// The slot times (ulid milliseconds) of every journal in the station.
fn journal_slots(env: &TestEnv) -> Vec<u64> {
    let mut slots: Vec<u64> = std::fs::read_dir(env.root().join(".3ox/runs"))
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let id: ulid::Ulid = name.strip_suffix(".journal.yaml")?.parse().ok()?;
            Some(id.timestamp_ms())
        })
        .collect();
    slots.sort_unstable();
    slots
}

fn millis(slot: &str) -> u64 {
    let at = chrono::DateTime::parse_from_rfc3339(slot).unwrap();
    u64::try_from(at.timestamp_millis()).unwrap()
}

fn every_second(env: &TestEnv, name: &str, extra: &str) {
    env.write(
        &format!("schedules/{name}.yaml"),
        &format!("version: 1\nworkflow: tick\ncron: '* * * * * *'\noverlap: allow_all\n{extra}"),
    );
}

#[test]
fn up_fires_a_schedule_every_second_and_refuses_bad_ones_with_a_warning() {
    let env = TestEnv::new();
    env.write("templates/tick.yaml", TICK);
    every_second(&env, "every", "");
    env.write(
        "schedules/bad-cron.yaml",
        "version: 1\nworkflow: tick\ncron: '61 * * * *'\n",
    );
    env.write(
        "schedules/no-flow.yaml",
        "version: 1\nworkflow: tock\ncron: '* * * * * *'\n",
    );
    let up = Up::start(&env);
    up.wait_line(
        "schedules/bad-cron.yaml: cron line `61 * * * *`",
        Duration::from_secs(30),
    );
    up.wait_line(
        "schedules/no-flow.yaml: workflow `tock`",
        Duration::from_secs(30),
    );
    up.wait_started("every", 3, Duration::from_secs(60));
    // The runs it started are driven to the end by the same `up`.
    let (_, run) = up.started("every")[0].clone();
    up.wait_line(&format!("run {run} COMPLETED"), Duration::from_secs(30));
    drop(up);
    let out = env.run(&["validate", "schedules/"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("ok  schedules/every.yaml"), "{text}");
    assert!(
        text.contains("schedules/bad-cron.yaml") && text.contains("does not parse"),
        "{text}"
    );
    assert!(text.contains("did you mean tick?"), "{text}");
    let list: serde_json::Value =
        serde_json::from_slice(&env.run(&["schedule", "list", "--json"]).stdout).unwrap();
    let states: Vec<(&str, &str)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        vec![
            ("bad-cron", "invalid"),
            ("every", "active"),
            ("no-flow", "invalid")
        ]
    );
    assert!(list[1]["last_run"].is_string() && list[1]["next"].is_string());
}

#[test]
fn two_ups_at_once_fire_each_slot_once() {
    let env = TestEnv::new();
    env.write("templates/tick.yaml", TICK);
    every_second(&env, "both", "");
    let (a, b) = (Up::start(&env), Up::start(&env));
    let enough = wait_for(Duration::from_secs(60), || {
        (a.started("both").len() + b.started("both").len() >= 6).then_some(())
    });
    let (lines_a, lines_b) = (a.lines(), b.lines());
    drop((a, b));
    assert!(
        enough.is_some(),
        "fewer than 6 runs:\n{}\n--\n{}",
        lines_a.join("\n"),
        lines_b.join("\n")
    );
    let mut started = started_in(&lines_a, "both");
    started.extend(started_in(&lines_b, "both"));
    let slots: BTreeSet<&String> = started.iter().map(|(slot, _)| slot).collect();
    assert_eq!(
        slots.len(),
        started.len(),
        "a slot started twice: {started:?}"
    );
    // Every slot between the first and the last started, by one of the two.
    let times: Vec<u64> = slots.iter().map(|s| millis(s)).collect();
    let span = (times[times.len() - 1] - times[0]) / 1000 + 1;
    assert_eq!(span, times.len() as u64, "a slot was missed: {slots:?}");
    // One journal per slot: none was submitted twice under another id.
    let journals = journal_slots(&env);
    let distinct: BTreeSet<u64> = journals.iter().copied().collect();
    assert_eq!(distinct.len(), journals.len(), "{journals:?}");
}

#[test]
fn kill_9_and_restart_do_not_refire_a_slot_and_catch_up_per_the_window() {
    let env = TestEnv::new();
    env.write("templates/tick.yaml", TICK);
    // On time within 1 s; of the missed slots, those within 3 s are caught up, at most 1.
    every_second(
        &env,
        "crash",
        "late_grace: 1s\ncatch_up: {window: 3s, max: 1}\n",
    );
    let first = Up::start(&env);
    first.wait_started("crash", 2, Duration::from_secs(60));
    let pid = nix::unistd::Pid::from_raw(i32::try_from(first.child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    let before = first.lines();
    drop(first);
    let fired_before = journal_slots(&env);
    let last_before = *fired_before.last().unwrap();
    // A downtime of several slots, longer than the catch-up window.
    std::thread::sleep(Duration::from_secs(6));
    let second = Up::start(&env);
    second.wait_line(
        "schedule `crash` caught up 1 missed slot(s)",
        Duration::from_secs(60),
    );
    second.wait_line("schedule `crash` dropped", Duration::from_secs(10));
    second.wait_started("crash", 3, Duration::from_secs(60));
    let after = second.lines();
    drop(second);
    let restarted = started_in(&after, "crash");
    for (slot, run) in &restarted {
        assert!(
            millis(slot) > last_before,
            "slot {slot} (run {run}) was fired before the crash:\n{}",
            before.join("\n")
        );
    }
    // The missed slots older than the window were dropped: a gap of more than one slot
    // between the last slot before the crash and the one caught up.
    let first_after = restarted.iter().map(|(s, _)| millis(s)).min().unwrap();
    assert!(
        first_after - last_before >= 3000,
        "slots {last_before} then {first_after}: the downtime was caught up beyond the window"
    );
    let journals = journal_slots(&env);
    let distinct: BTreeSet<u64> = journals.iter().copied().collect();
    assert_eq!(distinct.len(), journals.len(), "{journals:?}");
}

#[test]
fn pause_stops_firing_and_resume_starts_again() {
    let env = TestEnv::new();
    env.write("templates/tick.yaml", TICK);
    every_second(&env, "paused", "# comments stay\n");
    every_second(&env, "other", "");
    let up = Up::start(&env);
    up.wait_started("paused", 1, Duration::from_secs(60));
    let out = env.run(&["schedule", "pause", "paused"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = env.read("schedules/paused.yaml");
    assert!(
        text.contains("# comments stay") && text.contains("paused: true"),
        "{text}"
    );
    let mark = up.wait_line("schedule `paused` is paused", Duration::from_secs(30));
    // The other schedule goes on firing: three of its slots pass while `paused` is paused.
    let other_at_mark = started_in(&up.lines()[..mark], "other").len();
    up.wait_started("other", other_at_mark + 3, Duration::from_secs(60));
    let later = up.lines();
    assert!(
        started_in(&later[mark..], "paused").is_empty(),
        "a paused schedule fired:\n{}",
        later.join("\n")
    );
    let list: serde_json::Value =
        serde_json::from_slice(&env.run(&["schedule", "list", "--json"]).stdout).unwrap();
    assert_eq!(list[1]["name"], "paused");
    assert_eq!(list[1]["state"], "paused");
    let before_resume = up.started("paused").len();
    let out = env.run(&["schedule", "resume", "paused"]);
    assert!(out.status.success(), "{}", stderr(&out));
    up.wait_started("paused", before_resume + 1, Duration::from_secs(60));
}

#[test]
fn trigger_next_and_conductor_import_export() {
    let env = TestEnv::new();
    env.write("templates/tick.yaml", TICK);
    // 31 March 2030: Berlin springs forward; 02:30 does not exist that night.
    env.write(
        "schedules/night.yaml",
        "version: 1\nworkflow: tick\ncron: '30 2 * * *'\ntime_zone: Europe/Berlin\nstart: 2030-03-30T00:00:00Z\n",
    );
    let out = env.run(&["schedule", "next", "night", "-n", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "2030-03-30T02:30:00+01:00\n2030-03-31T03:00:00+02:00\n2030-04-01T02:30:00+02:00\n"
    );
    let out = env.run(&["schedule", "trigger", "night", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let run_id = run["run_id"].as_str().unwrap().to_string();
    let out = output_within(
        env.cmd(&["up", "--until-idle", "--no-agents"]),
        Duration::from_secs(60),
    );
    assert!(
        stderr(&out).contains(&format!("run {run_id} COMPLETED")),
        "{}",
        stderr(&out)
    );
    let out = env.run(&["schedule", "trigger", "nigth"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("did you mean night?"),
        "{}",
        stderr(&out)
    );

    let corpus = crate::support::conductor_corpus().join("daily-report-schedule.json");
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&corpus).unwrap()).unwrap();
    env.write(
        "templates/daily.yaml",
        "name: daily_report_workflow\ntasks:\n  - {name: n, taskReferenceName: n, type: NOOP}\n",
    );
    let out = env.run(&["schedule", "import", corpus.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = env.run(&["validate", "schedules/daily-report-schedule.yaml"]);
    assert!(out.status.success(), "{}", stdout(&out));
    let out = env.run(&["schedule", "export", "daily-report-schedule"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let exported: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(exported, original);
}
