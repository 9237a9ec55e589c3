//! THE resolved model: a checked spec in, every fact the outputs need out. Per target
//! (image x variant): its stages, platforms, build arguments, secrets, tag templates per
//! event (release, branch push, pull request, scheduled run), the repositories it goes to (namespace as a typed rule) and the tags and
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
pub use crate::spec::Event;
use crate::value::date::UtcTime;
use crate::value::tag::{TagValues, tag_version};

/// What CI event, version and environment the plan is for; default: a release of the
/// project's version with no run-time variable set.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Overrides the version (and `VERSION` in `env`).
    pub version: Option<String>,
    /// The kind of run; default: a branch push when `branch` is given, else a release.
    pub event: Option<Event>,
    /// The branch of a branch push or scheduled run, for `{{branch}}` and `branch=`
    /// filters; default: `GIT_BRANCH` in `env`, else `main` (see [`runtime::branch`]).
    pub branch: Option<String>,
    /// The pull request's number, for `{{pr}}`; default: `0`.
    pub pr: Option<u64>,
    /// The commit, for `{{sha_long}}` and (its first 7 characters) `{{sha}}`; default:
    /// `GIT_SHA` in `env` (see [`runtime::sha`]).
    pub sha: Option<String>,
    /// The time of the run, for `{{date}}`; default: 1970-01-01T00:00:00Z (plan reads
    /// no clock; `specc plan` passes the current time).
    pub date: Option<UtcTime>,
    /// The run-time variables (see [`runtime`]).
    pub env: RunEnv,
}

impl PlanOptions {
    /// The event planned for.
    pub fn event(&self) -> Event {
        self.event.unwrap_or(if self.branch.is_some() {
            Event::Branch
        } else {
            Event::Release
        })
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Plan {
    pub project: String,
    /// The version tags use (one leading `v` dropped).
    pub version: String,
    /// `release`, `branch`, `pr` or `schedule`.
    pub event: Event,
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
    /// True when a scheduled run gets other tags than a branch push for some target
    /// (a rule names `schedule` without `branch`): bake then has a list of its own for
    /// it, and the workflow tells the two apart.
    pub fn schedule_has_own_tags(&self) -> bool {
        self.targets.iter().any(|t| t.event_tags.schedule_differs())
    }

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
    let event = options.event();
    let values = values(options, &version, event);
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
        event,
        index: index.with_services(&services),
        services,
        charts,
        targets,
    }
}

/// The placeholders' values on a run of `event`: a branch only where the run has one.
fn values(options: &PlanOptions, version: &str, event: Event) -> TagValues {
    let sha = options
        .sha
        .clone()
        .unwrap_or_else(|| runtime::sha(&options.env));
    let branch = event.has_branch().then(|| {
        options
            .branch
            .clone()
            .unwrap_or_else(|| runtime::branch(&options.env))
    });
    TagValues::new(version, Some(&sha), branch.as_deref())
        .with_pr(options.pr.unwrap_or_default())
        .with_date(options.date.unwrap_or_default())
}
