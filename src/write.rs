//! Rendered files in, files on disk out: every file is written atomically (a temporary
//! file in the same folder, then a rename), and only when its bytes change, so an
//! unchanged output keeps its modification time.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::render::Rendered;

/// What happened to one output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Written,
    Unchanged,
}

/// A write that failed: the path and the reason.
#[derive(Debug)]
pub struct WriteError {
    pub path: PathBuf,
    pub error: std::io::Error,
}

/// Writes `file` under `root`, atomically and only when its contents differ.
pub fn write_file(root: &Path, file: &Rendered) -> Result<Outcome, WriteError> {
    let path = root.join(&file.path);
    let fail = |error| WriteError {
        path: path.clone(),
        error,
    };
    if std::fs::read(&path).is_ok_and(|old| old == file.contents.as_bytes()) {
        return Ok(Outcome::Unchanged);
    }
    let dir = path.parent().unwrap_or(root);
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    tmp.write_all(file.contents.as_bytes()).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(&path).map_err(|e| fail(e.error))?;
    Ok(Outcome::Written)
}
