//! The station runtime: what every run driven by one process shares.
//!
//! One process (`3ox up`, `3ox run`, `3ox resume`) drives any number of runs at once: the
//! runs it was asked for, the children they start, every run `up` finds RUNNING. They share
//! one [`StationRuntime`] (a cheap, cloneable handle), which holds:
//!
//! - **One watcher for the station.** A single notify watcher (one inotify instance) watches
//!   every agent's outbox, the runs folder, and `.3ox/control/`, where a run's doorbell
//!   (`<run>.ring`) is rung after a request or a child's notice is put into its control folder:
//!   O(agents) watches, however many runs.
//!   Its events are routed, not broadcast. A file in an outbox is named after the id it
//!   answers (`<task_id>.reply.yaml`, `<task_id>.hb-1.yaml`, `<request_id>.approval.yaml`:
//!   the part before the first `.`), and the runtime keeps an in-memory index from those ids
//!   to the run that owns them. A run registers an id before the message or request carrying
//!   it is written (see `RunActor::commit`), so no answer can arrive before its route. A file
//!   whose name is no id the index knows is offered once to every run; each judges it as it
//!   always has (applies it, refuses it, or hands it to its owner with [`StationRuntime::forward`]).
//!   Nothing here reads a file's content or the state snapshot.
//! - **One rescan.** Events carry no promise (they can be lost in an inotify queue overflow),
//!   so the runtime lists the watched folders itself every `rescan_every` (2 s): a file with a
//!   known owner is routed again (the owner skips what it has handled), an unknown one only the
//!   first time it is seen, and a run whose control folder holds a file is woken.
//! - **Polling where watching fails.** A folder that cannot be watched (the inotify instance
//!   or watch limit, EMFILE, ENOSPC, a missing folder), or every folder when no watcher can be
//!   made or `THREEOX_WATCH=poll` asks for it, is polled: the rescan then runs every
//!   [`POLL_EVERY`], and a warning names the folder and the reason. Nothing is left unwatched.
//! - **One snapshot writer.** The runs' summaries for `.3ox/state/` are queued here and
//!   written together on a blocking thread, the latest summary of each run queued since the
//!   last write, so a run that changes many times between two writes is written once. A
//!   driver that must know its
//!   summary is on disk (when it takes a run over, when it stops) waits for the write.
//! - **The child runs' drivers.** A parent's driver starts its children's drivers on the same
//!   tokio runtime; their handles (a stop channel and a join handle) are kept here, by parent,
//!   so that the parent's driver can wait for them or stop them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use notify::{RecursiveMode, Watcher as _};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};

use tokio::sync::{Notify, oneshot};

use super::Control;
use super::load::AgentLoad;
use super::snapshot::{self, RunSummary};
use super::watch::{Wake, is_arrival};
use crate::station::Station;

/// How often folders that cannot be watched are polled.
pub const POLL_EVERY: Duration = Duration::from_millis(250);

/// The environment variable that forces polling (`poll`) instead of native watching.
pub const WATCH_ENV: &str = "THREEOX_WATCH";

/// How the station's folders are watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchMode {
    /// Native events (inotify), with polling for folders that cannot be watched.
    Native,
    /// Every folder polled every [`POLL_EVERY`].
    Poll,
}

impl WatchMode {
    /// The mode `THREEOX_WATCH` asks for: `poll`, or else native.
    pub fn from_env() -> WatchMode {
        match std::env::var(WATCH_ENV) {
            Ok(value) if value.eq_ignore_ascii_case("poll") => WatchMode::Poll,
            _ => WatchMode::Native,
        }
    }
}

/// Runs `f`, which waits for the disk (an fsync when `durability` is durable), so that it
/// stalls only the run that calls it: on a multi-threaded tokio runtime the calling worker
/// hands its other runs to another thread first (`block_in_place`). Elsewhere, and without
/// an fsync, `f` runs as it is. The kernel merges the fsyncs that many runs make at the same
/// moment into one journal commit of the filesystem (ext4, xfs), so appends due together
/// share the cost of one.
pub fn off_the_driver<T>(
    durability: crate::mailbox::atomic::Durability,
    f: impl FnOnce() -> T,
) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    let multi =
        Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread);
    if multi && durability == crate::mailbox::atomic::Durability::Durable {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}

/// A child run's driver: its stop channel and its task.
pub(super) struct ChildDriver {
    pub run_id: String,
    pub stop: mpsc::Sender<Control>,
    pub task: tokio::task::JoinHandle<()>,
}

/// The handle on the station runtime; clones share it.
#[derive(Clone)]
pub struct StationRuntime {
    inner: Arc<Inner>,
}

impl fmt::Debug for StationRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StationRuntime")
            .field("station", &self.inner.root)
            .finish_non_exhaustive()
    }
}

struct Inner {
    station: Station,
    root: PathBuf,
    runs_dir: PathBuf,
    control_root: PathBuf,
    routes: Mutex<Routes>,
    /// `None` when every folder is polled.
    watcher: Mutex<Option<notify::RecommendedWatcher>>,
    children: Mutex<HashMap<String, Vec<ChildDriver>>>,
    snapshots: Mutex<SnapshotQueue>,
    snapshot_due: Arc<Notify>,
    load: Mutex<AgentLoad>,
}

/// Summaries waiting to be written, and who waits for them.
#[derive(Default)]
struct SnapshotQueue {
    pending: BTreeMap<String, RunSummary>,
    waiters: Vec<oneshot::Sender<()>>,
}

#[derive(Default)]
struct Routes {
    runs: HashMap<String, RunRoute>,
    /// Task ids and approval request ids, to the run that owns them.
    owners: HashMap<String, String>,
    /// Watched outbox folders, to their agent.
    outboxes: BTreeMap<PathBuf, String>,
    /// Folders that could not be watched, with why: polled at every rescan.
    polled: BTreeMap<PathBuf, String>,
    /// Files of no known owner already offered to every run.
    offered: HashSet<PathBuf>,
    /// Who wants to hear of new journals in the runs folder (`3ox up`).
    journal_listeners: Vec<UnboundedSender<()>>,
    all_polled: bool,
}

struct RunRoute {
    wakes: UnboundedSender<Wake>,
    keys: Vec<String>,
    control_dir: PathBuf,
}

/// A run's place in the runtime: its wakes arrive on `wakes`. Dropping it takes the run's
/// routes out.
pub struct Subscription {
    pub wakes: UnboundedReceiver<Wake>,
    runtime: StationRuntime,
    run_id: String,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.runtime.unsubscribe(&self.run_id);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain maps behind: still usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The id a mail file's name is about: the part before the first `.`.
pub fn key_of(path: &Path) -> Option<&str> {
    path.file_name()?.to_str()?.split('.').next()
}

impl StationRuntime {
    /// Starts the runtime of `station` in `mode`: the watcher (native mode) and the rescan task.
    /// Must be called on a tokio runtime.
    pub fn start(station: &Station, mode: WatchMode) -> StationRuntime {
        let inner = Arc::new(Inner {
            station: station.clone(),
            root: station.root.clone(),
            runs_dir: station.runs_dir(),
            control_root: station.runtime_dir().join("control"),
            routes: Mutex::new(Routes::default()),
            watcher: Mutex::new(None),
            children: Mutex::new(HashMap::new()),
            snapshots: Mutex::new(SnapshotQueue::default()),
            snapshot_due: Arc::new(Notify::new()),
            load: Mutex::new(AgentLoad::default()),
        });
        let runtime = StationRuntime { inner };
        let made = match mode {
            WatchMode::Poll => Err(format!("{WATCH_ENV}=poll asks for it")),
            WatchMode::Native => runtime.make_watcher().map_err(|e| e.to_string()),
        };
        match made {
            Ok(watcher) => *lock(&runtime.inner.watcher) = Some(watcher),
            Err(reason) => {
                if mode == WatchMode::Poll {
                    eprintln!(
                        "3ox: polling the station's folders every {} ms ({WATCH_ENV}=poll)",
                        POLL_EVERY.as_millis()
                    );
                } else {
                    tracing::warn!(%reason, "cannot watch the station's folders; polling them every {} ms instead", POLL_EVERY.as_millis());
                    eprintln!(
                        "3ox: warning: cannot watch the station's folders ({reason}); polling them every {} ms instead",
                        POLL_EVERY.as_millis()
                    );
                }
                lock(&runtime.inner.routes).all_polled = true;
            }
        }
        let runs_dir = runtime.inner.runs_dir.clone();
        runtime.watch_folder(&runs_dir);
        // The control folders' doorbells (`<run>.ring`) ring here: one watch for every run.
        let control_root = runtime.inner.control_root.clone();
        if let Err(error) = crate::station::create_mail_dir(&control_root) {
            tracing::debug!(%error, "cannot make the control folder");
        }
        runtime.watch_folder(&control_root);
        let weak = Arc::downgrade(&runtime.inner);
        tokio::spawn(rescan_loop(weak.clone()));
        tokio::spawn(snapshot_writer(
            weak,
            Arc::clone(&runtime.inner.snapshot_due),
        ));
        runtime
    }

    /// Queues run `run_id`'s summary for the snapshot (written soon, with the others queued).
    pub fn queue_snapshot(&self, run_id: &str, summary: RunSummary) {
        lock(&self.inner.snapshots)
            .pending
            .insert(run_id.to_string(), summary);
        self.inner.snapshot_due.notify_one();
    }

    /// Queues run `run_id`'s summary and waits until it is written.
    pub async fn write_snapshot(&self, run_id: &str, summary: RunSummary) {
        let (tx, rx) = oneshot::channel();
        {
            let mut queue = lock(&self.inner.snapshots);
            queue.pending.insert(run_id.to_string(), summary);
            queue.waiters.push(tx);
        }
        self.inner.snapshot_due.notify_one();
        let _ = rx.await;
    }

    /// The runtime for `station` as `THREEOX_WATCH` says.
    pub fn from_env(station: &Station) -> StationRuntime {
        StationRuntime::start(station, WatchMode::from_env())
    }

    fn make_watcher(&self) -> notify::Result<notify::RecommendedWatcher> {
        let weak = Arc::downgrade(&self.inner);
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if let Some(inner) = weak.upgrade() {
                inner.on_event(event);
            }
        })
    }

    /// True when at least one folder is polled rather than watched.
    pub fn polls(&self) -> bool {
        let routes = lock(&self.inner.routes);
        routes.all_polled || !routes.polled.is_empty()
    }

    /// The folders polled rather than watched, with why.
    pub fn polled_folders(&self) -> Vec<(PathBuf, String)> {
        lock(&self.inner.routes)
            .polled
            .iter()
            .map(|(dir, why)| (dir.clone(), why.clone()))
            .collect()
    }

    /// Watches `dir` (or, when it cannot, polls it, with a warning). Never called with the
    /// routes locked: the watcher's thread takes that lock to deliver events.
    fn watch_folder(&self, dir: &Path) {
        let failed = {
            let mut watcher = lock(&self.inner.watcher);
            match watcher.as_mut() {
                None => None,
                Some(watcher) => watcher.watch(dir, RecursiveMode::NonRecursive).err(),
            }
        };
        if let Some(error) = failed {
            let reason = super::watch::explain(error, dir).to_string();
            tracing::warn!(folder = %dir.display(), %reason, "cannot watch a folder; polling it instead");
            eprintln!(
                "3ox: warning: {reason}; polling it every {} ms instead",
                POLL_EVERY.as_millis()
            );
            lock(&self.inner.routes)
                .polled
                .insert(dir.to_path_buf(), reason);
        }
    }

    /// Adds run `run_id`: its wakes (files in `outboxes` it owns or may own, its control
    /// folder's requests and notices) arrive on the returned subscription. `keys` are the ids
    /// it owns already (a resumed run's task and request ids).
    pub fn subscribe(
        &self,
        run_id: &str,
        outboxes: &[(String, PathBuf)],
        control_dir: &Path,
        keys: impl IntoIterator<Item = String>,
    ) -> Subscription {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut new_outboxes = Vec::new();
        {
            let mut routes = lock(&self.inner.routes);
            let keys: Vec<String> = keys.into_iter().collect();
            for key in &keys {
                routes.owners.insert(key.clone(), run_id.to_string());
            }
            if let Some(old) = routes.runs.insert(
                run_id.to_string(),
                RunRoute {
                    wakes: tx,
                    keys,
                    control_dir: control_dir.to_path_buf(),
                },
            ) {
                for key in old.keys {
                    if routes.owners.get(&key).is_some_and(|owner| owner == run_id) {
                        routes.owners.remove(&key);
                    }
                }
            }
            for (agent, dir) in outboxes {
                if !routes.outboxes.contains_key(dir) {
                    routes.outboxes.insert(dir.clone(), agent.clone());
                    new_outboxes.push(dir.clone());
                }
            }
        }
        for dir in new_outboxes {
            self.watch_folder(&dir);
        }
        Subscription {
            wakes: rx,
            runtime: self.clone(),
            run_id: run_id.to_string(),
        }
    }

    /// Publishes run `run_id`'s tasks in flight per agent (see [`AgentLoad`]).
    pub fn publish_load(&self, run_id: &str, in_flight: &BTreeMap<String, usize>) {
        lock(&self.inner.load).publish(run_id, in_flight);
    }

    /// The tasks in flight at `agent` across the runs this process drives.
    pub fn load_of(&self, agent: &str) -> usize {
        lock(&self.inner.load).of(agent)
    }

    fn unsubscribe(&self, run_id: &str) {
        lock(&self.inner.load).forget(run_id);
        let mut routes = lock(&self.inner.routes);
        let Some(route) = routes.runs.remove(run_id) else {
            return;
        };
        for key in route.keys {
            if routes.owners.get(&key).is_some_and(|owner| owner == run_id) {
                routes.owners.remove(&key);
            }
        }
    }

    /// Records that run `run_id` owns `keys` (task ids, approval request ids): call before
    /// the message or request that carries them is written.
    pub fn register(&self, run_id: &str, keys: impl IntoIterator<Item = String>) {
        let mut routes = lock(&self.inner.routes);
        let routes = &mut *routes;
        let Some(route) = routes.runs.get_mut(run_id) else {
            return;
        };
        for key in keys {
            routes.owners.insert(key.clone(), run_id.to_string());
            route.keys.push(key);
        }
    }

    /// The run (driven by this process) that owns task or request id `key`.
    pub fn owner_of(&self, key: &str) -> Option<String> {
        lock(&self.inner.routes).owners.get(key).cloned()
    }

    /// Hands `path` in `agent`'s outbox to run `owner`, when this process drives it. Returns
    /// whether it did.
    pub fn forward(&self, owner: &str, agent: &str, path: PathBuf) -> bool {
        let routes = lock(&self.inner.routes);
        routes.runs.get(owner).is_some_and(|route| {
            route
                .wakes
                .send(Wake::Files {
                    agent: agent.to_string(),
                    paths: vec![path],
                })
                .is_ok()
        })
    }

    /// A channel that hears (as a hint) of every new journal in the runs folder, and of every
    /// rescan while the runs folder is polled.
    pub fn new_journals(&self) -> UnboundedReceiver<()> {
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.inner.routes).journal_listeners.push(tx);
        rx
    }

    /// How many runs are subscribed.
    pub fn runs(&self) -> usize {
        lock(&self.inner.routes).runs.len()
    }

    // ---- child drivers ----

    /// Keeps `driver`, a child of `parent`.
    pub(super) fn add_child(&self, parent: &str, driver: ChildDriver) {
        lock(&self.inner.children)
            .entry(parent.to_string())
            .or_default()
            .push(driver);
    }

    /// True when child `child` of `parent` has a driver that is still going.
    pub(super) fn drives_child(&self, parent: &str, child: &str) -> bool {
        lock(&self.inner.children).get(parent).is_some_and(|list| {
            list.iter()
                .any(|d| d.run_id == child && !d.task.is_finished())
        })
    }

    /// Takes the drivers of `parent`'s children.
    pub(super) fn take_children(&self, parent: &str) -> Vec<ChildDriver> {
        lock(&self.inner.children)
            .remove(parent)
            .unwrap_or_default()
    }
}

impl Inner {
    /// Routes one watcher event (on the watcher's thread).
    fn on_event(&self, event: notify::Result<notify::Event>) {
        let event = match event {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(%error, "watcher error; rescanning every folder");
                self.wake_everyone();
                return;
            }
        };
        if event.need_rescan() {
            self.wake_everyone();
            return;
        }
        if !is_arrival(&event) {
            return;
        }
        let mut routes = lock(&self.routes);
        for path in &event.paths {
            let Some(dir) = path.parent() else { continue };
            if let Some(agent) = routes.outboxes.get(dir).cloned() {
                // What a scan would list (`mailbox::list_mail`): not `done/`, `rejected/`.
                let mail = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(crate::mailbox::is_mail_name);
                if mail {
                    routes.route_file(&agent, path.clone(), true);
                }
            } else if dir == self.runs_dir {
                // A new journal (a submitted run), not an append to one.
                let created = matches!(
                    event.kind,
                    notify::EventKind::Create(_)
                        | notify::EventKind::Modify(notify::event::ModifyKind::Name(_))
                );
                if created && path.to_string_lossy().ends_with(".journal.yaml") {
                    routes.journal_listeners.retain(|tx| tx.send(()).is_ok());
                }
            } else if dir == self.control_root
                && let Some(run) = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_suffix(super::control::RING_SUFFIX))
                && let Some(route) = routes.runs.get(run)
            {
                let _ = route.wakes.send(Wake::Control);
            }
        }
    }

    fn wake_everyone(&self) {
        let mut routes = lock(&self.routes);
        for route in routes.runs.values() {
            let _ = route.wakes.send(Wake::All);
            let _ = route.wakes.send(Wake::Control);
        }
        routes.journal_listeners.retain(|tx| tx.send(()).is_ok());
    }

    /// One rescan: every watched folder listed, as described in the module doc.
    fn rescan(&self) {
        let (outboxes, controls, all_polled) = {
            let routes = lock(&self.routes);
            let outboxes: Vec<(PathBuf, String)> = routes
                .outboxes
                .iter()
                .map(|(dir, agent)| (dir.clone(), agent.clone()))
                .collect();
            let controls: Vec<(String, PathBuf)> = routes
                .runs
                .iter()
                .map(|(run, route)| (run.clone(), route.control_dir.clone()))
                .collect();
            (outboxes, controls, routes.all_polled)
        };
        let mut found: Vec<(String, Vec<PathBuf>)> = Vec::with_capacity(outboxes.len());
        for (dir, agent) in outboxes {
            match crate::mailbox::list_mail(&dir) {
                Ok(files) => found.push((agent, files)),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    tracing::warn!(outbox = %dir.display(), %error, "cannot list an outbox")
                }
            }
        }
        let mut requests = Vec::new();
        for (run, dir) in controls {
            if crate::mailbox::list_mail(&dir).is_ok_and(|files| !files.is_empty()) {
                requests.push(run);
            }
        }
        let mut routes = lock(&self.routes);
        let mut present = HashSet::new();
        for (agent, files) in found {
            for path in files {
                present.insert(path.clone());
                routes.route_file(&agent, path, false);
            }
        }
        routes.offered.retain(|path| present.contains(path));
        for run in requests {
            if let Some(route) = routes.runs.get(&run) {
                let _ = route.wakes.send(Wake::Control);
            }
        }
        if all_polled || routes.polled.contains_key(&self.runs_dir) {
            routes.journal_listeners.retain(|tx| tx.send(()).is_ok());
        }
    }
}

impl Routes {
    /// Sends `path`, a file in `agent`'s outbox, to its owner; or, when the name names no
    /// known id, to every run, once (`fresh`: a watcher event, which always counts).
    fn route_file(&mut self, agent: &str, path: PathBuf, fresh: bool) {
        let owner = key_of(&path).and_then(|key| self.owners.get(key));
        if let Some(route) = owner.and_then(|owner| self.runs.get(owner)) {
            let _ = route.wakes.send(Wake::Files {
                agent: agent.to_string(),
                paths: vec![path],
            });
            return;
        }
        if !self.offered.insert(path.clone()) && !fresh {
            return;
        }
        for route in self.runs.values() {
            let _ = route.wakes.send(Wake::Files {
                agent: agent.to_string(),
                paths: vec![path.clone()],
            });
        }
    }
}

/// Writes the queued summaries, all of them at once, whenever some are queued.
async fn snapshot_writer(inner: Weak<Inner>, due: Arc<Notify>) {
    loop {
        due.notified().await;
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let (batch, waiters) = {
            let mut queue = lock(&strong.snapshots);
            (
                std::mem::take(&mut queue.pending),
                std::mem::take(&mut queue.waiters),
            )
        };
        let station = strong.station.clone();
        drop(strong);
        if !batch.is_empty() {
            let runs = batch.len();
            let written = tokio::task::spawn_blocking(move || {
                snapshot::update(&station, batch.into_iter().collect())
            })
            .await;
            match written {
                Ok(Ok(())) => tracing::trace!(runs, "snapshot written"),
                Ok(Err(error)) => tracing::warn!(%error, "cannot write the state snapshot"),
                Err(error) => tracing::warn!(%error, "the snapshot writer failed"),
            }
        }
        for waiter in waiters {
            let _ = waiter.send(());
        }
    }
}

async fn rescan_loop(inner: Weak<Inner>) {
    let mut every = Duration::from_secs(2);
    loop {
        tokio::time::sleep(every).await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let scan = Arc::clone(&inner);
        // Listing folders blocks: off the threads that drive runs.
        if tokio::task::spawn_blocking(move || scan.rescan())
            .await
            .is_err()
        {
            return;
        }
        let routes = lock(&inner.routes);
        every = if routes.all_polled || !routes.polled.is_empty() {
            POLL_EVERY
        } else {
            Duration::from_secs(2)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_of_a_mail_file_is_the_id_before_the_first_dot() {
        assert_eq!(
            key_of(Path::new("/s/0UT.3OX/01ABC.reply.yaml")),
            Some("01ABC")
        );
        assert_eq!(
            key_of(Path::new("/s/0UT.3OX/01ABC.hb-3.yaml")),
            Some("01ABC")
        );
        assert_eq!(key_of(Path::new("/s/0UT.3OX/R1.approval.yaml")), Some("R1"));
    }

    #[tokio::test]
    async fn a_folder_that_cannot_be_watched_is_polled_and_its_files_still_arrive() {
        let station_dir = tempfile::tempdir().unwrap();
        let station = Station::at(station_dir.path()).unwrap();
        std::fs::create_dir_all(station.runs_dir()).unwrap();
        let runtime = StationRuntime::start(&station, WatchMode::Native);
        // The outbox is missing when the run subscribes: no watch can be put on it.
        let outbox = station_dir.path().join("agents/late/0UT.3OX");
        let control = station_dir.path().join(".3ox/control/R1");
        std::fs::create_dir_all(&control).unwrap();
        let mut sub = runtime.subscribe(
            "R1",
            &[("late".to_string(), outbox.clone())],
            &control,
            ["T1".to_string()],
        );
        assert!(runtime.polls());
        let polled = runtime.polled_folders();
        assert_eq!(polled.len(), 1, "{polled:?}");
        assert_eq!(polled[0].0, outbox);
        // The agent makes its outbox and replies: the poll finds the reply.
        std::fs::create_dir_all(&outbox).unwrap();
        std::fs::write(outbox.join("T1.reply.yaml"), "x").unwrap();
        let wake = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match sub.wakes.recv().await {
                    Some(Wake::Files { paths, .. }) => break paths,
                    Some(_) => continue,
                    None => panic!("the subscription closed"),
                }
            }
        })
        .await
        .expect("the polled folder's file was never routed");
        assert_eq!(wake, vec![outbox.join("T1.reply.yaml")]);
    }

    fn routes_with(run: &str, keys: &[&str]) -> (Routes, UnboundedReceiver<Wake>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut routes = Routes::default();
        routes.runs.insert(
            run.into(),
            RunRoute {
                wakes: tx,
                keys: keys.iter().map(|k| k.to_string()).collect(),
                control_dir: PathBuf::from("/c"),
            },
        );
        for key in keys {
            routes.owners.insert(key.to_string(), run.into());
        }
        (routes, rx)
    }

    #[test]
    fn a_reply_goes_only_to_the_run_that_owns_its_task() {
        let (mut routes, mut mine) = routes_with("A", &["T1"]);
        let (tx, mut other) = mpsc::unbounded_channel();
        routes.runs.insert(
            "B".into(),
            RunRoute {
                wakes: tx,
                keys: vec![],
                control_dir: PathBuf::from("/c2"),
            },
        );
        routes.route_file("agent", PathBuf::from("/o/T1.reply.yaml"), true);
        assert!(
            matches!(mine.try_recv(), Ok(Wake::Files { paths, .. }) if paths == [PathBuf::from("/o/T1.reply.yaml")])
        );
        assert!(
            other.try_recv().is_err(),
            "run B was woken for run A's reply"
        );
    }

    #[test]
    fn a_file_of_no_known_owner_is_offered_to_every_run_once_per_rescan_cycle() {
        let (mut routes, mut rx) = routes_with("A", &[]);
        let path = PathBuf::from("/o/odd-name.yaml");
        routes.route_file("agent", path.clone(), false);
        assert!(rx.try_recv().is_ok());
        // The next rescans find it again: not offered again.
        routes.route_file("agent", path.clone(), false);
        assert!(rx.try_recv().is_err());
        // A watcher event always counts.
        routes.route_file("agent", path, true);
        assert!(rx.try_recv().is_ok());
    }
}
