//! `.dockerignore` patterns and the one matcher that reads them as BuildKit does: later
//! patterns win, `!` re-includes, `**` spans folders, and a path is excluded when it or
//! one of its parent folders matches. The `.dockerignore` renderer decides with it which
//! defaults would hide a file a COPY needs, and the input hash skips what it excludes,
//! so the two can never disagree.

use globset::{GlobBuilder, GlobMatcher};

/// One pattern: a glob, negated with `!`.
#[derive(Debug, Clone)]
struct Rule {
    matcher: GlobMatcher,
    negated: bool,
}

/// Compiled `.dockerignore` patterns, in order.
#[derive(Debug, Clone, Default)]
pub struct IgnoreRules {
    rules: Vec<Rule>,
}

impl IgnoreRules {
    /// The patterns of a `.dockerignore` text (comments and blank lines skipped).
    pub fn from_text(text: &str) -> Self {
        Self::from_patterns(text.lines())
    }

    /// The given patterns, in order. A pattern BuildKit could not use is skipped.
    pub fn from_patterns<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Self {
        let rules = patterns
            .into_iter()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| {
                let (negated, pattern) = match l.strip_prefix('!') {
                    Some(p) => (true, p),
                    None => (false, l),
                };
                let pattern = pattern.trim_start_matches('/').trim_end_matches('/');
                let glob = GlobBuilder::new(pattern)
                    .literal_separator(true)
                    .build()
                    .ok()?;
                Some(Rule {
                    matcher: glob.compile_matcher(),
                    negated,
                })
            })
            .collect();
        IgnoreRules { rules }
    }

    /// True when `path` (relative to the context, `/`-separated) or one of its parent
    /// folders is excluded.
    pub fn excludes(&self, path: &str) -> bool {
        let path = path.trim_start_matches("./").trim_end_matches('/');
        if path.is_empty() || path == "." {
            return false;
        }
        let mut result = false;
        for rule in &self.rules {
            let mut prefix = String::new();
            let hit = path.split('/').any(|part| {
                if !prefix.is_empty() {
                    prefix.push('/');
                }
                prefix.push_str(part);
                rule.matcher.is_match(&prefix)
            });
            if hit {
                result = !rule.negated;
            }
        }
        result
    }
}

/// True when the `!` pattern `negation` (without its `!`) names files that `pattern`
/// excludes: read as a path, it is one of them. `!api/.env` names `**/.env` and `!.git`
/// names `.git`; `!api/**` and `!**` name neither.
pub fn names(negation: &str, pattern: &str) -> bool {
    let path = negation.trim_start_matches('/');
    IgnoreRules::from_patterns([pattern]).excludes(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_rules_win_and_parents_exclude_their_files() {
        let r = IgnoreRules::from_text("models\n**/*.pyc\n*.md\n!README.md\n");
        assert!(r.excludes("models/a.bin"));
        assert!(!r.excludes("src/models/a.bin"));
        assert!(r.excludes("a/b/c.pyc"));
        assert!(r.excludes("NOTES.md"));
        assert!(!r.excludes("README.md"));
    }

    #[test]
    fn a_negation_names_a_pattern_only_by_its_files() {
        assert!(names("api/.env", "**/.env"));
        assert!(names("/.env", "**/.env"));
        assert!(names(".git", ".git"));
        assert!(names(".git/config", ".git"));
        assert!(names("**/node_modules", "**/node_modules"));
        assert!(names("web/node_modules/x.js", "**/node_modules"));
        assert!(!names("api/**", "**/.env"));
        assert!(!names("api", "**/node_modules"));
        assert!(!names("**", "**/*.log"));
        assert!(!names("**", ".git"));
    }

    #[test]
    fn double_star_also_matches_at_the_top() {
        let r = IgnoreRules::from_patterns(["**/*.py[cod]"]);
        assert!(r.excludes("main.pyc"));
        assert!(r.excludes("pkg/mod.pyo"));
        assert!(!r.excludes("main.py"));
    }
}
