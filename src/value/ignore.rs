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
    /// A `!` pattern's `/`-separated parts, for [`IgnoreRules::prunes`]; `None` when it
    /// cannot be read part by part (see [`parts`]).
    parts: Option<Vec<Part>>,
}

/// One `/`-separated part of a pattern.
#[derive(Debug, Clone)]
enum Part {
    /// `**`: any number of folders, none included.
    AnyDepth,
    /// A glob over one name.
    Name(GlobMatcher),
}

/// Compiled `.dockerignore` patterns, in order.
#[derive(Debug, Clone, Default)]
pub struct IgnoreRules {
    rules: Vec<Rule>,
}

/// `pattern` as a glob the way BuildKit reads it: `*`, `?` and classes stop at `/`.
fn glob(pattern: &str) -> Option<GlobMatcher> {
    let glob = GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .ok()?;
    Some(glob.compile_matcher())
}

/// The parts of `pattern`, each matched against one name; `None` when a `/` might not
/// separate parts (after a class `[` or alternatives `{`, or with an escape `\`) or
/// a part is empty, `.` or `..`: such a pattern is taken to match anywhere.
fn parts(pattern: &str) -> Option<Vec<Part>> {
    let opaque = pattern.contains('\\')
        || pattern
            .find(['[', '{'])
            .is_some_and(|i| pattern[i..].contains('/'));
    if opaque {
        return None;
    }
    pattern
        .split('/')
        .map(|part| match part {
            "" | "." | ".." => None,
            "**" => Some(Part::AnyDepth),
            _ => glob(part).map(Part::Name),
        })
        .collect()
}

impl Rule {
    /// True when the pattern matches `path` or one of its parent folders.
    fn hits(&self, path: &str) -> bool {
        path.match_indices('/')
            .map(|(i, _)| &path[..i])
            .chain([path])
            .any(|prefix| self.matcher.is_match(prefix))
    }

    /// True unless the pattern can match nothing strictly below the folder `dir`: its
    /// parts, `**` standing for any number of folders, cannot follow `dir`'s names and
    /// go on. Errs towards true (an unreadable pattern, one that ends inside `dir`).
    fn may_match_below(&self, dir: &str) -> bool {
        let Some(parts) = &self.parts else {
            return true;
        };
        // Positions in `parts` that the names read so far can lead to.
        let mut states = vec![0];
        for name in dir.split('/') {
            let mut next = Vec::new();
            let mut i = 0;
            while i < states.len() {
                let at = states[i];
                i += 1;
                match parts.get(at) {
                    None => return true,
                    Some(Part::AnyDepth) => {
                        // `**` takes this name and stays, or takes none.
                        next.push(at);
                        states.push(at + 1);
                    }
                    Some(Part::Name(m)) if m.is_match(name) => next.push(at + 1),
                    Some(Part::Name(_)) => {}
                }
            }
            next.sort_unstable();
            next.dedup();
            if next.is_empty() {
                return false;
            }
            states = next;
        }
        true
    }
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
                Some(Rule {
                    matcher: glob(pattern)?,
                    negated,
                    parts: if negated { parts(pattern) } else { None },
                })
            })
            .collect();
        IgnoreRules { rules }
    }

    /// The index of the last rule that matches `path` (normalised) or one of its parent
    /// folders: that rule decides.
    fn last_hit(&self, path: &str) -> Option<usize> {
        self.rules.iter().rposition(|r| r.hits(path))
    }

    /// True when `path` (relative to the context, `/`-separated) or one of its parent
    /// folders is excluded.
    pub fn excludes(&self, path: &str) -> bool {
        normal(path)
            .and_then(|p| self.last_hit(p))
            .is_some_and(|i| !self.rules[i].negated)
    }

    /// True when every file below the folder `dir` is excluded, so a walk may skip it
    /// unread: `dir` is excluded, and no `!` pattern after the one that excludes it can
    /// match anything below it. (A `!` pattern that matches `dir` or a parent would have
    /// decided `dir` itself; one that starts `dir/...` or can follow `dir`'s names with
    /// wildcards, such as `!**/keep`, may bring a file back.) moby's walk only compares
    /// a `!` pattern's text with the folder's path, which misses wildcards.
    pub fn prunes(&self, dir: &str) -> bool {
        let Some(dir) = normal(dir) else {
            return false;
        };
        match self.last_hit(dir) {
            Some(i) if !self.rules[i].negated => !self.rules[i + 1..]
                .iter()
                .any(|r| r.negated && r.may_match_below(dir)),
            _ => false,
        }
    }
}

/// `path` without a leading `./` or a trailing `/`; `None` for the context itself.
fn normal(path: &str) -> Option<&str> {
    let path = path.trim_start_matches("./").trim_end_matches('/');
    (!path.is_empty() && path != ".").then_some(path)
}

/// True when the `!` pattern `negation` (without its `!`) names files that `pattern`
/// excludes: read as a path, it is one of them. `!api/.env` names `**/.env` and `!.git`
/// names `.git`; `!api/**` and `!**` name neither.
pub fn names(negation: &str, pattern: &str) -> bool {
    let path = negation.trim_start_matches('/');
    IgnoreRules::from_patterns([pattern]).excludes(path)
}

#[cfg(test)]
pub(crate) mod tests {
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

    /// Which folders `text` prunes among `dirs`.
    fn pruned<'a>(text: &str, dirs: &[&'a str]) -> Vec<&'a str> {
        let r = IgnoreRules::from_text(text);
        dirs.iter().copied().filter(|d| r.prunes(d)).collect()
    }

    #[test]
    fn an_excluded_folder_without_exceptions_is_pruned() {
        let dirs = ["node_modules", "web/node_modules", "web", "a", "a/b"];
        assert_eq!(
            pruned("**/node_modules\n", &dirs),
            ["node_modules", "web/node_modules"]
        );
        assert_eq!(pruned("a\n", &dirs), ["a", "a/b"]);
        // Not excluded, or brought back by the last pattern that matches it.
        assert!(pruned("", &dirs).is_empty());
        assert!(pruned("a\n!a\n", &dirs).is_empty());
        assert!(
            pruned("!a/keep\na\n", &["a"]) == ["a"],
            "an earlier `!` loses"
        );
    }

    #[test]
    fn a_folder_an_exception_may_reach_into_is_walked() {
        // A literal path below the folder.
        assert!(pruned("node_modules\n!node_modules/keep.js\n", &["node_modules"]).is_empty());
        assert_eq!(
            pruned("a\n!a/b/c\n", &["a", "a/b", "a/x"]),
            ["a/x"],
            "only the way to `a/b/c` is walked"
        );
        // Wildcards: moby's text comparison would prune all of these.
        assert!(
            pruned(
                "**/node_modules\n!**/keep\n",
                &["node_modules", "x/node_modules"]
            )
            .is_empty()
        );
        assert!(pruned("*\n!api/**\n", &["api"]).is_empty());
        assert_eq!(pruned("*\n!api/**\n", &["web", "api"]), ["web"]);
        assert!(pruned("a/*\n!a/*/keep\n", &["a/b"]).is_empty());
        assert_eq!(pruned("a/*\n!a/*/keep\n", &["a/b/c"]), ["a/b/c"]);
        assert!(pruned("a\n!*/k?ep\n", &["a"]).is_empty());
        assert_eq!(
            pruned("a\n!b/**\n!*.js\n", &["a"]),
            ["a"],
            "`!b/**` and `!*.js` stay outside `a`"
        );
        // A pattern that cannot be read part by part is taken to match anywhere.
        assert!(pruned("a\n!a/[kx]eep\n", &["a"]).is_empty());
        assert!(pruned("a\n!{a,b}/keep\n", &["a"]).is_empty());
        assert!(pruned("a\n!x\\/y\n", &["a"]).is_empty());
        // A later exclusion after the exception wins again only for what it names.
        assert_eq!(
            pruned("a\n!a/b/**\na/b/c\n", &["a", "a/b", "a/b/c", "a/x"]),
            ["a/b/c", "a/x"]
        );
    }

    use proptest::prelude::*;

    /// Few names, so that patterns and paths meet often.
    pub(crate) const NAMES: &[&str] = &["a", "b", "keep", "x.js"];
    const PARTS: &[&str] = &[
        "a", "b", "keep", "x.js", "*", "**", "?", "*.js", "[ak]*", "k*", "{a,b}",
    ];

    pub(crate) fn path(
        parts: &'static [&'static str],
        depth: usize,
    ) -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(parts), 1..=depth).prop_map(|p| p.join("/"))
    }

    /// A `.dockerignore` text: patterns of a few parts, some `!`, some rooted.
    pub(crate) fn ignore_text() -> impl Strategy<Value = String> {
        let line = (
            prop::bool::weighted(0.4),
            prop::bool::weighted(0.2),
            path(PARTS, 3),
        );
        prop::collection::vec(line, 0..6).prop_map(|lines| {
            lines
                .into_iter()
                .map(|(not, root, p)| {
                    format!(
                        "{}{}{p}\n",
                        if not { "!" } else { "" },
                        if root { "/" } else { "" }
                    )
                })
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 1024,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// Whatever the patterns, every file below a pruned folder is excluded.
        #[test]
        fn a_pruned_folder_holds_only_excluded_files(
            text in ignore_text(),
            dir in path(NAMES, 3),
            below in prop::collection::vec(path(NAMES, 3), 1..8),
        ) {
            let rules = IgnoreRules::from_text(&text);
            if rules.prunes(&dir) {
                for b in &below {
                    let file = format!("{dir}/{b}");
                    prop_assert!(rules.excludes(&file), "{text:?} prunes {dir} but keeps {file}");
                }
            }
        }
    }
}
