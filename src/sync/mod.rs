//! The sync stage: a loaded spec and its [`Layout`] in, reports out. It renders the
//! outputs, compares them with the disk and the lock, writes what changed atomically
//! ([`generate`]), tells whether they are in sync ([`check`]) and which targets' inputs
//! changed since a git revision ([`changed::changed`]). Nothing here prints: the CLI
//! prints the reports and errors.

pub mod apply;
pub mod changed;
mod charts;
pub(crate) mod clash;
pub mod compare;
pub mod confine;
pub mod error;
pub mod existing;
pub mod fast;
pub mod layout;
pub mod lock;
pub mod options;
pub mod runlock;
pub mod source;

use crate::plan::contexts::{Contexts, NoContexts};
use crate::render::{Generated, Rendered, render_with, trace};
use crate::{Diagnostics, PlanOptions};

pub use apply::Applied;
pub use compare::{Entry, Status};
pub use error::{SyncError, SyncWarning};
pub use layout::Layout;
pub use source::Loaded;

/// Why a sync command did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// Problems in the spec found while rendering, e.g. clashing output paths (exit 1).
    Spec(Diagnostics),
    /// Outputs not as the spec says: the errors, then the entries concerned, each with
    /// its diff (exit 1).
    Drift {
        errors: Vec<SyncError>,
        entries: Vec<Entry>,
    },
    /// A failure outside the spec: a lock that cannot be read, a write that failed (exit 2).
    Io(SyncError),
    /// Paths refused before anything was touched: an output through a symbolic link, a
    /// lock entry outside the repository or naming a file specc does not generate (exit 2).
    Refused(Vec<SyncError>),
}

impl From<SyncError> for Failure {
    fn from(e: SyncError) -> Self {
        Failure::Io(e)
    }
}

/// What `check` found when every output is in sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InSync {
    /// How many outputs there are.
    pub outputs: usize,
    /// True when the lock answered without rendering.
    pub from_lock: bool,
    /// What the user should know about files beside the outputs.
    pub warnings: Vec<SyncWarning>,
}

/// Renders every output of `s` in memory; committed outputs never read build contexts.
pub fn render(s: &Loaded, layout: &Layout) -> Result<Vec<Rendered>, Failure> {
    render_reading(s, layout, &NoContexts, &PlanOptions::default()).map(|g| g.files)
}

/// Renders every output of `s` planned under `options`, reading build contexts through
/// `contexts` (the input hashes cover the build arguments, `VERSION` and `REVISION`
/// included, as `options` resolve them); refuses outputs that would land on the spec,
/// the lock or each other.
fn render_reading(
    s: &Loaded,
    layout: &Layout,
    contexts: &dyn Contexts,
    options: &PlanOptions,
) -> Result<Generated, Failure> {
    let clashes = clash::setting_clashes(s, layout);
    if !clashes.is_empty() {
        return Err(Failure::Spec(s.diagnostics(clashes)));
    }
    let p = crate::plan::plan(&s.checked, options);
    let chart_errors = charts::check(&s.checked, &p, &layout.root);
    if !chart_errors.is_empty() {
        return Err(Failure::Spec(s.diagnostics(chart_errors)));
    }
    let g = render_with(&s.checked, &p, &layout.render_options(), contexts)
        .map_err(|errors| Failure::Spec(s.diagnostics(errors)))?;
    let clashes = clash::rendered_clashes(s, layout, &g.files);
    if clashes.is_empty() {
        Ok(g)
    } else {
        Err(Failure::Spec(s.diagnostics(clashes)))
    }
}

/// What specc wrote before under `layout`: the lock's hashes, and the journal's of a run
/// that was interrupted.
fn known(lock: Option<&lock::Lock>, journal: &lock::Journal) -> compare::Known {
    let mut known = journal.outputs.clone();
    if let Some(lock) = lock {
        for (path, h) in &lock.outputs {
            let hashes = known.entry(path.clone()).or_default();
            if !hashes.contains(h) {
                hashes.push(h.clone());
            }
        }
    }
    known
}

/// [`compare::compare`] of the rendered `files` with what specc wrote before; the spec
/// itself and the lock are never removed, even when a lock (written by a specc that let
/// an output land on the spec) lists them.
fn compare_outputs(
    s: &Loaded,
    layout: &Layout,
    files: &[Rendered],
    known: &compare::Known,
) -> Result<Vec<Entry>, Failure> {
    let lock_path = s.checked.spec.output.lock.value.as_str();
    let keep = |path: &str| {
        clash::is_the_spec(layout, path)
            || path.trim_start_matches("./") == lock_path.trim_start_matches("./")
    };
    let trust = compare::Trust {
        lock: lock_path,
        output: &s.checked.spec.output,
        keep: &keep,
    };
    compare::compare(&layout.root, files, known, &trust).map_err(Failure::Refused)
}

/// Writes every output of `s` whose bytes change, removes outputs no longer produced,
/// then the lock. Refuses (writing nothing) outputs edited by hand unless `force`, and
/// (even with `force`) any path outside the repository or through a symbolic link.
pub fn generate(s: &Loaded, layout: &Layout, force: bool) -> Result<Applied, Failure> {
    let files = render(s, layout)?;
    std::fs::create_dir_all(&layout.root).map_err(|e| {
        Failure::Io(SyncError::Write {
            path: layout::shown(&layout.root),
            reason: e.to_string(),
        })
    })?;
    let lock_path = s.checked.spec.output.lock.value.clone();
    let _running = runlock::acquire(&layout.root)?;
    let old = match lock::read(&layout.root, &lock_path) {
        Ok(l) => l.map(|(lock, _)| lock),
        Err(e @ SyncError::Unsafe { .. }) => return Err(Failure::Refused(vec![e])),
        // A broken lock is replaced by --force; without it, say so.
        Err(_) if force => None,
        Err(e) => return Err(e.into()),
    };
    let mut journal = lock::Journal::read(&layout.root, &lock_path);
    let known_before = known(old.as_ref(), &journal);
    let entries = compare_outputs(s, layout, &files, &known_before)?;
    let blocked: Vec<Entry> = entries.iter().filter(|e| e.blocks()).cloned().collect();
    if !blocked.is_empty() && !force {
        return Err(Failure::Drift {
            errors: blocking_errors(s, &blocked),
            entries: blocked,
        });
    }
    let compose = existing::compose_file(&s.checked.spec);
    let warnings = existing::compose_shadows(compose, layout, &known_before);
    let lock = lock::Lock::new(s, layout, &files);
    if let Some(old) = &old {
        journal.record(old);
    }
    journal.record(&lock);
    let journal_path = lock::Journal::path(&lock_path);
    apply::apply(
        &layout.root,
        &entries,
        &lock_path,
        &lock.to_text(),
        (&journal_path, &journal.to_text()),
    )
    .map(|applied| Applied {
        warnings,
        ..applied
    })
    .map_err(|e| {
        Failure::Io(SyncError::Write {
            path: layout::shown(&e.path),
            reason: e.error.to_string(),
        })
    })
}

/// Tells whether every output of `s` and the lock are as the spec says, writing nothing.
/// Without a lock nothing was generated yet: every output is missing.
pub fn check(s: &Loaded, layout: &Layout) -> Result<InSync, Failure> {
    let lock_name = s.checked.spec.output.lock.value.clone();
    if confine::check(&lock_name).is_err() {
        // A lock setting inside `.git`: the spec's own error, before any read.
        render(s, layout)?;
    }
    // A run writing now would show half its work: wait for it.
    let _running = if layout.root.is_dir() {
        Some(runlock::acquire(&layout.root)?)
    } else {
        None
    };
    let (lock, lock_text) = match lock::read(&layout.root, &lock_name) {
        Ok(Some((lock, text))) => (Some(lock), Some(text)),
        Ok(None) => (None, None),
        Err(e @ SyncError::Unsafe { .. }) => return Err(Failure::Refused(vec![e])),
        Err(e) => return Err(e.into()),
    };
    let journal = lock::Journal::read(&layout.root, &lock_name);
    let known = known(lock.as_ref(), &journal);
    let compose = existing::compose_file(&s.checked.spec);
    let warnings = existing::compose_shadows(compose, layout, &known);
    // The lock knows nothing of the user's charts, which a user edits apart from the
    // spec: their keys are checked on every run.
    let reads_charts = s.checked.spec.charts.iter().any(|c| c.overlay());
    if let (Some(lock), Some(text)) = (&lock, &lock_text)
        && !reads_charts
        // The lock as this run would write it, byte for byte, for the outputs it lists.
        && *text == lock::Lock::for_outputs(s, layout, lock.outputs.clone()).to_text()
        && lock.is_fresh(&s.text, layout, &lock_name)
    {
        trace("check: fast path, outputs match the lock");
        return Ok(InSync {
            outputs: lock.outputs.len(),
            from_lock: true,
            warnings,
        });
    }
    let files = render(s, layout)?;
    let mut entries = compare_outputs(s, layout, &files, &known)?;
    let expected = lock::Lock::new(s, layout, &files).to_text();
    if lock_text.as_deref() != Some(expected.as_str()) {
        entries.push(Entry {
            status: Status::Stale,
            current: lock_text.map(String::into_bytes),
            new: Some(expected),
            path: lock_name,
        });
    }
    let bad: Vec<Entry> = entries.into_iter().filter(Entry::out_of_sync).collect();
    if bad.is_empty() {
        return Ok(InSync {
            outputs: files.len(),
            from_lock: false,
            warnings,
        });
    }
    Err(drift(s, bad, layout))
}

/// The errors for outputs `generate` refuses without `--force`: those edited by hand, then
/// the paths that hold a file specc never generated.
fn blocking_errors(s: &Loaded, blocked: &[Entry]) -> Vec<SyncError> {
    let (foreign, edited): (Vec<Entry>, Vec<Entry>) =
        blocked.iter().cloned().partition(existing::is_foreign);
    let mut errors = Vec::new();
    if !edited.is_empty() {
        errors.push(SyncError::Edited {
            count: edited.len(),
            paths: paths(&edited),
        });
    }
    if !foreign.is_empty() {
        errors.push(existing::not_generated(s, &foreign, paths(&foreign)));
    }
    errors
}

/// The errors for outputs out of sync: those `generate` refuses, then the stale ones.
fn drift(s: &Loaded, bad: Vec<Entry>, layout: &Layout) -> Failure {
    let (blocked, stale): (Vec<Entry>, Vec<Entry>) = bad.iter().cloned().partition(Entry::blocks);
    let mut errors = blocking_errors(s, &blocked);
    if !stale.is_empty() {
        errors.push(SyncError::Stale {
            count: stale.len(),
            paths: paths(&stale),
            command: layout.regenerate(),
        });
    }
    Failure::Drift {
        errors,
        entries: bad,
    }
}

/// The paths of `entries` for a message: the first ten, then how many more (the diffs
/// and `missing:` lines that follow name them all).
fn paths(entries: &[Entry]) -> String {
    const SHOWN: usize = 10;
    let mut list = entries
        .iter()
        .take(SHOWN)
        .map(|e| format!("`{}`", e.path))
        .collect::<Vec<_>>()
        .join(", ");
    if entries.len() > SHOWN {
        list.push_str(&format!(" and {} more", entries.len() - SHOWN));
    }
    list
}
