//! The decisions of [`crate::sync::compare`] in, files on disk out.
//!
//! [`apply`] writes in two phases: every new
//! file is first written to a temporary file beside its target, and only when all of them
//! are written are they renamed into place, the lock last. A failure in the first phase
//! leaves every previous output and the lock untouched; each rename is atomic, so no file
//! is ever half-written. Unchanged files are not touched (their mtime is kept).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::sync::compare::{Entry, Status};

/// A failed write: the path and the reason. Nothing was renamed into place.
#[derive(Debug)]
pub struct WriteError {
    pub path: PathBuf,
    pub error: std::io::Error,
}

/// What [`apply`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    pub written: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: usize,
}

/// Writes every entry that needs it, removes what is no longer produced, then the lock.
pub fn apply(
    root: &Path,
    entries: &[Entry],
    lock_path: &str,
    lock_text: &str,
) -> Result<Applied, WriteError> {
    let mut applied = Applied::default();
    let mut staged: Vec<(tempfile::NamedTempFile, PathBuf, String)> = Vec::new();
    let lock_changed =
        std::fs::read(root.join(lock_path)).ok().as_deref() != Some(lock_text.as_bytes());
    let writes = entries
        .iter()
        .filter_map(|e| match (&e.status, &e.new) {
            (Status::Unchanged, _) => None,
            (_, Some(new)) => Some((e.path.as_str(), new.as_str())),
            _ => None,
        })
        .chain(lock_changed.then_some((lock_path, lock_text)));
    // Phase 1: every new file next to its target; a failure drops the temporary files.
    for (path, contents) in writes {
        let target = root.join(path);
        let fail = |error| WriteError {
            path: target.clone(),
            error,
        };
        // A folder in the way would only fail the rename in phase 2, after other outputs
        // were replaced: refuse it now, while nothing has been touched.
        if std::fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir()) {
            return Err(fail(std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "a folder is in the way of this output; move it away",
            )));
        }
        let dir = target.parent().unwrap_or(root);
        std::fs::create_dir_all(dir).map_err(fail)?;
        let mut builder = tempfile::Builder::new();
        builder.prefix(".specc-");
        // Like `fs::write`: 0o666 less the umask (a temp file alone would stay 0o600).
        #[cfg(unix)]
        builder.permissions(
            <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o666),
        );
        let mut tmp = builder.tempfile_in(dir).map_err(fail)?;
        tmp.write_all(contents.as_bytes()).map_err(fail)?;
        tmp.as_file().sync_all().map_err(fail)?;
        staged.push((tmp, target, path.to_string()));
    }
    // Phase 2: rename into place and remove what is no longer produced; the lock (staged
    // last) goes in at the very end, so a failure here leaves the old lock, which still
    // lists every file to remove.
    let lock_tmp = match staged.last() {
        Some((_, _, path)) if path == lock_path => staged.pop(),
        _ => None,
    };
    let persist = |tmp: tempfile::NamedTempFile, target: PathBuf| {
        tmp.persist(&target).map(drop).map_err(|e| WriteError {
            path: target,
            error: e.error,
        })
    };
    for (tmp, target, path) in staged {
        persist(tmp, target)?;
        applied.written.push(path);
    }
    for e in entries {
        match e.status {
            Status::Removed | Status::RemovedEdited => {
                let path = root.join(&e.path);
                std::fs::remove_file(&path).map_err(|error| WriteError { path, error })?;
                applied.removed.push(e.path.clone());
            }
            Status::Unchanged => applied.unchanged += 1,
            _ => {}
        }
    }
    if let Some((tmp, target, _)) = lock_tmp {
        persist(tmp, target)?;
    }
    Ok(applied)
}
