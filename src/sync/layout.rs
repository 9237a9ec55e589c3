//! Where the outputs go and how they name their spec, from the repository's layout alone.
//!
//! The output root (`--out`, else the spec's folder) is made absolute and canonical
//! (symlinks resolved, `.` and `..` gone), and the spec is named relative to it. So the
//! header of every generated file, the lock's keys and its `spec` entry are the same
//! however specc is invoked: from the root or a subfolder, with `-C`, with a relative or
//! absolute `--out`, spelt `.`, `./` or `sub/..`.

use std::path::{Component, Path, PathBuf};

use crate::render::RenderOptions;
use crate::sync::error::SyncError;
use crate::sync::source::SPEC_FILE;

/// The output root and the spec's place relative to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The output root: absolute and canonical (it may not exist yet).
    pub root: PathBuf,
    /// The spec file, absolute and canonical.
    pub spec_path: PathBuf,
    /// The spec relative to the root, `/`-separated (e.g. `specc.kdl`, `../specs/a.kdl`).
    pub spec: String,
    /// True when the root is the spec's own folder (no `--out` needed to regenerate).
    pub beside_spec: bool,
}

impl Layout {
    /// The layout of `spec` (an existing file) with outputs under `out`, else beside it.
    pub fn new(spec: &Path, out: Option<&Path>) -> Result<Layout, SyncError> {
        if let Some(dir) = out
            && std::fs::metadata(dir).is_ok_and(|m| !m.is_dir())
        {
            return Err(SyncError::OutNotFolder {
                path: dir.display().to_string(),
            });
        }
        let read_error = |e: std::io::Error| SyncError::Read {
            path: spec.display().to_string(),
            reason: e.to_string(),
            help: "check that the spec and the folders above it can be read".into(),
        };
        let spec_path = canonical(spec).map_err(read_error)?;
        let spec_dir = spec_path.parent().unwrap_or(Path::new("/")).to_path_buf();
        let root = match out {
            Some(dir) => canonical(dir).map_err(read_error)?,
            None => spec_dir.clone(),
        };
        Ok(Layout {
            spec: relative(&root, &spec_path),
            beside_spec: root == spec_dir,
            root,
            spec_path,
        })
    }

    /// The command that regenerates the outputs, run from the output root.
    pub fn regenerate(&self) -> String {
        self.command("generate")
    }

    /// `specc <subcommand>` with what it needs to find the spec and the outputs when run
    /// from the output root.
    fn command(&self, subcommand: &str) -> String {
        match (self.beside_spec, self.spec == SPEC_FILE) {
            (true, true) => format!("specc {subcommand}"),
            (true, false) => format!("specc {subcommand} {}", self.spec),
            (false, _) => format!("specc {subcommand} {} --out .", self.spec),
        }
    }

    /// What every generated file's header says.
    pub fn render_options(&self) -> RenderOptions {
        RenderOptions {
            spec_name: self.spec.clone(),
            regenerate: self.regenerate(),
            check: self.command("check"),
        }
    }
}

/// `path` (absolute) as messages show it: relative to the current folder when possible.
pub fn shown(path: &Path) -> String {
    match std::env::current_dir().and_then(|d| d.canonicalize()) {
        Ok(cwd) if path.starts_with(&cwd) => relative(&cwd, path),
        _ => path.display().to_string(),
    }
}

/// `path` made absolute and canonical; the part that does not exist yet is appended
/// without its `.` and with its `..` applied.
pub fn canonical(path: &Path) -> std::io::Result<PathBuf> {
    let absolute = std::env::current_dir()?.join(path);
    let components: Vec<Component> = absolute.components().collect();
    for existing in (1..=components.len()).rev() {
        let prefix: PathBuf = components[..existing].iter().collect();
        let Ok(mut resolved) = prefix.canonicalize() else {
            continue;
        };
        for c in &components[existing..] {
            match c {
                Component::ParentDir => {
                    resolved.pop();
                }
                Component::Normal(name) => resolved.push(name),
                _ => {}
            }
        }
        return Ok(resolved);
    }
    Ok(absolute)
}

/// `to` relative to the folder `from` (both absolute and canonical), `/`-separated.
pub fn relative(from: &Path, to: &Path) -> String {
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    if common == 0 {
        // Nothing in common (another drive): only the absolute path names it.
        return to.iter().collect::<PathBuf>().display().to_string();
    }
    let ups = std::iter::repeat_n("..".to_string(), from.len() - common);
    let downs = to[common..]
        .iter()
        .map(|c| c.as_os_str().to_string_lossy().into_owned());
    let parts: Vec<String> = ups.chain(downs).collect();
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_between_folders() {
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(relative(&p("/r"), &p("/r/specc.kdl")), "specc.kdl");
        assert_eq!(
            relative(&p("/r/tests/golden/a"), &p("/r/specs/a.kdl")),
            "../../../specs/a.kdl"
        );
        assert_eq!(relative(&p("/r/a"), &p("/r/a")), ".");
    }

    #[test]
    fn canonical_applies_dots_of_missing_folders() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        assert_eq!(
            canonical(&dir.path().join("new/./x/../y")).unwrap(),
            base.join("new/y")
        );
        assert_eq!(canonical(&dir.path().join("./")).unwrap(), base);
    }
}
