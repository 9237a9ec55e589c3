//! Checked spec in, build plan out: every target (image x variant), its platforms,
//! build arguments, stage order and full tag list per registry. Pure: no I/O, and the
//! same spec and options always give the same plan.

pub mod contexts;
pub(crate) mod inputs;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::check::{Checked, reachable_stages};
use crate::spec::{GpuCount, Image, Spec, TagWhen};
use crate::value::{self, Piece, Placeholder};

/// What CI event the plan is for; default: a release of the project's version.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Overrides the project's version.
    pub version: Option<String>,
    /// Plans a push to this branch instead of a release.
    pub branch: Option<String>,
    /// The commit, for `{{sha}}` (shortened to 7 characters).
    pub sha: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Plan {
    pub project: String,
    pub version: String,
    /// `release` or `branch`.
    pub event: String,
    pub targets: Vec<Target>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Target {
    /// Bake target name: the image, plus `-<variant>` when the image has several variants.
    pub name: String,
    pub image: String,
    pub variant: String,
    /// The final stage (`--target`).
    pub stage: String,
    /// Stages this target builds, dependencies first.
    pub stages: Vec<String>,
    pub context: String,
    pub platforms: Vec<String>,
    pub args: BTreeMap<String, String>,
    pub gpu: Option<GpuPlan>,
    /// Tags without registry, in rule order.
    pub tags: Vec<String>,
    pub registries: Vec<RegistryTags>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GpuPlan {
    /// A number, or `all`.
    pub count: String,
    pub driver: String,
    pub capabilities: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RegistryTags {
    pub registry: String,
    /// `host/namespace/repository`; a namespace known only in CI shows as `<NAME>`.
    pub repository: String,
    /// Full references, `repository:tag`.
    pub refs: Vec<String>,
}

/// Values the placeholders of a tag template take.
#[derive(Debug, Clone)]
pub struct TagValues {
    pub version: String,
    pub major: String,
    pub minor: String,
    pub patch: String,
    pub sha: String,
    pub branch: String,
}

impl TagValues {
    fn new(version: &str, sha: Option<&str>, branch: Option<&str>) -> Self {
        let parsed = value::parse_version(version);
        let part = |f: fn(&value::Version) -> &String| {
            parsed
                .as_ref()
                .map_or_else(|| version.to_string(), |v| f(v).clone())
        };
        TagValues {
            version: parsed
                .as_ref()
                .map_or_else(|| version.to_string(), |v| v.full.clone()),
            major: part(|v| &v.major),
            minor: part(|v| &v.minor),
            patch: part(|v| &v.patch),
            sha: sha.map_or_else(|| "<sha>".into(), |s| s.chars().take(7).collect()),
            branch: branch.map_or_else(|| "<branch>".into(), sanitize_branch),
        }
    }

    /// Stand-in values for checking that a rule can produce valid tags.
    pub fn sample(version: &str) -> Self {
        TagValues::new(version, Some("0a1b2c3"), Some("main"))
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

pub fn render_tag(pieces: &[Piece], v: &TagValues) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Literal(s) => s.as_str(),
            Piece::Placeholder(Placeholder::Version) => &v.version,
            Piece::Placeholder(Placeholder::Major) => &v.major,
            Piece::Placeholder(Placeholder::Minor) => &v.minor,
            Piece::Placeholder(Placeholder::Patch) => &v.patch,
            Piece::Placeholder(Placeholder::Sha) => &v.sha,
            Piece::Placeholder(Placeholder::Branch) => &v.branch,
        })
        .collect()
}

/// Variant indices an image is built in, in spec order.
pub fn image_variants(spec: &Spec, image: &Image) -> Vec<usize> {
    match &image.variants {
        Some(list) => list
            .iter()
            .filter_map(|n| spec.variants.iter().position(|v| v.name.value == n.value))
            .collect(),
        None => (0..spec.variants.len()).collect(),
    }
}

/// The variant that gets an image's bare tags: the spec's default variant when the image
/// is built in it, or the image's only variant.
pub fn bare_variant(spec: &Spec, built: &[usize]) -> Option<usize> {
    let default = spec
        .variants
        .iter()
        .position(|v| v.default.as_ref().is_some_and(|d| d.value));
    match default {
        Some(d) if built.contains(&d) => Some(d),
        _ if built.len() == 1 => Some(built[0]),
        _ => None,
    }
}

/// The variant a reference to an image means when it names none.
pub fn default_variant(spec: &Spec, built: &[usize]) -> Option<usize> {
    bare_variant(spec, built).or(built.first().copied())
}

/// The tags variant `v` of `image` gets for the rendered rule `base`.
pub fn variant_tags(spec: &Spec, image: &Image, v: usize, base: &str) -> Vec<String> {
    let built = image_variants(spec, image);
    let variant = &spec.variants[v];
    let prefix = match &variant.tag_prefix {
        Some(p) => p.value.clone(),
        None if built.len() > 1 => format!("{}-", variant.name.value),
        None => String::new(),
    };
    let suffix = variant.tag_suffix.as_ref().map_or("", |s| s.value.as_str());
    let mut tags = vec![format!("{prefix}{base}{suffix}")];
    if (!prefix.is_empty() || !suffix.is_empty()) && bare_variant(spec, &built) == Some(v) {
        tags.push(base.to_string());
    }
    tags
}

/// The bake target name of image `image` in variant `v`.
pub fn target_name(spec: &Spec, image: &Image, v: usize) -> String {
    let name = if image_variants(spec, image).len() > 1 {
        format!("{}-{}", image.name.value, spec.variants[v].name.value)
    } else {
        image.name.value.clone()
    };
    name.replace('.', "_")
}

/// Builds the plan of a checked spec.
pub fn plan(checked: &Checked, options: &PlanOptions) -> Plan {
    let spec = &checked.spec;
    let version = options
        .version
        .clone()
        .unwrap_or_else(|| spec.project.version.value.clone());
    let event = if options.branch.is_some() {
        TagWhen::Branch
    } else {
        TagWhen::Release
    };
    let values = TagValues::new(&version, options.sha.as_deref(), options.branch.as_deref());
    // The version the tags use: a git tag `v1.2.3` means version 1.2.3 (as in the workflow).
    let version = values.version.clone();
    let mut targets = Vec::new();
    for image in &spec.images {
        let Some(stage) = spec
            .stages
            .iter()
            .position(|s| s.name.value == image.stage.value)
        else {
            continue;
        };
        let stages = build_order(checked, stage);
        for v in image_variants(spec, image) {
            let variant = &spec.variants[v];
            let mut tags: Vec<String> = Vec::new();
            for rule in image
                .tags
                .iter()
                .filter(|r| r.when.value == event || r.when.value == TagWhen::Always)
            {
                let Ok(pieces) = value::parse_tag_template(&rule.template.value) else {
                    continue;
                };
                for tag in variant_tags(spec, image, v, &render_tag(&pieces, &values)) {
                    if !tags.contains(&tag) {
                        tags.push(tag);
                    }
                }
            }
            let mut args: BTreeMap<String, String> = spec
                .args
                .iter()
                .filter_map(|a| Some((a.name.value.clone(), a.value.as_ref()?.value.clone())))
                .collect();
            for a in &variant.args {
                if let Some(val) = &a.value {
                    args.insert(a.name.value.clone(), val.value.clone());
                }
            }
            args.insert("VERSION".into(), version.clone());
            let platforms = if variant.platforms.is_empty() {
                vec!["linux/amd64".to_string()]
            } else {
                variant.platforms.iter().map(|p| p.value.clone()).collect()
            };
            let registries = image
                .registries
                .iter()
                .filter_map(|r| spec.registries.iter().find(|x| x.name.value == r.value))
                .map(|r| {
                    let namespace = match (&r.namespace, &r.namespace_secret) {
                        (Some(ns), _) => ns.value.clone(),
                        (None, Some(secret)) => format!("<{}>", secret.value),
                        (None, None) => "<github-owner>".into(),
                    };
                    let repo = image
                        .repository
                        .as_ref()
                        .unwrap_or(&image.name)
                        .value
                        .clone();
                    let repository = format!("{}/{namespace}/{repo}", r.host.value);
                    RegistryTags {
                        registry: r.name.value.clone(),
                        refs: tags.iter().map(|t| format!("{repository}:{t}")).collect(),
                        repository,
                    }
                })
                .collect();
            targets.push(Target {
                name: target_name(spec, image, v),
                image: image.name.value.clone(),
                variant: variant.name.value.clone(),
                stage: image.stage.value.clone(),
                stages: stages
                    .iter()
                    .map(|s| spec.stages[*s].name.value.clone())
                    .collect(),
                context: image.context.value.clone(),
                platforms,
                args,
                gpu: variant.gpu.as_ref().map(|g| GpuPlan {
                    count: match g.count {
                        GpuCount::All => "all".into(),
                        GpuCount::Count(n) => n.to_string(),
                    },
                    driver: g.driver.value.clone(),
                    capabilities: g.capabilities.iter().map(|c| c.value.clone()).collect(),
                }),
                tags,
                registries,
            });
        }
    }
    Plan {
        project: spec.project.name.value.clone(),
        version,
        event: match event {
            TagWhen::Branch => "branch",
            _ => "release",
        }
        .into(),
        targets,
    }
}

/// Stages needed to build `target`, each after the stages it depends on; among stages
/// that are ready at the same time, spec order decides (Kahn's algorithm).
pub fn build_order(checked: &Checked, target: usize) -> Vec<usize> {
    let needed: BTreeSet<usize> = reachable_stages(&checked.graph, target)
        .into_iter()
        .collect();
    // Kahn with a min-heap of ready stages: linear in stages + edges (times log), so a
    // spec with thousands of stages plans as fast as it parses.
    let mut waiting_on: BTreeMap<usize, usize> = BTreeMap::new();
    let mut dependents: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &s in &needed {
        let deps: BTreeSet<usize> = checked
            .graph
            .stage_dependencies(s)
            .into_iter()
            .filter(|d| needed.contains(d))
            .collect();
        waiting_on.insert(s, deps.len());
        for d in deps {
            dependents.entry(d).or_default().push(s);
        }
    }
    let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<usize>> = waiting_on
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(s, _)| std::cmp::Reverse(*s))
        .collect();
    let mut done = Vec::with_capacity(needed.len());
    // A cycle (which `check` has already refused) simply leaves its stages out.
    while let Some(std::cmp::Reverse(s)) = ready.pop() {
        done.push(s);
        for &next in dependents.get(&s).map(Vec::as_slice).unwrap_or_default() {
            let n = waiting_on
                .get_mut(&next)
                .expect("every dependent is needed");
            *n -= 1;
            if *n == 0 {
                ready.push(std::cmp::Reverse(next));
            }
        }
    }
    done
}

/// The first of `rules` that uses `{{major}}`, `{{minor}}` or `{{patch}}`: a version
/// without MAJOR.MINOR.PATCH parts cannot fill it, so `plan --set-version` and the
/// generated workflow's version step refuse such a version.
pub fn rule_needing_version_parts<'a>(
    rules: impl IntoIterator<Item = &'a crate::spec::TagRule>,
) -> Option<String> {
    rules
        .into_iter()
        .find(|rule| {
            value::parse_tag_template(&rule.template.value).is_ok_and(|pieces| {
                pieces.iter().any(|p| {
                    matches!(
                        p,
                        Piece::Placeholder(
                            Placeholder::Major | Placeholder::Minor | Placeholder::Patch
                        )
                    )
                })
            })
        })
        .map(|rule| rule.template.value.clone())
}
