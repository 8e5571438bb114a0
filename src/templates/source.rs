//! Where a template comes from, and getting its files into a temporary folder:
//!
//! - a folder: used as it is;
//! - a `.tar.gz` / `.tgz` file: unpacked with the system `tar` into a temporary folder;
//! - a git repository at a ref, `<url>@<ref>` (`file:///srv/templates.git@v1.2`,
//!   `https://host/repo.git@main`): cloned with the system `git` into a temporary folder,
//!   the ref checked out, and its commit SHA recorded.
//!
//! Nothing found in a source is run: its files are only read (and later copied).

use std::path::{Path, PathBuf};
use std::process::Command;

/// A parsed source argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Folder(PathBuf),
    Tarball(PathBuf),
    Git { url: String, reference: String },
}

impl Source {
    /// Reads `text`: an existing folder, a `.tar.gz`/`.tgz` file, or `<git url>@<ref>`.
    pub fn parse(text: &str) -> Result<Source, String> {
        let path = Path::new(text);
        if path.is_dir() {
            return Ok(Source::Folder(path.to_path_buf()));
        }
        if (text.ends_with(".tar.gz") || text.ends_with(".tgz")) && path.is_file() {
            return Ok(Source::Tarball(path.to_path_buf()));
        }
        // The ref follows the last `@` after the last `/` (a `user@host:` prefix stays).
        let tail_start = text.rfind('/').map_or(0, |i| i + 1);
        if let Some(at) = text[tail_start..].rfind('@').map(|i| i + tail_start)
            && looks_like_git(&text[..at])
            && !text[at + 1..].is_empty()
        {
            return Ok(Source::Git {
                url: text[..at].to_string(),
                reference: text[at + 1..].to_string(),
            });
        }
        if looks_like_git(text) {
            return Err(format!(
                "`{text}` names a git repository but no ref: write `{text}@<tag, branch or commit>`"
            ));
        }
        Err(format!(
            "`{text}` is not a folder, a .tar.gz file or a git repository with a ref (`<url>@<ref>`)"
        ))
    }

    /// How the source is written in `templates.lock` (`git` with its ref).
    pub fn describe(&self) -> String {
        match self {
            Source::Folder(p) | Source::Tarball(p) => std::path::absolute(p)
                .unwrap_or_else(|_| p.clone())
                .display()
                .to_string(),
            Source::Git { url, reference } => format!("{url}@{reference}"),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Source::Folder(_) => "folder",
            Source::Tarball(_) => "tarball",
            Source::Git { .. } => "git",
        }
    }
}

fn looks_like_git(url: &str) -> bool {
    ["file://", "https://", "http://", "ssh://", "git://"]
        .iter()
        .any(|p| url.starts_with(p))
        || url.ends_with(".git")
}

/// A source's files on disk, for as long as this lives.
pub struct Fetched {
    /// The folder holding the source's files.
    pub root: PathBuf,
    /// The commit a git source resolved to.
    pub commit: Option<String>,
    _temp: Option<TempDir>,
}

/// A temporary folder removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(station_runtime: &Path) -> Result<TempDir, String> {
    let dir = station_runtime
        .join("tmp")
        .join(format!("template-{}", ulid::Ulid::new()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("cannot make the temporary folder {}: {e}", dir.display()))?;
    Ok(TempDir(dir))
}

fn run(cmd: &mut Command, what: &str) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot {what}: {e} (is it installed?)"))?;
    if !out.status.success() {
        return Err(format!(
            "cannot {what}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Gets the files of `source` (and the commit of a git source); temporary folders go under
/// `runtime` (the station's `.3ox/`).
pub fn fetch(source: &Source, runtime: &Path) -> Result<Fetched, String> {
    match source {
        Source::Folder(path) => Ok(Fetched {
            root: path.clone(),
            commit: None,
            _temp: None,
        }),
        Source::Tarball(path) => {
            let temp = temp_dir(runtime)?;
            run(
                Command::new("tar")
                    .arg("-xzf")
                    .arg(std::path::absolute(path).unwrap_or_else(|_| path.clone()))
                    .arg("--no-same-owner")
                    .arg("--no-same-permissions")
                    .arg("-C")
                    .arg(&temp.0),
                &format!("unpack {}", path.display()),
            )?;
            // An archive holding one folder is that folder.
            let entries: Vec<PathBuf> = std::fs::read_dir(&temp.0)
                .map_err(|e| e.to_string())?
                .flatten()
                .map(|e| e.path())
                .collect();
            let root = match entries.as_slice() {
                [only] if only.is_dir() && !only.is_symlink() => only.clone(),
                _ => temp.0.clone(),
            };
            Ok(Fetched {
                root,
                commit: None,
                _temp: Some(temp),
            })
        }
        Source::Git { url, reference } => {
            let temp = temp_dir(runtime)?;
            let dir = temp.0.join("repo");
            run(
                Command::new("git")
                    .args(["clone", "--quiet", "--no-checkout", "--", url])
                    .arg(&dir)
                    .env("GIT_TERMINAL_PROMPT", "0"),
                &format!("clone {url}"),
            )?;
            let commit = run(
                Command::new("git")
                    .arg("-C")
                    .arg(&dir)
                    .args(["rev-parse", "--verify", "--quiet"])
                    .arg(format!("{reference}^{{commit}}")),
                &format!("find ref `{reference}` in {url}"),
            )
            .map_err(|_| format!("{url} has no tag, branch or commit `{reference}`"))?;
            run(
                Command::new("git").arg("-C").arg(&dir).args([
                    "-c",
                    "advice.detachedHead=false",
                    "checkout",
                    "--quiet",
                    &commit,
                ]),
                &format!("check out {reference}"),
            )?;
            Ok(Fetched {
                root: dir,
                commit: Some(commit),
                _temp: Some(temp),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_sources_need_a_ref() {
        assert_eq!(
            Source::parse("file:///srv/t.git@v1").unwrap(),
            Source::Git {
                url: "file:///srv/t.git".into(),
                reference: "v1".into()
            }
        );
        assert_eq!(
            Source::parse("https://example.org/a/b.git@main").unwrap(),
            Source::Git {
                url: "https://example.org/a/b.git".into(),
                reference: "main".into()
            }
        );
        assert!(
            Source::parse("file:///srv/t.git")
                .unwrap_err()
                .contains("no ref")
        );
        assert!(Source::parse("/no/such/folder").is_err());
    }
}
