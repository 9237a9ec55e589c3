//! Checked spec and plan in, `docker-bake.hcl` out: variables CI can override, a target
//! per image x variant with tags for every registry x tag rule, cache scopes per target,
//! and groups `default`, `all`, one per variant and one per multi-variant image.
//!
//! Tags follow `SPECC_EVENT`: a release's, a branch push's and a scheduled run's lists,
//! with `branch=` filters compared with `GIT_BRANCH`, each registry's list holding only
//! the tags its `registry=` lets through, and `{{date}}` cut out of `SPECC_DATE` (or
//! `timestamp()`). A pull request's tags are not in the file: no workflow pushes them.

use std::collections::{BTreeSet, HashSet};

use serde::Serialize;

use super::dockerfile::Dockerfiles;
use super::{RenderOptions, Rendered, escape, header, relative_path, render_template};
use crate::check::Checked;
use crate::check::targets::image_variants;
use crate::diagnostics::Error;
use crate::plan::runtime;
use crate::plan::tags::{ReleaseCondition, TagTemplate};
use crate::plan::{CachePlan, Event, Plan, Repository, Target as Planned};
use crate::spec::{Image, Spec};
use crate::value::date::{DateField, DateFormat};
use crate::value::reference::Namespace;
use crate::value::{Piece, Placeholder, RefPattern};

#[derive(Serialize)]
struct Context {
    header: Vec<String>,
    variables: Vec<Variable>,
    groups: Vec<Group>,
    targets: Vec<Target>,
}

#[derive(Serialize)]
struct Variable {
    name: String,
    default: String,
}

#[derive(Serialize)]
struct Group {
    name: String,
    targets: Vec<String>,
}

/// A key and an HCL expression (a quoted string, possibly with interpolation).
#[derive(Serialize)]
struct Entry {
    name: String,
    expr: String,
}

#[derive(Serialize)]
struct Target {
    name: String,
    context: String,
    dockerfile: String,
    stage: String,
    platforms: Vec<String>,
    args: Vec<Entry>,
    labels: Vec<Entry>,
    /// The tag lists of each event `SPECC_EVENT` chooses from, the release's last.
    tag_lists: Vec<TagList>,
    cache_from: Vec<String>,
    cache_to: Vec<String>,
    /// `secret` entries, as HCL expressions.
    secrets: Vec<String>,
}

/// The tags of one event: `SPECC_EVENT == "<event>" ? [...] : ...`, or the last list.
#[derive(Serialize)]
struct TagList {
    /// `None` for the release's list, which ends the chain.
    event: Option<String>,
    /// Some tags can be left out at run time: the list goes through `compact`.
    compact: bool,
    exprs: Vec<String>,
}

/// The inside of an HCL string literal (without the quotes).
fn hcl_literal(s: &str) -> String {
    let quoted = escape::hcl(s);
    quoted[1..quoted.len() - 1].to_string()
}

/// `{{major}}`, `{{minor}}` and `{{patch}}` of a `X.Y.Z[-pre][+build]` version; any
/// other version is left whole (as `plan` does). Written as the inside of an HCL string.
const VERSION_PARTS: &str = r"^([0-9]+)\\.([0-9]+)\\.([0-9]+)([-+].*)?$";

/// A pre-release version (`X.Y.Z-pre[+build]`) as a whole: replaced by nothing only then.
const PRERELEASE: &str = r"^[0-9]+\\.[0-9]+\\.[0-9]+-.*$";

/// Writes the plan's run-time rules (see `plan::runtime`) as HCL expressions, and
/// records which variables they read.
struct Exprs<'s> {
    spec_version: &'s str,
    used: BTreeSet<String>,
}

impl Exprs<'_> {
    fn var(&mut self, name: &str) -> String {
        self.used.insert(name.to_string());
        name.to_string()
    }

    /// The version: `VERSION` when non-empty, else the spec's; one leading `v` dropped.
    fn version(&mut self) -> String {
        let v = self.var(runtime::VERSION_VARIABLE);
        format!(
            "trimprefix({v} != \"\" ? {v} : \"{}\", \"v\")",
            hcl_literal(self.spec_version)
        )
    }

    /// The HCL expression of one placeholder (`{{date}}` is written by [`Self::date`]).
    fn placeholder(&mut self, p: &Placeholder) -> String {
        let part = |n: u8, e: String| format!("regex_replace({e}, \"{VERSION_PARTS}\", \"${n}\")");
        match p {
            Placeholder::Version => self.version(),
            Placeholder::Major => part(1, self.version()),
            Placeholder::Minor => part(2, self.version()),
            Placeholder::Patch => part(3, self.version()),
            Placeholder::Sha => format!("substr({}, 0, 7)", self.sha()),
            Placeholder::ShaLong => self.sha(),
            Placeholder::Branch => format!(
                "regex_replace({}, \"[^A-Za-z0-9_.-]\", \"-\")",
                self.var(runtime::BRANCH_VARIABLE)
            ),
            // No bake list holds a pull request's tags (`check` refuses `{{pr}}` on
            // other events); a tag that reached here would be refused by buildx.
            Placeholder::Pr => "\"<pr>\"".into(),
            Placeholder::Date(_) => self.moment(),
        }
    }

    /// The commit: `GIT_SHA` when non-empty, else a zero commit.
    fn sha(&mut self) -> String {
        let v = self.var(runtime::SHA_VARIABLE);
        format!("{v} != \"\" ? {v} : \"{}\"", runtime::SHA_DEFAULT)
    }

    /// The time of the run as `YYYY-MM-DDTHH:MM:SSZ`: `SPECC_DATE` when non-empty, else
    /// now (buildx's `timestamp()`, RFC 3339 in UTC).
    fn moment(&mut self) -> String {
        let v = self.var(runtime::DATE_VARIABLE);
        format!("{v} != \"\" ? {v} : timestamp()")
    }

    /// `{{date 'FORMAT'}}` as the inside of an HCL string: each field cut out of the
    /// moment, the literal characters as they are.
    fn date(&mut self, format: &DateFormat) -> String {
        format
            .fields()
            .iter()
            .map(|f| match (f, f.iso_range()) {
                (DateField::Literal(c), _) => hcl_literal(&c.to_string()),
                (_, Some((start, len))) => {
                    format!("${{substr({}, {start}, {len})}}", self.moment())
                }
                (_, None) => String::new(),
            })
            .collect()
    }

    /// A tag template as the inside of an HCL string.
    fn tag(&mut self, t: &TagTemplate) -> String {
        t.pieces
            .iter()
            .map(|p| match p {
                Piece::Literal(s) => hcl_literal(s),
                Piece::Placeholder(Placeholder::Date(f)) => self.date(f),
                Piece::Placeholder(ph) => format!("${{{}}}", self.placeholder(ph)),
            })
            .collect()
    }

    /// A namespace rule as the inside of an HCL string.
    fn namespace(&mut self, ns: &Namespace) -> String {
        match ns {
            Namespace::Literal { value } => hcl_literal(value),
            Namespace::FromCi { fallback, .. } => {
                let mut expr = format!("\"{}\"", hcl_literal(fallback));
                for v in ns.variables().into_iter().rev() {
                    let v = self.var(v);
                    expr = if expr.contains('?') {
                        format!("{v} != \"\" ? {v} : ({expr})")
                    } else {
                        format!("{v} != \"\" ? {v} : {expr}")
                    };
                }
                format!("${{lower({expr})}}")
            }
        }
    }

    /// `host/namespace/path` as the inside of an HCL string.
    fn repository(&mut self, r: &Repository) -> String {
        format!(
            "{}/{}/{}",
            hcl_literal(&r.host),
            self.namespace(&r.namespace),
            hcl_literal(&r.path)
        )
    }

    /// The HCL condition under which a release tag is left out (`plan::tags`' rule).
    fn left_out(&mut self, condition: ReleaseCondition) -> String {
        let version = self.version();
        let prerelease = format!("regex_replace({version}, \"{PRERELEASE}\", \"\") == \"\"");
        match condition {
            ReleaseCondition::NotPrerelease => prerelease,
            ReleaseCondition::NotPrereleaseNorMajorZero => {
                let major = self.placeholder(&Placeholder::Major);
                format!("{prerelease} || {major} == \"0\"")
            }
        }
    }

    /// The HCL condition under which a `branch=` filter leaves a tag out: the branch
    /// (`GIT_BRANCH`, as named) does not match the pattern.
    fn filtered_out(&mut self, pattern: &RefPattern) -> String {
        let branch = self.var(runtime::BRANCH_VARIABLE);
        let negated = pattern.is_negated();
        match pattern.literal() {
            Some(name) => format!(
                "{branch} {} \"{}\"",
                if negated { "==" } else { "!=" },
                hcl_literal(&name)
            ),
            None => format!(
                "length(regexall(\"{}\", {branch})) {}",
                hcl_literal(&pattern.regex()),
                if negated { "> 0" } else { "== 0" }
            ),
        }
    }

    /// Every reference of `templates` in each of the target's repositories (or its local
    /// name when it has none), as HCL list elements: a quoted string, or for a tag that
    /// can be left out, `CONDITION ? "" : "..."` (the list is then wrapped in `compact`).
    /// A tag with `registry=` is listed only in those registries' repositories.
    fn refs(&mut self, t: &Planned, templates: &[TagTemplate]) -> Vec<String> {
        let repos: Vec<(Option<&str>, String)> = if t.repositories.is_empty() {
            vec![(None, hcl_literal(&t.path))]
        } else {
            t.repositories
                .iter()
                .map(|r| (Some(r.registry.as_str()), self.repository(r)))
                .collect()
        };
        let mut exprs: Vec<String> = Vec::new();
        for (registry, repo) in &repos {
            for tag in templates
                .iter()
                .filter(|x| registry.is_none_or(|r| x.goes_to(r)))
            {
                let mut expr = format!("\"{repo}:{}\"", self.tag(tag));
                let mut out: Vec<String> = tag
                    .condition()
                    .map(|c| self.left_out(c))
                    .into_iter()
                    .collect();
                out.extend(tag.branch.as_ref().map(|b| self.filtered_out(b)));
                if !out.is_empty() {
                    expr = format!("{} ? \"\" : {expr}", out.join(" || "));
                }
                if !exprs.contains(&expr) {
                    exprs.push(expr);
                }
            }
        }
        exprs
    }

    /// The tags of `event`, as one of the lists `SPECC_EVENT` chooses from (`last`: the
    /// one chosen when no other is).
    fn list(&mut self, t: &Planned, event: Event, last: bool) -> TagList {
        let templates = t.templates(event);
        TagList {
            event: (!last).then(|| event.name().to_string()),
            compact: templates
                .iter()
                .any(|x| x.condition().is_some() || x.branch.is_some()),
            exprs: self.refs(t, templates),
        }
    }

    /// A target's tag lists in `events` order, the last one chosen for any other value of
    /// `SPECC_EVENT`.
    fn tag_lists(&mut self, t: &Planned, events: &[Event]) -> Vec<TagList> {
        if events.len() > 1 {
            self.var(runtime::EVENT_VARIABLE);
        }
        events
            .iter()
            .enumerate()
            .map(|(i, e)| self.list(t, *e, i + 1 == events.len()))
            .collect()
    }
}

pub fn render(
    checked: &Checked,
    plan: &Plan,
    dockerfiles: &Dockerfiles,
    options: &RenderOptions,
    errors: &mut Vec<Error>,
) -> Option<Rendered> {
    let spec: &Spec = &checked.spec;
    let path = spec.output.bake.value.clone();
    let mut exprs = Exprs {
        spec_version: spec.project.version.value.as_str(),
        used: BTreeSet::new(),
    };
    // Branch builds happen when an image has branch rules, or a workflow runs on branch
    // pushes or on dispatch (a dispatch on a branch other than the default one).
    let by_event = plan.targets.iter().any(|t| !t.event_tags.branch.is_empty())
        || spec.workflows.iter().flat_map(|w| &w.triggers).any(|t| {
            matches!(
                t.value,
                crate::spec::Trigger::Push { .. } | crate::spec::Trigger::Dispatch
            )
        });
    // A release's tags only when `SPECC_EVENT` says `release` (its default): any other
    // run, a mistyped one too, never moves release tags. A file without branch builds
    // holds a release's tags alone.
    let events: &[Event] = match (plan.schedule_has_own_tags(), by_event) {
        (true, _) => &[Event::Release, Event::Schedule, Event::Branch],
        (false, true) => &[Event::Release, Event::Branch],
        (false, false) => &[Event::Release],
    };
    let mut targets = Vec::new();
    for planned in &plan.targets {
        let Some(dockerfile) = dockerfiles
            .by_target
            .get(&(planned.image_index, planned.variant_index))
        else {
            continue;
        };
        let image = &spec.images[planned.image_index];
        let tag_lists = exprs.tag_lists(planned, events);
        let (cache_from, cache_to) = caches(&mut exprs, planned);
        targets.push(Target {
            name: planned.name.clone(),
            context: planned.context.clone(),
            dockerfile: relative_path(&planned.context, dockerfile),
            stage: planned.stage.clone(),
            platforms: planned.platforms.clone(),
            args: args(&mut exprs, planned),
            labels: labels(&mut exprs, spec, image),
            tag_lists,
            cache_from,
            cache_to,
            secrets: secrets(&mut exprs, planned),
        });
    }
    let mut head = header(options);
    // Variables are set from the environment; `--set '*.args.VERSION=..'` would change the
    // build argument but not the tags, which bake evaluates before applying `--set`.
    head.push("Build: docker buildx bake [GROUP|TARGET...]   (groups: default, all, one per variant and per image)".into());
    head.push("Release: VERSION=1.2.3 docker buildx bake --push   (tags and labels follow the VERSION variable)".into());
    let context = Context {
        header: head,
        variables: variables(spec, &exprs.used),
        groups: groups(spec, plan, &targets),
        targets,
    };
    match render_template("bake", &path, &context) {
        Ok(contents) => Some(Rendered { path, contents }),
        Err(e) => {
            errors.push(e);
            None
        }
    }
}

/// The build arguments: the plan's values, with `VERSION`, `REVISION` and `from-ci`
/// arguments left to run time.
/// `check` refuses values bake would normalise (not NFC), so each is written as it is.
fn args(exprs: &mut Exprs, planned: &Planned) -> Vec<Entry> {
    let mut args: Vec<Entry> = Vec::new();
    for (k, value) in &planned.args {
        let expr = if k == runtime::VERSION_VARIABLE {
            format!("\"${{{}}}\"", exprs.version())
        } else if k == runtime::REVISION_VARIABLE {
            format!("\"${{{}}}\"", exprs.var(runtime::REVISION_VARIABLE))
        } else if let Some(ci) = planned.ci_args.get(k) {
            let v = exprs.var(&ci.variable);
            format!(
                "\"${{{v} != \"\" ? {v} : \"{}\"}}\"",
                hcl_literal(&ci.default)
            )
        } else {
            escape::hcl(value)
        };
        args.push(Entry {
            name: k.clone(),
            expr,
        });
    }
    args
}

/// The OCI labels specc manages.
fn labels(exprs: &mut Exprs, spec: &Spec, image: &Image) -> Vec<Entry> {
    let mut labels = vec![Entry {
        name: "org.opencontainers.image.title".into(),
        expr: escape::hcl(&image.name.value),
    }];
    if let Some(s) = &spec.project.source {
        labels.push(Entry {
            name: "org.opencontainers.image.source".into(),
            expr: escape::hcl(&s.value),
        });
    }
    labels.push(Entry {
        name: "org.opencontainers.image.version".into(),
        expr: format!("\"${{{}}}\"", exprs.version()),
    });
    labels.push(Entry {
        name: "org.opencontainers.image.revision".into(),
        expr: format!("\"${{{}}}\"", exprs.var(runtime::REVISION_VARIABLE)),
    });
    labels
}

/// The target's `secret` entries: `id=ID,env=VAR`; a secret a local build reads from a
/// file is read from its variable in CI (`plan::runtime::CI_VARIABLE`).
fn secrets(exprs: &mut Exprs, planned: &Planned) -> Vec<String> {
    planned
        .secrets
        .iter()
        .map(|s| {
            let env = format!("\"id={},env={}\"", hcl_literal(&s.id), hcl_literal(&s.env));
            match &s.file {
                None => env,
                Some(file) => format!(
                    "{} == \"true\" ? {env} : \"id={},src={}\"",
                    exprs.var(runtime::CI_VARIABLE),
                    hcl_literal(&s.id),
                    hcl_literal(file)
                ),
            }
        })
        .collect()
}

/// `cache-from` and `cache-to` entries of a target's caches.
fn caches(exprs: &mut Exprs, planned: &Planned) -> (Vec<String>, Vec<String>) {
    let (mut from, mut to) = (Vec::new(), Vec::new());
    for cache in &planned.caches {
        match cache {
            CachePlan::Gha { scope } => {
                let scope = hcl_literal(scope);
                from.push(format!("\"type=gha,scope={scope}\""));
                to.push(format!("\"type=gha,mode=max,scope={scope}\""));
            }
            CachePlan::Registry { repository, tag } => {
                let reference = format!("{}:{}", exprs.repository(repository), hcl_literal(tag));
                from.push(format!("\"type=registry,ref={reference}\""));
                to.push(format!("\"type=registry,ref={reference},mode=max\""));
            }
        }
    }
    (from, to)
}

/// A `variable` block for every run-time variable the expressions read. Defaults: the
/// spec's version, `main` and a zero commit for branch tags, empty for the rest (an
/// empty namespace variable falls back, as in `plan`; an empty `SPECC_DATE` is now).
fn variables(spec: &Spec, used: &BTreeSet<String>) -> Vec<Variable> {
    let order = [
        runtime::VERSION_VARIABLE,
        runtime::REVISION_VARIABLE,
        runtime::SHA_VARIABLE,
        runtime::BRANCH_VARIABLE,
        runtime::EVENT_VARIABLE,
        runtime::DATE_VARIABLE,
    ];
    let default = |name: &str| match name {
        runtime::VERSION_VARIABLE => spec.project.version.value.to_string(),
        runtime::SHA_VARIABLE => runtime::SHA_DEFAULT.into(),
        runtime::BRANCH_VARIABLE => runtime::BRANCH_DEFAULT.into(),
        runtime::EVENT_VARIABLE => "release".into(),
        _ => String::new(),
    };
    let fixed = order
        .iter()
        .filter(|n| used.contains(**n))
        .map(|n| n.to_string());
    let rest = used
        .iter()
        .filter(|n| !order.contains(&n.as_str()) && n.as_str() != runtime::OWNER_VARIABLE)
        .cloned();
    let owner = used
        .contains(runtime::OWNER_VARIABLE)
        .then(|| runtime::OWNER_VARIABLE.to_string());
    fixed
        .chain(rest)
        .chain(owner)
        .map(|name| Variable {
            default: default(&name),
            name,
        })
        .collect()
}

/// `default` and `all`, then one group per variant and per multi-variant image; a group
/// never takes the name of a target.
fn groups(spec: &Spec, plan: &Plan, targets: &[Target]) -> Vec<Group> {
    let all: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
    // A set beside the list: a search of the list per target is quadratic.
    let defined: HashSet<&str> = all.iter().map(String::as_str).collect();
    let mut groups = vec![
        Group {
            name: "default".into(),
            targets: all.clone(),
        },
        Group {
            name: "all".into(),
            targets: all.clone(),
        },
    ];
    // The plan's targets of one variant, or of one image, that the file defines.
    let members = |keep: &dyn Fn(&Planned) -> bool| -> Vec<String> {
        plan.targets
            .iter()
            .filter(|t| keep(t) && defined.contains(t.name.as_str()))
            .map(|t| t.name.clone())
            .collect()
    };
    for (v, variant) in spec.variants.iter().enumerate() {
        if !variant.implicit {
            groups.push(Group {
                name: variant.name.value.clone(),
                targets: members(&|t| t.variant_index == v),
            });
        }
    }
    for (ii, image) in spec.images.iter().enumerate() {
        let planned: Vec<&Planned> = image_variants(spec, image)
            .into_iter()
            .filter_map(|v| plan.target_of(ii, v))
            .collect();
        if planned.len() > 1 {
            groups.push(Group {
                name: image.name.value.replace('.', "_"),
                targets: planned
                    .iter()
                    .filter(|t| defined.contains(t.name.as_str()))
                    .map(|t| t.name.clone())
                    .collect(),
            });
        }
    }
    let mut seen = BTreeSet::new();
    groups.retain(|g| {
        !g.targets.is_empty() && !defined.contains(g.name.as_str()) && seen.insert(g.name.clone())
    });
    groups
}
