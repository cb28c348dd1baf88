//! The run lock: one crmsync run at a time per state file.
//!
//! `<state>.lock` is held with an OS file lock (`File::try_lock`), which the OS releases when
//! the holder dies, however it dies. The holder writes its PID into the file so a second run can
//! say who is in the way. A clean release empties the file; so a file that still holds a PID
//! but that nobody has locked was left by a process that died, and is taken over. The file is
//! never deleted: deleting it would let two processes lock two different files of one name.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

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
    /// Locks `<state_path>.lock`, or says which process holds it.
    pub fn acquire(state_path: &Path) -> Result<RunLock, StoreError> {
        let path = lock_path(state_path);
        let io = |action: &'static str, source| StoreError::Io {
            action,
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| io("create the directory of", e))?;
        }
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(&path)
            .map_err(|e| io("open the lock file", e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = match read_pid(&mut file) {
                    Some(pid) => format!("pid {pid}"),
                    None => "pid unknown".to_string(),
                };
                return Err(StoreError::Locked {
                    path: state_path.to_path_buf(),
                    holder,
                });
            }
            Err(TryLockError::Error(e)) => return Err(io("lock", e)),
        }
        let took_over_from = read_pid(&mut file);
        let pid = std::process::id();
        file.set_len(0)
            .and_then(|_| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(format!("{pid}\n").as_bytes()))
            .and_then(|_| file.sync_data())
            .map_err(|e| io("write the lock file", e))?;
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

/// `<state>.lock`, beside the state file.
pub fn lock_path(state_path: &Path) -> PathBuf {
    let mut name = state_path.as_os_str().to_os_string();
    name.push(".lock");
    PathBuf::from(name)
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}
