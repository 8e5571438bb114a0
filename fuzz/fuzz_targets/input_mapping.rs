//! `${...}` input mapping: `expr::resolve`, `expr::references` and `mapping::lookup` never
//! panic on any text, whether it stands alone or inside a YAML document of inputs. Text
//! without `${` resolves to itself.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use threeox::expr::{self, Scope, mapping};

struct Fixed(Value);

impl Scope for Fixed {
    fn root(&self, name: &str) -> Option<Value> {
        self.0.get(name).cloned()
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let scope = Fixed(json!({
        "workflow": {"input": {"n": 3, "folders": ["a", "b"], "station-root": "/s"}, "workflowId": "R"},
        "check": {"output": {"problems": [{"file": "x"}, {"file": "y"}], "count": 2}, "status": "COMPLETED"},
    }));
    let _ = mapping::lookup(&text, &scope);
    let value = Value::String(text.to_string());
    let resolved = expr::resolve(&value, &scope);
    if !text.contains("${") {
        assert_eq!(resolved, value);
    }
    for reference in expr::references(&value) {
        let _ = mapping::lookup(&reference.text, &scope);
    }
    // The same text as a document of input parameters, as a workflow file gives them.
    if let Ok(inputs) = serde_yaml::from_str::<Value>(&text) {
        let _ = expr::resolve(&inputs, &scope);
        let _ = expr::references(&inputs);
    }
});
