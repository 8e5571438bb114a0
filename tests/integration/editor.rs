//! The workflow editor of `3ox serve` through a plain HTTP client: the edit page, the check
//! endpoint (diagnostics with line and column from the validator of `3ox validate`, and the
//! diagram), and save (written only when valid; Origin and CSRF enforced like every POST).
//! The browser test is in `serve_browser.rs` (`tests/browser/editor.py`).

use serde_json::Value;

use crate::serve::Server;
use crate::support::TestEnv;

const GOOD: &str = "name: tidy\nversion: 1\ntasks:\n  - name: first_step\n    taskReferenceName: first\n    type: NOOP\n";
const BAD: &str = "name: tidy\nversion: 1\ntasks:\n  - name: first_step\n    taskReferenceName: first\n    type: NOPE\n";

fn station() -> TestEnv {
    let env = TestEnv::new();
    env.write("templates/tidy.workflow.yaml", GOOD);
    env
}

fn form(csrf: &str, yaml: &str) -> String {
    serde_urlencoded::to_string([("csrf", csrf), ("yaml", yaml)]).unwrap()
}

/// The editor page of `name` and the CSRF token in its form.
fn open(server: &Server, cookie: &str, name: &str) -> (String, String) {
    let page = server.get(&format!("/workflows/{name}/edit"), &[("Cookie", cookie)]);
    assert_eq!(page.status, 200, "{}", page.text);
    let field = "name=\"csrf\" value=\"";
    let i = page.text.find(field).expect("a form with the CSRF token") + field.len();
    let csrf = page.text[i..].split('"').next().unwrap().to_string();
    (page.text, csrf)
}

fn post(server: &Server, cookie: &str, path: &str, body: &str) -> (u16, Value) {
    let origin = format!("http://{}", server.host());
    let r = server.request(
        "POST",
        path,
        &[("Cookie", cookie), ("Origin", &origin)],
        Some(body),
    );
    let value = serde_json::from_str(&r.text).unwrap_or(Value::String(r.text.clone()));
    (r.status, value)
}

#[test]
fn the_editor_checks_as_the_validator_does_and_saves_only_a_valid_workflow() {
    let env = station();
    let server = Server::start(&env, &[]);
    let cookie = server.login();
    let (page, csrf) = open(&server, &cookie, "tidy");
    assert!(page.contains("taskReferenceName: first"), "{page}");
    assert!(page.contains("tidy.workflow.yaml"), "{page}");
    assert!(!page.contains("<script>"), "no inline script");

    let (status, checked) = post(&server, &cookie, "/workflows/tidy/check", &form(&csrf, BAD));
    assert_eq!(status, 200, "{checked}");
    assert_eq!(checked["valid"], false);
    let first = &checked["diagnostics"][0];
    assert_eq!(first["severity"], "error");
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(6), Some(11)),
        "{checked}"
    );
    assert!(
        first["message"].as_str().unwrap().contains("NOPE"),
        "{checked}"
    );

    let (status, checked) = post(
        &server,
        &cookie,
        "/workflows/tidy/check",
        &form(&csrf, GOOD),
    );
    assert_eq!(status, 200);
    assert_eq!(checked["valid"], true, "{checked}");
    assert!(
        checked["diagram"].as_str().unwrap().starts_with("<svg"),
        "{checked}"
    );

    // Invalid: refused with the diagnostics, the file as it was.
    let (status, saved) = post(&server, &cookie, "/workflows/tidy/save", &form(&csrf, BAD));
    assert_eq!(status, 422, "{saved}");
    assert_eq!(saved["saved"], false);
    assert_eq!(saved["diagnostics"][0]["line"], 6);
    assert_eq!(env.read("templates/tidy.workflow.yaml"), GOOD);

    // Valid: written.
    let changed = GOOD.replace("version: 1", "version: 2");
    let (status, saved) = post(
        &server,
        &cookie,
        "/workflows/tidy/save",
        &form(&csrf, &changed),
    );
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["file"], "templates/tidy.workflow.yaml");
    assert_eq!(env.read("templates/tidy.workflow.yaml"), changed);

    // A new workflow is saved as templates/NAME.workflow.yaml; the form on /workflows
    // leads to its editor.
    let list = server.get("/workflows", &[("Cookie", &cookie)]);
    assert!(list.text.contains("/workflows/tidy/edit"), "{}", list.text);
    let r = server.get("/workflows-new?name=fresh", &[("Cookie", &cookie)]);
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/workflows/fresh/edit"));
    let (page, _) = open(&server, &cookie, "fresh");
    assert!(page.contains("name: fresh"), "{page}");
    let text = GOOD.replace("name: tidy", "name: fresh");
    let (status, saved) = post(
        &server,
        &cookie,
        "/workflows/fresh/save",
        &form(&csrf, &text),
    );
    assert_eq!(status, 200, "{saved}");
    assert_eq!(env.read("templates/fresh.workflow.yaml"), text);
}

#[test]
fn saving_from_the_editor_needs_our_origin_and_the_csrf_token() {
    let env = station();
    let server = Server::start(&env, &[]);
    let cookie = server.login();
    let (_, csrf) = open(&server, &cookie, "tidy");
    let changed = GOOD.replace("version: 1", "version: 3");
    let r = server.request(
        "POST",
        "/workflows/tidy/save",
        &[("Cookie", &cookie), ("Origin", "http://evil.example")],
        Some(&form(&csrf, &changed)),
    );
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.text.contains("wrong Origin"));
    for token in ["", "guess"] {
        let (status, answer) = post(
            &server,
            &cookie,
            "/workflows/tidy/save",
            &form(token, &changed),
        );
        assert_eq!(status, 403, "{answer}");
        assert!(answer.to_string().contains("CSRF"), "{answer}");
    }
    let origin = format!("http://{}", server.host());
    let r = server.request(
        "POST",
        "/workflows/tidy/save",
        &[("Origin", &origin)],
        Some(&form(&csrf, &changed)),
    );
    assert_eq!(r.status, 401, "no cookie: {}", r.text);
    assert_eq!(
        env.read("templates/tidy.workflow.yaml"),
        GOOD,
        "nothing refused was written"
    );
    // A name that cannot be a file.
    let (status, _) = post(
        &server,
        &cookie,
        "/workflows/..%2Fevil/save",
        &form(&csrf, GOOD),
    );
    assert!(status == 400 || status == 404, "{status}");
    assert!(!env.root().join("evil.workflow.yaml").exists());
}
