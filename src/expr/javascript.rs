//! The embedded JavaScript sandbox for Conductor's `javascript` and `graaljs` evaluators
//! (INLINE, LAMBDA, SWITCH, DECISION's `caseExpression`, DO_WHILE's `loopCondition`).
//!
//! Each evaluation runs in a fresh QuickJS runtime (through `rquickjs`) that holds only the
//! language itself: no `require`, no module loader, no `std`/`os`, no file, process or network
//! access. The task's input is the global `$`, as in Conductor, and the script's value is its
//! completion value (`$.x > 1 ? 'a' : 'b'`, `function e() { ... } e();`,
//! `if ($.a) { true; } else { false; }`), turned back into JSON with `JSON.stringify`
//! (`undefined` and functions become `null`).
//!
//! A [`Budget`] bounds each evaluation: past its time the interpreter is interrupted (an
//! interruption no `catch` can stop), past its memory the allocation fails, and the call
//! stack is bounded too. Every failure is a [`ScriptError`] with a reason meant for the
//! operator, never a panic.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rquickjs::context::EvalOptions;
use rquickjs::{Context, Ctx, Runtime};
use serde_json::Value;

/// What one evaluation may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Wall-clock time for parsing and running the script and converting its value.
    pub time: Duration,
    /// Memory of the whole JavaScript heap (the input, the script, its values).
    pub memory_bytes: usize,
    /// Native stack the interpreter may use (bounds recursion).
    pub stack_bytes: usize,
}

impl Budget {
    /// The budget every task script runs with: far more than a Conductor expression needs,
    /// small enough that a runaway script costs the orchestrator little.
    pub const DEFAULT: Budget = Budget {
        time: Duration::from_secs(2),
        memory_bytes: 64 * 1024 * 1024,
        stack_bytes: 256 * 1024,
    };
}

impl Default for Budget {
    fn default() -> Self {
        Budget::DEFAULT
    }
}

/// Why a script gave no value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScriptError {
    #[error(
        "the script was stopped: it ran longer than its time budget of {}",
        humantime::format_duration(*.0)
    )]
    TimeBudget(Duration),
    #[error(
        "the script was stopped: it needed more memory than its budget of {} MiB",
        .0 / (1024 * 1024)
    )]
    MemoryBudget(usize),
    /// The script does not parse.
    #[error("{message} (line {line}, column {column})")]
    Syntax {
        message: String,
        line: usize,
        column: usize,
    },
    /// The script threw (or hit an engine limit such as the call stack).
    #[error("{message}{}", at(*.position))]
    Thrown {
        message: String,
        position: Option<(usize, usize)>,
    },
    /// The script's value has no JSON form (a Promise, a BigInt, a cycle).
    #[error("the script's value cannot be used: {0}")]
    Value(String),
    /// The engine itself could not start (out of memory before the script ran).
    #[error("the JavaScript engine failed: {0}")]
    Engine(String),
}

fn at(position: Option<(usize, usize)>) -> String {
    position
        .map(|(line, column)| format!(" (line {line}, column {column})"))
        .unwrap_or_default()
}

/// The file name scripts are compiled under; positions in error stacks carry it.
const FILE_NAME: &str = "script";

/// Evaluates `source` with `$` = `input`, within the default budget.
pub fn evaluate(source: &str, input: &Value) -> Result<Value, ScriptError> {
    evaluate_within(source, input, Budget::DEFAULT)
}

/// Evaluates `source` with `$` = `input`, within `budget`.
pub fn evaluate_within(source: &str, input: &Value, budget: Budget) -> Result<Value, ScriptError> {
    let sandbox = Sandbox::new(budget)?;
    sandbox.context.with(|ctx| {
        let input_json = input.to_string();
        let outcome = (|| {
            let dollar = ctx.json_parse(input_json)?;
            ctx.globals().set("$", dollar)?;
            ctx.eval::<(), _>(NASHORN_LISTS)?;
            let value: rquickjs::Value = ctx.eval_with_options(source, eval_options())?;
            if value.is_promise() {
                return Ok(Err(ScriptError::Value(
                    "it is a Promise; asynchronous scripts are not supported".into(),
                )));
            }
            let text = ctx.json_stringify(value)?;
            Ok(Ok(match text {
                Some(text) => text.to_string()?,
                None => "null".to_string(),
            }))
        })();
        let text = match outcome {
            Ok(Ok(text)) => text,
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(sandbox.explain(&ctx, &e, 0)),
        };
        serde_json::from_str(&text).map_err(|e| ScriptError::Value(e.to_string()))
    })
}

/// Checks that `source` parses, without running any of it.
pub fn check(source: &str) -> Result<(), ScriptError> {
    let sandbox = Sandbox::new(Budget::DEFAULT)?;
    sandbox.context.with(|ctx| {
        // The first statement throws before any of the script runs; a script that does not
        // parse fails before that. The guard stands on a line of its own, so only line
        // numbers shift (by one).
        let guarded = format!("throw {GUARD};\n{source}");
        match ctx.eval_with_options::<rquickjs::Value, _>(guarded, eval_options()) {
            Ok(_) => Ok(()),
            Err(e) => {
                let explained = if matches!(e, rquickjs::Error::Exception) {
                    let thrown = ctx.catch();
                    if thrown.as_int() == Some(GUARD) {
                        return Ok(());
                    }
                    sandbox.explain_thrown(&ctx, thrown, 1)
                } else {
                    sandbox.explain(&ctx, &e, 1)
                };
                match explained {
                    ScriptError::Thrown {
                        message,
                        position: Some((line, column)),
                    } => Err(ScriptError::Syntax {
                        message,
                        line,
                        column,
                    }),
                    other => Err(other),
                }
            }
        }
    })
}

/// Old Conductor scripts were written for Nashorn, where `$`'s lists were Java lists:
/// `$.list.get(0)`, `$.list.size()`. Arrays get both (not enumerable, so `for ... in` and
/// JSON do not see them).
const NASHORN_LISTS: &str = "Object.defineProperty(Array.prototype, 'get', {value: function (i) { return this[i]; }, writable: true, configurable: true});\
Object.defineProperty(Array.prototype, 'size', {value: function () { return this.length; }, writable: true, configurable: true});";

/// The value the syntax check's guard throws.
const GUARD: i32 = 370_370;

fn eval_options() -> EvalOptions {
    let mut options = EvalOptions::default();
    // Conductor's engines run scripts in sloppy mode (`x = 1` without `var` works).
    options.strict = false;
    options.global = true;
    options.filename = Some(FILE_NAME.to_string());
    options
}

/// A fresh runtime with the budget's limits, and what its interrupt handler saw.
struct Sandbox {
    budget: Budget,
    timed_out: Arc<AtomicBool>,
    context: Context,
    // The runtime outlives the context (declared after it, so dropped after it).
    _runtime: Runtime,
}

impl Sandbox {
    fn new(budget: Budget) -> Result<Sandbox, ScriptError> {
        let runtime = Runtime::new().map_err(|e| ScriptError::Engine(e.to_string()))?;
        runtime.set_memory_limit(budget.memory_bytes);
        runtime.set_max_stack_size(budget.stack_bytes);
        let timed_out = Arc::new(AtomicBool::new(false));
        let deadline = Instant::now() + budget.time;
        let flag = timed_out.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || {
            let over = Instant::now() >= deadline;
            if over {
                flag.store(true, Ordering::Relaxed);
            }
            over
        })));
        let context = Context::full(&runtime).map_err(|e| ScriptError::Engine(e.to_string()))?;
        Ok(Sandbox {
            budget,
            timed_out,
            context,
            _runtime: runtime,
        })
    }

    /// The reason for an engine error: the budget that stopped the script, or what it threw
    /// (positions moved up by `line_shift` lines).
    fn explain(&self, ctx: &Ctx<'_>, error: &rquickjs::Error, line_shift: usize) -> ScriptError {
        if self.timed_out.load(Ordering::Relaxed) {
            return ScriptError::TimeBudget(self.budget.time);
        }
        match error {
            rquickjs::Error::Exception => {}
            rquickjs::Error::Allocation => {
                return ScriptError::MemoryBudget(self.budget.memory_bytes);
            }
            other => return ScriptError::Engine(other.to_string()),
        }
        self.explain_thrown(ctx, ctx.catch(), line_shift)
    }

    /// The reason for a thrown value.
    fn explain_thrown<'js>(
        &self,
        ctx: &Ctx<'js>,
        thrown: rquickjs::Value<'js>,
        line_shift: usize,
    ) -> ScriptError {
        if self.timed_out.load(Ordering::Relaxed) {
            return ScriptError::TimeBudget(self.budget.time);
        }
        let Some(object) = thrown.as_object() else {
            let message = match thrown.as_string() {
                Some(text) => text.to_string().unwrap_or_default(),
                None => ctx
                    .json_stringify(thrown)
                    .ok()
                    .flatten()
                    .and_then(|s| s.to_string().ok())
                    .unwrap_or_else(|| "a value without a JSON form".into()),
            };
            return ScriptError::Thrown {
                message: format!("uncaught {message}"),
                position: None,
            };
        };
        let text = |key: &str| object.get::<_, Option<String>>(key).ok().flatten();
        let message = text("message").unwrap_or_default();
        if message == "out of memory" {
            return ScriptError::MemoryBudget(self.budget.memory_bytes);
        }
        let name = text("name").unwrap_or_else(|| "Error".into());
        let position = text("stack")
            .and_then(|stack| position_in(&stack))
            .map(|(l, c)| (l.saturating_sub(line_shift).max(1), c));
        ScriptError::Thrown {
            message: if message.is_empty() {
                name
            } else {
                format!("{name}: {message}")
            },
            position,
        }
    }
}

/// The first `script:LINE:COLUMN` of an error stack.
fn position_in(stack: &str) -> Option<(usize, usize)> {
    let needle = format!("{FILE_NAME}:");
    stack.match_indices(&needle).find_map(|(i, _)| {
        let rest = &stack[i + needle.len()..];
        let mut parts = rest.splitn(3, ':');
        let line = parts.next()?.parse().ok()?;
        let column: String = parts
            .next()?
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        Some((line, column.parse().ok()?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(source: &str) -> Result<Value, ScriptError> {
        evaluate(
            source,
            &json!({"x": 2, "a": true, "list": [1, 2, 3], "name": "ada"}),
        )
    }

    #[test]
    fn conductor_style_scripts_give_their_completion_value() {
        assert_eq!(run("$.x > 1 ? 'a' : 'b'"), Ok(json!("a")));
        assert_eq!(
            run("function e() { return $.list.length } e();"),
            Ok(json!(3))
        );
        assert_eq!(
            run("(function(){ return {k: $.x * 2, n: $.name.toUpperCase()} })()"),
            Ok(json!({"k": 4, "n": "ADA"}))
        );
        assert_eq!(run("if ($.a) { true; } else { false; }"), Ok(json!(true)));
        assert_eq!(run("$.list.map(v => v * 10)"), Ok(json!([10, 20, 30])));
        assert_eq!(run("2.5 + $.x"), Ok(json!(4.5)));
        assert_eq!(
            run("$.list.get($.x - 1) + $.list.size()"),
            Ok(json!(5)),
            "Nashorn lists"
        );
        assert_eq!(run("Object.keys($.list).length"), Ok(json!(3)));
        assert_eq!(
            run("y = 5; y + 1"),
            Ok(json!(6)),
            "sloppy mode, as Conductor"
        );
    }

    #[test]
    fn undefined_and_unrepresentable_values_become_null() {
        assert_eq!(run("var x = 1;"), Ok(Value::Null));
        assert_eq!(run("$.missing"), Ok(Value::Null));
        assert_eq!(run("NaN"), Ok(Value::Null));
        assert_eq!(run("(() => 1)"), Ok(Value::Null));
    }

    #[test]
    fn values_without_json_form_are_errors() {
        assert!(matches!(run("10n"), Err(ScriptError::Thrown { .. })));
        let e = run("Promise.resolve(1)").unwrap_err();
        assert!(e.to_string().contains("Promise"), "{e}");
    }

    #[test]
    fn an_endless_loop_is_stopped_by_the_time_budget() {
        let budget = Budget {
            time: Duration::from_millis(200),
            ..Budget::DEFAULT
        };
        let started = Instant::now();
        let e = evaluate_within("while (true) {}", &json!({}), budget).unwrap_err();
        assert_eq!(e, ScriptError::TimeBudget(Duration::from_millis(200)));
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(e.to_string().contains("time budget of 200ms"), "{e}");
        // Not even a catch keeps it going.
        let e = evaluate_within(
            "for (;;) { try { while (true) {} } catch (e) {} }",
            &json!({}),
            budget,
        )
        .unwrap_err();
        assert_eq!(e, ScriptError::TimeBudget(Duration::from_millis(200)));
    }

    #[test]
    fn a_huge_allocation_is_stopped_by_the_memory_budget() {
        let budget = Budget {
            memory_bytes: 8 * 1024 * 1024,
            ..Budget::DEFAULT
        };
        let e = evaluate_within(
            "var a = []; while (true) { a.push(new Array(100000).fill(1)); }",
            &json!({}),
            budget,
        )
        .unwrap_err();
        assert_eq!(e, ScriptError::MemoryBudget(8 * 1024 * 1024));
        assert!(e.to_string().contains("memory"), "{e}");
        let e = evaluate_within("'x'.repeat(1 << 28)", &json!({}), budget).unwrap_err();
        assert_eq!(e, ScriptError::MemoryBudget(8 * 1024 * 1024));
    }

    #[test]
    fn deep_recursion_is_an_error_not_a_crash() {
        let e = run("function f() { return f() } f()").unwrap_err();
        assert!(e.to_string().contains("call stack"), "{e}");
    }

    #[test]
    fn no_require_import_or_host_objects() {
        let e = run("require('fs')").unwrap_err();
        assert!(e.to_string().contains("require is not defined"), "{e}");
        assert!(
            run("import('fs')").is_err(),
            "dynamic import gives a Promise at best"
        );
        assert_eq!(
            run(
                "[typeof std, typeof os, typeof process, typeof fetch, typeof XMLHttpRequest, typeof print].join()"
            ),
            Ok(json!(
                "undefined,undefined,undefined,undefined,undefined,undefined"
            ))
        );
        let e = check("import fs from 'fs'; fs.readFileSync('/etc/passwd')").unwrap_err();
        assert!(matches!(e, ScriptError::Syntax { .. }), "{e:?}");
    }

    #[test]
    fn thrown_errors_keep_their_message_and_position() {
        let e = run("\n  throw new Error('boom')").unwrap_err();
        assert_eq!(
            e,
            ScriptError::Thrown {
                message: "Error: boom".into(),
                position: Some((2, 13))
            }
        );
        assert_eq!(
            run("throw 'plain'").unwrap_err().to_string(),
            "uncaught plain"
        );
        let e = run("$.nothing.deeper").unwrap_err();
        assert!(e.to_string().starts_with("TypeError: "), "{e}");
    }

    #[test]
    fn syntax_errors_have_a_line_and_column_and_nothing_runs_when_checking() {
        assert_eq!(check("$.x > 1 ? 'a' : 'b'"), Ok(()));
        assert_eq!(
            check("while (true) {}"),
            Ok(()),
            "checking does not run the script"
        );
        assert_eq!(check("function e() { return 1 } e();"), Ok(()));
        match check("$.x +") {
            Err(ScriptError::Syntax { line, column, .. }) => assert_eq!((line, column), (1, 6)),
            other => panic!("{other:?}"),
        }
        match check("var a = 1;\n\n  let = = 3") {
            Err(ScriptError::Syntax {
                line,
                column,
                message,
            }) => {
                assert_eq!(line, 3);
                assert!(column > 2, "{column}");
                assert!(message.starts_with("SyntaxError"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let e = run("1 +").unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
    }
}
