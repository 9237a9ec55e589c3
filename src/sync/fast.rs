//! The fast path: `check` and `generate` answered from the lock alone, before the spec
//! is parsed.
//!
//! Parsing is most of the cost of a run that finds nothing to do. When the lock at the
//! default place says it was written from these very bytes of the spec, laid out as now,
//! by this specc (version, templates, action pins), and every output it lists is on disk
//! with its hash and specc's header, then rendering would give the same bytes and the
//! answer is the one the full run gives: every output in sync, nothing to write. Anything
//! else (no lock, a lock elsewhere or of another format, a journal of an interrupted run,
//! a spec the lock marks `always-parse`) returns `None`, and the caller runs the full
//! pipeline, which also reports every error: this path never fails on its own.
//!
//! What the full run prints besides comes from the lock too: the compose file whose
//! neighbours get a warning. A spec with warnings, or one whose check reads the user's
//! charts, is marked `always-parse` by the run that wrote the lock.

use crate::render::trace;
use crate::sync::apply::{Applied, clean_temporaries};
use crate::sync::confine;
use crate::sync::layout::Layout;
use crate::sync::lock::{self, Journal, Lock};
use crate::sync::{InSync, existing, runlock};

/// `check`'s answer for the spec `text` under `layout` when the lock alone gives it.
pub fn check(text: &str, layout: &Layout) -> Option<InSync> {
    let _running = runlock::acquire(&layout.root).ok()?;
    let lock = fresh(text, layout)?;
    trace("check: fast path, no parse, outputs match the lock");
    Some(InSync {
        outputs: lock.outputs.len(),
        from_lock: true,
        warnings: warnings(&lock, layout),
    })
}

/// `generate`'s answer for the spec `text` under `layout` when the lock alone gives it:
/// nothing to write. Like a full run it removes the temporary files a killed run left.
pub fn generate(text: &str, layout: &Layout) -> Option<Applied> {
    let _running = runlock::acquire(&layout.root).ok()?;
    let lock = fresh(text, layout)?;
    trace("generate: fast path, no parse, outputs match the lock");
    let lock_path = lock::default_path();
    let journal = Journal::path(&lock_path);
    let folders = lock.outputs.keys().map(String::as_str);
    clean_temporaries(
        &layout.root,
        folders.chain([lock_path.as_str(), journal.as_str()]),
    );
    Some(Applied {
        written: Vec::new(),
        removed: Vec::new(),
        unchanged: lock.outputs.len(),
        warnings: warnings(&lock, layout),
    })
}

/// The lock at the default place when it answers for `text` under `layout`: in the
/// format this specc writes (byte for byte, as a full run would write it again), not
/// marked `always-parse`, and fresh.
fn fresh(text: &str, layout: &Layout) -> Option<Lock> {
    if !layout.root.is_dir() {
        return None;
    }
    let lock_path = lock::default_path();
    let bytes = confine::read(&layout.root, &lock_path).ok()?.bytes()?;
    let lock = Lock::parse_written(std::str::from_utf8(&bytes).ok()?)?;
    let usable = lock.always_parse.is_none() && lock.is_fresh(text, layout, &lock_path);
    usable.then_some(lock)
}

/// The warnings a full run gives about files beside the outputs.
fn warnings(lock: &Lock, layout: &Layout) -> Vec<crate::sync::SyncWarning> {
    if lock.compose.is_none() {
        return Vec::new();
    }
    // A fresh lock comes with no journal: what specc wrote is what the lock lists.
    let known = super::known(Some(lock), &Journal::default());
    existing::compose_shadows(lock.compose.as_deref(), layout, &known)
}
