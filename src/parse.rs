//! Spec text in, KDL v2 document out (spans kept).
//!
//! kdl's own diagnostics carry an unnamed source, so each one becomes a
//! [`Error::Syntax`] that the caller attaches to the spec's named source.

use kdl::KdlDocument;
use miette::SourceSpan;

use crate::error::Error;

pub fn parse(text: &str) -> Result<KdlDocument, Vec<Error>> {
    KdlDocument::parse_v2(text).map_err(|e| {
        let mut errors: Vec<Error> = Vec::new();
        for d in e.diagnostics {
            // Clamp to the text: a span past the end would break rendering.
            let offset = d.span.offset().min(text.len());
            let len = d.span.len().min(text.len() - offset);
            // KDL v1 keywords (`true`, `null`) are bare identifiers, not values, in KDL v2.
            let keyword = text
                .get(offset..offset + len)
                .filter(|t| ["true", "false", "null", "inf", "nan"].contains(t));
            let error = Error::Syntax {
                message: d.message.unwrap_or_else(|| "invalid KDL".into()),
                span: SourceSpan::from((offset, len)),
                label: match keyword {
                    Some(k) => format!("`{k}` is a KDL v1 keyword"),
                    None => d.label.unwrap_or_else(|| "here".into()),
                },
                help: match keyword {
                    Some(k) => Some(format!(
                        "KDL v2 writes keywords with `#`: write `#{k}` (or `\"{k}\"` for the text)"
                    )),
                    None => d.help.or_else(|| {
                        Some("see https://kdl.dev for KDL v2 syntax; strings with spaces need double quotes".into())
                    }),
                },
            };
            if !errors.contains(&error) {
                errors.push(error);
            }
        }
        if errors.is_empty() {
            errors.push(Error::Syntax {
                message: "invalid KDL".into(),
                span: SourceSpan::from((0, 0)),
                label: "here".into(),
                help: None,
            });
        }
        errors
    })
}
