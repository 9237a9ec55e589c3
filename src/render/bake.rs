//! Checked spec and plan in, `docker-bake.hcl` out: variables CI can override, a target
//! per image x variant with tags for every registry x tag rule, cache scopes per target,
//! and groups `default`, `all`, one per variant and one per multi-variant image.

use std::collections::{BTreeSet, HashSet};

use serde::Serialize;

use super::dockerfile::Dockerfiles;
use super::{RenderOptions, Rendered, escape, header, relative_path, render_template};
use crate::check::Checked;
use crate::check::targets::image_variants;
use crate::diagnostics::Error;
use crate::plan::runtime;
use crate::plan::tags::{ReleaseCondition, TagTemplate};
use crate::plan::{CachePlan, Plan, Repository, Target as Planned};
use crate::spec::{Image, Spec};
use crate::value::reference::Namespace;
use crate::value::{Piece, Placeholder};

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
    tag_exprs: Vec<String>,
    /// Some release tags can be left out at run time: the list goes through `compact`.
    tags_conditional: bool,
    /// Whether `SPECC_EVENT` chooses between release and branch tags.
    by_event: bool,
    /// Tags of a branch push (chosen by `SPECC_EVENT`); none when the image has no
    /// branch rules, so a branch push never moves release tags.
    branch_tag_exprs: Vec<String>,
    cache_from: Vec<String>,
    cache_to: Vec<String>,
    /// `secret` entries, as HCL expressions.
    secrets: Vec<String>,
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

    /// The HCL expression of one placeholder.
    fn placeholder(&mut self, p: Placeholder) -> String {
        let part = |n: u8, e: String| format!("regex_replace({e}, \"{VERSION_PARTS}\", \"${n}\")");
        match p {
            Placeholder::Version => self.version(),
            Placeholder::Major => part(1, self.version()),
            Placeholder::Minor => part(2, self.version()),
            Placeholder::Patch => part(3, self.version()),
            Placeholder::Sha => {
                let v = self.var(runtime::SHA_VARIABLE);
                format!(
                    "substr({v} != \"\" ? {v} : \"{}\", 0, 7)",
                    runtime::SHA_DEFAULT
                )
            }
            Placeholder::Branch => format!(
                "regex_replace({}, \"[^A-Za-z0-9_.-]\", \"-\")",
                self.var("GIT_BRANCH")
            ),
        }
    }

    /// A tag template as the inside of an HCL string.
    fn tag(&mut self, t: &TagTemplate) -> String {
        t.pieces
            .iter()
            .map(|p| match p {
                Piece::Literal(s) => hcl_literal(s),
                Piece::Placeholder(ph) => format!("${{{}}}", self.placeholder(*ph)),
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
                let major = self.placeholder(Placeholder::Major);
                format!("{prerelease} || {major} == \"0\"")
            }
        }
    }

    /// Every reference of `templates` in each of the target's repositories (or its local
    /// name when it has none), as HCL list elements: a quoted string, or for a tag that
    /// can be left out, `CONDITION ? "" : "..."` (the list is then wrapped in `compact`).
    fn refs(&mut self, t: &Planned, templates: &[TagTemplate]) -> Vec<String> {
        let repos: Vec<String> = if t.repositories.is_empty() {
            vec![hcl_literal(&t.path)]
        } else {
            t.repositories.iter().map(|r| self.repository(r)).collect()
        };
        let mut exprs: Vec<String> = Vec::new();
        for repo in &repos {
            for tag in templates {
                let mut expr = format!("\"{repo}:{}\"", self.tag(tag));
                if let Some(condition) = tag.condition() {
                    expr = format!("{} ? \"\" : {expr}", self.left_out(condition));
                }
                if !exprs.contains(&expr) {
                    exprs.push(expr);
                }
            }
        }
        exprs
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
    let by_event = plan.targets.iter().any(|t| !t.branch_tags.is_empty())
        || spec.workflows.iter().flat_map(|w| &w.triggers).any(|t| {
            matches!(
                t.value,
                crate::spec::Trigger::Push { .. } | crate::spec::Trigger::Dispatch
            )
        });
    let mut targets = Vec::new();
    for planned in &plan.targets {
        let Some(dockerfile) = dockerfiles
            .by_target
            .get(&(planned.image_index, planned.variant_index))
        else {
            continue;
        };
        let image = &spec.images[planned.image_index];
        let tag_exprs = exprs.refs(planned, &planned.release_tags);
        if by_event {
            exprs.var("SPECC_EVENT");
        }
        let branch_tag_exprs = exprs.refs(planned, &planned.branch_tags);
        let (cache_from, cache_to) = caches(&mut exprs, planned);
        targets.push(Target {
            name: planned.name.clone(),
            context: planned.context.clone(),
            dockerfile: relative_path(&planned.context, dockerfile),
            stage: planned.stage.clone(),
            platforms: planned.platforms.clone(),
            args: args(&mut exprs, planned),
            labels: labels(&mut exprs, spec, image),
            tags_conditional: planned.release_tags.iter().any(|t| t.condition().is_some()),
            tag_exprs,
            by_event,
            branch_tag_exprs,
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
/// empty namespace variable falls back, as in `plan`).
fn variables(spec: &Spec, used: &BTreeSet<String>) -> Vec<Variable> {
    let order = [
        runtime::VERSION_VARIABLE,
        runtime::REVISION_VARIABLE,
        "GIT_SHA",
        "GIT_BRANCH",
        "SPECC_EVENT",
    ];
    let default = |name: &str| match name {
        runtime::VERSION_VARIABLE => spec.project.version.value.to_string(),
        runtime::SHA_VARIABLE => runtime::SHA_DEFAULT.into(),
        "GIT_BRANCH" => "main".into(),
        "SPECC_EVENT" => "release".into(),
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
