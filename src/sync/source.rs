//! The spec in: found (as git finds its repository), read (a file or standard input,
//! UTF-8, a byte order mark dropped) and compiled into a [`Loaded`] spec.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::sync::error::SyncError;
use crate::{Checked, Diagnostics};

/// The file name searched for when no spec is given.
pub const SPEC_FILE: &str = "specc.kdl";

/// The name diagnostics give a spec read from standard input.
pub const STDIN_NAME: &str = "<stdin>";

/// A spec that compiled: where it came from, its text and its checked form.
pub struct Loaded {
    /// The spec file (`None`: read from standard input).
    pub path: Option<PathBuf>,
    /// The name diagnostics give it: the path as given (or found), or `<stdin>`.
    pub name: String,
    pub text: String,
    pub checked: Checked,
}

impl Loaded {
    /// `errors` found in this spec, with its source for labels.
    pub fn diagnostics(&self, errors: Vec<crate::Error>) -> Diagnostics {
        Diagnostics::new(&self.name, Arc::new(self.text.clone()), errors)
    }
}

/// True when `spec` means standard input (`-`).
pub fn is_stdin(spec: &Path) -> bool {
    spec.as_os_str() == "-"
}

/// The spec to read: `given`, else `specc.kdl` in the current folder or the nearest
/// folder above it, stopping after a folder that holds `.git` (a repository's root) or
/// at the filesystem root. A found spec is named relative to the current folder
/// (`specc.kdl`, `../specc.kdl`).
pub fn locate(given: Option<&Path>) -> Result<PathBuf, SyncError> {
    if let Some(path) = given {
        return Ok(path.to_path_buf());
    }
    let cwd = std::env::current_dir().map_err(|e| SyncError::Read {
        path: SPEC_FILE.into(),
        reason: format!("the current folder cannot be read: {e}"),
        help: "run in an existing folder, or pass the spec's path".into(),
    })?;
    let mut relative = PathBuf::new();
    let mut dir = cwd.as_path();
    loop {
        if dir.join(SPEC_FILE).is_file() {
            return Ok(relative.join(SPEC_FILE));
        }
        let boundary = dir.join(".git").exists();
        match dir.parent() {
            Some(parent) if !boundary => {
                dir = parent;
                relative.push("..");
            }
            _ => {
                return Err(SyncError::NotFound {
                    from: cwd.display().to_string(),
                    stop: dir.display().to_string(),
                });
            }
        }
    }
}

/// Reads and compiles the spec at `path` (`-`: standard input). `Err(Ok(..))`: it cannot
/// be read; `Err(Err(..))`: it has problems.
pub fn load(path: &Path) -> Result<Loaded, Result<SyncError, Diagnostics>> {
    read(path).map_err(Ok)?.compile().map_err(Err)
}

/// A spec read but not yet compiled: what a run that can answer from the lock alone
/// needs (see [`crate::sync::fast`]).
pub struct Source {
    /// The spec file (`None`: read from standard input).
    pub path: Option<PathBuf>,
    /// The name diagnostics give it: the path as given (or found), or `<stdin>`.
    pub name: String,
    pub text: String,
}

/// Reads the spec at `path` (`-`: standard input).
pub fn read(path: &Path) -> Result<Source, SyncError> {
    let (name, text) = read_spec(path)?;
    Ok(Source {
        path: (!is_stdin(path)).then(|| path.to_path_buf()),
        name,
        text,
    })
}

impl Source {
    /// Parses and checks the spec.
    pub fn compile(self) -> Result<Loaded, Diagnostics> {
        crate::render::trace("parse");
        let checked = crate::compile(&self.name, &self.text)?;
        Ok(Loaded {
            path: self.path,
            name: self.name,
            text: self.text,
            checked,
        })
    }
}

/// The spec's name (for diagnostics) and text: a file, or standard input for `-`. A
/// leading byte order mark is dropped, so that columns count as in an editor.
fn read_spec(path: &Path) -> Result<(String, String), SyncError> {
    let name = if is_stdin(path) {
        STDIN_NAME.to_string()
    } else {
        path.display().to_string()
    };
    if !is_stdin(path) {
        linked_out(path).map_err(|reason| SyncError::Read {
            path: name.clone(),
            reason,
            help: "specc never follows a symbolic link out of the spec's folder: pass the real file's path".into(),
        })?;
    }
    let read = if is_stdin(path) {
        bounded(&mut std::io::stdin().lock())
    } else {
        std::fs::File::open(path).and_then(|mut f| {
            if f.metadata()?.len() > MAX_SPEC_BYTES {
                return Ok(None);
            }
            bounded(&mut f)
        })
    };
    let bytes = read
        .map_err(|e| unreadable(path, &name, &e))?
        .ok_or_else(|| SyncError::Read {
            path: name.clone(),
            reason: format!(
                "it is larger than {} MiB, the most specc reads (a spec is a few kilobytes)",
                MAX_SPEC_BYTES >> 20
            ),
            help: "pass the spec file itself, not a large file, a device or an endless stream"
                .into(),
        })?;
    let bytes = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => rest.to_vec(),
        None => bytes,
    };
    String::from_utf8(bytes)
        .map(|text| (name.clone(), text))
        .map_err(|e| {
            let offset = e.utf8_error().valid_up_to();
            let (line, column) = line_column(e.as_bytes(), offset);
            SyncError::Read {
                path: name,
                reason: format!(
                    "not UTF-8 text (invalid byte at offset {offset}, line {line}, column {column})"
                ),
                help: "save the spec as UTF-8".into(),
            }
        })
}

/// The largest spec specc reads, in bytes (16 MiB): a larger file or an endless stream
/// (`/dev/zero` on standard input) is refused after reading at most this much.
pub const MAX_SPEC_BYTES: u64 = 16 << 20;

/// Everything `r` gives, or `None` once it gives more than [`MAX_SPEC_BYTES`].
fn bounded(r: &mut impl std::io::Read) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(r, MAX_SPEC_BYTES + 1), &mut bytes)?;
    Ok((bytes.len() as u64 <= MAX_SPEC_BYTES).then_some(bytes))
}

/// Why the spec at `path` must not be read: it is a symbolic link to a file outside the
/// folder that holds the link (a committed `specc.kdl -> /proc/self/environ` would have
/// its target's text echoed in diagnostics).
fn linked_out(path: &Path) -> Result<(), String> {
    if !std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Ok(());
    }
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    match (std::fs::canonicalize(path), std::fs::canonicalize(folder)) {
        (Ok(target), Ok(folder)) if target.starts_with(&folder) => Ok(()),
        (Ok(_), Ok(_)) => Err("it is a symbolic link to a file outside its folder".into()),
        // A dangling link: opening it reports the error.
        _ => Ok(()),
    }
}

/// Why the spec at `path` (named `name`) cannot be read, and what to do.
fn unreadable(path: &Path, name: &str, e: &std::io::Error) -> SyncError {
    let is_dir = std::fs::metadata(path).is_ok_and(|m| m.is_dir());
    let help = if is_dir {
        let inside = path.join(SPEC_FILE);
        if inside.is_file() {
            format!("pass the spec file, e.g. `{}`", inside.display())
        } else {
            "pass the spec file, not a folder (`-C DIR` runs in a folder)".into()
        }
    } else if e.kind() == std::io::ErrorKind::NotFound {
        "pass the spec's path, e.g. `specc check specs/app.kdl`, or run in the folder that holds `specc.kdl` (or use `-C DIR`)".into()
    } else {
        "check the file's permissions".into()
    };
    let reason = if is_dir {
        "it is a folder".to_string()
    } else {
        e.to_string()
    };
    SyncError::Read {
        path: name.to_string(),
        reason,
        help,
    }
}

/// 1-based line and column (in characters) of byte `offset` of `bytes`.
pub fn line_column(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}
