//! The lock file in and out: what `specc generate` wrote, as deterministic TOML.
//!
//! It records specc's version, the spec (relative to the output root) and its hash, the
//! templates' hash and the blake3 of every output: nothing about build contexts, so a
//! change to application source never makes the lock stale. `generate` reads it to tell
//! hand-edited files and stale outputs apart; `check` and `generate` read it to answer
//! without parsing the spec when nothing changed ([`crate::sync::fast`]), so it also
//! records the little such a run must know of the spec: its compose file, and whether
//! the spec must be parsed on every run anyway.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::render::{Rendered, templates_hash};
use crate::sync::confine::{self, OnDisk};
use crate::sync::error::SyncError;
use crate::sync::layout::Layout;
use crate::sync::source::Loaded;

/// The format version this specc writes.
pub const LOCK_VERSION: u32 = 3;

/// The oldest format version this specc reads (version 1 also held per-target input
/// hashes, which are ignored; versions 1 and 2 lack what a run that does not parse the
/// spec needs: the next `generate` writes version 3).
const OLDEST_READ: u32 = 1;

const HEADER: &str = "# specc.lock: what `specc generate` wrote and from which spec.\n# Generated; do not edit by hand. Commit it with the outputs.\n\n";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Lock {
    pub version: u32,
    pub specc: String,
    /// The spec's path relative to the output root, `/`-separated.
    pub spec: String,
    pub spec_hash: String,
    pub templates_hash: String,
    /// The compose file the spec writes, when it has services: a run that does not parse
    /// the spec still warns about the compose files beside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compose: Option<String>,
    /// Why every run must parse the spec even when nothing changed (it prints warnings,
    /// reads the user's charts, or keeps the lock where a run does not look first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub always_parse: Option<String>,
    /// Output path (relative to the output root) -> blake3 of its bytes.
    pub outputs: BTreeMap<String, String>,
}

/// The blake3 of some bytes, as lowercase hex.
pub fn hash(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

impl Lock {
    /// The lock for `files` generated from the spec `s` laid out as `layout`.
    pub fn new(s: &Loaded, layout: &Layout, files: &[Rendered]) -> Lock {
        let outputs = files
            .iter()
            .map(|f| (f.path.clone(), hash(f.contents.as_bytes())))
            .collect();
        Lock::for_outputs(s, layout, outputs)
    }

    /// The lock for outputs with these hashes (path -> blake3), generated from the spec
    /// `s` laid out as `layout`.
    pub fn for_outputs(s: &Loaded, layout: &Layout, outputs: BTreeMap<String, String>) -> Lock {
        Lock {
            version: LOCK_VERSION,
            specc: env!("CARGO_PKG_VERSION").into(),
            spec: layout.spec.clone(),
            spec_hash: hash(s.text.as_bytes()),
            templates_hash: templates_hash(),
            compose: crate::sync::existing::compose_file(&s.checked.spec).map(String::from),
            always_parse: always_parse(s),
            outputs,
        }
    }

    pub fn to_text(&self) -> String {
        let body = toml::to_string(self).expect("a lock serializes");
        format!("{HEADER}{body}")
    }

    /// The lock `text` is, when it is exactly what [`Lock::to_text`] writes for it (a lock
    /// reformatted by hand, or of another format, is `None`). The usual layout is read
    /// line by line, without a TOML parser, which was most of the cost of a no-op run on a
    /// large lock; whatever that reading makes of the text, comparing it written back
    /// with the text is what decides.
    pub fn parse_written(text: &str) -> Option<Lock> {
        let lock = read_written(text).or_else(|| toml::from_str(text).ok())?;
        (lock.to_text() == text).then_some(lock)
    }

    pub fn parse(text: &str) -> Result<Lock, String> {
        let error = match toml::from_str::<Lock>(text) {
            Ok(lock) => return unsupported(lock.version, Some(&lock.specc)).map_or(Ok(lock), Err),
            Err(e) => e.to_string().trim_end().to_string(),
        };
        // A lock of another format version may lack fields of this one, and "missing
        // field" would hide the real reason. (Read only on failure: a TOML parse is most
        // of what reading a lock costs.)
        #[derive(Deserialize)]
        struct Version {
            version: Option<u32>,
            specc: Option<String>,
        }
        match toml::from_str::<Version>(text) {
            Ok(Version {
                version: Some(version),
                specc,
            }) => Err(unsupported(version, specc.as_deref()).unwrap_or(error)),
            _ => Err(error),
        }
    }

    /// True when the spec (its `text`), its place, specc, the templates and every output
    /// on disk still match this lock, and no interrupted run left a journal: then nothing
    /// needs rendering. Build contexts are never read.
    pub fn is_fresh(&self, text: &str, layout: &Layout, lock_rel: &str) -> bool {
        let on_disk = |path: &str| {
            confine::read(&layout.root, path)
                .ok()
                .and_then(OnDisk::bytes)
        };
        self.version == LOCK_VERSION
            && self.specc == env!("CARGO_PKG_VERSION")
            && self.spec == layout.spec
            && self.spec_hash == hash(text.as_bytes())
            && self.templates_hash == templates_hash()
            // A journal may name files the lock does not (to remove): only rendering tells.
            && matches!(confine::read(&layout.root, &Journal::path(lock_rel)), Ok(OnDisk::Missing))
            && self
                .outputs
                .iter()
                // A lock is untrusted: an entry must also hold specc's header, and be
                // neither the spec nor the lock.
                .all(|(path, h)| {
                    path != lock_rel
                        && on_disk(path).is_some_and(|b| {
                            hash(&b) == *h && crate::sync::compare::looks_generated(&b)
                        })
                        && !names_the_spec(layout, path)
                })
    }
}

/// True when `path`, an output read through [`confine`] (so no component of it is a
/// symbolic link, and the root is canonical), is the spec file: then the lexical
/// comparison is the one [`crate::sync::clash::is_the_spec`] makes by resolving links on
/// disk, without a `readlink` per component of every output.
fn names_the_spec(layout: &Layout, path: &str) -> bool {
    let name = layout.spec_path.file_name().and_then(|n| n.to_str());
    name.is_some_and(|n| path.ends_with(n))
        && confine::check(path)
            .is_ok_and(|parts| layout.root.join(parts.join("/")) == layout.spec_path)
}

/// The lock in `text` when it is laid out as [`Lock::to_text`] lays it out and holds no
/// character a TOML string would escape; `None` for anything else.
fn read_written(text: &str) -> Option<Lock> {
    let mut lines = text.strip_prefix(HEADER)?.lines();
    let mut fields = BTreeMap::new();
    for line in lines.by_ref().take_while(|l| !l.is_empty()) {
        let (key, value) = line.split_once(" = ")?;
        fields.insert(key, value);
    }
    if lines.next()? != "[outputs]" {
        return None;
    }
    let mut outputs = BTreeMap::new();
    for line in lines {
        let (key, value) = line.split_once(" = ")?;
        let key = plain_string(key).or_else(|| {
            key.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                .then_some(key)
        })?;
        outputs.insert(key.to_string(), plain_string(value)?.to_string());
    }
    let version = fields.remove("version")?.parse().ok()?;
    let mut take = |key: &str| fields.remove(key).and_then(plain_string).map(String::from);
    let lock = Lock {
        version,
        specc: take("specc")?,
        spec: take("spec")?,
        spec_hash: take("spec-hash")?,
        templates_hash: take("templates-hash")?,
        compose: take("compose"),
        always_parse: take("always-parse"),
        outputs,
    };
    fields.is_empty().then_some(lock)
}

/// The contents of a TOML basic string `"..."` that needs no escape.
fn plain_string(quoted: &str) -> Option<&str> {
    let inner = quoted.strip_prefix('"')?.strip_suffix('"')?;
    let plain = |b: &u8| *b >= b' ' && !matches!(*b, b'"' | b'\\' | 0x7f);
    inner.as_bytes().iter().all(plain).then_some(inner)
}

/// Why this specc cannot read a lock of format `version` (written by specc `by`), if so.
fn unsupported(version: u32, by: Option<&str>) -> Option<String> {
    if (OLDEST_READ..=LOCK_VERSION).contains(&version) {
        return None;
    }
    let by = by.map_or(String::new(), |v| format!(", written by specc {v},"));
    let hint = if version > LOCK_VERSION {
        "; upgrade specc"
    } else {
        ""
    };
    Some(format!(
        "lock format version {version}{by} is not supported: this specc {} reads versions {OLDEST_READ} to {LOCK_VERSION} and writes version {LOCK_VERSION}{hint}",
        env!("CARGO_PKG_VERSION")
    ))
}

/// Why a run must parse the spec `s` even when its lock is fresh, if it must: what it
/// prints or checks on every run depends on more than the lock records.
fn always_parse(s: &Loaded) -> Option<String> {
    let spec = &s.checked.spec;
    if !s.checked.warnings.is_empty() {
        return Some("the spec has warnings, which every run prints".into());
    }
    if let Some(path) = spec
        .charts
        .iter()
        .filter(|c| c.overlay())
        .find_map(|c| c.path.as_ref())
    {
        return Some(format!(
            "every run checks the spec against the chart at `{}`",
            path.value
        ));
    }
    let default = default_path();
    (spec.output.lock.value.trim_start_matches("./") != default).then(|| {
        format!("the lock is not at `{default}`, where a run looks before it parses the spec")
    })
}

/// Where a run looks for the lock before it has parsed the spec: the `output` setting's
/// default.
pub fn default_path() -> String {
    crate::spec::Output::defaults().lock.value
}

/// The lock at `rel` under `root` and its text (`None`: there is no lock yet). It is read
/// only as a regular file inside the root, never through a symbolic link.
pub fn read(root: &Path, rel: &str) -> Result<Option<(Lock, String)>, SyncError> {
    let error = |reason| SyncError::Lock {
        path: crate::sync::compare::shown(rel),
        reason,
    };
    let bytes = match confine::read(root, rel) {
        Err(r) => {
            return Err(SyncError::Unsafe {
                path: crate::sync::compare::shown(rel),
                reason: r.to_string(),
            });
        }
        Ok(OnDisk::Missing) => return Ok(None),
        Ok(OnDisk::Other(why)) => {
            let folder = root.join(rel).is_dir();
            return Err(error(if folder {
                "it is a folder, not a file".into()
            } else {
                why
            }));
        }
        Ok(OnDisk::File(bytes)) => bytes,
    };
    let text = String::from_utf8(bytes).map_err(|_| error("not UTF-8 text".into()))?;
    Lock::parse(&text)
        .map(|lock| Some((lock, text)))
        .map_err(error)
}

/// Where a run records, before it renames anything into place, the hash of every file it
/// is about to write: a file beside the lock, named like specc's temporary files. A run
/// killed half-way leaves it; the next run counts a file with one of these hashes as
/// specc's (stale, not edited by hand), so it recovers without `--force`, whichever
/// spec it is given, and removes the journal once its own lock is in place.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// Output path -> every hash an interrupted run may have left there.
    pub outputs: BTreeMap<String, Vec<String>>,
}

/// The journal's file name, in the lock's folder.
pub const JOURNAL_NAME: &str = ".specc-tmp-journal";

impl Journal {
    /// The journal's path relative to the root, beside the lock `lock_rel`.
    pub fn path(lock_rel: &str) -> String {
        match lock_rel.trim_end_matches('/').rsplit_once('/') {
            Some((dir, _)) => format!("{dir}/{JOURNAL_NAME}"),
            None => JOURNAL_NAME.to_string(),
        }
    }

    /// The journal beside the lock (empty when there is none, or it cannot be read: it
    /// only ever widens what counts as specc's).
    pub fn read(root: &Path, lock_rel: &str) -> Journal {
        match confine::read(root, &Journal::path(lock_rel)) {
            Ok(OnDisk::File(bytes)) => String::from_utf8(bytes)
                .ok()
                .and_then(|t| toml::from_str(&t).ok())
                .unwrap_or_default(),
            _ => Journal::default(),
        }
    }

    /// Adds every output of `lock`.
    pub fn record(&mut self, lock: &Lock) {
        for (path, h) in &lock.outputs {
            let hashes = self.outputs.entry(path.clone()).or_default();
            if !hashes.contains(h) {
                hashes.push(h.clone());
            }
        }
    }

    pub fn to_text(&self) -> String {
        let body = toml::to_string(self).expect("a journal serializes");
        format!("# specc: files a run was writing; removed when it finishes.\n{body}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_stable() {
        let mut outputs = BTreeMap::new();
        outputs.insert("b file".to_string(), hash(b"b"));
        outputs.insert("a".to_string(), hash(b"a"));
        let lock = Lock {
            version: LOCK_VERSION,
            specc: "0.1.0".into(),
            spec: "specs/x.kdl".into(),
            spec_hash: hash(b"spec"),
            templates_hash: hash(b"t"),
            compose: Some("compose.yaml".into()),
            always_parse: None,
            outputs,
        };
        let text = lock.to_text();
        assert_eq!(Lock::parse(&text).unwrap(), lock);
        // Keys come sorted, so the file diffs well: `a` (a bare key) before `"b file"`.
        assert!(text.find("\na = ").unwrap() < text.find("\"b file\"").unwrap());
    }

    fn sample(paths: &[&str]) -> Lock {
        Lock {
            version: LOCK_VERSION,
            specc: "0.1.0".into(),
            spec: "specs/x.kdl".into(),
            spec_hash: hash(b"spec"),
            templates_hash: hash(b"t"),
            compose: Some("deploy/compose.yaml".into()),
            always_parse: Some("the spec has warnings, which every run prints".into()),
            outputs: paths
                .iter()
                .map(|p| (p.to_string(), hash(p.as_bytes())))
                .collect(),
        }
    }

    #[test]
    fn a_written_lock_is_read_back_as_it_was_and_nothing_else_is() {
        // Paths a TOML string writes as they are, and paths it must escape (read by the
        // TOML parser instead).
        for paths in [
            &["a", "docker/x.Dockerfile", "b file", ".dockerignore"][..],
            &["say \"hi\"", "back\\slash", "tab\there", "ünïcode/ß"],
        ] {
            let lock = sample(paths);
            let text = lock.to_text();
            assert_eq!(Lock::parse_written(&text), Some(lock.clone()), "{text}");
            assert_eq!(Lock::parse(&text), Ok(lock.clone()));
            // The same lock written otherwise is not what specc writes.
            for other in [
                text.replace("\n\n[outputs]", "\n[outputs]"),
                text.replace('\n', "\r\n"),
                text.replacen("version = 3", "version = 03", 1),
                format!("{text}\n"),
                text.replace(HEADER, ""),
            ] {
                assert_eq!(Lock::parse_written(&other), None, "{other}");
            }
        }
    }

    #[test]
    fn a_version_1_lock_is_read_without_its_input_hashes() {
        let text = "version = 1\nspecc = \"0.1.0\"\nspec = \"specc.kdl\"\nspec-hash = \"s\"\ntemplates-hash = \"t\"\n\n[outputs]\na = \"h\"\n\n[targets.demo]\ninput-hash = \"i\"\ndockerfile = \"a\"\n";
        let lock = Lock::parse(text).unwrap();
        assert_eq!(
            lock,
            Lock {
                version: 1,
                specc: "0.1.0".into(),
                spec: "specc.kdl".into(),
                spec_hash: "s".into(),
                templates_hash: "t".into(),
                compose: None,
                always_parse: None,
                outputs: BTreeMap::from([("a".to_string(), "h".to_string())]),
            }
        );
    }
}
