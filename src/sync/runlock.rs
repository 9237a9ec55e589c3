//! One run at a time per output folder: `generate` and `check` hold an advisory lock on
//! the output root itself (`flock` on the folder, so no lock file is left behind, and
//! the kernel releases it when a run dies, even by `kill -9`). A second run waits up to
//! [`WAIT`] (or `SPECC_LOCK_WAIT` seconds) for the first, then says that another run holds the folder.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::sync::error::SyncError;

/// How long a run waits for another one in the same output folder, unless
/// `SPECC_LOCK_WAIT` gives another number of seconds.
pub const WAIT: Duration = Duration::from_secs(30);

/// [`WAIT`], or `SPECC_LOCK_WAIT` seconds.
fn wait() -> Duration {
    std::env::var("SPECC_LOCK_WAIT")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(WAIT, Duration::from_secs)
}

/// The held lock; released when dropped (or when the process ends).
pub struct RunLock {
    _folder: Option<std::fs::File>,
}

/// Takes the lock on `root` (which must exist), waiting up to [`WAIT`]. On a file
/// system without locks, runs go on unserialised.
pub fn acquire(root: &Path) -> Result<RunLock, SyncError> {
    let Ok(folder) = std::fs::File::open(root) else {
        return Ok(RunLock { _folder: None });
    };
    let start = Instant::now();
    let wait = wait();
    loop {
        match folder.try_lock() {
            Ok(()) => {
                return Ok(RunLock {
                    _folder: Some(folder),
                });
            }
            Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < wait => {
                std::thread::sleep(Duration::from_millis(25));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(SyncError::Busy {
                    path: crate::sync::layout::shown(root),
                    waited: wait.as_secs(),
                });
            }
            // No locking here (some network file systems): go on as before.
            Err(std::fs::TryLockError::Error(_)) => return Ok(RunLock { _folder: None }),
        }
    }
}
