//! Two images that push to one repository (same registry host, same namespace rule, same
//! repository path) and plan one tag would overwrite each other's image in the registry:
//! refused, naming both images.

use std::collections::HashMap;

use miette::SourceSpan;

use super::Checker;
use crate::diagnostics::Error;
use crate::spec::{Image, TagEvents};
use crate::value::reference::Namespace;

/// One tag an image pushes, from the rule at `span`, on the events `when`, to the
/// registries named (empty: to all of the image's).
pub(super) struct Pushed {
    pub image: usize,
    pub tag: String,
    pub when: TagEvents,
    pub registries: Vec<String>,
    pub span: SourceSpan,
}

/// A pushed repository as a comparison key: canonical host, namespace (a literal, or
/// the CI variable it is read from) and path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Repository {
    host: String,
    namespace: String,
    path: String,
}

impl Repository {
    fn shown(&self) -> String {
        format!("{}/{}/{}", self.host, self.namespace, self.path)
    }
}

/// Docker Hub answers to several host names.
fn canonical_host(host: &str) -> String {
    let host = host.to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".into(),
        _ => host,
    }
}

impl Checker<'_> {
    /// The repositories `image` is pushed to, as `check::targets` resolves them, keyed
    /// by their canonical host, with the name of their registry.
    fn repositories(&self, image: &Image) -> Vec<(String, Repository)> {
        super::targets::repositories(self.spec, image)
            .into_iter()
            .map(|r| {
                let registry = r.registry.clone();
                (
                    registry,
                    Repository {
                        host: canonical_host(&r.host),
                        namespace: match &r.namespace {
                            Namespace::Literal { value } => value.clone(),
                            Namespace::FromCi { variable, .. } => {
                                format!("<{}>", variable.as_deref().unwrap_or("github-owner"))
                            }
                        },
                        path: r.path,
                    },
                )
            })
            .collect()
    }

    /// One error per pair of images that push one reference (the first such reference).
    pub(super) fn shared_references(&mut self) {
        let spec = self.spec;
        let pushed = std::mem::take(&mut self.pushed);
        let repositories: Vec<Vec<(String, Repository)>> =
            spec.images.iter().map(|i| self.repositories(i)).collect();
        let mut first: HashMap<(&Repository, &str), Vec<&Pushed>> = HashMap::new();
        let mut reported: Vec<(usize, usize)> = Vec::new();
        for p in &pushed {
            let to = |r: &String| p.registries.is_empty() || p.registries.contains(r);
            for (_, repo) in repositories[p.image].iter().filter(|(r, _)| to(r)) {
                let earlier = first.entry((repo, p.tag.as_str())).or_default();
                let other = earlier
                    .iter()
                    .find(|o| o.image != p.image && o.when.overlap(p.when));
                if let Some(o) = other
                    && !reported.contains(&(o.image, p.image))
                {
                    reported.push((o.image, p.image));
                    let reference = format!("{}:{}", repo.shown(), p.tag);
                    self.push(shared(spec, o, p, reference));
                }
                earlier.push(p);
            }
        }
    }
}

fn shared(spec: &crate::spec::Spec, first: &Pushed, second: &Pushed, reference: String) -> Error {
    let (a, b) = (&spec.images[first.image], &spec.images[second.image]);
    Error::SharedReference {
        reference,
        first_image: a.name.value.clone(),
        second_image: b.name.value.clone(),
        first: first.span,
        span: second.span,
        help: format!(
            "push image `{}` to a repository of its own (`repository=\"{}-{}\"`), or give its tags a distinct prefix (e.g. `tag \"{}-{{{{version}}}}\"`)",
            b.name.value,
            a.repository.as_ref().unwrap_or(&a.name).value,
            b.name.value,
            b.name.value
        ),
    }
}
