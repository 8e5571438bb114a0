//! `3ox mcp --agent NAME` (issue 14 item 4, docs/mcp.md), driven by rmcp's own client over
//! stdio, end to end through a real run that `3ox up` drives.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rmcp::ServiceExt as _;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::{RoleClient, RunningService};
use serde_json::{Value, json};

use crate::support::{ChildGuard, TestEnv, stdout};

type Client = RunningService<RoleClient, ()>;

async fn call(client: &Client, tool: &'static str, args: Value) -> (bool, String) {
    let result: CallToolResult = client
        .call_tool(
            CallToolRequestParams::new(tool).with_arguments(args.as_object().unwrap().clone()),
        )
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    let text = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n");
    (result.is_error != Some(true), text)
}

async fn ok(client: &Client, tool: &'static str, args: Value) -> Value {
    let (fine, text) = call(client, tool, args).await;
    assert!(fine, "{tool} failed: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{tool}: {e}: {text}"))
}

/// `3ox mcp --agent helper` in the station, with rmcp's client on its stdio.
async fn start_mcp(env: &TestEnv) -> Client {
    let mut mcp = tokio::process::Command::new(env!("CARGO_BIN_EXE_3ox"));
    mcp.args(["mcp", "--agent", "helper"])
        .current_dir(env.root())
        .env_remove("THREEOX_STATION");
    ().serve(rmcp::transport::TokioChildProcess::new(mcp).unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_claims_heartbeats_and_replies_through_3ox_mcp() {
    let env = TestEnv::new();
    env.write(
        "agents/helper/agent.yaml",
        "version: 1\ncapabilities: [summarize]\n",
    );
    env.write(
        "flows/sum.yaml",
        "name: sum\ntasks:\n  - {name: summarize, taskReferenceName: s, inputParameters: {text: hello}}\n",
    );
    let out = env.run(&["start", "flows/sum.yaml", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let started: Value = serde_json::from_slice(&out.stdout).unwrap();
    let run_id = started["run_id"].as_str().unwrap().to_string();
    let _up = ChildGuard(
        env.cmd(&["up", "--no-agents"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = start_mcp(&env).await;

    // Five tools, and none that approves a HUMAN task.
    let tools: BTreeSet<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert_eq!(
        tools,
        ["claim_task", "get_task", "heartbeat", "list_tasks", "reply"]
            .map(String::from)
            .into()
    );

    // The task `up` delivers shows up in list_tasks (ids only unless bodies are asked for).
    let deadline = Instant::now() + Duration::from_secs(60);
    let listed = loop {
        let listed = ok(&client, "list_tasks", json!({"limit": 3})).await;
        if !listed["tasks"].as_array().unwrap().is_empty() {
            break listed;
        }
        assert!(Instant::now() < deadline, "no task was delivered: {listed}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let task = &listed["tasks"][0];
    assert_eq!(task["task"], "summarize");
    assert_eq!(task["run_id"], run_id.as_str());
    assert!(task.get("input").is_none(), "no body unless asked: {task}");
    let task_id = task["task_id"].as_str().unwrap().to_string();
    let got = ok(&client, "get_task", json!({"task_id": task_id})).await;
    assert_eq!(got["input"]["text"], "hello");

    // Refused with reasons the model can act on.
    let (fine, why) = call(
        &client,
        "reply",
        json!({"task_id": task_id, "status": "COMPLETED"}),
    )
    .await;
    assert!(!fine && why.contains("call claim_task first"), "{why}");
    let (fine, why) = call(&client, "claim_task", json!({"task_id": "01NOSUCHTASK"})).await;
    assert!(!fine && why.contains("call list_tasks"), "{why}");

    let claimed = ok(&client, "claim_task", json!({"task_id": task_id})).await;
    assert_eq!(claimed["task_id"], task_id.as_str());
    assert!(
        env.root()
            .join(format!("agents/helper/1N.3OX/claimed/{task_id}.task.yaml"))
            .is_file(),
        "claimed as a file agent claims"
    );
    let beat = ok(
        &client,
        "heartbeat",
        json!({"task_id": task_id, "note": "reading"}),
    )
    .await;
    assert_eq!(beat["heartbeat"], 1);

    // The server dies with the task claimed: a new one offers it again and claims it (the
    // claimed message has no lock and no final reply, as `3ox agent run` would take it up).
    client.cancel().await.unwrap();
    let client = start_mcp(&env).await;
    let again = ok(&client, "list_tasks", json!({})).await;
    assert_eq!(again["tasks"][0]["task_id"], task_id.as_str(), "{again}");
    ok(&client, "claim_task", json!({"task_id": task_id})).await;
    let (fine, why) = call(
        &client,
        "reply",
        json!({"task_id": task_id, "status": "COMPLETED", "output": "just text"}),
    )
    .await;
    assert!(
        !fine && why.contains("must be a mapping") && why.contains("call reply again"),
        "{why}"
    );
    let (fine, why) = call(
        &client,
        "reply",
        json!({"task_id": task_id, "status": "DONE"}),
    )
    .await;
    assert!(!fine && why.contains("COMPLETED, FAILED"), "{why}");
    let replied = ok(
        &client,
        "reply",
        json!({"task_id": task_id, "status": "COMPLETED", "output": {"summary": "hi"}}),
    )
    .await;
    assert_eq!(replied["written"], true);

    // The run takes the reply and completes.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = env.run(&["status", &run_id, "--json"]);
        let status: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        if status["status"] == "COMPLETED" {
            assert!(stdout(&out).contains("\"summary\""), "{}", stdout(&out));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the run did not complete: {}",
            stdout(&out)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client.cancel().await.unwrap();
}
