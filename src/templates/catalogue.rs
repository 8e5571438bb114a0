//! A template catalogue: a folder or git repository with an `index.yaml` that lists
//! templates, for `3ox template search`:
//!
//! ```yaml
//! version: 1
//! templates:
//!   - name: nightly_check
//!     version: 2
//!     description: Check every inventory folder at night and report
//!     source: nightly/              # where `3ox template add` finds it: a folder of the
//!                                   # catalogue, a .tar.gz, or <git url>@<ref>
//!     sha256: 9a1b...               # optional: the content digest `templates.lock` records
//!     tags: [inventory, nightly]
//! ```

use serde::{Deserialize, Serialize};

use super::source::{self, Source};

/// The index file's name.
pub const INDEX: &str = "index.yaml";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Index {
    #[serde(default = "one")]
    pub version: u32,
    #[serde(default)]
    pub templates: Vec<Listed>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listed {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

impl Listed {
    /// Whether `word` is in its name, description or tags (case-insensitive).
    pub fn matches(&self, word: &str) -> bool {
        let word = word.to_lowercase();
        self.name.to_lowercase().contains(&word)
            || self
                .description
                .as_deref()
                .is_some_and(|d| d.to_lowercase().contains(&word))
            || self.tags.iter().any(|t| t.to_lowercase().contains(&word))
    }
}

/// Reads the index of the catalogue at `location` (a folder, or a git URL with an optional
/// `@ref`, `HEAD` by default); temporary folders go under `runtime`. Also returns where the
/// catalogue's files are, so relative `source`s can be resolved.
pub fn read(location: &str, runtime: &std::path::Path) -> Result<(Index, String), String> {
    let parsed = match Source::parse(location) {
        Ok(s) => s,
        Err(_) if !location.contains('@') => Source::parse(&format!("{location}@HEAD"))?,
        Err(e) => return Err(e),
    };
    let fetched = source::fetch(&parsed, runtime)?;
    let path = fetched.root.join(INDEX);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("the catalogue {location} has no readable {INDEX}: {e}"))?;
    let index: Index = serde_yaml::from_str(&text)
        .map_err(|e| format!("{INDEX} of {location} is not a catalogue index: {e}"))?;
    Ok((index, parsed.describe()))
}
