//! The decisions of [`crate::sync::compare`] in, files on disk out.
//!
//! [`apply`] writes in two phases: every new
//! file is first written to a temporary file (`.specc-tmp-*`) beside its target, and only
//! when all of them are written, and a journal of what is about to change, are they
//! renamed into place, the lock last. A failure in the first phase
//! leaves every previous output and the lock untouched; each rename is atomic, so no file
//! is ever half-written. Unchanged files are not touched (their mtime is kept).
//!
//! Nothing is synced to disk (no fsync per file, none per folder): the outputs can all be
//! generated again, and after a power loss specc finds any file that did not reach the
//! disk by its hash. The reasons are in `docs/durability.md`.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::sync::compare::{Entry, Status};
use crate::sync::confine;

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
    /// What the user should know about files beside the outputs.
    pub warnings: Vec<crate::sync::error::SyncWarning>,
}

/// The prefix of every temporary file specc makes in the repository. A run killed before
/// renaming leaves such files; the next run removes them from every folder it writes in
/// ([`clean_temporaries`]), and the generated `.dockerignore` ignores them.
pub const TEMP_PREFIX: &str = ".specc-tmp-";

/// Writes every entry that needs it, removes what is no longer produced, then the lock.
///
/// `journal` (its path and text) is written before the first rename and removed after
/// the lock: see [`crate::sync::lock::Journal`]. Every path is resolved through
/// [`confine`]: no write, rename or removal ever goes through a symbolic link.
pub fn apply(
    root: &Path,
    entries: &[Entry],
    lock_path: &str,
    lock_text: &str,
    journal: (&str, &str),
) -> Result<Applied, WriteError> {
    let mut applied = Applied::default();
    let io = |rel: &str, error| WriteError {
        path: root.join(rel),
        error,
    };
    let resolve =
        |rel: &str| confine::resolve(root, rel).map_err(|r| io(rel, confine::refused_io(r)));
    let folders = entries
        .iter()
        .map(|e| e.path.as_str())
        .chain([lock_path, journal.0]);
    clean_temporaries(root, folders);
    let mut staged: Vec<(tempfile::NamedTempFile, PathBuf, String)> = Vec::new();
    let lock_changed = confine::read(root, lock_path)
        .ok()
        .and_then(confine::OnDisk::bytes)
        .as_deref()
        != Some(lock_text.as_bytes());
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
        let target = resolve(path)?;
        // A folder in the way would only fail the rename in phase 2, after other outputs
        // were replaced: refuse it now, while nothing has been touched.
        if std::fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir()) {
            return Err(io(
                path,
                std::io::Error::new(
                    std::io::ErrorKind::IsADirectory,
                    "a folder is in the way of this output; move it away",
                ),
            ));
        }
        let tmp = stage(root, path, contents).map_err(|e| io(path, e))?;
        staged.push((tmp, target, path.to_string()));
    }
    let removals: Vec<&Entry> = entries
        .iter()
        .filter(|e| matches!(e.status, Status::Removed | Status::RemovedEdited))
        .collect();
    // The journal goes in before anything is replaced or removed.
    let journaled = !staged.is_empty() || !removals.is_empty();
    if journaled {
        let target = resolve(journal.0)?;
        let tmp = stage(root, journal.0, journal.1).map_err(|e| io(journal.0, e))?;
        persist(tmp, target)?;
    }
    // Phase 2: rename into place and remove what is no longer produced; the lock (staged
    // last) goes in at the very end, so a failure here leaves the old lock, which still
    // lists every file to remove.
    let lock_tmp = match staged.last() {
        Some((_, _, path)) if path == lock_path => staged.pop(),
        _ => None,
    };
    for (tmp, target, path) in staged {
        // Checked again at use: a link put in place since phase 1 is refused.
        resolve(&path)?;
        persist(tmp, target)?;
        applied.written.push(path);
    }
    for e in removals {
        let path = resolve(&e.path)?;
        std::fs::remove_file(&path).map_err(|error| WriteError { path, error })?;
        applied.removed.push(e.path.clone());
    }
    applied.unchanged = entries
        .iter()
        .filter(|e| e.status == Status::Unchanged)
        .count();
    if let Some((tmp, target, path)) = lock_tmp {
        resolve(&path)?;
        persist(tmp, target)?;
    }
    // Every file is as this run's lock says: the journal of this run, or of an earlier
    // one interrupted, is no longer needed.
    if let Ok(path) = confine::resolve(root, journal.0)
        && std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file())
    {
        std::fs::remove_file(&path).map_err(|error| WriteError { path, error })?;
    }
    Ok(applied)
}

/// `contents` in a new temporary file (`.specc-tmp-*`) in the folder of `rel` (written,
/// not synced: see the module's header); its folders are created without following a
/// link.
fn stage(root: &Path, rel: &str, contents: &str) -> std::io::Result<tempfile::NamedTempFile> {
    let dir = confine::create_dirs(root, rel)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMP_PREFIX);
    // Like `fs::write`: 0o666 less the umask (a temp file alone would stay 0o600).
    #[cfg(unix)]
    builder
        .permissions(<std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o666));
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(contents.as_bytes())?;
    Ok(tmp)
}

fn persist(tmp: tempfile::NamedTempFile, target: PathBuf) -> Result<(), WriteError> {
    tmp.persist(&target).map(drop).map_err(|e| WriteError {
        path: target,
        error: e.error,
    })
}

/// Removes the temporary files (`.specc-tmp-*`, the journal aside) that a run killed
/// before renaming left in the folders holding `paths` (relative to `root`). Folders
/// reached through a link are skipped, and only files and links are removed.
pub fn clean_temporaries<'a>(root: &Path, paths: impl Iterator<Item = &'a str>) {
    let journal = crate::sync::lock::JOURNAL_NAME;
    let mut folders = std::collections::BTreeSet::new();
    for rel in paths {
        let parent = rel
            .trim_end_matches('/')
            .rsplit_once('/')
            .map_or("", |(d, _)| d);
        folders.insert(parent.to_string());
    }
    for folder in folders {
        let dir = if folder.is_empty() {
            root.to_path_buf()
        } else {
            match confine::resolve(root, &folder) {
                Ok(d) => d,
                Err(_) => continue,
            }
        };
        let Ok(list) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in list.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if !name.starts_with(TEMP_PREFIX) || name == journal {
                continue;
            }
            if entry.file_type().is_ok_and(|t| !t.is_dir()) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}
