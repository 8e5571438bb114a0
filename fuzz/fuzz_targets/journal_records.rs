//! Journal files: `journal::decode` never panics on any bytes, and what it accepts is
//! consistent: records numbered from 1, the valid part decodes alone to the same records, and
//! those records encode and decode back unchanged.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use threeox::journal;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzzed.journal.yaml");
    let Ok(contents) = journal::decode(data, path) else {
        return;
    };
    let valid_len = usize::try_from(contents.valid_len).expect("fits");
    assert!(valid_len <= data.len());
    for (i, record) in contents.records.iter().enumerate() {
        assert_eq!(record.seq, i as u64 + 1);
    }
    if let Some((offset, _)) = &contents.torn_tail {
        assert_eq!(*offset, contents.valid_len);
    } else {
        assert_eq!(valid_len, data.len());
    }
    let valid = journal::decode(&data[..valid_len], path).expect("the valid part decodes");
    assert!(valid.torn_tail.is_none());
    assert_eq!(valid.records, contents.records);
    let mut bytes = Vec::new();
    for record in &contents.records {
        journal::encode(record, &mut bytes);
    }
    let again = journal::decode(&bytes, path).expect("encoded records decode");
    assert_eq!(again.records, contents.records);
});
