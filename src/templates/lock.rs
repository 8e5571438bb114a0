//! `templates.lock` at the station root: for each template added with `3ox template add`,
//! where it came from, the commit a git ref resolved to, and the sha256 of each file
//! installed, so `3ox template verify` can tell when a file changed.
//!
//! ```yaml
//! version: 1
//! templates:
//!   nightly_check:
//!     source: file:///srv/catalogue.git@v1.2   # a folder, a .tar.gz, or <git url>@<ref>
//!     kind: git                                # folder | tarball | git
//!     commit: 3f2c...                          # git only: what the ref resolved to
//!     sha256: 9a1b...                          # over every file below, in order
//!     files:
//!       templates/nightly-check.workflow.yaml: 5d41...
//!       templates/tests/nightly-check.mocks.yaml: 7c6a...
//! ```
//!
//! It is written atomically; paths are relative to the station root, with `/`.

use std::path::Path;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::mailbox::atomic::{self, Durability};
use crate::station::Station;

/// The lock file's name at the station root.
pub const FILE: &str = "templates.lock";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    pub version: u32,
    #[serde(default)]
    pub templates: IndexMap<String, Entry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub source: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    pub sha256: String,
    pub files: IndexMap<String, String>,
}

/// The sha256 of `bytes`, in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The digest of a set of files: sha256 over `<path>\0<sha256>\n` for each, in order.
pub fn content_digest(files: &IndexMap<String, String>) -> String {
    let mut all = String::new();
    for (path, digest) in files {
        all.push_str(&format!("{path}\0{digest}\n"));
    }
    sha256_hex(all.as_bytes())
}

impl Lock {
    /// The station's lock, empty when there is none.
    pub fn read(station: &Station) -> Result<Lock, String> {
        let path = station.root.join(FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Lock {
                    version: 1,
                    templates: IndexMap::new(),
                });
            }
            Err(e) => return Err(format!("cannot read {FILE}: {e}")),
        };
        serde_yaml::from_str(&text).map_err(|e| format!("{FILE} is not a lock file: {e}"))
    }

    pub fn write(&self, station: &Station) -> Result<(), String> {
        let text = format!(
            "# Written by `3ox template add`; checked by `3ox template verify`. Do not edit.\n{}",
            serde_yaml::to_string(self).map_err(|e| e.to_string())?
        );
        atomic::write(
            &station.root.join(FILE),
            text.as_bytes(),
            Durability::Durable,
        )
        .map_err(|e| format!("cannot write {FILE}: {e}"))
    }
}

/// One difference between the lock and the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    pub template: String,
    pub file: String,
    /// `changed` or `missing`.
    pub how: &'static str,
}

/// Every locked file that is missing or whose sha256 is not the recorded one.
pub fn verify(station: &Station, lock: &Lock) -> Vec<Changed> {
    let mut out = Vec::new();
    for (name, entry) in &lock.templates {
        for (file, digest) in &entry.files {
            let how = match std::fs::read(station.root.join(Path::new(file))) {
                Ok(bytes) if sha256_hex(&bytes) == *digest => continue,
                Ok(_) => "changed",
                Err(_) => "missing",
            };
            out.push(Changed {
                template: name.clone(),
                file: file.clone(),
                how,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_sha256_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut files = IndexMap::new();
        files.insert("a".to_string(), sha256_hex(b"x"));
        let one = content_digest(&files);
        files.insert("b".to_string(), sha256_hex(b"y"));
        assert_ne!(one, content_digest(&files));
    }
}
