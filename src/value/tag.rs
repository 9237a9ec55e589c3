//! Filling a tag template: the values its placeholders take for one build.
//!
//! The version rule lives here, once: one leading `v` is dropped (`v1.2.3` is 1.2.3),
//! and `{{major}}`/`{{minor}}`/`{{patch}}` are the parts of a `X.Y.Z[-pre][+build]`
//! version; any other version gives each part as the whole version. A version with a
//! `-pre` part is a pre-release. `{{sha}}` is the commit's first 7 characters,
//! `{{sha_long}}` the commit as given, `{{branch}}` the branch with every character a tag
//! cannot hold replaced by `-`.

use super::date::UtcTime;
use super::version::{VersionParts, parse_version};
use super::{Piece, Placeholder};

/// Values the placeholders of a tag template take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagValues {
    pub version: String,
    pub major: String,
    pub minor: String,
    pub patch: String,
    /// The commit as given (`{{sha_long}}`), and its first 7 characters (`{{sha}}`).
    pub sha_long: String,
    pub sha: String,
    /// The branch as a tag may hold it (`{{branch}}`).
    pub branch: String,
    /// The branch as named, which `branch=` filters match; `None` when unknown (a
    /// filtered tag then counts as one that may be pushed).
    pub branch_name: Option<String>,
    pub pr: String,
    /// The time of the run, for `{{date}}`; `None` when unknown.
    pub date: Option<UtcTime>,
    /// `X.Y.Z-pre[+build]`: release tags that follow the newest stable release
    /// (`latest`, `{{major}}.{{minor}}`) are not moved by it.
    pub prerelease: bool,
}

/// A version as tags use it: without one leading `v`.
pub fn tag_version(version: &str) -> &str {
    version.strip_prefix('v').unwrap_or(version)
}

impl TagValues {
    /// The values for `version`, a commit (shortened to 7 characters for `{{sha}}`;
    /// `<sha>` when unknown) and a branch (`<branch>` when unknown); no pull request
    /// (`<pr>`) and no date (`<date>`) until [`Self::with_pr`] and [`Self::with_date`].
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
            sha_long: sha.map_or_else(|| "<sha>".into(), str::to_string),
            sha: sha.map_or_else(|| "<sha>".into(), |s| s.chars().take(7).collect()),
            branch: branch.map_or_else(|| "<branch>".into(), sanitize_branch),
            branch_name: branch.map(str::to_string),
            pr: "<pr>".into(),
            date: None,
        }
    }

    /// The same values for pull request `number`.
    pub fn with_pr(self, number: u64) -> Self {
        TagValues {
            pr: number.to_string(),
            ..self
        }
    }

    /// The same values at `time`.
    pub fn with_date(self, time: UtcTime) -> Self {
        TagValues {
            date: Some(time),
            ..self
        }
    }

    /// Stand-in values for checking that a rule can produce valid tags: the longest a
    /// commit (40 characters) and a pull request number (10 digits) can be.
    pub fn sample(version: &str) -> Self {
        TagValues::new(
            version,
            Some("0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"),
            Some("main"),
        )
        .with_pr(4_294_967_295)
        .with_date(UtcTime::parse("2024-01-02T03:04:05Z").unwrap_or_default())
    }

    /// The value of one placeholder.
    pub fn get(&self, p: &Placeholder) -> String {
        match p {
            Placeholder::Version => self.version.clone(),
            Placeholder::Major => self.major.clone(),
            Placeholder::Minor => self.minor.clone(),
            Placeholder::Patch => self.patch.clone(),
            Placeholder::Sha => self.sha.clone(),
            Placeholder::ShaLong => self.sha_long.clone(),
            Placeholder::Branch => self.branch.clone(),
            Placeholder::Pr => self.pr.clone(),
            Placeholder::Date(format) => self
                .date
                .as_ref()
                .map_or_else(|| "<date>".into(), |t| format.render(t)),
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
            Piece::Literal(s) => s.clone(),
            Piece::Placeholder(ph) => values.get(ph),
        })
        .collect()
}
