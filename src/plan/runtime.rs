//! Values an output may leave to run time, and the one rule that fixes them.
//!
//! Committed outputs cannot know the release version or a namespace that only CI knows,
//! so the bake file and the workflow read them from the environment. `plan` reads the
//! same variables with the same rule, so what `specc plan` prints is what bake and CI
//! push:
//! - `VERSION`: when set and non-empty, the version, with one leading `v` dropped;
//!   otherwise the spec's `project version=`.
//! - a registry's namespace: literal (`namespace=`), or from CI: the `namespace-secret`
//!   variable when non-empty, else `GITHUB_REPOSITORY_OWNER` when non-empty, else the
//!   project name; lower-cased, as image references must be.
//! - `REVISION`: the commit an image is built from (a build argument and label), empty
//!   by default.
//! - `GIT_SHA`: the commit, which `{{sha_long}}` is and `{{sha}}` shortens to 7
//!   characters; `0000000` when unset or empty.
//! - `GIT_BRANCH`: the branch of a branch push or scheduled run, as named (`branch=`
//!   filters match it; `{{branch}}` replaces the characters a tag cannot hold); `main`
//!   when unset or empty.
//! - `SPECC_EVENT`: the kind of run (`release`, `branch`, `schedule`); bake picks the
//!   tags of that event.
//! - `SPECC_DATE`: the time of the run in UTC, `YYYY-MM-DDTHH:MM:SSZ`, for `{{date}}`;
//!   when unset or empty, now (`specc plan` reads the clock, bake calls `timestamp()`).
//! - `from-ci` build arguments: the GitHub Actions variable (`GITHUB_SHA`, ...) when set
//!   and not empty, else the spec's value.
//! - `GITHUB_ACTIONS`: `true` in CI; a build secret read from a file locally is read
//!   from its environment variable there (the workflow sets it from the GitHub secret).

use std::collections::BTreeMap;

use crate::value::date::UtcTime;
use crate::value::interpolation;

pub use crate::value::reference::OWNER_VARIABLE;
/// The variable that overrides the spec's version.
pub const VERSION_VARIABLE: &str = "VERSION";
/// The variable that names the commit being built.
pub const REVISION_VARIABLE: &str = "REVISION";
/// The commit `{{sha}}` shortens (the workflow sets it).
pub const SHA_VARIABLE: &str = "GIT_SHA";
/// The branch of a branch push or scheduled run (the workflow sets it).
pub const BRANCH_VARIABLE: &str = "GIT_BRANCH";
/// What the branch is when `GIT_BRANCH` is unset or empty.
pub const BRANCH_DEFAULT: &str = "main";
/// The kind of run bake gives tags for (the workflow sets it).
pub const EVENT_VARIABLE: &str = "SPECC_EVENT";
/// The time of the run, `YYYY-MM-DDTHH:MM:SSZ`, for `{{date}}` (the workflow sets it).
pub const DATE_VARIABLE: &str = "SPECC_DATE";
/// `true` when bake runs in GitHub Actions (which sets it in every step).
pub const CI_VARIABLE: &str = "GITHUB_ACTIONS";
/// What `{{sha}}` is when `GIT_SHA` is unset or empty: a local build still gets a tag.
pub const SHA_DEFAULT: &str = "0000000";

/// The run-time variables a plan is resolved under (unset ones are absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunEnv {
    vars: BTreeMap<String, String>,
}

impl RunEnv {
    /// Reads the variables named in `names` from the process environment.
    pub fn from_process<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let vars = names
            .into_iter()
            .filter_map(|n| Some((n.to_string(), std::env::var(n).ok()?)))
            .collect();
        RunEnv { vars }
    }

    /// The value of `name` when it is set (possibly empty).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// The value of `name` when it is set and not empty.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// The version a build uses: `VERSION` when set and non-empty, else the spec's.
pub fn version(env: &RunEnv, spec_version: &str) -> String {
    env.non_empty(VERSION_VARIABLE)
        .unwrap_or(spec_version)
        .to_string()
}

/// The commit `{{sha}}` shortens: `GIT_SHA` when set and non-empty, else a zero commit.
pub fn sha(env: &RunEnv) -> String {
    env.non_empty(SHA_VARIABLE)
        .unwrap_or(SHA_DEFAULT)
        .to_string()
}

/// The branch of a branch push or scheduled run: `GIT_BRANCH` when set and non-empty,
/// else `main`.
pub fn branch(env: &RunEnv) -> String {
    env.non_empty(BRANCH_VARIABLE)
        .unwrap_or(BRANCH_DEFAULT)
        .to_string()
}

/// The time of the run: `SPECC_DATE` when set and non-empty (`None` when unset or
/// empty); `Err` when it is not `YYYY-MM-DDTHH:MM:SSZ`, the one form bake can cut
/// fields out of.
pub fn date(env: &RunEnv) -> Result<Option<UtcTime>, String> {
    let Some(text) = env.non_empty(DATE_VARIABLE) else {
        return Ok(None);
    };
    match UtcTime::parse(text) {
        Ok(t) if t.iso() == text => Ok(Some(t)),
        Ok(_) => Err("expected the form `YYYY-MM-DDTHH:MM:SSZ`".into()),
        Err(reason) => Err(reason),
    }
}

/// Every run-time variable a spec's outputs read: `VERSION`, `REVISION`, the owner, each
/// registry's `namespace-secret` variable, the GitHub variables of `from-ci` arguments
/// (a build argument is that variable when it is set and not empty, else the spec's value),
/// and the variables of interpolated service images (compose resolves them; the plan
/// shows what it runs).
pub fn names(spec: &crate::spec::Spec) -> Vec<String> {
    let mut names: Vec<String> = [
        VERSION_VARIABLE,
        REVISION_VARIABLE,
        SHA_VARIABLE,
        BRANCH_VARIABLE,
        DATE_VARIABLE,
        OWNER_VARIABLE,
    ]
    .map(String::from)
    .to_vec();
    for r in &spec.registries {
        if let Some(s) = &r.namespace_secret
            && !names.iter().any(|n| n == s.value.as_str())
        {
            names.push(s.value.to_string());
        }
    }
    let ci = spec
        .args
        .iter()
        .chain(spec.variants.iter().flat_map(|v| &v.args));
    for var in ci.filter_map(|a| a.from_ci.as_ref()) {
        if !names.contains(&var.value) {
            names.push(var.value.clone());
        }
    }
    for s in spec.services.iter().filter(|s| s.image_expand) {
        let pieces = interpolation::parse(s.image.value.as_str()).unwrap_or_default();
        for v in interpolation::variables(&pieces) {
            if !names.contains(&v) {
                names.push(v);
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `check` refuses a build secret passed in a variable these rules read.
    #[test]
    fn check_knows_every_runtime_variable() {
        let known = crate::value::reference::RUNTIME_VARIABLES;
        for v in [
            VERSION_VARIABLE,
            REVISION_VARIABLE,
            SHA_VARIABLE,
            CI_VARIABLE,
            OWNER_VARIABLE,
            BRANCH_VARIABLE,
            EVENT_VARIABLE,
            DATE_VARIABLE,
        ] {
            assert!(known.contains(&v), "{v} is not in RUNTIME_VARIABLES");
        }
    }
}
