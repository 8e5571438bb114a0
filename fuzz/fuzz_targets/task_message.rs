//! Task messages (`<task_id>.task.yaml`, read by agents and `3ox agent run`): parsing never
//! panics, and a message that parses is written and read back unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use threeox::mailbox::message::TaskMessage;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(message) = TaskMessage::parse(&text) {
        let yaml = message.to_yaml();
        assert_eq!(TaskMessage::parse(&yaml), Ok(message), "{yaml}");
    }
});
