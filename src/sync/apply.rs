//! Generated files and the previous lock in; a decision per file, then files on disk out.
//!
//! [`compare`] tells, without writing, which outputs are missing, stale, hand-edited,
//! foreign (not specc's) or no longer produced. [`apply`] writes in two phases: every new
//! file is first written to a temporary file beside its target, and only when all of them
//! are written are they renamed into place, the lock last. A failure in the first phase
//! leaves every previous output and the lock untouched; each rename is atomic, so no file
//! is ever half-written. Unchanged files are not touched (their mtime is kept).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::render::Rendered;
use crate::sync::lock::{Lock, hash};

/// The state of one output path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// On disk with the right bytes.
    Unchanged,
    /// Not on disk yet.
    Missing,
    /// specc wrote it before; the spec now gives other bytes.
    Stale,
    /// specc wrote it before, and it was changed by hand since.
    Edited,
    /// On disk, not written by specc, with other bytes.
    Foreign,
    /// specc wrote it before; the spec no longer produces it.
    Removed,
    /// Listed in the lock as removed-to-be, but already edited by hand.
    RemovedEdited,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub path: String,
    pub status: Status,
    /// What is on disk now (when readable).
    pub current: Option<Vec<u8>>,
    /// What specc would write (None for removals).
    pub new: Option<String>,
}

impl Entry {
    /// True when `generate` must refuse this file without `--force`.
    pub fn blocks(&self) -> bool {
        matches!(
            self.status,
            Status::Edited | Status::Foreign | Status::RemovedEdited
        )
    }

    /// True when the file is not as the spec says.
    pub fn out_of_sync(&self) -> bool {
        self.status != Status::Unchanged
    }

    /// A unified diff from the file on disk to what specc would write.
    pub fn diff(&self) -> String {
        let old = self
            .current
            .as_ref()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        let new = self.new.clone().unwrap_or_default();
        let (a, b) = match self.status {
            Status::Missing => ("/dev/null".to_string(), format!("b/{}", self.path)),
            Status::Removed | Status::RemovedEdited => {
                (format!("a/{}", self.path), "/dev/null".to_string())
            }
            _ => (format!("a/{}", self.path), format!("b/{}", self.path)),
        };
        similar::TextDiff::from_lines(&old, &new)
            .unified_diff()
            .context_radius(3)
            .header(&a, &b)
            .to_string()
    }
}

/// Compares what would be generated with the disk and the previous lock.
pub fn compare(root: &Path, files: &[Rendered], lock: Option<&Lock>) -> Vec<Entry> {
    let mut entries = Vec::new();
    for f in files {
        let current = std::fs::read(root.join(&f.path)).ok();
        let locked = lock.and_then(|l| l.outputs.get(&f.path));
        let status = match &current {
            None => Status::Missing,
            Some(bytes) if bytes == f.contents.as_bytes() => Status::Unchanged,
            Some(bytes) => match locked {
                Some(h) if *h == hash(bytes) => Status::Stale,
                Some(_) => Status::Edited,
                None => Status::Foreign,
            },
        };
        entries.push(Entry {
            path: f.path.clone(),
            status,
            current,
            new: Some(f.contents.clone()),
        });
    }
    if let Some(lock) = lock {
        for (path, h) in &lock.outputs {
            if files.iter().any(|f| &f.path == path) {
                continue;
            }
            // Only files the lock lists are ever removed, and only when specc wrote them.
            let Ok(current) = std::fs::read(root.join(path)) else {
                continue;
            };
            let status = if hash(&current) == *h {
                Status::Removed
            } else {
                Status::RemovedEdited
            };
            entries.push(Entry {
                path: path.clone(),
                status,
                current: Some(current),
                new: None,
            });
        }
    }
    entries
}

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
