//! Generated files, the disk and the previous lock in; a decision per output path out.
//!
//! [`compare`] tells, without writing, which outputs are missing, stale, hand-edited,
//! foreign (not specc's) or no longer produced; each [`Entry`] can show its unified diff.

use std::path::Path;

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
