//! Replies (any file an agent drops into its outbox): parsing never panics, the reason for a
//! refusal is never empty, and an accepted reply is written and read back unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use threeox::mailbox::reply::Reply;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match Reply::parse(&text) {
        Ok(reply) => {
            assert!(reply.output.is_object() || reply.output.is_null());
            let yaml = reply.to_yaml();
            assert_eq!(Reply::parse(&yaml), Ok(reply), "{yaml}");
        }
        Err(reason) => assert!(!reason.is_empty()),
    }
});
