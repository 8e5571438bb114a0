//! `3ox new "<request>"`: a bridge agent (capability `workflow.generate`) answers through the
//! mailbox; 3ox validates and dry-runs the answer, sends the diagnostics back for repair, and
//! writes the file only when valid. The bridge is played by the test (a [`FakeAgent`]), and
//! once by the built-in LLM agent against a fake OpenAI-compatible server.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::fake_agent::{Answer, FakeAgent, register};
use crate::llm::{FakeLlm, completion};
use crate::support::{TestEnv, journal_records, output_within, stderr, stdout};

/// A valid workflow for a station whose agent `greeter` serves `say_hello`.
const GOOD: &str = "name: greet\nversion: 1\ntasks:\n  - name: say_hello\n    taskReferenceName: hello\n    type: SIMPLE\n    inputParameters:\n      who: ${workflow.input.who}\n";

/// The same with a task type that does not exist (line 5).
const BAD_TYPE: &str = "name: greet\nversion: 1\ntasks:\n  - name: say_hello\n    taskReferenceName: hello\n    type: SIMPEL\n";

/// Valid to the validator, but its SWITCH case `loud` fails when dry-run.
const BAD_PATH: &str = "name: greet\nversion: 1\ntasks:\n  - name: pick\n    taskReferenceName: pick\n    type: SWITCH\n    evaluatorType: value-param\n    expression: mode\n    inputParameters: {mode: quiet}\n    decisionCases:\n      quiet: [{name: say_hello, taskReferenceName: hello, type: SIMPLE}]\n      loud:\n        - name: shout\n          taskReferenceName: shout\n          type: INLINE\n          inputParameters: {evaluatorType: javascript, expression: \"throw new Error('too loud')\"}\n";

fn station() -> TestEnv {
    let env = TestEnv::new();
    register(&env, "greeter", &["say_hello"], 1);
    env.write(
        "templates/tiny.workflow.yaml",
        "name: tiny\nversion: 1\ntasks:\n  - {name: say_hello, taskReferenceName: hi, type: SIMPLE}\n",
    );
    env
}

/// A bridge agent `writer` that answers the n-th request with `answers[n]` (the last repeats).
fn bridge(env: &TestEnv, answers: &'static [&'static str]) -> FakeAgent {
    let count = Arc::new(Mutex::new(0usize));
    FakeAgent::start(env, "writer", &["workflow.generate"], 1, move |_| {
        let mut n = count.lock().unwrap();
        let text = answers[(*n).min(answers.len() - 1)];
        *n += 1;
        Answer::Completed(json!({"workflow": text}))
    })
}

fn new(env: &TestEnv, args: &[&str]) -> std::process::Output {
    let mut all = vec!["new", "say hello to someone"];
    all.extend_from_slice(args);
    output_within(env.cmd(&all), Duration::from_secs(60))
}

#[test]
fn a_valid_answer_is_written_at_once_and_drawn() {
    let env = station();
    let writer = bridge(&env, &[GOOD]);
    let out = new(&env, &["-o", "flows/greet.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(env.read("flows/greet.yaml"), GOOD);
    assert!(stdout(&out).contains("flowchart TD"), "{}", stdout(&out));
    assert!(stdout(&out).contains("hello"), "{}", stdout(&out));
    let messages = writer.messages();
    assert_eq!(messages.len(), 1);
    let input = &messages[0]["input"];
    assert_eq!(input["request"], "say hello to someone");
    assert_eq!(input["round"], 1);
    assert_eq!(input["schema"]["title"], "3ox workflow");
    let agents = input["agents"].as_array().unwrap();
    assert!(
        agents
            .iter()
            .any(|a| a["name"] == "greeter" && a["capabilities"] == json!(["say_hello"])),
        "{agents:?}"
    );
    assert_eq!(input["examples"][0]["name"], "tiny");
    assert!(
        input["examples"][0]["yaml"]
            .as_str()
            .unwrap()
            .contains("say_hello")
    );
    assert!(
        input["prompt"]
            .as_str()
            .unwrap()
            .contains("say hello to someone")
    );
    assert_eq!(input["diagnostics"], json!([]));
    // The round is a real run, in the journal.
    let records = journal_records(&env);
    assert!(
        records
            .iter()
            .any(|r| r.to_string().contains("workflow_generate")),
        "{records:?}"
    );
    assert!(
        records.iter().any(|r| r["event"] == "run_completed"),
        "{records:?}"
    );
}

#[test]
fn an_invalid_answer_is_sent_back_with_its_diagnostics_until_fixed() {
    let env = station();
    let writer = bridge(&env, &[BAD_TYPE, BAD_PATH, GOOD]);
    let out = new(&env, &["-o", "greet.yaml", "--rounds", "3"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(env.read("greet.yaml"), GOOD);
    let messages = writer.messages();
    assert_eq!(messages.len(), 3, "{messages:?}");
    let second = &messages[1]["input"];
    assert_eq!(second["round"], 2);
    assert_eq!(second["previous"], BAD_TYPE);
    let diagnostics = second["diagnostics"].to_string();
    assert!(diagnostics.contains("greet.yaml:6:"), "{diagnostics}");
    assert!(diagnostics.contains("SIMPEL"), "{diagnostics}");
    assert!(second["prompt"].as_str().unwrap().contains("SIMPEL"));
    // The second answer validates but fails on one SWITCH path when dry-run.
    let third = &messages[2]["input"];
    assert_eq!(third["previous"], BAD_PATH);
    let diagnostics = third["diagnostics"].to_string();
    assert!(diagnostics.contains("greet.yaml:4:"), "{diagnostics}");
    assert!(diagnostics.contains("case `loud`"), "{diagnostics}");
    assert!(diagnostics.contains("too loud"), "{diagnostics}");
    assert!(stderr(&out).contains("round 3: valid"), "{}", stderr(&out));
}

#[test]
fn an_answer_never_valid_is_refused_with_the_last_diagnostics_and_nothing_written() {
    let env = station();
    let writer = bridge(&env, &[BAD_TYPE, BAD_PATH]);
    let out = new(&env, &["-o", "greet.yaml", "--rounds", "2"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!env.root().join("greet.yaml").exists());
    assert_eq!(writer.messages().len(), 2);
    let err = stderr(&out);
    assert!(err.contains("case `loud`"), "{err}");
    assert!(err.contains("--> greet.yaml:4:"), "{err}");
    assert!(
        err.contains("no valid workflow after 2 rounds; nothing was written"),
        "{err}"
    );
    assert_eq!(stdout(&out), "");
}

#[test]
fn without_a_bridge_agent_nothing_is_asked() {
    let env = station();
    let out = new(&env, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("workflow.generate"),
        "{}",
        stderr(&out)
    );
    assert!(!env.root().join("workflows").exists());
}

#[test]
fn the_llm_agent_is_a_bridge_and_its_fenced_answer_is_written() {
    let env = station();
    let server = FakeLlm::start(|_, _| completion(&format!("Here it is:\n```yaml\n{GOOD}```\n")));
    env.write(
        "agents/llm/agent.yaml",
        &format!(
            "version: 1\ncapabilities: [LLM_CHAT_COMPLETE, workflow.generate]\nllm:\n  base_url: {}\n  model: test-model\n  api_key_env: TEST_LLM_KEY\n  retry_backoff: 50ms\n",
            server.base_url()
        ),
    );
    let mut cmd = env.cmd(&["new", "say hello to someone"]);
    cmd.env("TEST_LLM_KEY", "sk-test");
    let out = output_within(cmd, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(env.read("workflows/greet.yaml"), GOOD);
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    let messages = seen[0].body["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    assert!(messages[0]["content"].as_str().unwrap().contains("3ox"));
    let prompt: &Value = &messages[1]["content"];
    let prompt = prompt.as_str().unwrap();
    assert!(prompt.contains("Request: say hello to someone"), "{prompt}");
    assert!(prompt.contains("greeter"), "{prompt}");
    assert!(prompt.contains("Example workflow `tiny`"), "{prompt}");
}
