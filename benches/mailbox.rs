//! `cargo bench --bench mailbox`: what a task costs in 3ox, next to what the filesystem
//! mailbox itself costs, measured in one run on one machine.
//!
//! 1. **The floor**: two threads and two folders. The "orchestrator" writes a small YAML
//!    message into the inbox with [`atomic::write`] (dot name, rename; with fsync of the file
//!    and the folder when durable), the "agent" learns of it through notify, reads it, moves
//!    it into `done/` and answers the same way into the outbox, where the orchestrator learns
//!    of the reply through notify, reads it and moves it into `done/`. One round trip after
//!    another; p50, p99 and mean.
//! 2. **3ox per task**: the real `3ox` binary runs the chain and fan-out workloads of
//!    `BENCHMARKS.md` as a whole process (`3ox run --json --quiet --no-agents`), against an
//!    agent `instant` played by a thread of this process that answers every task message at
//!    once. Wall time including start-up, median of [`RUNS`] runs, each checked to have
//!    completed with every task answered.
//!
//! The result is a Markdown table on stdout and in `target/bench-mailbox.md`; see
//! `docs/benchmarks.md` for what each number means.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};
use threeox::mailbox::atomic::{self, Durability};
use threeox::mailbox::message::TaskMessage;
use threeox::mailbox::{self, DONE, INBOX, OUTBOX};

/// Raw round trips without fsync, and with.
const ROUND_TRIPS_RELAXED: usize = 10_000;
const ROUND_TRIPS_DURABLE: usize = 2_000;
/// Round trips run before measuring (page cache, watcher threads, allocator).
const WARM_UP: usize = 50;
/// Measured `3ox run`s per workload and durability; the median counts.
const RUNS: usize = 5;
/// Longest a single round trip or `3ox run` may take before the bench gives up.
const ROUND_TRIP_LIMIT: Duration = Duration::from_secs(10);
const RUN_LIMIT: Duration = Duration::from_secs(120);
/// Target from BENCHMARKS.md: a task costs at most this many raw round trips.
const TARGET_RATIO: f64 = 3.0;

fn main() {
    let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("make a scratch folder under target/");
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let load_before = load_average();

    eprintln!(
        "floor: {ROUND_TRIPS_DURABLE} durable and {ROUND_TRIPS_RELAXED} relaxed raw round trips..."
    );
    let floor_durable = Stats::of(round_trips(
        scratch.path(),
        ROUND_TRIPS_DURABLE,
        Durability::Durable,
    ));
    let floor_relaxed = Stats::of(round_trips(
        scratch.path(),
        ROUND_TRIPS_RELAXED,
        Durability::Relaxed,
    ));

    let bin = Path::new(env!("CARGO_BIN_EXE_3ox"));
    let workloads = [
        Workload::single(),
        Workload::chain(100),
        Workload::fan_out(200),
    ];
    // One untimed run first, so the first measured run does not pay for a cold binary.
    run_3ox(bin, scratch.path(), &workloads[0], Durability::Durable);
    let mut results = Vec::new();
    for workload in &workloads {
        for durability in [Durability::Durable, Durability::Relaxed] {
            eprintln!(
                "3ox: {} ({}), {RUNS} runs...",
                workload.name,
                mode(durability)
            );
            let mut runs: Vec<Timing> = (0..RUNS)
                .map(|_| run_3ox(bin, scratch.path(), workload, durability))
                .collect();
            runs.sort_by_key(|t| t.wall);
            eprintln!(
                "  runs: {}",
                runs.iter()
                    .map(|t| format!("{:.3} s", t.wall.as_secs_f64()))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let part = |f: fn(&Timing) -> Duration| median(runs.iter().map(f).collect());
            results.push(RunResult {
                workload: workload.name,
                durability,
                tasks: workload.simple_tasks,
                median: Timing {
                    wall: part(|t| t.wall),
                    startup: part(|t| t.startup),
                    agent_busy: part(|t| t.agent_busy),
                    wind_down: part(|t| t.wind_down),
                },
            });
        }
    }

    let table = render(
        cores,
        &load_before,
        &floor_durable,
        &floor_relaxed,
        &results,
    );
    println!("{table}");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap_or(Path::new("target"))
        .join("bench-mailbox.md");
    match std::fs::write(&out, &table) {
        Ok(()) => eprintln!("written to {}", out.display()),
        Err(error) => eprintln!("cannot write {}: {error}", out.display()),
    }
}

fn mode(durability: Durability) -> &'static str {
    match durability {
        Durability::Durable => "durable",
        Durability::Relaxed => "relaxed",
    }
}

// ---------------------------------------------------------------------------------------------
// The floor.

/// Runs `n` raw round trips (after [`WARM_UP`] unmeasured ones) and returns their durations.
fn round_trips(scratch: &Path, n: usize, durability: Durability) -> Vec<Duration> {
    let dir = tempfile::tempdir_in(scratch).expect("make the floor's folders");
    let inbox = dir.path().join(INBOX);
    let outbox = dir.path().join(OUTBOX);
    std::fs::create_dir_all(&inbox).expect("make the inbox");
    std::fs::create_dir_all(&outbox).expect("make the outbox");

    let stop = Arc::new(AtomicBool::new(false));
    let agent = {
        let (inbox, outbox, stop) = (inbox.clone(), outbox.clone(), stop.clone());
        let (watcher, events) = watch(&inbox);
        std::thread::spawn(move || {
            let _watcher = watcher;
            while wait_for_event(&events, &stop) {
                for path in mailbox::list_mail(&inbox).expect("list the inbox") {
                    let text = std::fs::read(&path).expect("read a message");
                    mailbox::move_into(&path, DONE).expect("move a handled message into done/");
                    let name = path
                        .file_name()
                        .and_then(|n| n.to_str())
                        .expect("a mail name")
                        .replace("message", "reply");
                    atomic::write(&outbox.join(name), &text, durability).expect("write a reply");
                }
            }
        })
    };

    let (_watcher, replies) = watch(&outbox);
    let mut times = Vec::with_capacity(n);
    for i in 0..WARM_UP + n {
        let body = format!("version: 1\ntask_id: {i:08}\nstatus: COMPLETED\noutput: {{}}\n");
        let start = Instant::now();
        atomic::write(
            &inbox.join(format!("{i:08}.message.yaml")),
            body.as_bytes(),
            durability,
        )
        .expect("write a message");
        let expected = outbox.join(format!("{i:08}.reply.yaml"));
        let mut answered = false;
        while !answered {
            wait_within(&replies, ROUND_TRIP_LIMIT).unwrap_or_else(|| {
                panic!("no reply to round trip {i} within {ROUND_TRIP_LIMIT:?}")
            });
            for path in mailbox::list_mail(&outbox).expect("list the outbox") {
                let text = std::fs::read(&path).expect("read a reply");
                mailbox::move_into(&path, DONE).expect("move a handled reply into done/");
                assert_eq!(path, expected, "a reply to the wrong message");
                assert_eq!(text, body.as_bytes(), "a reply with the wrong body");
                answered = true;
            }
        }
        if i >= WARM_UP {
            times.push(start.elapsed());
        }
    }
    stop.store(true, Ordering::Relaxed);
    agent.join().expect("the floor's agent thread panicked");
    times
}

/// A notify watcher on `dir` and the channel its events arrive on.
fn watch(dir: &Path) -> (RecommendedWatcher, Receiver<notify::Result<notify::Event>>) {
    let (tx, rx) = channel();
    // Arrivals only, as 3ox itself filters them: listing a folder opens it, and reacting to
    // that event would make every scan wake the next one.
    let forward = move |event: notify::Result<notify::Event>| {
        if event
            .as_ref()
            .map_or(true, threeox::orchestrator::watch::is_arrival)
        {
            let _ = tx.send(event);
        }
    };
    let mut watcher = notify::recommended_watcher(forward).expect("start a notify watcher");
    watcher
        .watch(dir, RecursiveMode::NonRecursive)
        .expect("watch a mailbox folder");
    (watcher, rx)
}

/// Blocks until at least one event arrived and takes every event already queued (they are
/// only hints to rescan, so several count as one). False once `stop` is set.
fn wait_for_event(events: &Receiver<notify::Result<notify::Event>>, stop: &AtomicBool) -> bool {
    while !stop.load(Ordering::Relaxed) {
        if wait_within(events, Duration::from_millis(50)).is_some() {
            return true;
        }
    }
    false
}

/// Waits at most `limit` for an event and drains the queue; `None` on timeout.
fn wait_within(events: &Receiver<notify::Result<notify::Event>>, limit: Duration) -> Option<()> {
    match events.recv_timeout(limit) {
        Ok(_) => {
            while events.try_recv().is_ok() {}
            Some(())
        }
        Err(RecvTimeoutError::Timeout) => None,
        Err(RecvTimeoutError::Disconnected) => panic!("the notify watcher stopped"),
    }
}

/// p50, p99 and mean of a set of durations.
struct Stats {
    p50: Duration,
    p99: Duration,
    mean: Duration,
}

impl Stats {
    fn of(mut times: Vec<Duration>) -> Stats {
        times.sort();
        let at =
            |q: f64| times[((q * times.len() as f64).ceil() as usize).clamp(1, times.len()) - 1];
        let mean = times.iter().sum::<Duration>()
            / u32::try_from(times.len()).expect("fewer than 2^32 round trips");
        Stats {
            p50: at(0.50),
            p99: at(0.99),
            mean,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3ox per task.

/// A workflow to run, and how many SIMPLE tasks (agent round trips) it makes.
struct Workload {
    name: &'static str,
    yaml: String,
    args: Vec<String>,
    simple_tasks: usize,
}

impl Workload {
    /// One task: what a run costs besides its tasks (process start-up, journal, snapshot).
    fn single() -> Workload {
        let yaml = "name: single\ntasks:\n  - {name: noop, taskReferenceName: t0}\n".to_string();
        Workload {
            name: "single",
            yaml,
            args: Vec::new(),
            simple_tasks: 1,
        }
    }

    /// `n` no-op tasks, each taking the previous one's output as input.
    fn chain(n: usize) -> Workload {
        let mut yaml = String::from(
            "name: chain\ntasks:\n  - {name: noop, taskReferenceName: t0, inputParameters: {first: true}}\n",
        );
        for i in 1..n {
            yaml.push_str(&format!("  - {{name: noop, taskReferenceName: t{i}, inputParameters: {{previous: \"${{t{}.output}}\"}}}}\n", i - 1));
        }
        Workload {
            name: "chain",
            yaml,
            args: Vec::new(),
            simple_tasks: n,
        }
    }

    /// One start task, a dynamic fork over `n` items, one join.
    fn fan_out(n: usize) -> Workload {
        let yaml = "name: fan-out
inputParameters: [items]
tasks:
  - {name: noop, taskReferenceName: start}
  - name: fan
    taskReferenceName: fan
    type: FORK_JOIN_DYNAMIC
    inputParameters: {forkTaskName: noop, forkTaskInputs: \"${workflow.input.items}\"}
  - {name: join, taskReferenceName: gather, type: JOIN}
"
        .to_string();
        let items: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        Workload {
            name: "fan-out",
            yaml,
            args: vec!["--input".into(), format!("items=[{}]", items.join(", "))],
            simple_tasks: n + 1,
        }
    }
}

/// One workload in one durability mode: the median of each part over the runs.
struct RunResult {
    workload: &'static str,
    durability: Durability,
    median: Timing,
    tasks: usize,
}

/// Makes a fresh station, starts the `instant` agent and runs `workload` with the real binary;
/// returns the wall time of the `3ox run` process. Panics unless the run completed with every
/// task answered by the agent.
fn run_3ox(bin: &Path, scratch: &Path, workload: &Workload, durability: Durability) -> Timing {
    // Stations stay until the whole scratch folder goes at the end: deleting hundreds of files
    // between runs would make the next run's file creations slower (ext4 skips recently freed
    // inodes one by one).
    let root = &tempfile::tempdir_in(scratch)
        .expect("make a station folder")
        .keep();
    let init = Command::new(bin)
        .arg("init")
        .arg(root)
        .env_remove("THREEOX_STATION")
        .output()
        .expect("run 3ox init");
    assert!(
        init.status.success(),
        "3ox init failed: {}",
        String::from_utf8_lossy(&init.stderr)
    );
    std::fs::create_dir_all(root.join("agents/instant")).expect("make the agent folder");
    std::fs::write(
        root.join("agents/instant/agent.yaml"),
        "version: 1\ncapabilities: [noop]\nconcurrency: 1000\n",
    )
    .expect("write agent.yaml");
    let flow = root.join("flow.yaml");
    std::fs::write(&flow, &workload.yaml).expect("write the workflow");

    let agent = InstantAgent::start(root.join("agents/instant"), durability);
    let marks = agent.marks.clone();
    let stdout_path = root.join("run.stdout");
    let stderr_path = root.join("run.stderr");
    let mut cmd = Command::new(bin);
    cmd.arg("--station")
        .arg(root)
        .arg("run")
        .arg(&flow)
        .args(["--json", "--quiet", "--no-agents"]);
    if durability == Durability::Relaxed {
        cmd.arg("--relaxed");
    }
    cmd.args(&workload.args)
        .current_dir(root)
        .env_remove("THREEOX_STATION")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).expect("make the stdout file"))
        .stderr(std::fs::File::create(&stderr_path).expect("make the stderr file"));

    let start = Instant::now();
    let mut child = cmd.spawn().expect("start 3ox run");
    // Polled, so the wall time may be up to 1 ms late; a blocking wait could not time out.
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for 3ox run") {
            break status;
        }
        if start.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "3ox run of {} did not finish within {RUN_LIMIT:?}:\n{}",
                workload.name,
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let end = Instant::now();
    agent.stop();
    let marks = std::mem::take(&mut *marks.lock().expect("the agent's marks"));
    let answered = marks.len();

    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let result: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "3ox run of {} printed no JSON ({e}):\n{stdout}\n{stderr}",
            workload.name
        )
    });
    assert!(
        status.success() && result["status"] == "COMPLETED",
        "3ox run of {} did not complete ({status}):\n{stdout}\n{stderr}",
        workload.name
    );
    assert_eq!(
        answered, workload.simple_tasks,
        "the agent answered {answered} tasks of {}, expected {}",
        workload.name, workload.simple_tasks
    );
    Timing::of(start, end, &marks)
}

/// One run's wall time, and how it splits between 3ox and the agent.
#[derive(Clone, Copy)]
struct Timing {
    wall: Duration,
    /// From spawning `3ox run` to the agent waking up for the first task message.
    startup: Duration,
    /// The time the agent spent answering: for each reply, from the later of the agent's
    /// wake-up for it and the previous reply to the reply being in place.
    agent_busy: Duration,
    /// From the last reply being in place to the process having exited.
    wind_down: Duration,
}

impl Timing {
    fn of(start: Instant, end: Instant, marks: &[(Instant, Instant)]) -> Timing {
        let mut agent_busy = Duration::ZERO;
        let mut previous_reply = start;
        for &(woke, replied) in marks {
            agent_busy += replied - woke.max(previous_reply);
            previous_reply = replied;
        }
        Timing {
            wall: end - start,
            startup: marks.first().map_or(Duration::ZERO, |m| m.0 - start),
            agent_busy,
            wind_down: marks.last().map_or(Duration::ZERO, |m| end - m.1),
        }
    }

    /// The rest of the wall time: 3ox between a reply and the agent's next wake-up (notify
    /// latency on both sides, scan, journal, delivery), or waiting for the CPU.
    fn engine(&self) -> Duration {
        self.wall
            .saturating_sub(self.startup + self.agent_busy + self.wind_down)
    }
}

/// The median, or zero for none.
fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// The agent `instant`, played by a thread: it watches the inbox and answers every task
/// message at once with a COMPLETED reply, written atomically into the outbox.
struct InstantAgent {
    stop: Arc<AtomicBool>,
    /// For each answered message: when the agent woke up for it and when its reply was in
    /// place.
    marks: Arc<Mutex<Vec<(Instant, Instant)>>>,
    handle: JoinHandle<()>,
}

impl InstantAgent {
    fn start(agent_dir: PathBuf, durability: Durability) -> InstantAgent {
        let inbox = agent_dir.join(INBOX);
        let outbox = agent_dir.join(OUTBOX);
        std::fs::create_dir_all(&inbox).expect("make the inbox");
        std::fs::create_dir_all(&outbox).expect("make the outbox");
        let (watcher, events) = watch(&inbox);
        let stop = Arc::new(AtomicBool::new(false));
        let marks = Arc::new(Mutex::new(Vec::new()));
        let handle = {
            let (stop, marks) = (stop.clone(), marks.clone());
            std::thread::spawn(move || {
                let _watcher = watcher;
                let mut seen = HashSet::new();
                while wait_for_event(&events, &stop) {
                    let woke = Instant::now();
                    for path in mailbox::list_mail(&inbox).expect("list the inbox") {
                        if seen.contains(&path) {
                            continue;
                        }
                        let message = TaskMessage::read(&path)
                            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                        // Fill in the form the message carries, as the protocol asks.
                        let mut reply = message.reply.form.clone();
                        reply["status"] = "COMPLETED".into();
                        reply["output"] = serde_json::json!({});
                        let reply = serde_yaml::to_string(&reply).expect("a reply serialises");
                        atomic::write(
                            &outbox.join(&message.reply.file),
                            reply.as_bytes(),
                            durability,
                        )
                        .expect("write a reply");
                        let replied = Instant::now();
                        seen.insert(path);
                        marks
                            .lock()
                            .expect("the agent's marks")
                            .push((woke, replied));
                    }
                }
            })
        };
        InstantAgent {
            stop,
            marks,
            handle,
        }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("the instant agent panicked");
    }
}

// ---------------------------------------------------------------------------------------------
// The report.

/// The 1-minute load average: how much the machine was shared while the bench ran.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".to_string())
}

fn render(
    cores: usize,
    load_before: &str,
    durable: &Stats,
    relaxed: &Stats,
    results: &[RunResult],
) -> String {
    let us = |d: Duration| format!("{:.0} us", d.as_secs_f64() * 1e6);
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
    let seconds = |d: Duration| format!("{:.3} s", d.as_secs_f64());
    let find = |workload: &str, durability| {
        results
            .iter()
            .find(|r| r.workload == workload && r.durability == durability)
            .expect("every workload ran")
    };
    let per_task = |r: &RunResult| r.median.wall / u32::try_from(r.tasks).expect("few tasks");
    let ratio = |r: &RunResult| {
        let floor = match r.durability {
            Durability::Durable => durable.p50,
            Durability::Relaxed => relaxed.p50,
        };
        format!("{:.1}x", per_task(r).as_secs_f64() / floor.as_secs_f64())
    };
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .and_then(|v| v.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".to_string());

    let mut out = format!(
        "3ox mailbox benchmark, {}, {cores} cores ({cpu}), {}, scratch folders under target/, \
         load average {load_before} before and {} after\n\n",
        chrono::Local::now().format("%Y-%m-%d %H:%M"),
        std::env::consts::OS,
        load_average(),
    );
    let mut row = |cells: [&str; 4]| out.push_str(&format!("| {} |\n", cells.join(" | ")));
    row([
        "measurement",
        "durable (fsync)",
        "relaxed (no fsync)",
        "target",
    ]);
    row(["---", "---", "---", "---"]);
    let trips = format!("raw round trip p50 ({ROUND_TRIPS_DURABLE} / {ROUND_TRIPS_RELAXED})");
    row([&trips, &us(durable.p50), &us(relaxed.p50), ""]);
    row(["raw round trip p99", &us(durable.p99), &us(relaxed.p99), ""]);
    row([
        "raw round trip mean",
        &us(durable.mean),
        &us(relaxed.mean),
        "",
    ]);
    let ratio_target = format!("<= {TARGET_RATIO:.0}x");
    for (workload, label, target) in [
        ("single", "1 task", ""),
        (
            "chain",
            "chain, 100 tasks",
            "<= 0.25 s; relaxed < 0.137 s (doit)",
        ),
        ("fan-out", "fan-out, 1 + 200 tasks", "<= 0.3 s"),
    ] {
        let (d, r) = (
            find(workload, Durability::Durable),
            find(workload, Durability::Relaxed),
        );
        let wall = format!("{label}: wall, median of {RUNS}");
        row([
            &wall,
            &seconds(d.median.wall),
            &seconds(r.median.wall),
            target,
        ]);
        if workload != "single" {
            let each = format!("{label}: per task");
            row([&each, &us(per_task(d)), &us(per_task(r)), ""]);
            let versus = format!("{label}: per task / raw p50");
            row([&versus, &ratio(d), &ratio(r), &ratio_target]);
        }
    }

    out.push_str(
        "\nWhere the time goes (each part: median over the runs, so the parts need not add up \
         exactly to the median wall time; per task in brackets):\n\n",
    );
    let parts: Vec<(&RunResult, Timing)> = ["chain", "fan-out"]
        .iter()
        .flat_map(|w| [find(w, Durability::Durable), find(w, Durability::Relaxed)])
        .map(|r| (r, r.median))
        .collect();
    let mut row = |label: &str, cell: &dyn Fn(&RunResult, &Timing) -> String| {
        let cells: Vec<String> = parts.iter().map(|(r, t)| cell(r, t)).collect();
        out.push_str(&format!("| {label} | {} |\n", cells.join(" | ")));
    };
    let each = |d: Duration, r: &RunResult| {
        format!(
            "{} ({})",
            ms(d),
            us(d / u32::try_from(r.tasks).expect("few tasks"))
        )
    };
    row("part", &|r, _| {
        format!("{} {}", r.workload, mode(r.durability))
    });
    row("---", &|_, _| "---".to_string());
    row("wall", &|_, t| ms(t.wall));
    row(
        "start-up: spawn to the agent woken for the first task",
        &|_, t| ms(t.startup),
    );
    row("agent busy answering (a thread of the bench)", &|r, t| {
        each(t.agent_busy, r)
    });
    row(
        "3ox between a reply and the agent's next wake-up",
        &|r, t| each(t.engine(), r),
    );
    row("wind-down: last reply in place to process exit", &|_, t| {
        ms(t.wind_down)
    });
    out
}
