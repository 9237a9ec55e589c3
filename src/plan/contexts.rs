//! Build-context files in, content digests out: the part of a target's input hash that
//! lives on disk. For each target, the files its COPY/ADD instructions can reach are
//! walked in sorted order, files excluded by the context's `.dockerignore` are skipped,
//! and so are specc's own outputs (the Dockerfile's body is hashed on its own), so that a
//! hash is the same before and after `generate`; each remaining file's path and the
//! digest of its bytes feed one blake3 digest. A context that is, or passes through, a
//! symbolic link gives no files: nothing outside the repository is read.
//!
//! One run reads each thing once, however many targets (images, variants) need it: a
//! `.dockerignore` text is compiled once, a source is walked once per `.dockerignore`
//! (skipping folders it excludes entirely, unread), and a file is hashed once.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use globset::Glob;

use crate::value::ignore::IgnoreRules;

/// Reads build contexts for input hashes, so that the rest of the pipeline stays free of
/// I/O.
pub trait Contexts {
    /// The digest of the files under `context` reached by `sources`, skipping what the
    /// `.dockerignore` text `ignore` excludes and the files specc itself writes
    /// (`generated`, relative to the output root): those exist or not depending on
    /// whether `generate` ran before, so reading them would make the hash depend on the
    /// previous run.
    fn digest(
        &self,
        context: &str,
        sources: &[String],
        ignore: &str,
        generated: &BTreeSet<String>,
    ) -> String;
}

/// Contexts on disk, relative to the output root. It remembers what it read for the
/// rest of the run: build it once per run, not once per target.
pub struct FsContexts {
    root: PathBuf,
    /// `.dockerignore` text -> its compiled rules and the walks made under them.
    ignores: RefCell<HashMap<String, Rc<Ignore>>>,
    /// File -> the digest of its bytes (`None`: unreadable).
    files: RefCell<HashMap<PathBuf, Option<blake3::Hash>>>,
}

/// One `.dockerignore`'s rules, and per (context folder, source) the files they keep.
struct Ignore {
    rules: IgnoreRules,
    walks: RefCell<HashMap<(PathBuf, String), Walk>>,
}

/// What one walk keeps, sorted by path.
type Walk = Rc<Vec<Kept>>;

/// A file a walk keeps: its path relative to the context and the digest of its bytes
/// (`None`: unreadable).
type Kept = (String, Option<blake3::Hash>);

impl FsContexts {
    /// Build contexts under `root` (the output root).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FsContexts {
            root: root.into(),
            ignores: RefCell::default(),
            files: RefCell::default(),
        }
    }

    fn ignore(&self, text: &str) -> Rc<Ignore> {
        let mut cache = self.ignores.borrow_mut();
        let ignore = cache.entry(text.to_string()).or_insert_with(|| {
            Rc::new(Ignore {
                rules: IgnoreRules::from_text(text),
                walks: RefCell::default(),
            })
        });
        Rc::clone(ignore)
    }

    /// The files under `dir` that `source` reaches and `ignore` keeps, sorted by path:
    /// walked and hashed once per run.
    fn kept(&self, ignore: &Ignore, dir: &Path, source: &str) -> Walk {
        let key = (dir.to_path_buf(), source.to_string());
        if let Some(files) = ignore.walks.borrow().get(&key) {
            return Rc::clone(files);
        }
        let mut files: Vec<Kept> = reached(dir, source, &ignore.rules)
            .into_iter()
            .map(|f| {
                let digest = self.file_digest(dir.join(&f));
                (f, digest)
            })
            .collect();
        files.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let files = Rc::new(files);
        ignore.walks.borrow_mut().insert(key, Rc::clone(&files));
        files
    }

    /// The digest of the bytes of `path`, read once per run.
    fn file_digest(&self, path: PathBuf) -> Option<blake3::Hash> {
        if let Some(known) = self.files.borrow().get(&path) {
            return *known;
        }
        let digest = std::fs::File::open(&path).ok().and_then(|mut f| {
            let mut h = blake3::Hasher::new();
            h.update_reader(&mut f).ok()?;
            Some(h.finalize())
        });
        self.files.borrow_mut().insert(path, digest);
        digest
    }
}

/// Contexts with no files (for rendering without a repository at hand).
pub struct NoContexts;

impl Contexts for NoContexts {
    fn digest(
        &self,
        _context: &str,
        sources: &[String],
        ignore: &str,
        _generated: &BTreeSet<String>,
    ) -> String {
        let mut h = blake3::Hasher::new();
        for s in sources {
            h.update(s.as_bytes()).update(b"\0");
        }
        h.update(ignore.as_bytes());
        h.finalize().to_hex().to_string()
    }
}

/// The folder of `context` under `root`, walked component by component: `None` when
/// a component is `..`, absolute, a symbolic link or not a folder. A context that is a
/// committed link (`app -> /etc`) would otherwise make the walk read files outside the
/// repository into a hash. (`sync::confine` does this for outputs; plan does not use
/// sync, so it has its own walk, which needs only this much.)
fn context_dir(root: &Path, context: &str) -> Option<PathBuf> {
    if context.starts_with(['/', '\\']) {
        return None;
    }
    let mut dir = root.to_path_buf();
    for part in context.split(['/', '\\']) {
        match part {
            "" | "." => continue,
            ".." => return None,
            _ => {}
        }
        dir.push(part);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.file_type().is_dir() => {}
            _ => return None,
        }
    }
    Some(dir)
}

/// `path` under `dir`, relative to it and `/`-separated.
fn relative(dir: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(dir).ok()?;
    Some(rel.to_string_lossy().replace('\\', "/"))
}

/// Files under `dir` reached by `source` (a path, a folder or a glob), relative to `dir`,
/// that `rules` keep. Folders `rules` exclude with everything below them are not walked.
fn reached(dir: &Path, source: &str, rules: &IgnoreRules) -> Vec<String> {
    let source = source.trim_start_matches("./").trim_end_matches('/');
    let under = |start: PathBuf| {
        walkdir::WalkDir::new(start)
            .follow_root_links(false)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| {
                !e.file_type().is_dir() || relative(dir, e.path()).is_none_or(|r| !rules.prunes(&r))
            })
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .filter_map(|e| relative(dir, e.path()))
            .filter(|f| !rules.excludes(f))
    };
    let all = || under(dir.to_path_buf());
    if source.is_empty() || source == "." {
        return all().collect();
    }
    if source.contains(['*', '?', '[']) {
        let Ok(glob) = Glob::new(source) else {
            return Vec::new();
        };
        let m = glob.compile_matcher();
        return all()
            .filter(|f| {
                // A glob may name folders too: their files are reached.
                let mut prefix = String::new();
                f.split('/').any(|part| {
                    if !prefix.is_empty() {
                        prefix.push('/');
                    }
                    prefix.push_str(part);
                    m.is_match(&prefix)
                })
            })
            .collect();
    }
    // A plain path: walk only what it names, not the whole context once per source (a
    // spec with thousands of COPY lines would otherwise take quadratic time). The walk
    // must reach exactly what the filter over the whole context would: no symbolic link
    // on the way (the whole walk does not follow them) and only plain names.
    let mut start = dir.to_path_buf();
    for part in source.split('/') {
        if matches!(part, "" | "." | "..") {
            return all()
                .filter(|f| f == source || f.starts_with(&format!("{source}/")))
                .collect();
        }
        start.push(part);
        match std::fs::symlink_metadata(&start) {
            Ok(m) if !m.file_type().is_symlink() => {}
            _ => return Vec::new(),
        }
    }
    under(start).collect()
}

impl Contexts for FsContexts {
    fn digest(
        &self,
        context: &str,
        sources: &[String],
        ignore: &str,
        generated: &BTreeSet<String>,
    ) -> String {
        let found = context_dir(&self.root, context);
        let dir = found.clone().unwrap_or_else(|| self.root.join(context));
        let context = context.trim_start_matches("./").trim_end_matches('/');
        let ignore = self.ignore(ignore);
        let walks: Vec<Walk> = sources
            .iter()
            .filter(|_| found.is_some())
            // A URL: its text is hashed below, its bytes are not ours.
            .filter(|s| !s.contains("://"))
            .map(|s| self.kept(&ignore, &dir, s))
            .collect();
        let mut files: Vec<&Kept> = walks
            .iter()
            .flat_map(|w| w.iter())
            .filter(|(f, _)| !generated.contains(&crate::value::repo_path::join(context, f)))
            .collect();
        // Each walk is sorted already: a stable sort merges the runs.
        files.sort_by(|a, b| a.0.cmp(&b.0));
        files.dedup_by(|a, b| a.0 == b.0);
        let mut h = blake3::Hasher::new();
        for s in sources {
            h.update(s.as_bytes()).update(b"\0");
        }
        if found.is_none() {
            h.update(b"<no context folder>");
        }
        // One buffer, hashed at once: many small updates cost more than the bytes.
        let mut listing = Vec::new();
        for (f, digest) in files {
            listing.extend_from_slice(f.as_bytes());
            listing.push(0);
            match digest {
                Some(d) => listing.extend_from_slice(d.as_bytes()),
                None => listing.extend_from_slice(b"<unreadable>"),
            }
        }
        h.update(&listing);
        h.finalize().to_hex().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digest one run (a new reader) gives.
    fn digest(root: &Path, context: &str, sources: &[&str], ignore: &str) -> String {
        digest_generated(root, context, sources, ignore, &BTreeSet::new())
    }

    fn digest_generated(
        root: &Path,
        context: &str,
        sources: &[&str],
        ignore: &str,
        generated: &BTreeSet<String>,
    ) -> String {
        let sources: Vec<String> = sources.iter().map(|s| s.to_string()).collect();
        FsContexts::new(root).digest(context, &sources, ignore, generated)
    }

    #[test]
    fn digest_follows_reached_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("app/sub")).unwrap();
        std::fs::write(root.join("app/a.py"), "a").unwrap();
        std::fs::write(root.join("app/sub/b.py"), "b").unwrap();
        std::fs::write(root.join("other.txt"), "x").unwrap();
        let before = digest(root, ".", &["app"], "");
        std::fs::write(root.join("other.txt"), "changed").unwrap();
        assert_eq!(before, digest(root, ".", &["app"], ""), "unreached file");
        std::fs::write(root.join("app/sub/b.py"), "changed").unwrap();
        assert_ne!(before, digest(root, ".", &["app"], ""), "reached file");
        let ignored = digest(root, ".", &["app"], "app/sub\n");
        std::fs::write(root.join("app/sub/b.py"), "again").unwrap();
        assert_eq!(
            ignored,
            digest(root, ".", &["app"], "app/sub\n"),
            "ignored file"
        );
    }

    #[test]
    fn one_run_reads_each_file_once_and_keeps_each_ignore_file_apart() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("app/sub")).unwrap();
        std::fs::write(root.join("app/a.py"), "a").unwrap();
        std::fs::write(root.join("app/sub/b.py"), "b").unwrap();
        let run = FsContexts::new(root);
        let sources = vec!["app".to_string()];
        let none = BTreeSet::new();
        // Two targets of one run, with different `.dockerignore` files: each its own.
        let all = run.digest(".", &sources, "", &none);
        let some = run.digest(".", &sources, "app/sub\n", &none);
        assert_eq!(all, digest(root, ".", &["app"], ""));
        assert_eq!(some, digest(root, ".", &["app"], "app/sub\n"));
        assert_ne!(all, some);
        // A file is read once per run: the run's later targets see what its first saw.
        std::fs::write(root.join("app/a.py"), "changed").unwrap();
        assert_eq!(all, run.digest(".", &sources, "", &none));
        assert_ne!(all, digest(root, ".", &["app"], ""));
    }

    #[cfg(unix)]
    #[test]
    fn a_context_that_is_a_link_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        let victim = dir.path().join("victim");
        std::fs::create_dir_all(repo.join("real")).unwrap();
        std::fs::create_dir_all(&victim).unwrap();
        std::fs::write(victim.join("secret"), "s1").unwrap();
        std::os::unix::fs::symlink(&victim, repo.join("app")).unwrap();
        std::os::unix::fs::symlink(&victim, repo.join("real/inner")).unwrap();
        for context in ["app", "./app/", "real/inner", "app/sub", "../victim"] {
            let before = digest(&repo, context, &["."], "");
            std::fs::write(victim.join("secret"), "s2").unwrap();
            assert_eq!(
                before,
                digest(&repo, context, &["."], ""),
                "{context}: a file outside the repository reached the hash"
            );
            std::fs::write(victim.join("secret"), "s1").unwrap();
        }
        // A real folder is still read.
        std::fs::write(repo.join("real/a"), "a").unwrap();
        let before = digest(&repo, "real", &["."], "");
        std::fs::write(repo.join("real/a"), "b").unwrap();
        assert_ne!(before, digest(&repo, "real", &["."], ""));
    }

    #[test]
    fn digest_skips_generated_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("api")).unwrap();
        std::fs::write(root.join("api/a.py"), "a").unwrap();
        let generated: BTreeSet<String> = ["api/.dockerignore".to_string()].into();
        let before = digest_generated(root, "api", &["."], "", &generated);
        // A later `generate` finds its own output in the context: same digest.
        std::fs::write(root.join("api/.dockerignore"), "x").unwrap();
        assert_eq!(
            before,
            digest_generated(root, "./api/", &["."], "", &generated)
        );
        assert_ne!(before, digest(root, "api", &["."], ""));
    }

    /// Files a `!` pattern brings back from an excluded folder are still hashed.
    #[test]
    fn an_exception_inside_an_excluded_folder_is_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("node_modules/pkg")).unwrap();
        std::fs::write(root.join("node_modules/pkg/keep.js"), "k").unwrap();
        std::fs::write(root.join("node_modules/pkg/other.js"), "o").unwrap();
        let ignores = [
            "node_modules\n!node_modules/pkg/keep.js\n",
            "**/node_modules\n!**/keep.js\n",
            "*\n!node_modules/**/keep.js\n",
        ];
        for (i, ignore) in ignores.into_iter().enumerate() {
            let before = digest(root, ".", &["."], ignore);
            std::fs::write(root.join("node_modules/pkg/other.js"), format!("o{i}")).unwrap();
            assert_eq!(before, digest(root, ".", &["."], ignore), "{ignore:?}");
            std::fs::write(root.join("node_modules/pkg/keep.js"), format!("k{i}")).unwrap();
            assert_ne!(before, digest(root, ".", &["."], ignore), "{ignore:?}");
        }
    }

    use crate::value::ignore::tests::{NAMES, ignore_text, path};
    use proptest::prelude::*;

    const SOURCES: &[&str] = &[".", "a", "b/keep", "*", "a/*", "**/keep", "./a/", "a/../b"];

    /// Writes each of `files` (a file where a folder is in the way is left out).
    fn tree(root: &Path, files: &[String]) {
        for f in files {
            let path = root.join(f);
            if let Some(parent) = path.parent()
                && std::fs::create_dir_all(parent).is_ok()
                && !path.exists()
            {
                std::fs::write(&path, f).unwrap();
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 128,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// The walk that skips excluded folders keeps exactly the files a walk of every
        /// folder, filtered by the same rules, keeps.
        #[test]
        fn a_pruned_walk_keeps_what_a_full_walk_keeps(
            files in prop::collection::vec(path(NAMES, 4), 1..24),
            text in ignore_text(),
            source in prop::sample::select(SOURCES),
        ) {
            let dir = tempfile::tempdir().unwrap();
            tree(dir.path(), &files);
            let rules = IgnoreRules::from_text(&text);
            let pruned = reached(dir.path(), source, &rules);
            let full: Vec<String> = reached(dir.path(), source, &IgnoreRules::default())
                .into_iter()
                .filter(|f| !rules.excludes(f))
                .collect();
            prop_assert_eq!(pruned, full, "{:?} with {:?}", text, source);
        }
    }
}
