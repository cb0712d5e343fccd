//! One daemon per journal file. SQLite's WAL mode needs every writer on one host, and two
//! daemons on one file (a rolling deploy, a manual second `run`) would both act on the same
//! resources. `run` therefore holds an exclusive lock on `<store_path>.lock` for its whole life;
//! the kernel drops it when the process ends, also on SIGKILL, so a restart is never blocked by
//! a dead daemon. The commands that read or decide (`remediations`, `approvals`) take no lock
//! and keep working while the daemon runs.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The lock of one journal file, held until dropped.
#[derive(Debug)]
pub struct DaemonLock {
    _file: File,
    pub path: PathBuf,
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another daemon works on the journal {store}: {holder} holds {lock}. Run one daemon per \
         journal file (the SQLite journal does not support several replicas or a network file \
         system); stop the other one first"
    )]
    Held {
        store: String,
        lock: String,
        holder: String,
    },
    #[error("cannot lock the journal {store} ({lock}): {source}")]
    Io {
        store: String,
        lock: String,
        #[source]
        source: std::io::Error,
    },
}

/// The lock file beside the journal.
pub fn lock_path(store: &Path) -> PathBuf {
    let mut name = store.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl DaemonLock {
    /// Takes the lock of the journal at `store`, waiting at most `patience` for a daemon that is
    /// just exiting to let go. Writes who holds it (pid, host, since) into the lock file.
    pub fn take(store: &Path, patience: Duration) -> Result<DaemonLock, LockError> {
        let path = lock_path(store);
        let io = |source| LockError::Io {
            store: store.display().to_string(),
            lock: path.display().to_string(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        let deadline = Instant::now() + patience;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(TryLockError::WouldBlock) => {
                    let mut holder = String::new();
                    let _ = file.read_to_string(&mut holder);
                    let holder = holder.trim();
                    return Err(LockError::Held {
                        store: store.display().to_string(),
                        lock: path.display().to_string(),
                        holder: if holder.is_empty() {
                            "a process".to_string()
                        } else {
                            holder.to_string()
                        },
                    });
                }
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        let me = format!(
            "the daemon with pid {} on host {} (since {})",
            std::process::id(),
            crate::claims::host_name(),
            crate::journal::time(crate::clock::now_ms())
        );
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(me.as_bytes()))
            .and_then(|()| file.flush())
            .map_err(io)?;
        Ok(DaemonLock { _file: file, path })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_journal_is_refused_with_the_holder_named() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("smr.db");
        let first = DaemonLock::take(&store, Duration::ZERO).unwrap();
        assert_eq!(first.path, dir.path().join("smr.db.lock"));
        let err = DaemonLock::take(&store, Duration::from_millis(300)).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, LockError::Held { .. }), "{text}");
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        assert!(text.contains("smr.db.lock"), "{text}");
        // Another journal is not affected; the lock goes with its holder.
        DaemonLock::take(&dir.path().join("other.db"), Duration::ZERO).unwrap();
        drop(first);
        DaemonLock::take(&store, Duration::ZERO).unwrap();
    }
}
