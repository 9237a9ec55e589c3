//! Checked spec in, `.dockerignore` files out: one per build context, and one per
//! Dockerfile (`<Dockerfile>.dockerignore`, which BuildKit reads instead of the context's)
//! for an image with `ignore` patterns of its own.
//!
//! Each file holds specc's defaults, the files specc generates, then the spec's patterns
//! (the top-level `ignore`, then the image's): the spec's patterns come after, so its `!`
//! re-inclusions win. A `!` pattern only brings back what it names, though: when the spec
//! has any, the defaults are written once more after its patterns (an allow-list such as
//! `*` then `!api/**` must not bring back `api/.env` or `api/node_modules`), followed by
//! the spec's `!` patterns that name a default's files (`!api/.env`), which the user meant.
//! A default that would hide a file some COPY/ADD instruction needs is left out. The files
//! build secrets are read from come last, so that no `!` pattern before them can bring
//! a secret back into an image.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::dockerfile::Dockerfiles;
use super::{RenderOptions, Rendered, header, join, relative_path, render_template};
use crate::check::targets::image_variants;
use crate::check::{Checked, reachable_stages};
use crate::diagnostics::Error;
use crate::spec::InstructionKind;
use crate::value::ignore::{IgnoreRules, names};

const DEFAULTS: &[(&str, &[&str])] = &[
    ("Version control and CI", &[".git", ".github", ".gitignore"]),
    (
        "Dependencies, caches and virtual environments",
        &[
            "**/node_modules",
            "**/__pycache__",
            "**/*.py[cod]",
            "**/.venv",
            "**/.pytest_cache",
            "**/.mypy_cache",
            "**/target",
        ],
    ),
    (
        "Editors, logs and local secrets",
        &[
            "**/.DS_Store",
            "**/*.swp",
            ".idea",
            ".vscode",
            "**/*.log",
            "**/.env",
        ],
    ),
    // What a `specc generate` killed before renaming leaves (the next run removes it).
    ("specc's temporary files", &["**/.specc-tmp-*"]),
];

#[derive(Serialize)]
struct Context {
    header: Vec<String>,
    sections: Vec<Section>,
}

#[derive(Serialize)]
struct Section {
    title: String,
    patterns: Vec<String>,
}

/// The `.dockerignore` files, and which one each target's build reads.
pub struct Ignores {
    pub files: Vec<Rendered>,
    /// (image, variant) -> the path of the ignore file its build reads.
    pub by_target: HashMap<(usize, usize), String>,
    /// Path -> its index in `files`.
    index: HashMap<String, usize>,
}

impl Ignores {
    /// The text of the ignore file target (image `ii`, variant `v`) reads; empty when none.
    pub fn text_of(&self, ii: usize, v: usize) -> String {
        self.by_target
            .get(&(ii, v))
            .and_then(|path| self.index.get(path))
            .map(|&i| self.files[i].contents.clone())
            .unwrap_or_default()
    }
}

/// True when `pattern` alone would exclude one of `sources` (COPY/ADD sources, relative to
/// the context), read by the same matcher as the input hash and BuildKit. The pattern is
/// compiled once for all sources: compiling a glob costs far more than matching one.
fn hides_any(pattern: &str, sources: &BTreeSet<String>) -> bool {
    let rules = IgnoreRules::from_patterns([pattern]);
    sources.iter().any(|s| rules.excludes(s))
}

/// The COPY/ADD sources (without `from=`) that image `ii` reads from its context.
fn image_sources(checked: &Checked, ii: usize) -> BTreeSet<String> {
    let spec = &checked.spec;
    let image = &spec.images[ii];
    let Some(target) = spec.stage_index(&image.stage.value) else {
        return BTreeSet::new();
    };
    let mut sources = BTreeSet::new();
    for s in reachable_stages(&checked.graph, target) {
        for ins in &spec.stages[s].instructions {
            match &ins.kind {
                InstructionKind::Copy(c) if c.from.is_none() => {
                    sources.extend(c.sources.iter().map(|t| t.value.clone()))
                }
                InstructionKind::Add(a) => {
                    sources.extend(a.sources.iter().map(|t| t.value.clone()))
                }
                _ => {}
            }
        }
    }
    sources
}

/// The sections of one ignore file for `context`, whose builds copy `sources`, with the
/// spec's patterns `user` (in order).
fn sections(
    checked: &Checked,
    context: &str,
    sources: &BTreeSet<String>,
    user: &[&str],
) -> Vec<Section> {
    let out = &checked.spec.output;
    let needed = |p: &str| !hides_any(p, sources);
    let mut sections: Vec<Section> = DEFAULTS
        .iter()
        .map(|(title, patterns)| Section {
            title: title.to_string(),
            patterns: patterns
                .iter()
                .filter(|p| needed(p))
                .map(|p| p.to_string())
                .collect(),
        })
        .collect();
    let generated = [&out.bake.value, &out.compose.value, &out.lock.value];
    sections.push(Section {
        title: "Generated by specc".into(),
        patterns: generated
            .iter()
            .map(|g| relative_path(context, g))
            .filter(|r| !r.starts_with(".."))
            .filter(|r| needed(r))
            .collect(),
    });
    let negations: Vec<&str> = user.iter().filter_map(|p| p.strip_prefix('!')).collect();
    let restated: Vec<String> = if negations.is_empty() {
        Vec::new()
    } else {
        sections.iter().flat_map(|s| s.patterns.clone()).collect()
    };
    sections.push(Section {
        title: "From the spec".into(),
        patterns: user.iter().map(|p| p.to_string()).collect(),
    });
    sections.push(Section {
        title: "specc's defaults again: a `!` pattern above brings back only what it names".into(),
        patterns: restated.clone(),
    });
    sections.push(Section {
        title: "The spec's `!` patterns that name a default".into(),
        patterns: negations
            .iter()
            .filter(|n| restated.iter().any(|d| names(n, d)))
            .map(|n| format!("!{n}"))
            .collect(),
    });
    // Last, so that no pattern before it (a negation of the spec's) re-includes them.
    sections.push(Section {
        title: "Build secrets (mounted by `run`, never copied)".into(),
        patterns: secret_files(&checked.spec, context),
    });
    sections.retain(|s| !s.patterns.is_empty());
    sections
}

/// The files build secrets are read from that lie inside `context`, relative to it: a
/// `copy "."` must not put a secret into an image.
fn secret_files(spec: &crate::spec::Spec, context: &str) -> Vec<String> {
    spec.secrets
        .iter()
        .filter_map(|s| match &s.local {
            crate::spec::SecretSource::File(f) => Some(relative_path(context, &f.value)),
            crate::spec::SecretSource::Env(_) => None,
        })
        .filter(|r| !r.starts_with(".."))
        .collect()
}

pub fn render(
    checked: &Checked,
    dockerfiles: &Dockerfiles,
    options: &RenderOptions,
    errors: &mut Vec<Error>,
) -> Ignores {
    let spec = &checked.spec;
    let top: Vec<&str> = spec.ignore.iter().map(|p| p.value.as_str()).collect();
    let mut by_target = HashMap::new();
    // Context -> the COPY/ADD sources that read from it.
    let mut contexts: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // Per-Dockerfile ignore file -> its context, sources and the image's patterns.
    let mut own: BTreeMap<String, (String, BTreeSet<String>, Vec<&str>)> = BTreeMap::new();
    for (ii, image) in spec.images.iter().enumerate() {
        let context = &image.context.value;
        let sources = image_sources(checked, ii);
        contexts
            .entry(context.clone())
            .or_default()
            .extend(sources.iter().cloned());
        let context_file = if context == "." {
            spec.output.dockerignore.value.clone()
        } else {
            join(context, ".dockerignore")
        };
        let variants: BTreeSet<usize> = image_variants(spec, image)
            .into_iter()
            .filter(|v| dockerfiles.by_target.contains_key(&(ii, *v)))
            .collect();
        for v in variants {
            let path = match (&image.ignore[..], dockerfiles.by_target.get(&(ii, v))) {
                ([], _) | (_, None) => context_file.clone(),
                (patterns, Some(dockerfile)) => {
                    let path = format!("{dockerfile}.dockerignore");
                    let user = top
                        .iter()
                        .copied()
                        .chain(patterns.iter().map(|p| p.value.as_str()))
                        .collect();
                    own.entry(path.clone())
                        .or_insert_with(|| (context.clone(), sources.clone(), user));
                    path
                }
            };
            by_target.insert((ii, v), path);
        }
    }
    let mut files = Vec::new();
    let mut emit = |path: String, sections: Vec<Section>| {
        let context = Context {
            header: header(options),
            sections,
        };
        match render_template("dockerignore", &path, &context) {
            Ok(contents) => files.push(Rendered { path, contents }),
            Err(e) => errors.push(e),
        }
    };
    for (context, sources) in &contexts {
        let path = if context == "." {
            spec.output.dockerignore.value.clone()
        } else {
            join(context, ".dockerignore")
        };
        emit(path, sections(checked, context, sources, &top));
    }
    for (path, (context, sources, user)) in own {
        emit(path, sections(checked, &context, &sources, &user));
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let index = files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.path.clone(), i))
        .collect();
    Ignores {
        files,
        by_target,
        index,
    }
}
