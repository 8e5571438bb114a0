//! Agents played by test code: a thread that reads task messages from an inbox and writes
//! replies the way any agent would (dot name, then rename).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::TestEnv;

/// What the fake agent answers to one message.
pub enum Answer {
    Completed(Value),
    Failed(String),
    Terminal(String),
    /// Write this text as the reply file, whatever it is.
    Raw(String),
    /// Several files, in order (e.g. a garbage file, then a good reply).
    Many(Vec<Answer>),
    /// Do not answer (yet): the message is offered again on the next look.
    NotYet,
}

/// A message the fake agent saw, and when.
#[derive(Clone, Debug)]
pub struct Seen {
    pub message: Value,
    pub at: Instant,
}

pub struct FakeAgent {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeAgent {
    /// Registers `name` (serving `capabilities`, with `concurrency`) in the station and starts
    /// answering its messages with `answer`.
    pub fn start(
        env: &TestEnv,
        name: &str,
        capabilities: &[&str],
        concurrency: usize,
        answer: impl Fn(&Value) -> Answer + Send + 'static,
    ) -> FakeAgent {
        register(env, name, capabilities, concurrency);
        let inbox = env.root().join("agents").join(name).join("1N.3OX");
        let outbox = env.root().join("agents").join(name).join("0UT.3OX");
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (stop2, seen2) = (stop.clone(), seen.clone());
        let handle = std::thread::spawn(move || {
            let mut answered = std::collections::HashSet::new();
            let mut counter = 0u64;
            while !stop2.load(Ordering::Relaxed) {
                for path in visible_yaml(&inbox) {
                    if answered.contains(&path) {
                        continue;
                    }
                    let Ok(text) = std::fs::read_to_string(&path) else {
                        continue;
                    };
                    let Ok(message) = serde_yaml::from_str::<Value>(&text) else {
                        continue;
                    };
                    let first_look = !seen2
                        .lock()
                        .unwrap()
                        .iter()
                        .any(|s: &Seen| s.message["task_id"] == message["task_id"]);
                    if first_look {
                        seen2.lock().unwrap().push(Seen {
                            message: message.clone(),
                            at: Instant::now(),
                        });
                    }
                    let reply = answer(&message);
                    if matches!(reply, Answer::NotYet) {
                        continue;
                    }
                    answered.insert(path.clone());
                    write_answer(&outbox, &message, reply, &mut counter);
                }
                std::thread::sleep(Duration::from_millis(3));
            }
        });
        FakeAgent {
            stop,
            handle: Some(handle),
            seen,
        }
    }

    /// The messages seen so far.
    pub fn messages(&self) -> Vec<Value> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.message.clone())
            .collect()
    }
}

impl Drop for FakeAgent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// Writes `agents/<name>/agent.yaml`.
pub fn register(env: &TestEnv, name: &str, capabilities: &[&str], concurrency: usize) {
    let caps: Vec<String> = capabilities.iter().map(|c| format!("\"{c}\"")).collect();
    env.write(
        &format!("agents/{name}/agent.yaml"),
        &format!(
            "version: 1\ncapabilities: [{}]\nconcurrency: {concurrency}\n",
            caps.join(", ")
        ),
    );
}

pub fn visible_yaml(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.is_file()
                        && p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| !n.starts_with('.') && n.ends_with(".yaml"))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn write_answer(outbox: &Path, message: &Value, answer: Answer, counter: &mut u64) {
    let task_id = message["task_id"].as_str().unwrap_or("?").to_string();
    let text = match answer {
        Answer::Completed(output) => reply(message, "COMPLETED", output, ""),
        Answer::Failed(reason) => reply(message, "FAILED", json!({}), &reason),
        Answer::Terminal(reason) => {
            reply(message, "FAILED_WITH_TERMINAL_ERROR", json!({}), &reason)
        }
        Answer::Raw(text) => text,
        Answer::Many(answers) => {
            for answer in answers {
                write_answer(outbox, message, answer, counter);
            }
            return;
        }
        Answer::NotYet => return,
    };
    *counter += 1;
    put(outbox, &format!("{task_id}.{counter}.reply.yaml"), &text);
}

/// A reply to `message`, echoing its task id and token as the reply form asks.
pub fn reply(message: &Value, status: &str, output: Value, reason: &str) -> String {
    let form = json!({"version": 1, "task_id": message["task_id"], "token": message["token"], "status": status, "output": output, "reason": reason});
    serde_yaml::to_string(&form).unwrap()
}

/// Writes a file into a folder the way agents must: dot name, then rename.
pub fn put(dir: &Path, name: &str, text: &str) {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}
