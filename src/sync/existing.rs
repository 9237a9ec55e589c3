//! Files of the user's own at or beside the output paths, which specc never generated
//! (their hashes are in neither the lock nor the journal): what to say about them.
//!
//! - A file at an output path blocks `generate` with its own error (not "edited by hand":
//!   specc never wrote it) whose help fits the file: `--force`, an `output` setting that
//!   moves specc's file away, or for a `.dockerignore` the spec's `ignore` node.
//! - A compose file beside the generated one under another of the names `docker compose`
//!   looks for: one of the two silently wins, which the user must hear about.

use crate::sync::compare::{Entry, Known, Status};
use crate::sync::confine::{self, OnDisk};
use crate::sync::error::{SyncError, SyncWarning};
use crate::sync::layout::Layout;
use crate::sync::source::Loaded;

/// The names `docker compose` looks for in a folder, in the order it prefers them.
const COMPOSE_NAMES: &[&str] = &[
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

/// The error for outputs whose path holds a file specc never generated (`foreign`, at
/// least one).
pub fn not_generated(s: &Loaded, foreign: &[Entry], paths: String) -> SyncError {
    let first = foreign.first().map_or("", |e| e.path.as_str());
    SyncError::NotGenerated {
        count: foreign.len(),
        paths,
        help: help_for(s, first),
    }
}

/// What to do about the file of the user's own at `path`.
fn help_for(s: &Loaded, path: &str) -> String {
    let force = "run `specc generate --force` (it writes only the output paths named above, nothing else; commit or copy your files first to keep them)";
    if path.ends_with(".dockerignore") {
        return format!(
            "specc writes the ignore files of the build contexts: move the patterns of `{path}` into the spec (`ignore \"PATTERN\"`, at the top level or in an `image`), then {force}"
        );
    }
    match setting_for(s, path) {
        Some((key, example)) => format!(
            "to replace them with specc's files, {force}; to keep them, have specc write elsewhere with an `output` setting, e.g. `output {{ {key} \"{example}\" }}`"
        ),
        None => format!("to replace them with specc's files, {force}"),
    }
}

/// The `output` setting that places `path`, and another value for it.
fn setting_for(s: &Loaded, path: &str) -> Option<(&'static str, String)> {
    let (key, _) = crate::sync::clash::output_setting(s, path)?;
    let o = &s.checked.spec.output;
    let (_, current) = o
        .files()
        .into_iter()
        .chain(o.folders())
        .find(|(k, _)| *k == key)?;
    let current = current.value.trim_start_matches("./").trim_end_matches('/');
    Some(match current {
        "" | "." => (key, "generated".to_string()),
        c => (key, format!("generated/{c}")),
    })
}

/// True when `entry` is a file of the user's own at an output path.
pub fn is_foreign(entry: &Entry) -> bool {
    entry.status == Status::Foreign
}

/// The compose file `spec` writes, as the lock names it: `None` without services.
pub fn compose_file(spec: &crate::spec::Spec) -> Option<&str> {
    (!spec.services.is_empty()).then(|| spec.output.compose.value.trim_start_matches("./"))
}

/// Warnings for compose files beside the generated one (`compose`, see [`compose_file`])
/// that specc did not write: which file plain `docker compose` reads in that folder, and
/// what to do.
pub fn compose_shadows(compose: Option<&str>, layout: &Layout, known: &Known) -> Vec<SyncWarning> {
    let Some(generated) = compose else {
        return Vec::new();
    };
    let (folder, own) = match generated.rsplit_once('/') {
        Some((d, f)) => (format!("{d}/"), f),
        None => (String::new(), generated),
    };
    if !COMPOSE_NAMES.contains(&own) {
        // `docker compose` never reads it without `-f`: nothing it shadows or is shadowed by.
        return Vec::new();
    }
    let theirs: Vec<&str> = COMPOSE_NAMES
        .iter()
        .copied()
        .filter(|n| *n != own)
        .filter(|n| {
            let path = format!("{folder}{n}");
            match confine::read(&layout.root, &path) {
                Ok(OnDisk::File(bytes)) => !known
                    .get(&path)
                    .is_some_and(|hs| hs.contains(&crate::sync::lock::hash(&bytes))),
                _ => false,
            }
        })
        .collect();
    let rank = |n: &str| COMPOSE_NAMES.iter().position(|c| *c == n);
    theirs
        .into_iter()
        .map(|other| {
            let generated_wins = rank(own) < rank(other);
            let (read, ignored) = if generated_wins {
                (format!("the generated `{folder}{own}`"), format!("your `{folder}{other}`"))
            } else {
                (format!("your `{folder}{other}`"), format!("the generated `{folder}{own}`"))
            };
            SyncWarning::ComposeShadowed {
                message: format!(
                    "plain `docker compose` in `{}` reads {read} and ignores {ignored}",
                    if folder.is_empty() { "." } else { folder.trim_end_matches('/') }
                ),
                help: format!(
                    "move the services of `{folder}{other}` into the spec and delete it, or write specc's compose file elsewhere: `output {{ compose \"deploy/compose.yaml\" }}`; until then, name the file you mean: `docker compose -f {folder}{own} up`"
                ),
            }
        })
        .collect()
}
