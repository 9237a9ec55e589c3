//! Tag rules: every placeholder has a value on every event the rule applies on, the
//! `branch=` and `registry=` filters fit the rule and the image, every tag that can come
//! out is a valid OCI tag (rendered with sample values), no two variants push one tag,
//! and every workflow that builds the image can apply the rule ([`workflow_can_apply`]).

use std::collections::BTreeMap;

use miette::SourceSpan;

use super::{Checker, affixes_are_valid, references, targets};
use crate::diagnostics::Error;
use crate::spec::{Event, Image, Spec, TagEvents, TagRule, Workflow, WorkflowLayout};
use crate::value::{self, Placeholder, date::DateField};

/// Why a workflow cannot apply a tag rule as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The rule names pull requests: no layout tags a pull request's build or pushes it
    /// (the version step plans a pull request as a branch build, pushing nothing).
    PullRequest,
    /// Single job: on a run of this event whose branch the filter does not match, the
    /// image would have no tag at all, and the workflow's fixed list of targets would
    /// still push it.
    OnlyFiltered(Event),
}

impl Reason {
    /// What the workflow does instead, for the label.
    pub fn label(self) -> String {
        match self {
            Reason::PullRequest => {
                "the workflow builds a pull request without its tags and pushes nothing".into()
            }
            Reason::OnlyFiltered(Event::Schedule) => {
                "a scheduled run on another branch would leave the image without a tag to push"
                    .into()
            }
            Reason::OnlyFiltered(_) => {
                "a push to another branch would leave the image without a tag to push".into()
            }
        }
    }

    /// What to write instead.
    pub fn help(self, rule: &TagRule) -> String {
        match self {
            Reason::PullRequest => {
                let rest: Vec<Event> = rule
                    .when
                    .value
                    .named_events()
                    .filter(|e| *e != Event::Pr)
                    .collect();
                let names: Vec<&str> = if TagEvents::of(&rest) == TagEvents::ALWAYS {
                    vec!["always"]
                } else {
                    rest.iter().map(|e| e.name()).collect()
                };
                if rest.is_empty() {
                    "remove this rule: no run of this workflow gives it (`specc plan --event pr --pr N` shows what a pull request is built as)".into()
                } else {
                    format!("remove `pr` from `when=`: `when=\"{}\"`", names.join(" "))
                }
            }
            Reason::OnlyFiltered(e) => format!(
                "add a tag that every {} gets, e.g. `tag \"{{{{branch}}}}\" when=\"{}\"` or `tag \"sha-{{{{sha}}}}\" when=\"{}\"`",
                match e {
                    Event::Schedule => "scheduled run",
                    _ => "branch push",
                },
                e.name(),
                e.name()
            ),
        }
    }

    /// Where the culprit is in the rule.
    fn span(self, rule: &TagRule) -> SourceSpan {
        match self {
            Reason::PullRequest => rule.when.span,
            Reason::OnlyFiltered(_) => rule.branch.as_ref().map_or(rule.span, |b| b.span),
        }
    }
}

/// The one decision whether a workflow of `layout` applies `rule` of `image` faithfully.
/// Both layouts build a pull request without its tags and push nothing, so a rule that
/// names `pr` is for `specc plan --event pr` alone. The single job (its version step and
/// the bake file) knows releases, branch pushes (with `branch=` filters, compared in
/// bake), scheduled runs, `registry=` (bake lists each registry's tags) and `{{date}}`
/// (the version step fixes `SPECC_DATE`), but pushes a fixed list of targets whatever
/// the branch; the native layout plans each run with `specc plan` and pushes only the
/// targets that have tags.
pub fn workflow_can_apply(
    layout: WorkflowLayout,
    image: &Image,
    rule: &TagRule,
) -> Result<(), Reason> {
    if rule.when.value.named(Event::Pr) {
        return Err(Reason::PullRequest);
    }
    if layout == WorkflowLayout::Single && rule.branch.is_some() {
        for event in rule.when.value.events() {
            let unfiltered = image
                .tags
                .iter()
                .any(|r| r.branch.is_none() && r.when.value.applies_on(event));
            if !unfiltered {
                return Err(Reason::OnlyFiltered(event));
            }
        }
    }
    Ok(())
}

/// The first workflow that builds image `ii` and cannot apply `rule`, and why.
fn refusing_workflow<'s>(
    spec: &'s Spec,
    ii: usize,
    rule: &TagRule,
) -> Option<(&'s Workflow, Reason)> {
    spec.workflows
        .iter()
        .filter(|w| targets::workflow_images(spec, w).contains(&ii))
        .find_map(|w| {
            let layout = targets::workflow_layout(spec, w);
            workflow_can_apply(layout, &spec.images[ii], rule)
                .err()
                .map(|reason| (w, reason))
        })
}

/// True when `p` has a value on a run of `event`.
fn known_on(p: &Placeholder, event: Event) -> bool {
    match p {
        _ if p.is_version_part() => event == Event::Release,
        Placeholder::Branch => event.has_branch(),
        Placeholder::Pr => event == Event::Pr,
        _ => true,
    }
}

/// Why `p` has no value on `event`: the reason and the help.
fn unknown_on(p: &Placeholder, event: Event) -> (String, String) {
    match p {
        _ if p.is_version_part() => (
            format!("{} has no version", event.described()),
            "use `when=\"release\"` for version tags, or `{{branch}}`/`{{sha}}` on branches".into(),
        ),
        Placeholder::Branch if event == Event::Pr => (
            "a pull request has no branch".into(),
            "name pull request builds by their number, e.g. `tag \"pr-{{pr}}\" when=\"pr\"`".into(),
        ),
        Placeholder::Branch => (
            format!("{} has no branch", event.described()),
            "add `when=\"branch\"` to this tag rule".into(),
        ),
        _ => (
            format!("{} has no pull request number", event.described()),
            "use `{{pr}}` only in rules for pull requests: `when=\"pr\"`".into(),
        ),
    }
}

impl Checker<'_> {
    pub(super) fn tags(&mut self, ii: usize, image: &Image, variants: &[usize]) {
        // Tag -> (variant, rule span), to find two variants pushing one tag.
        let mut produced: BTreeMap<String, (usize, SourceSpan)> = BTreeMap::new();
        for rule in &image.tags {
            let events_fit = self.tag_events(rule);
            let filters_fit = self.tag_filters(image, rule);
            if !events_fit || !filters_fit || !self.version_has_parts(rule) {
                continue;
            }
            self.rendered_tags(ii, image, variants, rule, &mut produced);
            if let Some((w, reason)) = refusing_workflow(self.spec, ii, rule) {
                self.push(Error::WorkflowTagRule {
                    template: rule.template.value.to_string(),
                    workflow: w.name.value.clone(),
                    span: reason.span(rule),
                    reason: reason.label(),
                    help: reason.help(rule),
                });
            }
        }
    }

    /// Every placeholder of `rule` has a value on every event it applies on; false
    /// (reported) otherwise.
    fn tag_events(&mut self, rule: &TagRule) -> bool {
        let t = &rule.template;
        for event in rule.when.value.events() {
            let Some(p) = t.value.placeholders().find(|p| !known_on(p, event)) else {
                continue;
            };
            let (reason, help) = unknown_on(p, event);
            self.push(Error::InvalidTagTemplate {
                template: t.value.to_string(),
                span: if p.is_version_part() {
                    rule.when.span
                } else {
                    t.span
                },
                reason,
                help,
            });
            return false;
        }
        true
    }

    /// `branch=` only on branch pushes and scheduled runs, `registry=` only naming the
    /// image's registries; false when `branch=` does not fit (reported).
    fn tag_filters(&mut self, image: &Image, rule: &TagRule) -> bool {
        for name in &rule.registries {
            if self.registry(name).is_some()
                && !image.registries.iter().any(|r| r.value == name.value)
            {
                let pushed: Vec<&str> = image.registries.iter().map(|r| r.as_str()).collect();
                self.push(Error::UnknownReference {
                    kind: "registry of this image".into(),
                    name: name.value.clone(),
                    span: name.span,
                    help: crate::diagnostics::and_also(
                        crate::diagnostics::suggest("the image's registries", &name.value, pushed),
                        &format!(
                            "a tag goes only where image `{}` is pushed; add the registry to its `registries=`",
                            image.name.value
                        ),
                    ),
                });
            }
        }
        let Some(branch) = &rule.branch else {
            return true;
        };
        let Some(event) = rule.when.value.events().find(|e| !e.has_branch()) else {
            return true;
        };
        self.push(Error::TagBranchFilter {
            event: event.described().into(),
            span: branch.span,
            help: "filter branch pushes (and the scheduled runs that take their tags): add `when=\"branch\"` to this tag rule, or `when=\"branch schedule\"`".into(),
        });
        false
    }

    /// A rule with `{{major}}`, `{{minor}}` or `{{patch}}` needs a version with parts;
    /// false (reported once) otherwise.
    fn version_has_parts(&mut self, rule: &TagRule) -> bool {
        let version = &self.spec.project.version;
        let Some(part) = rule.template.value.version_part() else {
            return true;
        };
        if version.value.parts().is_some() {
            return true;
        }
        if !self
            .problems
            .iter()
            .any(|p| matches!(p, Error::InvalidVersion { .. }))
        {
            self.push(Error::InvalidVersion {
                version: version.value.to_string(),
                part: part.name().into(),
                span: version.span,
            });
        }
        false
    }

    /// The tags `rule` gives in each variant, rendered with sample values: each must be
    /// a valid OCI tag, and no two variants may give one tag.
    fn rendered_tags(
        &mut self,
        ii: usize,
        image: &Image,
        variants: &[usize],
        rule: &TagRule,
        produced: &mut BTreeMap<String, (usize, SourceSpan)>,
    ) {
        let spec = self.spec;
        let t = &rule.template;
        let sample = value::tag::TagValues::sample(spec.project.version.value.as_str());
        let base = value::tag::render_tag(t.value.pieces(), &sample);
        for &v in variants {
            let variant = &spec.variants[v];
            // A bad tag prefix or suffix has its own error.
            if !affixes_are_valid(variant) {
                continue;
            }
            for tag in targets::TagAffixes::of(spec, image, v).apply(&base) {
                if let Err(reason) = value::check_tag(&tag) {
                    self.push(invalid_tag(rule, tag, reason));
                    // One report per rule, not one per variant.
                    return;
                }
                self.pushed.push(references::Pushed {
                    image: ii,
                    tag: tag.clone(),
                    when: rule.when.value,
                    registries: rule.registries.iter().map(|r| r.value.clone()).collect(),
                    span: t.span,
                });
                match produced.get(&tag) {
                    // Two variants of one name are reported as declared twice.
                    Some((other, first))
                        if *other != v
                            && spec.variants[*other].name.value != variant.name.value =>
                    {
                        self.push(Error::TagCollision {
                            tag: tag.clone(),
                            image: image.name.value.clone(),
                            first_variant: spec.variants[*other].name.value.clone(),
                            second_variant: variant.name.value.clone(),
                            first: (*first != t.span).then_some(*first),
                            span: t.span,
                            help: format!(
                                "give the variants different tag affixes, e.g. `variant {} tag-prefix=\"{}-\"`",
                                variant.name.value, variant.name.value
                            ),
                        });
                    }
                    Some(_) => {}
                    None => {
                        produced.insert(tag, (v, t.span));
                    }
                }
            }
        }
    }
}

/// A rule whose sample rendering `tag` is not a valid OCI tag.
fn invalid_tag(rule: &TagRule, tag: String, reason: String) -> Error {
    let t = &rule.template;
    let help = if tag.len() > 128 {
        "shorten the literal text of the rule or the variant's tag prefix/suffix".to_string()
    } else if t
        .value
        .placeholders()
        .any(|p| matches!(p, Placeholder::Date(_)))
        && !tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
    {
        let first = DateField::NAMED[0].0;
        format!(
            "start the tag with a letter, a digit or a date field, e.g. `{{{{date '{first}MMDD'}}}}`"
        )
    } else {
        let fixed = value::to_tag_text(t.value.as_str());
        format!(
            "write e.g. `tag \"{}\"`; tags hold letters, digits, `_`, `.` and `-`, and start with a letter, digit or `_`",
            if fixed.is_empty() { "latest" } else { &fixed }
        )
    };
    Error::InvalidTag {
        template: t.value.to_string(),
        tag,
        span: t.span,
        reason,
        help,
    }
}
