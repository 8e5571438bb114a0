//! SWITCH conditions (`evaluatorType: expression`): checking and evaluating any text never
//! panics and always ends (the fuel budget bounds the work).

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use threeox::expr::condition;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = condition::check(&text);
    let vars = json!({"problem_count": 2, "kind": "a", "done": false, "items": [{"file": "x"}], "name": "a"});
    if let Ok(result) = condition::evaluate(&text, &vars) {
        let _ = condition::case_key(&result);
    }
});
