//! The project's `version=`, parsed once at decode: any text is a version, and one of the
//! form `[v]X.Y.Z[-pre][+build]` also has the parts `{{major}}`, `{{minor}}` and
//! `{{patch}}` read. [`fmt::Display`] gives back the spec's text.

use std::fmt;

/// The MAJOR.MINOR.PATCH parts of a version (`v1.2.3-rc.1` gives 1, 2, 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionParts {
    /// The version without one leading `v`.
    pub full: String,
    pub major: String,
    pub minor: String,
    pub patch: String,
}

impl VersionParts {
    /// True for `X.Y.Z-pre[+build]` (semver's pre-release; `+build` alone is not one).
    pub fn is_prerelease(&self) -> bool {
        self.full
            .split('+')
            .next()
            .is_some_and(|core_and_pre| core_and_pre.contains('-'))
    }
}

/// The parts of `s`, when it has the form `[v]X.Y.Z[-pre][+build]`. Also used for a
/// version given at run time (`VERSION`), which no spec holds.
pub fn parse_version(s: &str) -> Option<VersionParts> {
    let v = s.strip_prefix('v').unwrap_or(s);
    let core = v.split(['-', '+']).next()?;
    let nums: Vec<&str> = core.split('.').collect();
    let numeric = |p: &&str| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit());
    if nums.len() != 3 || !nums.iter().all(numeric) {
        return None;
    }
    Some(VersionParts {
        full: v.to_string(),
        major: nums[0].into(),
        minor: nums[1].into(),
        patch: nums[2].into(),
    })
}

/// A `project version=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    text: String,
    parts: Option<VersionParts>,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Version {
    /// Every text is a version; only some have parts.
    pub fn parse(s: &str) -> Self {
        Version {
            text: s.to_string(),
            parts: parse_version(s),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Its MAJOR.MINOR.PATCH parts, when it has them.
    pub fn parts(&self) -> Option<&VersionParts> {
        self.parts.as_ref()
    }
}
