//! The run lock: one crmsync run at a time per state file; and the listen lock: one
//! `crmsync listen` per state file.
//!
//! `<state>.lock` is held with an OS file lock (`File::try_lock`), which the OS releases when
//! the holder dies, however it dies. The holder writes its PID into the file so a second run can
//! say who is in the way. A clean release empties the file; so a file that still holds a PID
//! but that nobody has locked was left by a process that died, and is taken over. The file is
//! never deleted: deleting it would let two processes lock two different files of one name.
//!
//! `<state>.listen.lock` works the same way for the whole life of a listener (which takes the
//! run lock only while it applies a batch), with its PID and address written in it.
//!
//! A command that finds the run lock held by the state file's listener waits its turn instead
//! of failing: the listener holds it a batch at a time, so `sync`, `conflicts resolve` and the
//! rest work beside it. While it waits, the command holds a shared lock on
//! `<state>.lock.queue`; the listener, before it takes the run lock for its next batch, looks
//! there ([`others_waiting`]) and lets the waiting commands go first. The OS drops a waiter's
//! place however the waiter ends, so a killed one holds up nothing.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::types::StoreError;

/// The held run lock; released when dropped.
#[derive(Debug)]
pub struct RunLock {
    file: File,
    path: PathBuf,
    /// The PID found in a lock file that no live process held: a run died without releasing
    /// it, and this one took over.
    pub took_over_from: Option<u32>,
}

impl RunLock {
    /// Locks `<state_path>.lock`, or says which process holds it; waits its turn while the
    /// state file's listener holds it (see [`RunLock::acquire_noting`]).
    pub fn acquire(state_path: &Path) -> Result<RunLock, StoreError> {
        Self::acquire_noting(state_path, &|_| {})
    }

    /// Locks `<state_path>.lock`. Held by another run, it says which process holds it; held
    /// by the state file's listener (`crmsync listen`, which takes it only while it applies a
    /// batch or runs its catch-up sync), it waits for the listener to let it go, for at most
    /// [`LISTENER_PATIENCE`], queued so that the listener does not take it again first.
    /// `waiting` is told the listener's PID once, when the wait begins.
    pub fn acquire_noting(state_path: &Path, waiting: &dyn Fn(u32)) -> Result<RunLock, StoreError> {
        let path = lock_path(state_path);
        let started = Instant::now();
        let mut queued: Option<File> = None;
        let mut file = loop {
            let note = match hold(&path)? {
                Ok(file) => break file,
                Err(note) => note,
            };
            let holder = pid_of(&note);
            let listener = holder.filter(|pid| listener_pid(state_path) == Some(*pid));
            if let Some(pid) = listener
                && queued.is_none()
            {
                queued = Some(queue_up(state_path)?);
                waiting(pid);
            }
            // Waiting for the listener, it waits its turn whoever holds the lock meanwhile
            // (another waiting command may go first). A lock held with no PID in its file is
            // one being taken or let go (the PID is written just after the lock is taken,
            // and emptied just before it is let go): it is tried again for a moment.
            let wait = if queued.is_some() {
                LISTENER_PATIENCE
            } else if holder.is_none() {
                HANDOVER
            } else {
                Duration::ZERO
            };
            if started.elapsed() < wait {
                std::thread::sleep(WAIT_STEP);
                continue;
            }
            let holder = match (listener, holder) {
                (Some(pid), _) => format!(
                    "`crmsync listen`, pid {pid}, which has not let it go in {} s",
                    LISTENER_PATIENCE.as_secs()
                ),
                (None, Some(pid)) if queued.is_some() => format!(
                    "pid {pid}, after the listener, in {} s",
                    LISTENER_PATIENCE.as_secs()
                ),
                (None, Some(pid)) => format!("pid {pid}"),
                (None, None) => "pid unknown".to_string(),
            };
            return Err(StoreError::Locked {
                path: state_path.to_path_buf(),
                holder,
            });
        };
        drop(queued);
        let took_over_from = pid_of(&read_note(&mut file));
        write_note(&mut file, &format!("{}\n", std::process::id()))
            .map_err(|e| written(&path, e))?;
        Ok(RunLock {
            file,
            path,
            took_over_from,
        })
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Emptying the file marks a clean release; if it fails, the next run reports a
        // takeover, which is harmless. The OS lock goes with the handle either way.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// How long a command waits for the state file's listener to let the run lock go: a batch
/// (at Pipedrive's limits, 500 updates take about half a minute) or a catch-up sync.
pub const LISTENER_PATIENCE: Duration = Duration::from_secs(300);

/// How often a waiting command tries the run lock again.
const WAIT_STEP: Duration = Duration::from_millis(50);

/// How long a lock held with no PID in its file (being taken or let go) is tried again.
const HANDOVER: Duration = Duration::from_secs(1);

/// The PID of the listener of `state_path`, as its listen lock file says (none when no
/// listener has run, or the last one stopped cleanly).
fn listener_pid(state_path: &Path) -> Option<u32> {
    pid_of(&std::fs::read_to_string(listen_lock_path(state_path)).ok()?)
}

/// `<state>.lock.queue`: where commands waiting for the listener's run lock hold their place.
fn queue_path(state_path: &Path) -> PathBuf {
    beside(state_path, ".lock.queue")
}

/// Opens the queue file (mode 0600) for a lock on it.
fn open_queue(state_path: &Path) -> Result<File, StoreError> {
    let path = queue_path(state_path);
    open_private(&path).map_err(|source| StoreError::Io {
        action: "open the lock queue file",
        path,
        source,
    })
}

/// Takes a place in the queue: a shared lock on the queue file, held while the returned file
/// is open.
fn queue_up(state_path: &Path) -> Result<File, StoreError> {
    let file = open_queue(state_path)?;
    file.lock_shared().map_err(|source| StoreError::Io {
        action: "lock",
        path: queue_path(state_path),
        source,
    })?;
    Ok(file)
}

/// Whether a command is waiting for the run lock of `state_path` (the listener asks, before
/// it takes the lock for its next batch, and lets it go first).
pub fn others_waiting(state_path: &Path) -> Result<bool, StoreError> {
    let file = open_queue(state_path)?;
    match file.try_lock() {
        Ok(()) => {
            let _ = file.unlock();
            Ok(false)
        }
        Err(TryLockError::WouldBlock) => Ok(true),
        Err(TryLockError::Error(source)) => Err(StoreError::Io {
            action: "lock",
            path: queue_path(state_path),
            source,
        }),
    }
}

/// `state_path` with `suffix` added to its name: a file beside the state file.
fn beside(state_path: &Path, suffix: &str) -> PathBuf {
    let mut name = state_path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// Opens `path` to read and write, made if need be with mode 0600 (a lock file).
fn open_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// `<state>.lock`, beside the state file.
pub fn lock_path(state_path: &Path) -> PathBuf {
    beside(state_path, ".lock")
}

/// Opens `path` (made if need be, mode 0600) and locks it: the held file, or the note of the
/// live process that holds it.
fn hold(path: &Path) -> Result<Result<File, String>, StoreError> {
    let io = |action: &'static str, source| StoreError::Io {
        action,
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| io("create the directory of", e))?;
    }
    let mut file = open_private(path).map_err(|e| io("open the lock file", e))?;
    match file.try_lock() {
        Ok(()) => Ok(Ok(file)),
        Err(TryLockError::WouldBlock) => Ok(Err(read_note(&mut file))),
        Err(TryLockError::Error(e)) => Err(io("lock", e)),
    }
}

/// What a lock file says (empty when it cannot be read).
fn read_note(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file
        .seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_string(&mut text));
    text
}

/// Replaces what a held lock file says.
fn write_note(file: &mut File, note: &str) -> std::io::Result<()> {
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(note.as_bytes())?;
    file.sync_data()
}

/// A lock file at `path` that could not be written.
fn written(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Io {
        action: "write the lock file",
        path: path.to_path_buf(),
        source,
    }
}

/// The PID a lock file's note begins with.
fn pid_of(note: &str) -> Option<u32> {
    note.split_whitespace().next()?.parse().ok()
}

/// The held listen lock: one `crmsync listen` per state file; released when dropped, or by
/// the OS when the listener dies, however it dies.
#[derive(Debug)]
pub struct ListenLock {
    file: File,
    path: PathBuf,
}

/// The listener that holds a state file's listen lock, as its lock file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub pid: Option<u32>,
    /// Where it listens, once it says (`127.0.0.1:8787`).
    pub address: Option<String>,
    /// The lock file.
    pub lock_path: PathBuf,
}

impl ListenLock {
    /// Locks `<state_path>.listen.lock` with this process's PID in it, or says which listener
    /// holds it.
    pub fn acquire(state_path: &Path) -> Result<Result<ListenLock, Listener>, StoreError> {
        let path = listen_lock_path(state_path);
        let mut file = match hold(&path)? {
            Ok(file) => file,
            Err(note) => {
                let mut words = note.split_whitespace();
                return Ok(Err(Listener {
                    pid: words.next().and_then(|w| w.parse().ok()),
                    address: words.next().map(str::to_string),
                    lock_path: path,
                }));
            }
        };
        write_note(&mut file, &format!("{}\n", std::process::id()))
            .map_err(|e| written(&path, e))?;
        Ok(Ok(ListenLock { file, path }))
    }

    /// Writes the address the listener listens on beside its PID, for a second one to name.
    pub fn note_address(&mut self, address: &str) -> Result<(), StoreError> {
        write_note(
            &mut self.file,
            &format!("{} {address}\n", std::process::id()),
        )
        .map_err(|e| written(&self.path, e))
    }
}

impl Drop for ListenLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// `<state>.listen.lock`, beside the state file.
pub fn listen_lock_path(state_path: &Path) -> PathBuf {
    beside(state_path, ".listen.lock")
}
