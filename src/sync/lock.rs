//! The lock file in and out: what `specc generate` wrote, as deterministic TOML.
//!
//! It records specc's version, the spec's and the templates' hashes, the blake3 of every
//! output, and each target's input hash and Dockerfile. `generate` reads it to tell
//! hand-edited files and stale outputs apart; `check` reads it to skip rendering when
//! nothing changed; `plan --changed` compares input hashes with it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::render::TargetInputs;

pub const LOCK_VERSION: u32 = 1;

const HEADER: &str = "# specc.lock: what `specc generate` wrote and from which inputs.\n# Generated; do not edit by hand. Commit it with the outputs.\n\n";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Lock {
    pub version: u32,
    pub specc: String,
    pub spec: String,
    pub spec_hash: String,
    pub templates_hash: String,
    /// Output path (relative to the output root) -> blake3 of its bytes.
    pub outputs: BTreeMap<String, String>,
    pub targets: BTreeMap<String, TargetInputs>,
}

/// The blake3 of some bytes, as lowercase hex.
pub fn hash(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

impl Lock {
    pub fn to_text(&self) -> String {
        let body = toml::to_string(self).expect("a lock serializes");
        format!("{HEADER}{body}")
    }

    pub fn parse(text: &str) -> Result<Lock, String> {
        // The format version first: a lock of another version may lack fields of this one,
        // and "missing field" would hide the real reason.
        #[derive(Deserialize)]
        struct Version {
            version: Option<u32>,
            specc: Option<String>,
        }
        if let Ok(Version {
            version: Some(version),
            specc,
        }) = toml::from_str::<Version>(text)
            && version != LOCK_VERSION
        {
            let by = specc.map_or(String::new(), |v| format!(", written by specc {v},"));
            let hint = if version > LOCK_VERSION {
                "; upgrade specc"
            } else {
                ""
            };
            return Err(format!(
                "lock format version {version}{by} is not supported: this specc {} reads and writes version {LOCK_VERSION}{hint}",
                env!("CARGO_PKG_VERSION")
            ));
        }
        let lock: Lock = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
        Ok(lock)
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
            outputs,
            targets: BTreeMap::new(),
        };
        let text = lock.to_text();
        assert_eq!(Lock::parse(&text).unwrap(), lock);
        // Keys come sorted, so the file diffs well: `a` (a bare key) before `"b file"`.
        assert!(text.find("\na = ").unwrap() < text.find("\"b file\"").unwrap());
    }
}
