//! Where an image is pushed: a registry host, a namespace and a repository path. The
//! namespace is a rule, not a string: literal in the spec, or known only in CI. `check`
//! builds these once per image (to refuse two images pushing one reference), and `plan`
//! resolves them under a run-time environment (`plan::runtime`).

use serde::Serialize;

/// The variable GitHub Actions sets to the repository owner.
pub const OWNER_VARIABLE: &str = "GITHUB_REPOSITORY_OWNER";

/// Every variable the bake file and the workflow read for the build itself (the rules of
/// `plan::runtime`, which a test there keeps in step): no build secret is passed in one.
pub const RUNTIME_VARIABLES: &[&str] = &[
    "VERSION",
    "REVISION",
    "GIT_SHA",
    "GIT_BRANCH",
    "SPECC_EVENT",
    "SPECC_DATE",
    "GITHUB_ACTIONS",
    OWNER_VARIABLE,
];

/// Where a registry's namespace comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Namespace {
    /// Written in the spec.
    Literal { value: String },
    /// Known in CI: `variable` (when the registry names one), then the repository owner,
    /// then `fallback` (the project name); lower-cased.
    FromCi {
        variable: Option<String>,
        fallback: String,
    },
}

impl Namespace {
    /// The namespace, given the non-empty value of each variable it reads.
    pub fn resolve<'a>(&'a self, non_empty: impl Fn(&str) -> Option<&'a str>) -> String {
        match self {
            Namespace::Literal { value } => value.clone(),
            Namespace::FromCi { fallback, .. } => self
                .variables()
                .into_iter()
                .find_map(non_empty)
                .unwrap_or(fallback)
                .to_lowercase(),
        }
    }

    /// The variables the namespace reads, in the order it tries them.
    pub fn variables(&self) -> Vec<&str> {
        match self {
            Namespace::Literal { .. } => Vec::new(),
            Namespace::FromCi { variable, .. } => variable
                .iter()
                .map(String::as_str)
                .chain([OWNER_VARIABLE])
                .collect(),
        }
    }
}

/// A repository an image is pushed to: `host/namespace/path`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Repository {
    /// The spec's name of the registry.
    pub registry: String,
    pub host: String,
    pub namespace: Namespace,
    pub path: String,
}

impl Repository {
    /// `namespace/path`, the repository's name inside its registry, when the namespace
    /// is written in the spec (ECR repositories are created by that name).
    pub fn name_in_registry(&self) -> Option<String> {
        match &self.namespace {
            Namespace::Literal { value } => Some(format!("{value}/{}", self.path)),
            Namespace::FromCi { .. } => None,
        }
    }

    /// `host/namespace/path`, the namespace given by `non_empty` (see [`Namespace::resolve`]).
    pub fn resolve<'a>(&'a self, non_empty: impl Fn(&str) -> Option<&'a str>) -> String {
        format!(
            "{}/{}/{}",
            self.host,
            self.namespace.resolve(non_empty),
            self.path
        )
    }
}
