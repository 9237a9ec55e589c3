//! Paths confined to the output root: every file specc reads, writes or removes there goes
//! through this module.
//!
//! The spec, the lock and the files in the repository are untrusted (specc runs in
//! pre-commit and CI on contributors' changes), so a path relative to the root is data:
//! [`check`] refuses it lexically (absolute, `..`, a NUL, a `.git` folder), and
//! [`resolve`] walks it component by component at use time with `symlink_metadata`,
//! refusing a symbolic link anywhere on the way, the last component included. A file is
//! read only when the file opened is the very one that walk found ([`read`] compares
//! device and inode), so a link swapped in between is never followed either. Folders
//! are created one by one, never through a link ([`create_dirs`]).

use std::io::Read;
use std::path::{Path, PathBuf};

/// Files larger than this are never read into memory whole: no output specc writes is
/// near it, so such a file is not specc's.
pub const MAX_OUTPUT_BYTES: u64 = 64 << 20;

/// Why a path is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Absolute, `..`, empty, a NUL byte: it does not name a file inside the root.
    Outside(String),
    /// It names something inside `.git`, which specc never touches.
    Git,
    /// A component (named here, relative to the root) is a symbolic link.
    Link(String),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Outside(why) => write!(f, "{why}"),
            Refused::Git => f.write_str("it is inside `.git`, which specc never reads or writes"),
            Refused::Link(at) => write!(
                f,
                "`{at}` is a symbolic link, and specc never follows one (it could lead out of the repository)"
            ),
        }
    }
}

/// The components of `rel` (`/`-separated, relative to the root), or why it does not name
/// a file inside the root. `.` and empty components are skipped.
pub fn check(rel: &str) -> Result<Vec<&str>, Refused> {
    if rel.contains('\0') {
        return Err(Refused::Outside("the path contains a NUL byte".into()));
    }
    if rel.starts_with('/') || rel.starts_with('\\') || rel.as_bytes().get(1) == Some(&b':') {
        return Err(Refused::Outside(
            "an absolute path, outside the repository".into(),
        ));
    }
    let parts: Vec<&str> = rel
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.is_empty() {
        return Err(Refused::Outside("an empty path".into()));
    }
    if parts.iter().any(|p| p.split('\\').any(|q| q == "..")) {
        return Err(Refused::Outside("`..` leaves the repository".into()));
    }
    if parts.iter().any(|p| p.eq_ignore_ascii_case(".git")) {
        return Err(Refused::Git);
    }
    Ok(parts)
}

/// `rel` under `root`, checked lexically and then on disk: no component that exists is a
/// symbolic link. The last component may be missing (so may folders before it).
pub fn resolve(root: &Path, rel: &str) -> Result<PathBuf, Refused> {
    walk(root, rel).map(|(path, _)| path)
}

/// [`resolve`], with what `symlink_metadata` found at the last component (an error when
/// nothing is there).
fn walk(root: &Path, rel: &str) -> Result<(PathBuf, std::io::Result<std::fs::Metadata>), Refused> {
    let parts = check(rel)?;
    let mut path = root.to_path_buf();
    let mut last = Err(std::io::ErrorKind::NotFound.into());
    for (i, part) in parts.iter().enumerate() {
        path.push(part);
        if i > 0 && last.is_err() {
            // Nothing there (or not readable): nothing below it can be a link either.
            continue;
        }
        last = std::fs::symlink_metadata(&path);
        if last.as_ref().is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(Refused::Link(parts[..=i].join("/")));
        }
    }
    Ok((path, last))
}

/// What [`read`] found at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnDisk {
    /// Nothing there.
    Missing,
    /// A regular file and its bytes.
    File(Vec<u8>),
    /// Something specc does not read: a folder, a device, a file too large, unreadable.
    Other(String),
}

impl OnDisk {
    pub fn bytes(self) -> Option<Vec<u8>> {
        match self {
            OnDisk::File(b) => Some(b),
            _ => None,
        }
    }
}

/// The regular file at `rel` under `root`, never through a symbolic link.
pub fn read(root: &Path, rel: &str) -> Result<OnDisk, Refused> {
    let (path, found) = walk(root, rel)?;
    Ok(read_resolved(&path, found))
}

/// The regular file at `path` (already [`resolve`]d, `found` there), if it is still the
/// one found.
fn read_resolved(path: &Path, found: std::io::Result<std::fs::Metadata>) -> OnDisk {
    let before = match found {
        Ok(m) => m,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            return OnDisk::Missing;
        }
        Err(e) => return OnDisk::Other(e.to_string()),
    };
    if !before.file_type().is_file() {
        return OnDisk::Other("not a regular file".into());
    }
    if before.len() > MAX_OUTPUT_BYTES {
        return OnDisk::Other(format!("larger than {MAX_OUTPUT_BYTES} bytes"));
    }
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return OnDisk::Other(e.to_string()),
    };
    match file.metadata() {
        Ok(after) if same_file(&before, &after) => {}
        _ => return OnDisk::Other("it changed while being read".into()),
    }
    // Room for the whole file and one byte more: one read fills it, one more sees its end.
    let mut bytes = Vec::with_capacity(before.len().min(MAX_OUTPUT_BYTES) as usize + 1);
    match (&mut file)
        .take(MAX_OUTPUT_BYTES + 1)
        .read_to_end(&mut bytes)
    {
        Ok(_) if bytes.len() as u64 > MAX_OUTPUT_BYTES => {
            OnDisk::Other(format!("larger than {MAX_OUTPUT_BYTES} bytes"))
        }
        Ok(_) => OnDisk::File(bytes),
        Err(e) => OnDisk::Other(e.to_string()),
    }
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino() && b.file_type().is_file()
}

#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    b.file_type().is_file()
}

/// Creates the folders of `rel`'s parent under `root` one by one, refusing a symbolic
/// link (or a file) on the way; the folder the file goes in.
pub fn create_dirs(root: &Path, rel: &str) -> std::io::Result<PathBuf> {
    let parts = check(rel).map_err(refused_io)?;
    let mut dir = root.to_path_buf();
    if !dir.exists() {
        std::fs::create_dir_all(&dir)?;
    }
    for (i, part) in parts[..parts.len() - 1].iter().enumerate() {
        dir.push(part);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(refused_io(Refused::Link(parts[..=i].join("/"))));
            }
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(std::io::Error::other(format!(
                    "`{}` is a file where a folder is needed; move it away",
                    parts[..=i].join("/")
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match std::fs::create_dir(&dir) {
                    Ok(()) => {}
                    // Another process made it in between: checked again below.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        if std::fs::symlink_metadata(&dir).is_ok_and(|m| !m.is_dir()) {
                            return Err(e);
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(dir)
}

/// A refusal as an I/O error, for the write path.
pub fn refused_io(r: Refused) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::PermissionDenied, r.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_refusals() {
        assert!(matches!(check("../victim/x"), Err(Refused::Outside(_))));
        assert!(matches!(check("/etc/passwd"), Err(Refused::Outside(_))));
        assert!(matches!(check("a/../../b"), Err(Refused::Outside(_))));
        assert!(matches!(check(""), Err(Refused::Outside(_))));
        assert!(matches!(check("a\0b"), Err(Refused::Outside(_))));
        assert_eq!(check(".git/config"), Err(Refused::Git));
        assert_eq!(check("sub/.GIT/hooks/x"), Err(Refused::Git));
        assert_eq!(
            check("./docker/a.Dockerfile").unwrap(),
            ["docker", "a.Dockerfile"]
        );
        assert!(check(".github/workflows/x.yml").is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn links_are_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        std::fs::create_dir_all(root.join("real")).unwrap();
        std::fs::write(dir.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(dir.path(), root.join("docker")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), root.join("real/f")).unwrap();
        assert_eq!(
            read(&root, "docker/secret"),
            Err(Refused::Link("docker".into()))
        );
        assert_eq!(read(&root, "real/f"), Err(Refused::Link("real/f".into())));
        assert!(create_dirs(&root, "docker/x/y").is_err());
        assert!(!dir.path().join("x").exists());
        assert_eq!(read(&root, "real/none").unwrap(), OnDisk::Missing);
        std::fs::write(root.join("real/g"), "g").unwrap();
        assert_eq!(read(&root, "real/g").unwrap(), OnDisk::File(b"g".to_vec()));
    }
}
