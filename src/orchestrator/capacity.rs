//! How many runs one process drives at once.
//!
//! A driven run holds two open files for as long as it is driven: its journal and its
//! ownership lock. A station with 10,000 queued runs would need 20,000 descriptors, far above
//! the usual soft limit of 1,024, and every run past the limit failed to open its journal
//! (`Too many open files`) and was tried again later, over and over. So the process first
//! raises its soft limit to the hard one (as servers do), and then drives at most as many
//! runs as the limit leaves room for; the others wait in order of submission and start as
//! driven runs end. None is abandoned: a waiting run is only later.

/// Open files one driven run holds (its journal and its ownership lock), with one to spare
/// for the short-lived files a step opens.
const FILES_PER_RUN: u64 = 3;

/// Open files kept for everything else: the watcher, logs, the managed agents' pipes (four
/// per agent are added by the caller), the files a step opens for a moment.
const FILES_KEPT: u64 = 64;

/// `THREEOX_RUNS_AT_ONCE`: a lower bound set by hand (for tests and for a station whose
/// agents cannot take more).
pub const RUNS_AT_ONCE_ENV: &str = "THREEOX_RUNS_AT_ONCE";

/// Raises the soft open-file limit as far as the hard limit allows, and returns how many
/// runs may be driven at once by a process that also runs `agents` managed agents.
pub fn runs_at_once(agents: usize) -> usize {
    let limit = raise_open_file_limit();
    let kept = FILES_KEPT + 4 * u64::try_from(agents).unwrap_or(u64::MAX / 8);
    let by_files = usize::try_from(limit.saturating_sub(kept) / FILES_PER_RUN)
        .unwrap_or(usize::MAX)
        .max(1);
    let asked = std::env::var(RUNS_AT_ONCE_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0);
    asked.map_or(by_files, |n| n.min(by_files))
}

/// Sets the soft limit on open files to the hard limit; returns the soft limit in force.
#[cfg(unix)]
fn raise_open_file_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 1024;
    };
    // macOS refuses a soft limit above OPEN_MAX however high the hard limit says.
    // Linux caps it at fs.nr_open (1,048,576 by default) even when the hard limit is
    // unlimited; macOS at OPEN_MAX.
    let wanted = if cfg!(target_os = "macos") {
        hard.min(10_240)
    } else {
        hard.min(1 << 20)
    };
    if wanted > soft && setrlimit(Resource::RLIMIT_NOFILE, wanted, hard).is_ok() {
        tracing::debug!(from = soft, to = wanted, "raised the open-file limit");
        return wanted;
    }
    soft
}

#[cfg(not(unix))]
fn raise_open_file_limit() -> u64 {
    // Windows has no per-process descriptor limit of this kind (handles are plentiful).
    u64::MAX
}
