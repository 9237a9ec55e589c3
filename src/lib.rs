//! specc: one KDL build spec in; checked build plan (and, later, generated files) out.
//!
//! The pipeline, one module per stage, data flowing one way:
//! `parse` (text -> KDL) -> `model` (KDL -> typed spec) -> `check` (graph, references,
//! values) -> `plan` (targets and tags) -> `render` (files) -> `sync` (disk, lock).
//! [`compile`] runs the first three; [`sync::generate`], [`sync::check`] and
//! [`sync::changed::changed`] run the rest for a [`sync::Loaded`] spec and its
//! [`sync::Layout`], and return reports that [`cli`] prints.

// Diagnostics are large (source spans, help text) but travel only on the cold error path,
// once per run; boxing every variant would only add noise.
#![allow(clippy::result_large_err)]

pub mod check;
pub mod cli;
pub mod diagnostics;
pub mod diagram;
pub mod lsp;
pub mod plan;
pub mod render;
pub mod spec;
pub mod sync;
pub mod syntax;
pub mod value;

use std::sync::Arc;

pub use check::Checked;
pub use diagnostics::{Diagnostics, Error};
pub use plan::{Plan, PlanOptions};

/// Parses, decodes and checks the spec `text` named `name` (used in diagnostics).
///
/// `Ok` may carry warnings in [`Checked::warnings`]; `Err` holds every problem found by
/// the first stage that failed.
pub fn compile(name: &str, text: &str) -> Result<Checked, Diagnostics> {
    let fail = |errors| Diagnostics::new(name, Arc::new(text.to_string()), errors);
    let doc = syntax::parse(text).map_err(fail)?;
    match spec::decode(&doc, text) {
        Ok(spec) => check::check_file(spec, Some(name)).map_err(fail),
        // A spec with shape problems but no dropped declarations is checked too, so one
        // run reports everything.
        Err((Some(spec), mut errors)) => {
            if let Err(more) = check::check_file(spec, Some(name)) {
                errors.extend(more);
                // Report problems in spec order, whichever stage found them.
                diagnostics::sort_by_position(&mut errors);
            }
            Err(fail(errors))
        }
        Err((None, errors)) => Err(fail(errors)),
    }
}
