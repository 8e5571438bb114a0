//! Conductor interop and mocks files: `conductor::import` never panics on any text; what it
//! accepts exports to Conductor JSON that imports again, and a second export gives the same
//! JSON as the first (export normalises once: it may add a `taskDefinition` name, or leave
//! out what Conductor has no field for, with a note); a mocks file (`3ox test --mock`) is
//! read or refused without a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use threeox::definition::conductor;
use threeox::testing::MockFile;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = MockFile::parse(&text, "fuzzed.mocks.yaml");
    let Ok(imported) = conductor::import(&text, "fuzzed.json") else {
        return;
    };
    let exported = conductor::export(&imported.yaml, "fuzzed.yaml")
        .unwrap_or_else(|e| panic!("an imported workflow does not export: {e:?}"));
    let again = conductor::import(&exported.json, "fuzzed.json")
        .unwrap_or_else(|e| panic!("an exported workflow does not import: {e:?}"));
    let exported_again = conductor::export(&again.yaml, "fuzzed.yaml")
        .unwrap_or_else(|e| panic!("a re-imported workflow does not export: {e:?}"));
    assert_eq!(
        exported_again.json, exported.json,
        "export -> import -> export changed the Conductor JSON"
    );
});
