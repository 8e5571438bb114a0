//! `agents/<name>/agent.yaml`: parsing never panics, and a config that parses is written and
//! read back unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use threeox::station::AgentConfig;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(config) = serde_yaml::from_str::<AgentConfig>(&text) {
        let yaml = serde_yaml::to_string(&config).expect("an agent config serialises");
        assert_eq!(
            serde_yaml::from_str::<AgentConfig>(&yaml).ok(),
            Some(config),
            "{yaml}"
        );
    }
});
