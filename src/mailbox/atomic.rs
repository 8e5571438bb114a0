//! Atomic file writes: dot name, write, fsync, rename, fsync the folder.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Whether a write must reach the disk before it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync the file before the rename and the folder after it.
    Durable,
    /// Rename only: atomic for readers, but a power cut may lose it. For files that can be
    /// rebuilt (the state snapshot).
    Relaxed,
}

/// Writes `bytes` to `path` so that readers see either nothing or the whole file.
pub fn write(path: &Path, bytes: &[u8], durability: Durability) -> std::io::Result<()> {
    write_with_mode(path, bytes, durability, None)
}

/// [`write()`], with the file created with permission bits `mode` (Unix; ignored elsewhere),
/// so it never exists, even under its dot name, with looser permissions.
pub fn write_with_mode(
    path: &Path,
    bytes: &[u8],
    durability: Durability,
    mode: Option<u32>,
) -> std::io::Result<()> {
    let dir = parent_dir(path);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}-{unique}.tmp", std::process::id()));
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if let Some(mode) = mode {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(mode);
        }
        #[cfg(not(unix))]
        let _ = mode;
        let mut file = options.open(&tmp)?;
        #[cfg(unix)]
        if let Some(mode) = mode {
            // The umask may have taken bits away, never added any: set them exactly.
            use std::os::unix::fs::PermissionsExt as _;
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        file.write_all(bytes)?;
        if durability == Durability::Durable {
            file.sync_all()?;
        }
        drop(file);
        std::fs::rename(&tmp, path)?;
        if durability == Durability::Durable {
            sync_dir(dir)?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The folder `path` is in: `.` for a bare file name such as `a.yaml`, whose parent is the
/// empty path (which no system call opens), and for a path without a parent.
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// fsyncs a folder so a rename or a new file in it survives a power cut.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Writes many files at once, each atomically: all bodies are written and fsynced in
/// parallel, then renamed into place, then each folder touched is fsynced once. For a fan-out
/// this costs about one fsync round instead of one per file.
pub fn write_batch(
    files: &[(std::path::PathBuf, Vec<u8>)],
    durability: Durability,
) -> std::io::Result<()> {
    if files.len() <= 1 {
        return files
            .iter()
            .try_for_each(|(path, bytes)| write(path, bytes, durability));
    }
    let temps: Vec<std::path::PathBuf> = files
        .iter()
        .map(|(path, _)| {
            let dir = parent_dir(path);
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
            let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
            dir.join(format!(".{name}.{}-{unique}.tmp", std::process::id()))
        })
        .collect();
    let write_one = |(tmp, bytes): (&std::path::PathBuf, &Vec<u8>)| -> std::io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(tmp)?;
        file.write_all(bytes)?;
        if durability == Durability::Durable {
            file.sync_all()?;
        }
        Ok(())
    };
    let workers = std::thread::available_parallelism()
        .map_or(4, |n| n.get())
        .clamp(4, 16)
        .min(files.len());
    let chunk = files.len().div_ceil(workers);
    let pairs: Vec<(&std::path::PathBuf, &Vec<u8>)> =
        temps.iter().zip(files.iter().map(|(_, b)| b)).collect();
    let result = std::thread::scope(|scope| {
        let handles: Vec<_> = pairs
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().try_for_each(|p| write_one(*p))))
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .unwrap_or_else(|_| Err(std::io::Error::other("a writer thread panicked")))
        })
    });
    if let Err(e) = result {
        temps.iter().for_each(|t| drop(std::fs::remove_file(t)));
        return Err(e);
    }
    let mut dirs = std::collections::BTreeSet::new();
    for (tmp, (path, _)) in temps.iter().zip(files) {
        std::fs::rename(tmp, path)?;
        dirs.insert(parent_dir(path).to_path_buf());
    }
    if durability == Durability::Durable {
        dirs.iter().try_for_each(|d| sync_dir(d))?;
    }
    Ok(())
}
