//! Arbitrary bytes in; specc must not panic. The same checks as `tests/no_panic.rs`:
//! `compile`, and then either the diagnostics (labels inside the source, rendered by
//! miette's graphical handler) or `plan` + `render` (twice, same bytes; a render problem
//! must never be `InvalidOutput`, specc's own "generated an invalid file").
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};
use specc::diagnostics::Error;
use specc::render::{RenderOptions, render};
use specc::{Diagnostics, PlanOptions, compile, plan::plan};

const NAME: &str = "fuzz.kdl";

fn check_spans(d: &dyn Diagnostic, text: &str) {
    for label in d.labels().into_iter().flatten() {
        let end = label.offset() + label.len();
        assert!(end <= text.len(), "label past the end of the source: {d:?}");
        assert!(
            text.is_char_boundary(label.offset()) && text.is_char_boundary(end),
            "label splits a character: {d:?}"
        );
    }
    for r in d.related().into_iter().flatten() {
        check_spans(r, text);
    }
}

fn report(d: &Diagnostics, text: &str) {
    check_spans(d, text);
    let mut out = String::new();
    GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .render_report(&mut out, d)
        .expect("diagnostics render");
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let text: &str = &text;
    let checked = match compile(NAME, text) {
        Ok(checked) => checked,
        Err(d) => {
            assert!(!d.errors.is_empty());
            report(&d, text);
            return;
        }
    };
    let options = RenderOptions {
        spec_name: NAME.into(),
        regenerate: format!("specc generate {NAME}"),
    };
    for event in [
        PlanOptions::default(),
        PlanOptions {
            version: Some("2.0.0-rc.1".into()),
            branch: Some("feature/x".into()),
            sha: Some("0123456789abcdef".into()),
            ..PlanOptions::default()
        },
    ] {
        let p = plan(&checked, &event);
        let first = render(&checked, &p, &options);
        assert_eq!(
            first,
            render(&checked, &p, &options),
            "render is not deterministic"
        );
        if let Err(errors) = first {
            assert!(
                !errors
                    .iter()
                    .any(|e| matches!(e, Error::InvalidOutput { .. })),
                "specc generated an invalid file: {errors:?}"
            );
            report(
                &Diagnostics::new(NAME, Arc::new(text.to_string()), errors),
                text,
            );
        }
    }
});
