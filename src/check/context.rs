//! Build-context rules: what a COPY/ADD may read from the context.
//!
//! * A source outside the context (`../x`, `/etc/x`) is refused: Docker would read a
//!   different file (BuildKit resolves every source inside the context), and the input
//!   hash would cover files outside the repository.
//! * A copy of the repository's `.git` folder is refused unless the instruction says
//!   `include-git=#true`: `.git` holds the history and, after a checkout that persists
//!   credentials, the job's token. The generated `.dockerignore` keeps `.git` excluded
//!   otherwise, so the spec's `ignore "!.git"` is refused the same way.

use super::Checker;
use crate::diagnostics::Error;
use crate::spec::{InstructionKind, Spanned, Text};
use crate::value::ignore::IgnoreRules;

/// The `.dockerignore` default that keeps the repository's history out of images.
const GIT: &str = ".git";

impl Checker<'_> {
    /// Every COPY/ADD source read from a build context, and the spec's ignore patterns.
    pub(super) fn build_contexts(&mut self) {
        let spec = self.spec;
        for stage in &spec.stages {
            for ins in &stage.instructions {
                let (keyword, include_git) = match &ins.kind {
                    InstructionKind::Copy(c) => ("COPY", &c.include_git),
                    InstructionKind::Add(a) => ("ADD", &a.include_git),
                    InstructionKind::Run(_) => ("RUN --mount=type=bind", &None),
                    _ => continue,
                };
                let git_allowed = include_git.as_ref().is_some_and(|b| b.value);
                for source in ins.context_sources() {
                    if keyword == "ADD" && is_remote(&source.value) {
                        continue;
                    }
                    if let Err(reason) = inside_context(&source.value) {
                        self.push(Error::SourceOutsideContext {
                            keyword: keyword.into(),
                            value: source.value.clone(),
                            span: source.span,
                            reason: reason.into(),
                            help: outside_help(&source.value),
                        });
                    } else if !git_allowed && copies_git(&source.value) {
                        self.push(copies_git_error(keyword, source, include_git));
                    }
                }
            }
        }
        let opted_in = spec.stages.iter().flat_map(|s| &s.instructions).any(|i| {
            let flag = match &i.kind {
                InstructionKind::Copy(c) => &c.include_git,
                InstructionKind::Add(a) => &a.include_git,
                _ => return false,
            };
            flag.as_ref().is_some_and(|b| b.value)
        });
        if !opted_in {
            let images = spec.images.iter().flat_map(|i| &i.ignore);
            for pattern in spec.ignore.iter().chain(images) {
                // A broad `!` (`!**`) leaves `.git` out: the defaults are written again
                // after the spec's patterns, and only a `!` naming `.git` wins over them.
                let named = pattern
                    .value
                    .strip_prefix('!')
                    .is_some_and(|n| crate::value::ignore::names(n, GIT));
                if named {
                    self.push(Error::CopiesGit {
                        keyword: "an `ignore` pattern".into(),
                        span: pattern.span,
                        reason: "this pattern brings `.git` back into the build context".into(),
                        help: "remove the pattern; to copy `.git` on purpose, say so on the instruction that copies it: `copy \".git\" to=\"/src/.git\" include-git=#true`".into(),
                    });
                }
            }
        }
    }
}

impl Checker<'_> {
    /// COPY/ADD sources, named literally, that the spec's `ignore` patterns (the top-level
    /// ones and the image's) exclude from the image's build context: BuildKit fails such a
    /// step with "not found". specc's own defaults never do (the renderer leaves out a
    /// default that would), and a source a glob `!` pattern might bring back is let be.
    pub(super) fn ignored_sources(&mut self) {
        let spec = self.spec;
        let mut seen = std::collections::HashSet::new();
        for image in &spec.images {
            let patterns: Vec<&crate::spec::Text> =
                spec.ignore.iter().chain(&image.ignore).collect();
            let Some(target) = self.spec.stage_index(&image.stage.value) else {
                continue;
            };
            if patterns.is_empty() {
                continue;
            }
            let rules = IgnoreRules::from_patterns(patterns.iter().map(|p| p.value.as_str()));
            for s in super::reachable_stages(&self.graph, target) {
                for ins in &spec.stages[s].instructions {
                    let (keyword, sources) = match &ins.kind {
                        InstructionKind::Copy(c) if c.from.is_none() => ("COPY", &c.sources),
                        InstructionKind::Add(a) => ("ADD", &a.sources),
                        _ => continue,
                    };
                    for source in sources {
                        let Some((path, pattern)) = ignored(&rules, &patterns, &source.value)
                        else {
                            continue;
                        };
                        if !seen.insert((source.span, pattern.span)) {
                            continue;
                        }
                        let place = if image.ignore.iter().any(|p| p.span == pattern.span) {
                            format!(" in `image {}`", image.name.value)
                        } else {
                            String::new()
                        };
                        self.push(Error::SourceIgnored {
                            keyword: keyword.into(),
                            value: source.value.clone(),
                            pattern: pattern.value.clone(),
                            span: source.span,
                            help: format!(
                                "remove or narrow the pattern `{}`, or send it anyway with a `!` pattern after it{place}: `ignore \"!{path}\"`",
                                pattern.value
                            ),
                        });
                    }
                }
            }
        }
    }
}

/// The path of `source` and the pattern that excludes it, when `rules` (made of
/// `patterns`) exclude it and no `!` pattern could bring back anything under it.
fn ignored<'p>(
    rules: &IgnoreRules,
    patterns: &[&'p crate::spec::Text],
    source: &str,
) -> Option<(String, &'p crate::spec::Text)> {
    let path = source.trim_start_matches("./").trim_end_matches('/');
    let literal = !path.contains(['*', '?', '[', '\\', '$']);
    if !literal
        || path.is_empty()
        || path == "."
        || is_remote(path)
        || inside_context(path).is_err()
    {
        return None;
    }
    if !rules.excludes(path) {
        return None;
    }
    let brought_back = patterns.iter().any(|p| {
        p.value.strip_prefix('!').is_some_and(|n| {
            let n = n.trim_start_matches('/');
            n.contains(['*', '?', '[']) || n.starts_with(&format!("{path}/"))
        })
    });
    if brought_back {
        return None;
    }
    let culprit = patterns.iter().rev().find(|p| {
        !p.value.starts_with('!') && IgnoreRules::from_patterns([p.value.as_str()]).excludes(path)
    })?;
    Some((path.to_string(), culprit))
}

/// An ADD source BuildKit fetches instead of reading the context.
fn is_remote(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("git@")
}

/// Why `path` (relative to the context) names something outside it.
fn inside_context(path: &str) -> Result<(), &'static str> {
    if path.starts_with('/') || path.starts_with('\\') {
        return Err("an absolute path; COPY and ADD read from the build context");
    }
    let mut depth: usize = 0;
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if depth == 0 {
                    return Err("`..` climbs out of the build context");
                }
                depth -= 1;
            }
            _ => depth += 1,
        }
    }
    Ok(())
}

/// True when copying `source` would bring `.git` in: the `.dockerignore` default `.git`
/// would hide it (the same test the `.dockerignore` renderer uses to drop that default).
fn copies_git(source: &str) -> bool {
    let normal: Vec<&str> = source
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    // Compiled once: a spec with thousands of COPY sources would compile it per source.
    static RULES: std::sync::LazyLock<IgnoreRules> =
        std::sync::LazyLock::new(|| IgnoreRules::from_patterns([GIT]));
    RULES.excludes(&normal.join("/"))
}

fn copies_git_error(keyword: &str, source: &Text, include_git: &Option<Spanned<bool>>) -> Error {
    let help = if keyword.starts_with("RUN") {
        "bind the files you need from the working tree instead; to use the repository's history on purpose, `copy` it with `include-git=#true`".to_string()
    } else if include_git.is_some() {
        "remove the source, or write `include-git=#true` to copy the repository's history on purpose".to_string()
    } else {
        format!(
            "copy the files you need from the working tree instead; to copy the repository's history on purpose, add `include-git=#true` to this `{}`",
            keyword.to_ascii_lowercase()
        )
    };
    Error::CopiesGit {
        keyword: keyword.into(),
        span: source.span,
        reason: "`.git` holds the repository's history and may hold a CI token".into(),
        help,
    }
}

/// Help for a source outside the context, for its case.
fn outside_help(path: &str) -> String {
    if path.starts_with(['/', '\\']) {
        format!(
            "write the path relative to the image's `context`, e.g. `{}`; to copy a file from another image, use `from=`",
            path.trim_start_matches(['/', '\\'])
        )
    } else {
        "write the path relative to the image's `context`; to reach files above it, widen the context, e.g. `image NAME context=\"..\"`".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_inside_and_outside() {
        assert!(inside_context("src").is_ok());
        assert!(inside_context("a/../b").is_ok());
        assert!(inside_context("./.").is_ok());
        assert!(inside_context("../x").is_err());
        assert!(inside_context("a/../../x").is_err());
        assert!(inside_context("/etc/passwd").is_err());
    }

    #[test]
    fn git_sources() {
        assert!(copies_git(".git"));
        assert!(copies_git("./.git/"));
        assert!(copies_git(".git/config"));
        assert!(!copies_git("."));
        assert!(!copies_git("src/.gitkeep"));
        assert!(!copies_git(".github"));
    }
}
