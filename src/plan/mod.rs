//! THE resolved model: a checked spec in, every fact the outputs need out. Per target
//! (image x variant): its stages, platforms, build arguments, secrets, tag templates per
//! event, the repositories it goes to (namespace as a typed rule) and the tags and
//! references they give for one build; per compose service and chart value, the target
//! and reference it uses. Every renderer reads these facts here and derives none.
//!
//! Pure: no I/O (input hashes, which read build contexts, are computed on demand by
//! [`inputs`]); the same spec and options always give the same plan.

pub mod contexts;
pub(crate) mod inputs;

mod build_order;
mod consumers;
mod index;
pub mod runtime;
pub mod tags;
mod target;

use serde::Serialize;

pub use crate::value::reference::{Namespace, Repository};
pub use build_order::build_order;
pub use consumers::{ChartImage, ServiceImage};
pub use runtime::RunEnv;
pub use target::{CachePlan, CiArg, GpuPlan, RegistryTags, SecretPlan, Target, TargetHash};

use crate::check::Checked;
use crate::check::targets::image_variants;
use crate::spec::TagWhen;
use crate::value::tag::{TagValues, tag_version};

/// What CI event, version and environment the plan is for; default: a release of the
/// project's version with no run-time variable set.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Overrides the version (and `VERSION` in `env`).
    pub version: Option<String>,
    /// Plans a push to this branch instead of a release.
    pub branch: Option<String>,
    /// The commit, for `{{sha}}` (shortened to 7 characters); default: `GIT_SHA` in
    /// `env` (see [`runtime::sha`]).
    pub sha: Option<String>,
    /// The run-time variables (see [`runtime`]).
    pub env: RunEnv,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Plan {
    pub project: String,
    /// The version tags use (one leading `v` dropped).
    pub version: String,
    /// `release` or `branch`.
    pub event: String,
    pub targets: Vec<Target>,
    /// Per compose service, the image it runs, its profiles and GPUs.
    pub services: Vec<ServiceImage>,
    /// Per chart image value, the reference it holds.
    pub charts: Vec<ChartImage>,
    /// Targets and services by name (see [`Plan::target`]).
    #[serde(skip)]
    index: index::Index,
}

impl Plan {
    /// Gives each target its entry of `hashes` (target name -> input hash).
    pub fn set_input_hashes(&mut self, hashes: &std::collections::BTreeMap<String, String>) {
        for t in &mut self.targets {
            t.hash = hashes.get(&t.name).cloned().map(TargetHash::new);
        }
    }
}

/// Builds the plan of a checked spec.
pub fn plan(checked: &Checked, options: &PlanOptions) -> Plan {
    let spec = &checked.spec;
    let version = options
        .version
        .clone()
        .unwrap_or_else(|| runtime::version(&options.env, spec.project.version.value.as_str()));
    let event = if options.branch.is_some() {
        TagWhen::Branch
    } else {
        TagWhen::Release
    };
    let sha = options
        .sha
        .clone()
        .unwrap_or_else(|| runtime::sha(&options.env));
    let values = TagValues::new(&version, Some(&sha), options.branch.as_deref());
    let build = target::Build {
        checked,
        env: &options.env,
        version: tag_version(&version),
        values: &values,
        event,
    };
    let mut targets = Vec::new();
    for (ii, image) in spec.images.iter().enumerate() {
        for v in image_variants(spec, image) {
            targets.extend(build.target(ii, v));
        }
    }
    let spec_values = TagValues::new(spec.project.version.value.as_str(), None, None);
    let index = index::Index::of(&targets);
    let services = consumers::services(checked, &targets, &index, &options.env);
    let charts = consumers::charts(checked, &targets, &index, &spec_values);
    Plan {
        project: spec.project.name.value.clone(),
        version: values.version.clone(),
        event: match event {
            TagWhen::Branch => "branch",
            _ => "release",
        }
        .into(),
        index: index.with_services(&services),
        services,
        charts,
        targets,
    }
}
