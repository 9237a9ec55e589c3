//! The spec's problems as LSP diagnostics: the same [`crate::compile`] run and the same
//! list of problems (capped as [`Diagnostics`] caps them) that `specc check --spec-only`
//! prints, each with its code, severity, labels and help.

use std::sync::Arc;

use lsp_types::{
    Diagnostic as LspDiagnostic, DiagnosticRelatedInformation, DiagnosticSeverity, Location,
    NumberOrString, Range, Uri,
};
use miette::{Diagnostic, Severity};

use super::position::LineIndex;
use crate::Diagnostics;

/// Every problem `specc check --spec-only` reports for `text` named `name` (errors, or
/// the warnings of a spec that compiles), converted for `uri`.
pub fn of(uri: &Uri, name: &str, text: &str, index: &LineIndex) -> Vec<LspDiagnostic> {
    let report = match crate::compile(name, text) {
        Ok(checked) if checked.warnings.is_empty() => return Vec::new(),
        Ok(checked) => Diagnostics::new(name, Arc::new(text.to_string()), checked.warnings),
        Err(report) => report,
    };
    report
        .related()
        .into_iter()
        .flatten()
        .map(|d| convert(uri, text, index, d))
        .collect()
}

/// One problem: its range is its first label's; every label (with its text) and the
/// help come along as related information, at their own places.
fn convert(uri: &Uri, text: &str, index: &LineIndex, d: &dyn Diagnostic) -> LspDiagnostic {
    let labels: Vec<_> = d.labels().into_iter().flatten().collect();
    let range = labels
        .first()
        .map_or(Range::default(), |l| index.range(text, *l.inner()));
    let at = |range: Range, message: String| DiagnosticRelatedInformation {
        location: Location {
            uri: uri.clone(),
            range,
        },
        message,
    };
    let mut related: Vec<_> = labels
        .iter()
        .map(|l| {
            let message = l.label().unwrap_or("here").to_string();
            at(index.range(text, *l.inner()), message)
        })
        .collect();
    if let Some(help) = d.help() {
        related.push(at(range, format!("help: {help}")));
    }
    LspDiagnostic {
        range,
        severity: Some(match d.severity() {
            Some(Severity::Warning) => DiagnosticSeverity::WARNING,
            Some(Severity::Advice) => DiagnosticSeverity::INFORMATION,
            Some(Severity::Error) | None => DiagnosticSeverity::ERROR,
        }),
        code: d.code().map(|c| NumberOrString::String(c.to_string())),
        source: Some("specc".into()),
        message: d.to_string(),
        related_information: Some(related),
        ..LspDiagnostic::default()
    }
}
