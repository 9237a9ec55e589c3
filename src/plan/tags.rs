//! The one tag computation: a target's tag templates per event, with its variant's
//! affixes applied, and their values for one build. Bake and the workflow defer the
//! same templates to run time; `plan` fills them here.
//!
//! Release tags follow docker/metadata-action's rules, which users know: a tag that
//! follows the newest stable release (no `{{version}}`, `{{sha}}` or `{{branch}}`:
//! `latest`, `{{major}}.{{minor}}`, `{{major}}`) is not moved by a pre-release
//! (`2.0.0-rc.1` pushes `2.0.0-rc.1`, not `2.0` or `latest`), and a `{{major}}` tag is
//! not pushed for major version zero (`0.3.1` pushes no `0`: 0.y.z is not stable).
//!
//! A rule applies on the events its `when=` names; a scheduled run also takes the rules
//! of a branch push. Its `branch=` filter and `registry=` list travel with each template.

use crate::check::targets::TagAffixes;
use crate::spec::{Event, Image};
use crate::value::RefPattern;
use crate::value::tag::{TagValues, render_tag};
use crate::value::{Piece, Placeholder};

/// A tag with its placeholders still open, affixes included, and the conditions under
/// which it is pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagTemplate {
    pub pieces: Vec<Piece>,
    /// A release tag: the pre-release and major-zero rules apply to it.
    pub release: bool,
    /// `branch=`: pushed only on a branch the pattern matches.
    pub branch: Option<RefPattern>,
    /// `registry=`: pushed only to these registries (empty: to every registry of the
    /// image).
    pub registries: Vec<String>,
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
    pub fn placeholders(&self) -> impl Iterator<Item = &Placeholder> + '_ {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Placeholder(p) => Some(p),
            Piece::Literal(_) => None,
        })
    }

    /// True when the tag reads the time of the run (`{{date}}`).
    pub fn reads_date(&self) -> bool {
        self.placeholders()
            .any(|p| matches!(p, Placeholder::Date(_)))
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
        let major_only = self.placeholders().any(|p| *p == Placeholder::Major)
            && self.placeholders().all(|p| *p == Placeholder::Major);
        Some(if major_only {
            ReleaseCondition::NotPrereleaseNorMajorZero
        } else {
            ReleaseCondition::NotPrerelease
        })
    }

    /// True when the tag is pushed for a build with `values` (to some registry): the
    /// release conditions hold and the branch, when known, passes its filter.
    pub fn applies(&self, values: &TagValues) -> bool {
        let branch_passes = match (&self.branch, &values.branch_name) {
            (Some(pattern), Some(name)) => pattern.matches(name),
            _ => true,
        };
        branch_passes
            && match self.condition() {
                None => true,
                Some(ReleaseCondition::NotPrerelease) => !values.prerelease,
                Some(ReleaseCondition::NotPrereleaseNorMajorZero) => {
                    !values.prerelease && values.major != "0"
                }
            }
    }

    /// True when the tag goes to registry `name`.
    pub fn goes_to(&self, registry: &str) -> bool {
        self.registries.is_empty() || self.registries.iter().any(|r| r == registry)
    }

    /// True when the tag is known from the spec alone: it reads at most the version
    /// (not the commit, the branch or the date of a CI run).
    pub fn is_known_from_spec(&self) -> bool {
        self.placeholders().all(Placeholder::is_version_part)
    }
}

/// A target's tag templates on each kind of run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventTemplates {
    pub release: Vec<TagTemplate>,
    pub branch: Vec<TagTemplate>,
    pub pr: Vec<TagTemplate>,
    pub schedule: Vec<TagTemplate>,
}

impl EventTemplates {
    /// The templates of variant `affixes` of `image` on every event.
    pub fn of(image: &Image, affixes: &TagAffixes) -> Self {
        EventTemplates {
            release: templates(image, affixes, Event::Release),
            branch: templates(image, affixes, Event::Branch),
            pr: templates(image, affixes, Event::Pr),
            schedule: templates(image, affixes, Event::Schedule),
        }
    }

    /// The templates of `event`.
    pub fn on(&self, event: Event) -> &[TagTemplate] {
        match event {
            Event::Release => &self.release,
            Event::Branch => &self.branch,
            Event::Pr => &self.pr,
            Event::Schedule => &self.schedule,
        }
    }

    /// True when a scheduled run gets other tags than a branch push: some rule names
    /// `schedule` without `branch`. Otherwise CI may treat a scheduled run as a push to
    /// its branch.
    pub fn schedule_differs(&self) -> bool {
        self.schedule != self.branch
    }
}

/// The tag templates of variant `affixes` of `image` on `event`, in rule order, without
/// repeats.
pub fn templates(image: &Image, affixes: &TagAffixes, event: Event) -> Vec<TagTemplate> {
    let mut out: Vec<TagTemplate> = Vec::new();
    for rule in image.tags.iter().filter(|r| r.when.value.applies_on(event)) {
        let base = rule.template.value.pieces().to_vec();
        let mut decorated = Vec::with_capacity(base.len() + 2);
        if !affixes.prefix.is_empty() {
            decorated.push(Piece::Literal(affixes.prefix.clone()));
        }
        decorated.extend(base.iter().cloned());
        if !affixes.suffix.is_empty() {
            decorated.push(Piece::Literal(affixes.suffix.clone()));
        }
        let template = |pieces| TagTemplate {
            pieces,
            release: event == Event::Release,
            branch: rule.branch.as_ref().map(|b| b.value.clone()),
            registries: rule.registries.iter().map(|r| r.value.clone()).collect(),
        };
        let mut found = vec![template(decorated)];
        if affixes.also_bare {
            found.push(template(base));
        }
        for t in found {
            if !out.contains(&t) {
                out.push(t);
            }
        }
    }
    out
}

/// The tags `templates` give under `values` in `registry` (`None`: in any registry), in
/// order, without repeats.
pub fn render_all(
    templates: &[TagTemplate],
    values: &TagValues,
    registry: Option<&str>,
) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    let chosen = templates
        .iter()
        .filter(|t| t.applies(values) && registry.is_none_or(|r| t.goes_to(r)));
    for t in chosen {
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
