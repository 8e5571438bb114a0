//! `3ox graph`: snapshots of each format (Mermaid, DOT, SVG) on the templates and on corpus
//! workflows, through the real binary; the SVG parses as XML and escapes task data. And
//! `3ox graph RUN`: a finished run of a template drawn with its states and path.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::fake_agent::{Answer, FakeAgent};
use crate::support::{TestEnv, conductor_corpus, stderr, stdout};

const FORMATS: [&str; 3] = ["mermaid", "dot", "svg"];

fn files() -> Vec<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = conductor_corpus();
    vec![
        manifest.join("templates/approval-gate.workflow.yaml"),
        manifest.join("templates/inventory-validation.workflow.yaml"),
        corpus.join("kitchensink.json"),
        corpus.join("fork_join_integration_test.json"),
        corpus.join("nested_fork_join_integration_test.json"),
        corpus.join("do_while_integration_test.json"),
        corpus.join("simple_switch_task_integration_test.json"),
        corpus.join("simple_workflow_with_sub_workflow_inline_def_integration_test.json"),
    ]
}

fn graph(env: &TestEnv, file: &Path, format: &str) -> String {
    let out = env.run(&["graph", file.to_str().unwrap(), "--format", format]);
    assert!(
        out.status.success(),
        "3ox graph {} --format {format}: {}",
        file.display(),
        stderr(&out)
    );
    stdout(&out)
}

#[test]
fn graph_snapshots_of_every_format() {
    let env = TestEnv::new();
    for file in files() {
        let stem = file.file_name().unwrap().to_str().unwrap().to_string();
        for format in FORMATS {
            let text = graph(&env, &file, format);
            insta::assert_snapshot!(format!("{stem}.{format}"), text);
        }
    }
}

#[test]
fn graph_svg_is_well_formed_xml_with_one_box_per_task() {
    let env = TestEnv::new();
    for file in files() {
        let svg = graph(&env, &file, "svg");
        let doc = roxmltree::Document::parse(&svg)
            .unwrap_or_else(|e| panic!("{} is not XML: {e}", file.display()));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let nodes = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("node"))
            .count();
        // Every task of the definition, at any depth, is drawn once.
        let mermaid = graph(&env, &file, "mermaid");
        let declared = mermaid
            .lines()
            .filter(|l| l.trim_start().starts_with("t_") && !l.contains("->"))
            .count();
        assert!(nodes > 0, "{}: no nodes", file.display());
        assert_eq!(nodes, declared, "{}", file.display());
    }
}

#[test]
fn graph_draws_nested_structure_as_clusters() {
    let env = TestEnv::new();
    let corpus = conductor_corpus();
    let dot = graph(
        &env,
        &corpus.join("nested_fork_join_integration_test.json"),
        "dot",
    );
    // A fork inside a fork branch: a cluster inside a cluster.
    let mut depth = 0usize;
    let mut deepest = 0usize;
    for line in dot.lines() {
        if line.trim_start().starts_with("subgraph cluster_") {
            depth += 1;
            deepest = deepest.max(depth);
        } else if line.trim() == "}" && depth > 0 {
            depth -= 1;
        }
    }
    assert!(deepest >= 2, "no nested cluster in:\n{dot}");

    let mermaid = graph(
        &env,
        &corpus.join("do_while_integration_test.json"),
        "mermaid",
    );
    assert!(mermaid.starts_with("---\ntitle:"), "{mermaid}");
    assert!(mermaid.contains("flowchart TD\n"), "{mermaid}");
    assert!(
        mermaid.contains("subgraph cluster_1[\"loop body\"]"),
        "{mermaid}"
    );
    assert!(
        mermaid.contains("t_join -.->|\"loop\"| t_loopTask"),
        "{mermaid}"
    );

    let switch = graph(
        &env,
        &corpus.join("simple_switch_task_integration_test.json"),
        "mermaid",
    );
    assert!(
        switch.contains("{\"switchTask (SWITCH)\"}") || switch.contains("(SWITCH)\"}"),
        "{switch}"
    );
}

#[test]
fn graph_escapes_task_data_in_every_format() {
    let env = TestEnv::new();
    let file = env.write(
        "flows/odd.workflow.yaml",
        "name: odd\ntasks:\n  - name: a\n    taskReferenceName: \"x<script>alert('1')</script>\\\"&\"\n    type: NOOP\n",
    );
    let svg = graph(&env, &file, "svg");
    roxmltree::Document::parse(&svg).expect("the SVG parses");
    assert!(!svg.contains("<script>"), "{svg}");
    assert!(svg.contains("&lt;script&gt;"), "{svg}");
    let mermaid = graph(&env, &file, "mermaid");
    assert!(
        mermaid.contains("#lt;script#gt;") && mermaid.contains("#quot;"),
        "{mermaid}"
    );
    let dot = graph(&env, &file, "dot");
    assert!(dot.contains("\\\"&"), "{dot}");
}

#[test]
fn graph_refuses_a_file_that_is_not_a_workflow_and_writes_to_a_file() {
    let env = TestEnv::new();
    let bad = env.write("flows/bad.yaml", "just: [a, list]\n");
    let out = env.run(&["graph", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not a workflow definition"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("hint:"), "{}", stderr(&out));

    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/approval-gate.workflow.yaml");
    let out = env.run(&[
        "graph",
        file.to_str().unwrap(),
        "--format",
        "svg",
        "-o",
        "out.svg",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    roxmltree::Document::parse(&env.read("out.svg")).expect("the written SVG parses");
}

#[test]
fn graph_joins_only_the_branches_a_join_waits_for() {
    let env = TestEnv::new();
    let flow = env.write(
        "flow.yaml",
        "name: j\ntasks:\n  - name: fan\n    taskReferenceName: fan\n    type: FORK_JOIN\n    forkTasks:\n      - [{name: a, taskReferenceName: a}]\n      - [{name: b1, taskReferenceName: b1}, {name: b2, taskReferenceName: b2}]\n  - {name: join, taskReferenceName: join, type: JOIN, joinOn: [a]}\n  - {name: after, taskReferenceName: after}\n",
    );
    let text = graph(&env, &flow, "mermaid");
    assert!(text.contains("t_a --> t_join"), "{text}");
    assert!(text.contains("t_b1 --> t_b2"), "{text}");
    assert!(
        !text.contains("t_b2 --> t_join"),
        "b2's branch goes on beside: {text}"
    );
    // With no joinOn the JOIN does not wait: it follows the fork itself.
    let none = env.write(
        "none.yaml",
        &std::fs::read_to_string(&flow)
            .unwrap()
            .replace(", joinOn: [a]", ""),
    );
    let text = graph(&env, &none, "mermaid");
    assert!(text.contains("t_fan --> t_join"), "{text}");
    assert!(!text.contains("t_a --> t_join"), "{text}");
}

/// Runs the inventory-validation template (a dynamic fork of three checks, one failing once
/// and retried, then a SWITCH) with a fake validator to its end; returns the run id.
pub(crate) fn finished_inventory_run(env: &TestEnv) -> String {
    let template =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/inventory-validation.workflow.yaml");
    env.write(
        "inventory.workflow.yaml",
        &std::fs::read_to_string(template).unwrap(),
    );
    let _agent = FakeAgent::start(
        env,
        "validator",
        &["validate_folder", "aggregate_problems", "write_report"],
        10,
        |m| {
            let task = m["task_ref"].as_str().unwrap_or_default();
            match task {
                "_validate_folder_2" if m["attempt"] == 1 => {
                    Answer::Failed("storage timeout".to_string())
                }
                "aggregate" => Answer::Completed(json!({"problem_count": 1, "folders_checked": 3})),
                _ => Answer::Completed(json!({"checked": task})),
            }
        },
    );
    let (code, result, out) =
        env.run_flow("inventory.workflow.yaml", &["--input", "folders=[a, b, c]"]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    result["run_id"].as_str().unwrap().to_string()
}

#[test]
fn graph_of_a_run_colours_states_marks_the_path_and_expands_the_fork() {
    let env = TestEnv::new();
    let run_id = finished_inventory_run(&env);
    for format in FORMATS {
        let out = env.run(&["graph", &run_id, "--format", format]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out).replace(&run_id, "RUN");
        insta::assert_snapshot!(format!("run.inventory.{format}"), text);
    }
    let mermaid = stdout(&env.run(&["graph", &run_id[..10]]));
    // The forked tasks are nodes; the case taken is bold, the other dashed.
    for line in [
        "t__validate_folder_0 ==> t_join_validations",
        "t_validate_folders ==> t__validate_folder_2",
        "t_any_problems ==>|\"true\"| t_write_problem_report",
        "t_any_problems -.->|\"default\"| t_write_clean_report",
        "class t_write_clean_report NOT_STARTED",
    ] {
        assert!(mermaid.contains(line), "no `{line}` in:\n{mermaid}");
    }
    assert!(
        mermaid.contains("attempt 2"),
        "the retried check: {mermaid}"
    );
    let svg = stdout(&env.run(&["graph", &run_id, "--format", "svg"]));
    let doc = roxmltree::Document::parse(&svg).expect("the SVG parses");
    let node = doc
        .descendants()
        .find(|n| n.attribute("data-ref") == Some("_validate_folder_1"))
        .expect("a node for each forked task");
    assert_eq!(node.attribute("class"), Some("node state-COMPLETED"));

    // Capped: one forked task drawn, the other two as "+2 more".
    let capped = stdout(&env.run(&["graph", &run_id, "--max-dynamic", "1"]));
    assert!(capped.contains("t__validate_folder_0"), "{capped}");
    assert!(!capped.contains("t__validate_folder_1"), "{capped}");
    assert!(capped.contains("+2 more: 2 COMPLETED"), "{capped}");

    // Not a run, not a file.
    let out = env.run(&["graph", "NOSUCHRUN"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no run matches"), "{}", stderr(&out));
}

#[test]
fn graph_of_a_run_counts_loop_iterations_and_names_the_child_run() {
    let env = TestEnv::new();
    env.write(
        "shapes.yaml",
        r#"name: shapes
tasks:
  - name: loop
    taskReferenceName: loop
    type: DO_WHILE
    loopCondition: "$.loop['iteration'] < 3"
    loopOver:
      - {name: step, taskReferenceName: step, type: NOOP}
  - name: child
    taskReferenceName: child
    type: SUB_WORKFLOW
    subWorkflowParam:
      name: inner
      workflowDefinition:
        name: inner
        tasks:
          - {name: inner_step, taskReferenceName: inner_step, type: NOOP}
"#,
    );
    let (code, result, out) = env.run_flow("shapes.yaml", &[]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    let run_id = result["run_id"].as_str().unwrap();
    let text = stdout(&env.run(&["graph", run_id]));
    assert!(
        text.contains("t_loop{{\"loop (DO_WHILE): 3 iterations\"}}"),
        "{text}"
    );
    assert!(text.contains("t_step ==>|\"loop\"| t_loop"), "{text}");
    let status = stdout(&env.run(&["status", run_id, "--json"]));
    let doc: serde_json::Value = serde_json::from_str(&status).unwrap();
    let child = doc["children"][0]["run_id"].as_str().unwrap();
    assert!(
        text.contains(&format!(
            "child (SUB_WORKFLOW): child run {child} COMPLETED"
        )),
        "{text}"
    );
    assert!(text.contains("class t_inner_step CHILD_RUN"), "{text}");
}
