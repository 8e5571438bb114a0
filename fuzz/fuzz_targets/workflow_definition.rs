//! Workflow files: `definition::parse_str` (YAML/JSON parse, positions, validation) never
//! panics, every diagnostic renders, and a definition that loads loads again, unchanged, from
//! its own serialisation.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use threeox::definition::{self, LoadError};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match definition::parse_str(&text, Path::new("fuzzed.yaml")) {
        Ok(def) => {
            let again = serde_yaml::to_string(&def).expect("a definition serialises");
            let reloaded =
                definition::parse_str(&again, Path::new("again.yaml")).unwrap_or_else(|e| {
                    panic!("an accepted definition does not load again: {e}\n{again}")
                });
            assert_eq!(reloaded, def, "{again}");
        }
        Err(LoadError::Invalid { diagnostics, .. }) => {
            assert!(!diagnostics.is_empty(), "refused without a reason");
            for diagnostic in &diagnostics {
                assert!(
                    diagnostic.line >= 1 && diagnostic.column >= 1,
                    "{diagnostic:?}"
                );
                let _ = diagnostic.render();
            }
        }
        Err(other) => panic!("parse_str reads no file, yet: {other}"),
    }
});
