//! What the committed files that run images refer to: the image of each compose service
//! and the reference of each chart value. These files are committed, so they cannot
//! follow run-time variables: each reference is one that is the same in every build.

use serde::Serialize;

use super::index::Index;
use super::runtime::RunEnv;
use super::target::{GpuPlan, Target};
use crate::check::Checked;
use crate::check::compose::service_profiles;
use crate::check::targets::{default_variant, image_variants};
use crate::value::interpolation;
use crate::value::tag::TagValues;

/// The image a compose service runs.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ServiceImage {
    /// The service's name.
    pub name: String,
    /// The target it builds, when its image is one of the spec's.
    pub target: Option<String>,
    /// The reference compose names it by.
    pub image: String,
    /// The compose profiles it is in (none: a plain `docker compose up` starts it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    /// The GPUs it reserves: its own `gpu`, else its variant's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu: Option<GpuPlan>,
}

/// An image reference held by a chart value.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ChartImage {
    pub chart: String,
    /// Dot path of the map that takes `repository` and `tag` (`image`,
    /// `runtime.queueAgent.image`), or the runtime's `modelsRuntime` entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Dot path of a string value that takes the repository alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository_key: Option<String>,
    /// Dot path of a string value that takes the tag alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_key: Option<String>,
    /// Dot path of a string value that takes `repository:tag`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ref_key: Option<String>,
    /// Index into the chart's `runtime` list, for a runtime's image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<usize>,
    pub target: Option<String>,
    pub repository: String,
    pub tag: String,
}

/// A target's name in compose: its first reference that is the same in every build (a
/// literal namespace, a tag without placeholders), else a local name no registry
/// serves, which compose builds.
fn compose_reference(project: &str, t: &Target) -> String {
    let no_values = TagValues::new("", None, None);
    let fixed = |registry: Option<&str>| {
        t.event_tags
            .release
            .iter()
            .find(|x| x.is_fixed() && registry.is_none_or(|r| x.goes_to(r)))
    };
    let stable = t
        .repositories
        .iter()
        .filter(|r| matches!(r.namespace, super::Namespace::Literal { .. }))
        .find_map(|r| Some((r.resolve(|_| None), fixed(Some(&r.registry))?)));
    let local = || Some((t.path.clone(), fixed(None)?));
    match stable.or_else(|| t.repositories.is_empty().then(local).flatten()) {
        Some((repo, tag)) => format!("{repo}:{}", tag.render(&no_values)),
        None => format!("localhost/{}/{}:local", project.to_lowercase(), t.name),
    }
}

/// The image of every compose service, in spec order.
pub(super) fn services(
    checked: &Checked,
    targets: &[Target],
    index: &Index,
    env: &RunEnv,
) -> Vec<ServiceImage> {
    let spec = &checked.spec;
    spec.services
        .iter()
        .map(|s| {
            let target = spec
                .image_index(s.image.value.as_str())
                .filter(|_| !s.image_expand)
                .and_then(|ii| {
                    let v = variant_of(checked, ii, s.variant.as_ref().map(|t| t.as_str()))?;
                    index.build(targets, ii, v)
                });
            ServiceImage {
                name: s.name.value.clone(),
                target: target.map(|t| t.name.clone()),
                image: target.map_or_else(
                    || external(s, env),
                    |t| compose_reference(&spec.project.name.value, t),
                ),
                profiles: service_profiles(spec, s),
                gpu: s
                    .gpu
                    .as_ref()
                    .map(GpuPlan::of)
                    .or_else(|| target.and_then(|t| t.gpu.clone())),
            }
        })
        .collect()
}

/// The image an external service runs: an `(expand)` reference as compose resolves it
/// under `env` (as written when a `?` form would stop compose).
fn external(s: &crate::spec::Service, env: &RunEnv) -> String {
    let text = s.image.value.to_string();
    if !s.image_expand {
        return text;
    }
    let lookup = |name: &str| env.get(name).map(String::from);
    interpolation::parse(&text)
        .ok()
        .and_then(|p| interpolation::resolve(&p, &lookup))
        .unwrap_or(text)
}

/// The variant a reference to image `ii` means: the named one, or the image's default.
fn variant_of(checked: &Checked, ii: usize, named: Option<&str>) -> Option<usize> {
    let spec = &checked.spec;
    match named {
        Some(n) => spec.variant_index(n),
        None => default_variant(spec, &image_variants(spec, &spec.images[ii])),
    }
}

/// The reference a chart value of `target` holds: in `registry` (or the first), with the
/// first release tag known from the spec alone, at the spec's version (`check` refuses a
/// chart image without one: a tag with `{{sha}}` or `{{branch}}` is not a reference).
fn chart_reference(t: &Target, registry: Option<&str>, values: &TagValues) -> (String, String) {
    let repo = match registry {
        Some(name) => t.repositories.iter().find(|r| r.registry == name),
        None => t.repositories.first(),
    };
    let repository = repo.map_or_else(|| t.path.clone(), |r| r.resolve(|_| None));
    let tag = t
        .event_tags
        .release
        .iter()
        .find(|x| x.is_known_from_spec() && repo.is_none_or(|r| x.goes_to(&r.registry)))
        .map_or_else(|| "latest".to_string(), |x| x.render(values));
    (repository, tag)
}

fn text(t: &Option<crate::spec::Text>) -> Option<String> {
    t.as_ref().map(|t| t.value.clone())
}

/// Every image value of every chart: its `image` entries, then its runtimes' images.
pub(super) fn charts(
    checked: &Checked,
    targets: &[Target],
    index: &Index,
    values: &TagValues,
) -> Vec<ChartImage> {
    let spec = &checked.spec;
    let find = |image: &str, variant: Option<&str>| {
        let ii = spec.image_index(image)?;
        index.build(targets, ii, variant_of(checked, ii, variant)?)
    };
    let mut out = Vec::new();
    for chart in &spec.charts {
        for ci in &chart.images {
            let Some(t) = find(&ci.image.value, ci.variant.as_ref().map(|x| x.as_str())) else {
                continue;
            };
            let (repository, tag) =
                chart_reference(t, ci.registry.as_ref().map(|x| x.as_str()), values);
            out.push(ChartImage {
                chart: chart.name.value.clone(),
                key: text(&ci.key),
                repository_key: text(&ci.repository),
                tag_key: text(&ci.tag),
                ref_key: text(&ci.reference),
                runtime: None,
                target: Some(t.name.clone()),
                repository,
                tag,
            });
        }
        for (i, r) in chart.runtimes.iter().enumerate() {
            let Some(img) = &r.image else { continue };
            let Some(t) = find(img.value.as_str(), r.variant.as_ref().map(|x| x.as_str())) else {
                continue;
            };
            let (repository, tag) = chart_reference(t, None, values);
            out.push(ChartImage {
                chart: chart.name.value.clone(),
                key: Some(format!("modelsRuntime.{i}.image")),
                repository_key: None,
                tag_key: None,
                ref_key: None,
                runtime: Some(i),
                target: Some(t.name.clone()),
                repository,
                tag,
            });
        }
    }
    out
}

impl super::Plan {
    /// The GPU a chart's pods ask for: that of its first spec image (not a runtime's).
    pub fn chart_gpu(&self, chart: &str) -> Option<&super::target::GpuPlan> {
        self.charts
            .iter()
            .filter(|c| c.chart == chart && c.runtime.is_none())
            .find_map(|c| self.target(c.target.as_deref()?)?.gpu.as_ref())
    }
}
