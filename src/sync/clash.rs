//! Outputs that would land on the spec itself, on the lock or on each other: refused
//! before anything is written, even with `--force`.
//!
//! `check` refuses outputs that collide as the spec writes them; these look at the paths
//! as they resolve on disk: [`setting_clashes`] at the `output` settings,
//! [`rendered_clashes`] at the paths of the rendered files.

use crate::render::Rendered;
use crate::sync::layout::Layout;
use crate::sync::source::Loaded;

/// The `output` setting that places `path` (a file setting naming it, else the folder
/// setting holding it), for a label; a setting left at its default has an empty span.
pub(crate) fn output_setting(s: &Loaded, path: &str) -> Option<(&'static str, miette::SourceSpan)> {
    let o = &s.checked.spec.output;
    if let Some((key, t)) = o
        .files()
        .into_iter()
        .find(|(_, t)| normalized(&t.value) == path)
    {
        return Some((key, t.span));
    }
    o.folders()
        .into_iter()
        .find(|(_, t)| {
            let folder = normalized(&t.value);
            folder.is_empty() || folder == "." || path.starts_with(&format!("{folder}/"))
        })
        .map(|(key, t)| (key, t.span))
}

/// True when `path` under the output root is the spec file itself.
pub(crate) fn is_the_spec(layout: &Layout, path: &str) -> bool {
    std::fs::canonicalize(layout.root.join(path)).is_ok_and(|p| p == layout.spec_path)
}

/// An output that would land on the spec itself or on another output; labelled at `span`,
/// else at the setting that places `path`.
fn clash(
    s: &Loaded,
    path: &str,
    span: Option<miette::SourceSpan>,
    reason: String,
    help: String,
) -> crate::Error {
    let span = span
        .or_else(|| output_setting(s, path).map(|(_, span)| span))
        .unwrap_or_else(|| miette::SourceSpan::from((0, 0)));
    crate::Error::InvalidPath {
        what: "output path".into(),
        value: path.to_string(),
        span,
        reason,
        help,
    }
}

/// `output` settings that land on the spec file once paths are resolved on disk (`--out`,
/// `-C`, symbolic links): what `check`, which compares the paths as written
/// (`check/outputs.rs`, also for outputs that collide with each other), cannot know.
pub(crate) fn setting_clashes(s: &Loaded, layout: &Layout) -> Vec<crate::Error> {
    s.checked
        .spec
        .output
        .files()
        .into_iter()
        .filter(|(_, t)| is_the_spec(layout, normalized(&t.value)))
        .map(|(key, t)| {
            clash(
                s,
                normalized(&t.value),
                Some(t.span),
                format!("`{key}` would overwrite the spec itself"),
                format!(
                    "write `{key}` to another path in the `output` block (its default is `{}`)",
                    default_output(key)
                ),
            )
        })
        .collect()
}

/// An output path as written in the spec, without a leading `./` or a trailing `/`.
fn normalized(path: &str) -> &str {
    path.trim_start_matches("./").trim_end_matches('/')
}

/// The default path of the `output` setting `key`.
fn default_output(key: &str) -> String {
    let defaults = crate::spec::Output::defaults();
    defaults
        .files()
        .into_iter()
        .chain(defaults.folders())
        .find(|(k, _)| *k == key)
        .map_or_else(String::new, |(_, t)| t.value.clone())
}

/// Rendered outputs that land inside `.git`, on the spec file, on the lock or on each
/// other.
pub(crate) fn rendered_clashes(
    s: &Loaded,
    layout: &Layout,
    files: &[Rendered],
) -> Vec<crate::Error> {
    let lock = normalized(&s.checked.spec.output.lock.value);
    let mut errors = Vec::new();
    if let Err(crate::sync::confine::Refused::Git) = crate::sync::confine::check(lock) {
        errors.push(clash(
            s,
            lock,
            Some(s.checked.spec.output.lock.span),
            "the lock would be written inside `.git`, which specc never touches".into(),
            "write `lock` to another path in the `output` block (its default is `specc.lock`)"
                .into(),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for f in files {
        let help = || match output_setting(s, &f.path) {
            Some((key, _)) => format!(
                "choose another path for `{key}` in the `output` block (its default is `{}`)",
                default_output(key)
            ),
            None => "choose other paths in the `output` block".into(),
        };
        if let Err(crate::sync::confine::Refused::Git) = crate::sync::confine::check(&f.path) {
            errors.push(clash(
                s,
                &f.path,
                None,
                "this output would be written inside `.git`, which specc never touches (a hook or the git config there runs code)".into(),
                help(),
            ));
        } else if is_the_spec(layout, &f.path) {
            errors.push(clash(
                s,
                &f.path,
                None,
                "this output would overwrite the spec itself".into(),
                help(),
            ));
        } else if f.path == lock {
            errors.push(clash(
                s,
                &f.path,
                None,
                "this output would overwrite the lock".into(),
                help(),
            ));
        } else if !seen.insert(f.path.as_str()) {
            errors.push(clash(
                s,
                &f.path,
                None,
                "two outputs would be written to this path".into(),
                help(),
            ));
        }
    }
    errors
}
