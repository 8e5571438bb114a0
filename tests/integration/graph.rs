//! `3ox graph`: snapshots of each format (Mermaid, DOT, SVG) on the templates and on corpus
//! workflows, through the real binary; the SVG parses as XML and escapes task data.

use std::path::{Path, PathBuf};

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
