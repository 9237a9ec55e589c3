//! Build-context files in, content digests out: the part of a target's input hash that
//! lives on disk. For each target, the files its COPY/ADD instructions can reach are
//! walked in sorted order, files excluded by the context's `.dockerignore` are skipped,
//! and so are specc's own outputs (the Dockerfile's body is hashed on its own), so that a
//! hash is the same before and after `generate`; each remaining file's path and bytes
//! feed one blake3 digest. A context that is, or passes through, a symbolic link gives
//! no files: nothing outside the repository is read.

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

/// Contexts on disk, relative to the output root.
pub struct FsContexts {
    root: PathBuf,
    /// `.dockerignore` text -> its compiled rules: globs are compiled once per context,
    /// not once per target.
    ignores: RefCell<HashMap<String, Rc<IgnoreRules>>>,
}

impl FsContexts {
    /// Build contexts under `root` (the output root).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FsContexts {
            root: root.into(),
            ignores: RefCell::default(),
        }
    }

    fn rules(&self, ignore: &str) -> Rc<IgnoreRules> {
        let mut cache = self.ignores.borrow_mut();
        let rules = cache
            .entry(ignore.to_string())
            .or_insert_with(|| Rc::new(IgnoreRules::from_text(ignore)));
        Rc::clone(rules)
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

/// Files under `dir` reached by `source` (a path, a folder or a glob), relative to `dir`.
fn reached(dir: &Path, source: &str) -> Vec<String> {
    let source = source.trim_start_matches("./").trim_end_matches('/');
    let under = |start: PathBuf| {
        walkdir::WalkDir::new(start)
            .follow_root_links(false)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .filter_map(|e| {
                let rel = e.path().strip_prefix(dir).ok()?;
                Some(rel.to_string_lossy().replace('\\', "/"))
            })
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
        let rules = self.rules(ignore);
        let mut files: Vec<String> = Vec::new();
        for s in sources.iter().filter(|_| found.is_some()) {
            if s.contains("://") {
                continue; // a URL: its text is hashed below, its bytes are not ours
            }
            files.extend(
                reached(&dir, s)
                    .into_iter()
                    .filter(|f| !rules.excludes(f))
                    .filter(|f| !generated.contains(&crate::value::repo_path::join(context, f))),
            );
        }
        files.sort();
        files.dedup();
        let mut h = blake3::Hasher::new();
        for s in sources {
            h.update(s.as_bytes()).update(b"\0");
        }
        if found.is_none() {
            h.update(b"<no context folder>");
        }
        for f in &files {
            h.update(f.as_bytes()).update(b"\0");
            match std::fs::read(dir.join(f)) {
                Ok(bytes) => {
                    h.update(&(bytes.len() as u64).to_le_bytes()).update(&bytes);
                }
                Err(_) => {
                    h.update(b"<unreadable>");
                }
            }
        }
        h.finalize().to_hex().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_follows_reached_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("app/sub")).unwrap();
        std::fs::write(dir.path().join("app/a.py"), "a").unwrap();
        std::fs::write(dir.path().join("app/sub/b.py"), "b").unwrap();
        std::fs::write(dir.path().join("other.txt"), "x").unwrap();
        let c = FsContexts::new(dir.path().to_path_buf());
        let sources = vec!["app".to_string()];
        let none = BTreeSet::new();
        let before = c.digest(".", &sources, "", &none);
        std::fs::write(dir.path().join("other.txt"), "changed").unwrap();
        assert_eq!(before, c.digest(".", &sources, "", &none), "unreached file");
        std::fs::write(dir.path().join("app/sub/b.py"), "changed").unwrap();
        assert_ne!(before, c.digest(".", &sources, "", &none), "reached file");
        let ignored = c.digest(".", &sources, "app/sub\n", &none);
        std::fs::write(dir.path().join("app/sub/b.py"), "again").unwrap();
        assert_eq!(
            ignored,
            c.digest(".", &sources, "app/sub\n", &none),
            "ignored file"
        );
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
        let c = FsContexts::new(repo.clone());
        let none = BTreeSet::new();
        let sources = vec![".".to_string()];
        for context in ["app", "./app/", "real/inner", "app/sub", "../victim"] {
            let before = c.digest(context, &sources, "", &none);
            std::fs::write(victim.join("secret"), "s2").unwrap();
            assert_eq!(
                before,
                c.digest(context, &sources, "", &none),
                "{context}: a file outside the repository reached the hash"
            );
            std::fs::write(victim.join("secret"), "s1").unwrap();
        }
        // A real folder is still read.
        std::fs::write(repo.join("real/a"), "a").unwrap();
        let before = c.digest("real", &sources, "", &none);
        std::fs::write(repo.join("real/a"), "b").unwrap();
        assert_ne!(before, c.digest("real", &sources, "", &none));
    }

    #[test]
    fn digest_skips_generated_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("api")).unwrap();
        std::fs::write(dir.path().join("api/a.py"), "a").unwrap();
        let c = FsContexts::new(dir.path().to_path_buf());
        let sources = vec![".".to_string()];
        let generated: BTreeSet<String> = ["api/.dockerignore".to_string()].into();
        let before = c.digest("api", &sources, "", &generated);
        // A later `generate` finds its own output in the context: same digest.
        std::fs::write(dir.path().join("api/.dockerignore"), "x").unwrap();
        assert_eq!(before, c.digest("./api/", &sources, "", &generated));
        assert_ne!(before, c.digest("api", &sources, "", &BTreeSet::new()));
    }
}
