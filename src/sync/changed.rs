//! `specc plan --changed`: which targets' inputs differ between the working tree and a
//! git revision; and `specc plan --hashes`, the working tree's side alone.
//!
//! Input hashes are never stored: both sides are computed now. The working tree's come
//! from the spec and build contexts on disk; the baseline's from the same spec path and
//! contexts as committed at the revision (default `HEAD`), checked out into a temporary
//! folder through a temporary index, so the repository's own index and work tree are
//! left alone. The working tree is hashed under this run's version and run-time
//! variables, the revision as its spec says (see [`changed`]). A target with no baseline
//! (the spec, or the target, did not exist at the revision, or its spec did not compile
//! there) counts as changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::PlanOptions;
use crate::plan::Plan;
use crate::plan::contexts::FsContexts;
use crate::sync::error::SyncError;
use crate::sync::layout::{Layout, canonical, relative};
use crate::sync::source::{Loaded, load};
use crate::sync::{Failure, render_reading};

/// The revision compared with when none is given.
pub const DEFAULT_SINCE: &str = "HEAD";

/// A target whose input hash differs from the baseline's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedTarget {
    pub target: String,
    pub image: String,
    pub variant: String,
    pub input_hash: String,
    /// Its input hash at the revision (`None`: it had none there).
    pub before: Option<String>,
}

/// The targets that changed since `since`, in plan order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    pub since: String,
    pub targets: Vec<ChangedTarget>,
}

/// Compares the input hashes of `plan`'s targets now, under `options` (the version and
/// run-time variables as [`crate::sync::options::resolve`] reads them), with those at
/// revision `since` as its spec says, without run-time variables. A target counts as
/// unchanged only when a build now gives the image a plain build of the revision gave,
/// labels and `VERSION`/`REVISION` included: a release of a new version, or a build that
/// stamps a commit (`REVISION` set), always counts as changed.
pub fn changed(
    s: &Loaded,
    layout: &Layout,
    plan: &Plan,
    options: &PlanOptions,
    since: &str,
) -> Result<Changed, Failure> {
    let now = current_hashes(s, layout, options)?;
    let before = baseline(layout, since)?;
    let targets = plan
        .targets
        .iter()
        .filter_map(|t| {
            let input_hash = now.get(&t.name)?.clone();
            let before = before.get(&t.name).cloned();
            (before.as_ref() != Some(&input_hash)).then(|| ChangedTarget {
                target: t.name.clone(),
                image: t.image.clone(),
                variant: t.variant.clone(),
                input_hash,
                before,
            })
        })
        .collect();
    Ok(Changed {
        since: since.to_string(),
        targets,
    })
}

/// Target name -> input hash of `s`'s targets as the working tree under `layout` has
/// them, under `options` (as for [`changed`]): what `plan --hashes` prints and
/// `plan --changed` compares.
pub fn current_hashes(
    s: &Loaded,
    layout: &Layout,
    options: &PlanOptions,
) -> Result<BTreeMap<String, String>, Failure> {
    input_hashes(s, layout, &layout.root, options)
}

/// Target name -> input hash of `s`, with build contexts read under `root`. The outputs
/// are rendered as `layout` says in both trees, so that only inputs can differ.
fn input_hashes(
    s: &Loaded,
    layout: &Layout,
    root: &Path,
    options: &PlanOptions,
) -> Result<BTreeMap<String, String>, Failure> {
    let contexts = FsContexts::new(root.to_path_buf());
    let g = render_reading(s, layout, &contexts, options)?;
    Ok(g.targets
        .into_iter()
        .map(|(name, t)| (name, t.input_hash))
        .collect())
}

/// The input hashes at revision `since` (empty when the spec is not there or does not
/// compile there).
fn baseline(layout: &Layout, since: &str) -> Result<BTreeMap<String, String>, SyncError> {
    let fail = |reason: String| SyncError::Since {
        revision: since.to_string(),
        reason,
    };
    let top = git(&layout.root, &["rev-parse", "--show-toplevel"], None).map_err(|e| {
        fail(format!(
            "`{}` is not in a git repository ({e})",
            layout.root.display()
        ))
    })?;
    let top = canonical(Path::new(top.trim())).map_err(|e| fail(e.to_string()))?;
    let commit = git(
        &top,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{since}^{{commit}}"),
        ],
        None,
    )
    .map_err(|_| fail("no such commit in the repository".into()))?;
    let tmp = tempfile::Builder::new()
        .prefix("specc-since-")
        .tempdir()
        .map_err(|e| fail(format!("cannot create a temporary folder: {e}")))?;
    let tree = checkout(&top, commit.trim(), tmp.path()).map_err(fail)?;
    let (Some(root), Some(spec)) = (
        inside(&top, &layout.root, &tree),
        inside(&top, &layout.spec_path, &tree),
    ) else {
        return Ok(BTreeMap::new());
    };
    let Ok(old) = load(&spec) else {
        return Ok(BTreeMap::new());
    };
    // The outputs are laid out (and named) as now: only the inputs may differ.
    Ok(input_hashes(&old, layout, &root, &PlanOptions::default()).unwrap_or_default())
}

/// `path` (under the repository `top`) moved into the checked-out `tree`.
fn inside(top: &Path, path: &Path, tree: &Path) -> Option<PathBuf> {
    let rel = relative(top, path);
    if rel.starts_with("..") || Path::new(&rel).is_absolute() {
        return None;
    }
    Some(if rel == "." {
        tree.to_path_buf()
    } else {
        tree.join(rel)
    })
}

/// Writes the files of `commit` under `tmp/tree/` through a temporary index; the tree.
fn checkout(top: &Path, commit: &str, tmp: &Path) -> Result<PathBuf, String> {
    let index = tmp.join("index");
    let tree = tmp.join("tree");
    git(top, &["read-tree", commit], Some(&index))?;
    let prefix = format!("--prefix={}/", tree.display());
    git(
        top,
        &["checkout-index", "--all", "--force", &prefix],
        Some(&index),
    )?;
    Ok(tree)
}

/// Runs `git ARGS` in `dir` (with `index` as its index file); its standard output.
fn git(dir: &Path, args: &[&str], index: Option<&Path>) -> Result<String, String> {
    let mut command = Command::new("git");
    command.arg("-C").arg(dir).args(args);
    if let Some(index) = index {
        command.env("GIT_INDEX_FILE", index);
    }
    let out = command
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        Err(format!("git {}: {}", args.join(" "), err.trim()))
    }
}
