//! One target (an image in one variant) resolved: what it builds, with which arguments
//! and platforms, and where its tags go.

use std::collections::BTreeMap;

use serde::Serialize;

use super::runtime::{self, RunEnv};
use super::tags::{self, EventTemplates, TagTemplate};
use crate::check::Checked;
use crate::check::targets::{
    TagAffixes, image_path, repositories, repository, target_name, variant_platforms,
};
use crate::spec::{CacheKind, Event, GpuCount, Image, InstructionKind, Mount, SecretSource, Spec};
use crate::value::reference::Repository;
use crate::value::tag::TagValues;

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
    /// Build arguments, `VERSION` and `REVISION` included.
    pub args: BTreeMap<String, String>,
    /// Build arguments whose value in CI is a GitHub Actions variable (`from-ci`), by
    /// name. Their `args` value is that variable's, or the spec's when it is unset or empty.
    #[serde(skip)]
    pub ci_args: BTreeMap<String, CiArg>,
    /// The build secrets its `RUN --mount=type=secret` steps use, in mount order.
    pub secrets: Vec<SecretPlan>,
    pub gpu: Option<GpuPlan>,
    /// Tags without registry, in rule order, for this plan's event.
    pub tags: Vec<String>,
    pub registries: Vec<RegistryTags>,
    /// Local names (`repository:tag`) of an image that goes to no registry: it is built
    /// and loaded, never pushed.
    pub local_refs: Vec<String>,
    pub caches: Vec<CachePlan>,
    /// Its input hash and hash tag, only when asked for (`plan --hashes`): they read the
    /// build contexts, which the plan itself never does.
    #[serde(flatten)]
    pub hash: Option<TargetHash>,
    #[serde(skip)]
    pub image_index: usize,
    #[serde(skip)]
    pub variant_index: usize,
    /// Tag templates of each event.
    #[serde(skip)]
    pub event_tags: EventTemplates,
    /// Where the image goes, with namespaces still as rules.
    #[serde(skip)]
    pub repositories: Vec<Repository>,
    /// The repository path (`namespace/` excluded), for local names.
    #[serde(skip)]
    pub path: String,
}

impl Target {
    /// The name a CI job loads the image under for its checks (smoke tests, scans)
    /// before anything is pushed; never pushed itself.
    pub fn ci_check_ref(&self) -> String {
        format!("specc-local/{}:ci", self.name)
    }

    /// The tag an image built from inputs with this hash is pushed under, so that CI can
    /// find it in the registry and skip the build: `specc-` and the hash's first 32 hex
    /// digits (128 bits). The one place this format is written.
    pub fn hash_tag(input_hash: &str) -> String {
        let prefix: String = input_hash.chars().take(32).collect();
        format!("specc-{prefix}")
    }

    /// The tag templates of `event`.
    pub fn templates(&self, event: Event) -> &[TagTemplate] {
        self.event_tags.on(event)
    }
}

/// A target's input hash (see [`crate::plan::inputs`]) and the tag it gives.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TargetHash {
    /// blake3, 64 hex digits.
    pub input_hash: String,
    /// [`Target::hash_tag`] of it.
    pub hash_tag: String,
}

impl TargetHash {
    pub fn new(input_hash: String) -> Self {
        TargetHash {
            hash_tag: Target::hash_tag(&input_hash),
            input_hash,
        }
    }
}

/// A build argument that CI sets from a GitHub Actions variable (`arg NAME from-ci=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiArg {
    /// The variable (`GITHUB_SHA`).
    pub variable: String,
    /// The value outside CI: the spec's.
    pub default: String,
}

/// A build secret and where each build reads it (`secret` at the top level of the spec).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SecretPlan {
    pub id: String,
    /// The environment variable a build reads the value from: locally (unless `file` is
    /// set) and in CI, where the workflow sets it from the GitHub secret `github`.
    pub env: String,
    /// A file a local build reads instead, relative to the spec's folder.
    pub file: Option<String>,
    /// The GitHub Actions secret that holds the value in CI.
    pub github: String,
}

/// A build cache a target reads and writes.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum CachePlan {
    /// GitHub Actions' cache, in a scope of its own.
    Gha { scope: String },
    /// An image in a registry: `repository:tag` (`mode=max`).
    Registry {
        #[serde(skip)]
        repository: Repository,
        tag: String,
    },
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GpuPlan {
    /// A number, or `all`; with device ids, how many they are.
    pub count: String,
    /// The devices reserved instead of a count.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub device_ids: Vec<String>,
    pub driver: String,
    pub capabilities: Vec<String>,
}

impl GpuPlan {
    pub fn of(g: &crate::spec::Gpu) -> Self {
        GpuPlan {
            count: match &g.count {
                _ if !g.device_ids.is_empty() => g.device_ids.len().to_string(),
                GpuCount::All => "all".into(),
                GpuCount::Count(n) => n.to_string(),
                GpuCount::Interpolated(t) => t.value.clone(),
            },
            device_ids: g.device_ids.iter().map(|d| d.value.clone()).collect(),
            driver: g.driver.value.clone(),
            capabilities: g.capabilities.iter().map(|c| c.value.clone()).collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RegistryTags {
    pub registry: String,
    /// `host/namespace/repository`, the namespace resolved under the plan's environment.
    pub repository: String,
    /// Full references, `repository:tag` (the tags whose `registry=` lets them go here).
    pub refs: Vec<String>,
}

/// What every target of one plan shares.
pub(super) struct Build<'a> {
    pub checked: &'a Checked,
    pub env: &'a RunEnv,
    /// The version tags and arguments use.
    pub version: &'a str,
    pub values: &'a TagValues,
    pub event: Event,
}

impl Build<'_> {
    /// Image `ii` in variant `v`; `None` when its stage does not exist (refused by check).
    pub fn target(&self, ii: usize, v: usize) -> Option<Target> {
        let spec = &self.checked.spec;
        let image = &spec.images[ii];
        let stage = spec.stage_index(&image.stage.value)?;
        let stages = super::build_order(self.checked, stage);
        let variant = &spec.variants[v];
        let affixes = TagAffixes::of(spec, image, v);
        let event_tags = EventTemplates::of(image, &affixes);
        let this_event = event_tags.on(self.event);
        let tags = tags::render_all(this_event, self.values, None);
        let repositories = repositories(spec, image);
        let registries = repositories
            .iter()
            .map(|r| {
                let repository = r.resolve(|v| self.env.non_empty(v));
                let tags = tags::render_all(this_event, self.values, Some(&r.registry));
                RegistryTags {
                    registry: r.registry.clone(),
                    refs: tags.iter().map(|t| format!("{repository}:{t}")).collect(),
                    repository,
                }
            })
            .collect();
        let path = image_path(image);
        let local_refs = if repositories.is_empty() {
            tags.iter().map(|t| format!("{path}:{t}")).collect()
        } else {
            Vec::new()
        };
        Some(Target {
            name: target_name(spec, image, v),
            image: image.name.value.clone(),
            variant: variant.name.value.clone(),
            stage: image.stage.value.clone(),
            stages: stages
                .iter()
                .map(|s| spec.stages[*s].name.value.clone())
                .collect(),
            context: image.context.value.clone(),
            platforms: variant_platforms(spec, v),
            args: self.args(v),
            ci_args: ci_args(spec, v),
            secrets: secrets(spec, &stages, &variant.name.value),
            gpu: variant.gpu.as_ref().map(GpuPlan::of),
            caches: caches(spec, image, &target_name(spec, image, v)),
            tags,
            registries,
            local_refs,
            hash: None,
            image_index: ii,
            variant_index: v,
            event_tags,
            repositories,
            path,
        })
    }

    /// Top-level arguments, overridden by the variant's, then `VERSION` and `REVISION`.
    fn args(&self, v: usize) -> BTreeMap<String, String> {
        let spec = &self.checked.spec;
        let mut args: BTreeMap<String, String> = spec
            .args
            .iter()
            .chain(&spec.variants[v].args)
            .filter_map(|a| {
                let value = a.value.as_ref()?.value.as_str();
                let value = match &a.from_ci {
                    Some(var) => self.env.non_empty(&var.value).unwrap_or(value),
                    None => value,
                };
                Some((a.name.value.clone(), value.to_string()))
            })
            .collect();
        args.insert(runtime::VERSION_VARIABLE.into(), self.version.to_string());
        args.insert(
            runtime::REVISION_VARIABLE.into(),
            self.env
                .non_empty(runtime::REVISION_VARIABLE)
                .unwrap_or_default()
                .to_string(),
        );
        args
    }
}

/// The `from-ci` build arguments of variant `v` (a variant's own replaces a top-level one
/// of the same name).
fn ci_args(spec: &Spec, v: usize) -> BTreeMap<String, CiArg> {
    let mut out = BTreeMap::new();
    for a in spec.args.iter().chain(&spec.variants[v].args) {
        match (&a.from_ci, &a.value) {
            (Some(var), Some(value)) => {
                let arg = CiArg {
                    variable: var.value.clone(),
                    default: value.value.clone(),
                };
                out.insert(a.name.value.clone(), arg)
            }
            _ => out.remove(&a.name.value),
        };
    }
    out
}

/// The secrets mounted by the `run` steps of `stages` that apply to `variant`, with the
/// sources their declarations name (`check` refuses a mount of an undeclared secret).
fn secrets(spec: &Spec, stages: &[usize], variant: &str) -> Vec<SecretPlan> {
    mounted_ids(spec, stages, variant)
        .into_iter()
        .filter_map(|id| {
            let declared = spec.secrets.iter().find(|s| s.id.value == id)?;
            let (env, file) = match &declared.local {
                SecretSource::Env(e) => (e.value.to_string(), None),
                SecretSource::File(f) => (declared.github.value.to_string(), Some(f.value.clone())),
            };
            Some(SecretPlan {
                id,
                env,
                file,
                github: declared.github.value.to_string(),
            })
        })
        .collect()
}

/// Secret ids mounted by the `run` steps of `stages` that apply to `variant`.
fn mounted_ids(spec: &Spec, stages: &[usize], variant: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for &s in stages {
        for ins in &spec.stages[s].instructions {
            let applies = ins
                .variants
                .as_ref()
                .is_none_or(|list| list.iter().any(|n| n.value == variant));
            let InstructionKind::Run(run) = &ins.kind else {
                continue;
            };
            for m in run.mounts.iter().filter(|_| applies) {
                if let Mount::Secret { id, .. } = m
                    && !ids.contains(&id.value)
                {
                    ids.push(id.value.clone());
                }
            }
        }
    }
    ids
}

/// The image's caches, scoped to target `name` so that variants do not evict each other.
fn caches(spec: &Spec, image: &Image, name: &str) -> Vec<CachePlan> {
    image
        .caches
        .iter()
        .filter_map(|c| match c.kind {
            CacheKind::Gha => Some(CachePlan::Gha {
                scope: name.to_string(),
            }),
            CacheKind::Registry => {
                let registry = c.registry.as_ref()?;
                let r = &spec.registries[spec.registry_index(&registry.value)?];
                Some(CachePlan::Registry {
                    repository: repository(spec, r, image),
                    tag: format!("buildcache-{name}"),
                })
            }
        })
        .collect()
}
