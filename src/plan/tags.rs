//! The one tag computation: a target's tag templates per event, with its variant's
//! affixes applied, and their values for one build. Bake and the workflow defer the
//! same templates to run time; `plan` fills them here.
//!
//! Release tags follow docker/metadata-action's rules, which users know: a tag that
//! follows the newest stable release (no `{{version}}`, `{{sha}}` or `{{branch}}`:
//! `latest`, `{{major}}.{{minor}}`, `{{major}}`) is not moved by a pre-release
//! (`2.0.0-rc.1` pushes `2.0.0-rc.1`, not `2.0` or `latest`), and a `{{major}}` tag is
//! not pushed for major version zero (`0.3.1` pushes no `0`: 0.y.z is not stable).

use crate::check::targets::TagAffixes;
use crate::spec::{Image, TagWhen};
use crate::value::tag::{TagValues, render_tag};
use crate::value::{Piece, Placeholder};

/// A tag with its placeholders still open, affixes included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagTemplate {
    pub pieces: Vec<Piece>,
    /// A release tag: the pre-release and major-zero rules apply to it.
    pub release: bool,
}

/// When a release tag is left out at run time (see the module header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseCondition {
    /// Left out for a pre-release version.
    NotPrerelease,
    /// Left out for a pre-release version and for major version zero.
    NotPrereleaseNorMajorZero,
}

impl TagTemplate {
    /// The tag under `values`.
    pub fn render(&self, values: &TagValues) -> String {
        render_tag(&self.pieces, values)
    }

    /// The placeholders the template reads.
    pub fn placeholders(&self) -> impl Iterator<Item = Placeholder> + '_ {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Placeholder(p) => Some(*p),
            Piece::Literal(_) => None,
        })
    }

    /// True when the tag is the same in every build (no placeholder).
    pub fn is_fixed(&self) -> bool {
        self.placeholders().next().is_none()
    }

    /// The rule that may leave this tag out at run time; `None` when it always applies.
    pub fn condition(&self) -> Option<ReleaseCondition> {
        if !self.release || !self.placeholders().all(Placeholder::follows_stable) {
            return None;
        }
        let major_only = self.placeholders().any(|p| p == Placeholder::Major)
            && self.placeholders().all(|p| p == Placeholder::Major);
        Some(if major_only {
            ReleaseCondition::NotPrereleaseNorMajorZero
        } else {
            ReleaseCondition::NotPrerelease
        })
    }

    /// True when the tag is pushed for a build with `values`.
    pub fn applies(&self, values: &TagValues) -> bool {
        match self.condition() {
            None => true,
            Some(ReleaseCondition::NotPrerelease) => !values.prerelease,
            Some(ReleaseCondition::NotPrereleaseNorMajorZero) => {
                !values.prerelease && values.major != "0"
            }
        }
    }

    /// True when the tag is known from the spec alone: it reads at most the version
    /// (not the commit or the branch of a CI run).
    pub fn is_known_from_spec(&self) -> bool {
        self.placeholders().all(Placeholder::is_version_part)
    }
}

/// The tag templates of variant `affixes` of `image` on `event` (rules marked `always`
/// included), in rule order, without repeats.
pub fn templates(image: &Image, affixes: &TagAffixes, event: TagWhen) -> Vec<TagTemplate> {
    let mut out: Vec<TagTemplate> = Vec::new();
    for rule in image
        .tags
        .iter()
        .filter(|r| r.when.value == event || r.when.value == TagWhen::Always)
    {
        let base = rule.template.value.pieces().to_vec();
        let mut decorated = Vec::with_capacity(base.len() + 2);
        if !affixes.prefix.is_empty() {
            decorated.push(Piece::Literal(affixes.prefix.clone()));
        }
        decorated.extend(base.iter().cloned());
        if !affixes.suffix.is_empty() {
            decorated.push(Piece::Literal(affixes.suffix.clone()));
        }
        let release = event == TagWhen::Release;
        let mut found = vec![TagTemplate {
            pieces: decorated,
            release,
        }];
        if affixes.also_bare {
            found.push(TagTemplate {
                pieces: base,
                release,
            });
        }
        for t in found {
            if !out.contains(&t) {
                out.push(t);
            }
        }
    }
    out
}

/// The tags `templates` give under `values`, in order, without repeats.
pub fn render_all(templates: &[TagTemplate], values: &TagValues) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for t in templates.iter().filter(|t| t.applies(values)) {
        let tag = t.render(values);
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    tags
}

/// The first of `rules` that uses `{{major}}`, `{{minor}}` or `{{patch}}`: a version
/// without MAJOR.MINOR.PATCH parts cannot fill it, so `plan --set-version` and the
/// generated workflow's version step refuse such a version.
pub fn rule_needing_version_parts<'a>(
    rules: impl IntoIterator<Item = &'a crate::spec::TagRule>,
) -> Option<String> {
    rules
        .into_iter()
        .find(|rule| rule.template.value.version_part().is_some())
        .map(|rule| rule.template.value.to_string())
}
