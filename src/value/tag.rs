//! Filling a tag template: the values its placeholders take for one build.
//!
//! The version rule lives here, once: one leading `v` is dropped (`v1.2.3` is 1.2.3),
//! and `{{major}}`/`{{minor}}`/`{{patch}}` are the parts of a `X.Y.Z[-pre][+build]`
//! version; any other version gives each part as the whole version. A version with a
//! `-pre` part is a pre-release.

use super::version::{VersionParts, parse_version};
use super::{Piece, Placeholder};

/// Values the placeholders of a tag template take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagValues {
    pub version: String,
    pub major: String,
    pub minor: String,
    pub patch: String,
    pub sha: String,
    pub branch: String,
    /// `X.Y.Z-pre[+build]`: release tags that follow the newest stable release
    /// (`latest`, `{{major}}.{{minor}}`) are not moved by it.
    pub prerelease: bool,
}

/// A version as tags use it: without one leading `v`.
pub fn tag_version(version: &str) -> &str {
    version.strip_prefix('v').unwrap_or(version)
}

impl TagValues {
    /// The values for `version`, a commit (shortened to 7 characters; `<sha>` when
    /// unknown) and a branch (`<branch>` when unknown).
    /// A version given at run time (`VERSION`) is text, so it is parsed here.
    pub fn new(version: &str, sha: Option<&str>, branch: Option<&str>) -> Self {
        let version = tag_version(version).to_string();
        let parsed = parse_version(&version);
        let part = |f: fn(&VersionParts) -> &String| {
            parsed
                .as_ref()
                .map_or_else(|| version.clone(), |v| f(v).clone())
        };
        let prerelease = parsed.as_ref().is_some_and(VersionParts::is_prerelease);
        TagValues {
            prerelease,
            major: part(|v| &v.major),
            minor: part(|v| &v.minor),
            patch: part(|v| &v.patch),
            version,
            sha: sha.map_or_else(|| "<sha>".into(), |s| s.chars().take(7).collect()),
            branch: branch.map_or_else(|| "<branch>".into(), sanitize_branch),
        }
    }

    /// Stand-in values for checking that a rule can produce valid tags.
    pub fn sample(version: &str) -> Self {
        TagValues::new(version, Some("0a1b2c3"), Some("main"))
    }

    /// The value of one placeholder.
    pub fn get(&self, p: Placeholder) -> &str {
        match p {
            Placeholder::Version => &self.version,
            Placeholder::Major => &self.major,
            Placeholder::Minor => &self.minor,
            Placeholder::Patch => &self.patch,
            Placeholder::Sha => &self.sha,
            Placeholder::Branch => &self.branch,
        }
    }
}

/// A branch name as it may appear in a tag: `feature/x` gives `feature-x`.
fn sanitize_branch(b: &str) -> String {
    b.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The tag a parsed template gives with `values`.
pub fn render_tag(pieces: &[Piece], values: &TagValues) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Literal(s) => s.as_str(),
            Piece::Placeholder(ph) => values.get(*ph),
        })
        .collect()
}
