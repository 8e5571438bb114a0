//! jq programs for JSON_JQ_TRANSFORM, through the `jaq` crates (a jq implementation in Rust).
//!
//! jaq has no budget of its own: a program such as `def f: 1 + f; f` recurses until the
//! native stack overflows, which aborts the process, and `[range(1e12)]` allocates without
//! end. So the engine never runs a program inside the orchestrator: [`run`] starts the `3ox`
//! binary itself as a child (`3ox jq-sandbox`, see [`serve_sandbox`]) with the program and
//! its input on standard input, a memory limit set in the child, and a time budget after
//! which the child is killed. Whatever the program does, the orchestrator gets a value or a
//! reason. [`run_in_process`] is the evaluation itself (what the child runs).

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
use jaq_json::Val;
use serde_json::{Map, Value, json};

use super::script::CheckError;

/// What one jq evaluation may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Wall-clock time of the child, start to finish.
    pub time: Duration,
    /// Address space of the child.
    pub memory_bytes: u64,
}

impl Budget {
    pub const DEFAULT: Budget = Budget {
        time: Duration::from_secs(3),
        memory_bytes: 512 * 1024 * 1024,
    };
}

/// The hidden subcommand the child runs.
pub const SANDBOX_COMMAND: &str = "jq-sandbox";

/// Checks that `program` parses and every name in it is defined, without running it.
pub fn check(program: &str) -> Result<(), CheckError> {
    compile(program).map(|_| ())
}

type Filter = jaq_core::compile::Filter<jaq_core::Native<data::JustLut<Val>>>;

fn compile(program: &str) -> Result<Filter, CheckError> {
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs());
    let loader = Loader::new(defs);
    let arena = Arena::default();
    let file = File {
        code: program,
        path: (),
    };
    let modules = loader.load(&arena, file).map_err(|errors| {
        let first = errors.into_iter().next().map(|(_, e)| e);
        match first {
            Some(jaq_core::load::Error::Lex(errs)) => match errs.into_iter().next() {
                Some((expect, at)) => {
                    located(program, at, format!("expected {}", lex_expect(&expect)))
                }
                None => plain("the program does not parse"),
            },
            Some(jaq_core::load::Error::Parse(errs)) => match errs.into_iter().next() {
                Some((expect, at)) => {
                    let found = if at.is_empty() {
                        "the end of the program".to_string()
                    } else {
                        format!("`{}`", at.chars().take(20).collect::<String>())
                    };
                    located(
                        program,
                        at,
                        format!("expected {}, found {found}", expect.as_str()),
                    )
                }
                None => plain("the program does not parse"),
            },
            Some(jaq_core::load::Error::Io(errs)) => plain(
                errs.into_iter()
                    .next()
                    .map_or_else(|| "cannot load a module".into(), |(_, e)| e),
            ),
            None => plain("the program does not parse"),
        }
    })?;
    Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errors| {
            match errors
                .into_iter()
                .next()
                .and_then(|(_, e)| e.into_iter().next())
            {
                Some((name, undefined)) => located(
                    program,
                    name,
                    format!("undefined {} `{name}`", undefined.as_str()),
                ),
                None => plain("the program does not compile"),
            }
        })
}

fn lex_expect(expect: &jaq_core::load::lex::Expect<&str>) -> &'static str {
    use jaq_core::load::lex::Expect;
    match expect {
        Expect::Digit => "a digit",
        Expect::Ident => "an identifier",
        Expect::Delim("(") => "a closing parenthesis",
        Expect::Delim("[") => "a closing bracket",
        Expect::Delim("{") => "a closing brace",
        Expect::Delim("\"") => "a closing quote",
        Expect::Escape => "a string escape sequence",
        Expect::Unicode => "a 4-digit hexadecimal code point",
        _ => "a token",
    }
}

fn plain(message: impl Into<String>) -> CheckError {
    CheckError {
        message: message.into(),
        position: None,
    }
}

/// An error at `at`, a slice of `program` (jaq reports positions as slices of the code).
fn located(program: &str, at: &str, message: String) -> CheckError {
    let start = program.as_ptr() as usize;
    let here = at.as_ptr() as usize;
    let position = (here >= start && here <= start + program.len()).then(|| {
        let before = &program[..here - start];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    });
    CheckError { message, position }
}

/// Runs `program` over `input` here, in this process: every value it gives, or its first
/// error. Only for programs known to be harmless, and for the sandbox child.
pub fn run_in_process(program: &str, input: &Value) -> Result<Vec<Value>, String> {
    let filter = compile(program).map_err(|e| e.to_string())?;
    let input = jaq_json::read::parse_single(input.to_string().as_bytes())
        .map_err(|e| format!("the input is not JSON: {e}"))?;
    let ctx = Ctx::<data::JustLut<Val>>::new(&filter.lut, Vars::new([]));
    let mut values = Vec::new();
    for value in filter.id.run((ctx, input)).map(unwrap_valr) {
        match value {
            Ok(v) => values.push(to_json(&v)),
            Err(e) => {
                return Err(match e.into_val() {
                    Val::BStr(b) | Val::TStr(b) => String::from_utf8_lossy(&b).into_owned(),
                    other => to_json(&other).to_string(),
                });
            }
        }
    }
    Ok(values)
}

/// A jq value as JSON (NaN and infinities become null, as jq's `tojson` has them).
fn to_json(v: &Val) -> Value {
    match v {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(*b),
        Val::Num(n) => number(n),
        Val::BStr(b) | Val::TStr(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
        Val::Arr(items) => Value::Array(items.iter().map(to_json).collect()),
        Val::Obj(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        Val::BStr(b) | Val::TStr(b) => String::from_utf8_lossy(b).into_owned(),
                        other => other.to_string(),
                    };
                    (key, to_json(v))
                })
                .collect::<Map<_, _>>(),
        ),
    }
}

fn number(n: &jaq_json::Num) -> Value {
    use jaq_json::Num;
    match n {
        Num::Int(i) => json!(*i as i64),
        Num::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        other => {
            let text = other.to_string();
            serde_json::from_str::<serde_json::Number>(&text)
                .map(Value::Number)
                .or_else(|_| text.parse::<f64>().map(|f| json!(f)))
                .unwrap_or(Value::Null)
        }
    }
}

/// Runs `program` over `input` in a sandbox child of the `3ox` binary at `exe`, within
/// `budget`.
pub fn run_with(
    exe: &std::path::Path,
    program: &str,
    input: &Value,
    budget: Budget,
) -> Result<Vec<Value>, String> {
    let mut child = Command::new(exe)
        .arg(SANDBOX_COMMAND)
        .arg("--memory-bytes")
        .arg(budget.memory_bytes.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the jq sandbox ({}): {e}", exe.display()))?;
    let request = json!({"program": program, "input": input}).to_string();
    let mut stdin = child.stdin.take();
    let mut stdout = child.stdout.take();
    let stderr = child.stderr.take();
    // What the child says when it dies (a stack overflow, a failed allocation).
    let complaint = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(stderr) = stderr {
            let _ = stderr.take(64 * 1024).read_to_string(&mut text);
        }
        text
    });
    let (tx, rx) = mpsc::channel();
    // Writing and reading happen beside the wait, so a child that reads or writes a lot
    // cannot deadlock on a full pipe.
    std::thread::spawn(move || {
        if let Some(mut stdin) = stdin.take() {
            let _ = stdin.write_all(request.as_bytes());
        }
    });
    std::thread::spawn(move || {
        let mut text = String::new();
        let read = stdout.as_mut().map(|s| s.read_to_string(&mut text));
        let _ = tx.send(read.map(|r| r.map(|_| text)));
    });
    let received = rx.recv_timeout(budget.time);
    let text = match received {
        Ok(Some(Ok(text))) => text,
        Ok(_) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err("cannot read the jq sandbox's answer".into());
        }
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "the jq program was stopped: it ran longer than its time budget of {}",
                humantime::format_duration(budget.time)
            ));
        }
    };
    let status = child.wait().map_err(|e| e.to_string())?;
    let complaint = complaint.join().unwrap_or_default();
    let answer: Value = match serde_json::from_str(&text) {
        Ok(answer) if status.success() => answer,
        _ if complaint.contains("overflowed its stack") => {
            return Err("the jq program was stopped: it recursed too deep (stack overflow)".into());
        }
        _ if complaint.contains("memory allocation") => {
            return Err(format!(
                "the jq program was stopped: it needed more memory than its budget of {} MiB",
                budget.memory_bytes / (1024 * 1024)
            ));
        }
        _ => {
            return Err(format!(
                "the jq program was stopped: the sandbox ended without an answer ({status})"
            ));
        }
    };
    match (answer.get("values"), answer.get("error")) {
        (Some(Value::Array(values)), _) => Ok(values.clone()),
        (_, Some(Value::String(error))) => Err(error.clone()),
        _ => Err("the jq sandbox gave no answer".into()),
    }
}

/// Runs `program` over `input` in a sandbox child of the running `3ox` binary.
pub fn run(program: &str, input: &Value) -> Result<Vec<Value>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the 3ox binary: {e}"))?;
    run_with(&exe, program, input, Budget::DEFAULT)
}

/// The child's side: limit this process's memory, read `{program, input}` from `input`,
/// write `{values: [...]}` or `{error: "..."}` to `output`.
pub fn serve_sandbox(
    memory_bytes: u64,
    input: &mut dyn Read,
    output: &mut dyn Write,
) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use nix::sys::resource::{Resource, setrlimit};
        setrlimit(Resource::RLIMIT_AS, memory_bytes, memory_bytes)
            .map_err(std::io::Error::other)?;
    }
    #[cfg(not(unix))]
    let _ = memory_bytes;
    let mut text = String::new();
    input.read_to_string(&mut text)?;
    let answer = match serde_json::from_str::<Value>(&text) {
        Ok(request) => {
            let program = request.get("program").and_then(Value::as_str).unwrap_or("");
            let data = request.get("input").cloned().unwrap_or(Value::Null);
            match run_in_process(program, &data) {
                Ok(values) => json!({"values": values}),
                Err(error) => json!({"error": error}),
            }
        }
        Err(e) => json!({"error": format!("the sandbox request is not JSON: {e}")}),
    };
    output.write_all(answer.to_string().as_bytes())?;
    output.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_every_value_of_a_program() {
        let input = json!({"in1": {"array": [1, 2]}, "in2": {"array": [3]}});
        assert_eq!(
            run_in_process(".in1.array + .in2.array", &input),
            Ok(vec![json!([1, 2, 3])])
        );
        assert_eq!(
            run_in_process(".in1.array[]", &input),
            Ok(vec![json!(1), json!(2)])
        );
        assert_eq!(run_in_process("empty", &input), Ok(vec![]));
        assert_eq!(
            run_in_process(
                "if (.data | length > 0) then \"EXISTS\" else \"CREATE\" end",
                &json!({"data": []})
            ),
            Ok(vec![json!("CREATE")])
        );
        assert_eq!(
            run_in_process("{a: 1.5, n: nan, s: (.x | tojson)}", &json!({"x": [true]})),
            Ok(vec![json!({"a": 1.5, "n": null, "s": "[true]"})])
        );
    }

    #[test]
    fn runtime_errors_are_reasons() {
        assert_eq!(
            run_in_process("error(\"bad input\")", &json!({})),
            Err("bad input".into())
        );
        let e = run_in_process(".a | .x", &json!({"a": [1]})).unwrap_err();
        assert!(e.contains("cannot index"), "{e}");
    }

    #[test]
    fn programs_that_do_not_compile_have_a_position() {
        assert_eq!(check(".a | map(.b)"), Ok(()));
        let e = check(".a |\n  foo(1)").unwrap_err();
        assert_eq!(e.position, Some((2, 3)));
        assert!(e.message.contains("undefined filter `foo`"), "{e}");
        let e = check(".a +").unwrap_err();
        assert_eq!(e.position, Some((1, 5)));
        assert!(e.message.contains("the end of the program"), "{e}");
        let e = check("$nope").unwrap_err();
        assert!(e.message.contains("undefined variable"), "{e}");
        assert!(check("\"unclosed").is_err());
        assert!(check("(1").is_err());
    }
}
