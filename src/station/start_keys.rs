//! Idempotent starts: `3ox start --key KEY` submits a run once per key.
//!
//! `.3ox/keys/<KEY>.yaml` records which run a key started (`version: 1`, `key`, `run_id`,
//! `created_at`). The lookup and the submission happen under an exclusive lock on
//! `.3ox/keys.lock`, so two starts with the same key at the same moment still make one run.

use std::fs::OpenOptions;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Station, StationError, io};
use crate::mailbox::atomic::{self, Durability};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StartKey {
    pub version: u32,
    pub key: String,
    pub run_id: String,
    pub created_at: DateTime<Utc>,
}

/// What a keyed start did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    New(String),
    /// The key had already started this run; nothing new was submitted.
    Existing(String),
}

/// Returns the run `key` started before, or calls `submit` (under the keys lock) and records
/// the run it returns. A key must be a plain name: letters, digits, `-`, `_`, `.`.
pub fn start_once<E: From<StationError>>(
    station: &Station,
    key: &str,
    submit: impl FnOnce() -> Result<String, E>,
) -> Result<Started, E> {
    let plain = !key.is_empty()
        && key.len() <= 128
        && !key.starts_with('.')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !plain {
        return Err(StationError::BadAgent {
            path: format!("--key {key:?}"),
            message: "a start key may use only letters, digits, '-', '_' and '.' (at most 128, not starting with '.')".into(),
        }
        .into());
    }
    let dir = station.runtime_dir().join("keys");
    std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
    let lock_path = station.runtime_dir().join("keys.lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io("open", &lock_path))?;
    lock.lock().map_err(io("lock", &lock_path))?;
    let path = dir.join(format!("{key}.yaml"));
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Ok(found) = serde_yaml::from_str::<StartKey>(&text)
    {
        return Ok(Started::Existing(found.run_id));
    }
    let run_id = submit()?;
    let record = StartKey {
        version: 1,
        key: key.to_string(),
        run_id: run_id.clone(),
        created_at: Utc::now(),
    };
    let text = crate::mailbox::yaml::to_string(&record).expect("a start key always serialises");
    atomic::write(&path, text.as_bytes(), Durability::Durable).map_err(io("write", &path))?;
    drop(lock);
    Ok(Started::New(run_id))
}
