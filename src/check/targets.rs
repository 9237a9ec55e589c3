//! Which targets a spec builds and what they are called: an image in each of its
//! variants. These facts are resolved here, once, so that `check` can refuse clashes and
//! `plan` can build on the same answers (check never calls plan).

use crate::spec::{Image, Registry, Spec, Workflow, WorkflowLayout};
use crate::value::reference::{Namespace, Repository};

/// Variant indices an image is built in, in spec order.
pub fn image_variants(spec: &Spec, image: &Image) -> Vec<usize> {
    match &image.variants {
        Some(list) => list
            .iter()
            .filter_map(|n| spec.variant_index(&n.value))
            .collect(),
        None => (0..spec.variants.len()).collect(),
    }
}

/// The variant's platforms; `linux/amd64` when it names none.
pub fn variant_platforms(spec: &Spec, v: usize) -> Vec<String> {
    let variant = &spec.variants[v];
    if variant.platforms.is_empty() {
        vec!["linux/amd64".to_string()]
    } else {
        variant
            .platforms
            .iter()
            .map(|p| p.value.to_string())
            .collect()
    }
}

/// The images a workflow builds: its `images`, else every image of the spec.
pub fn workflow_images(spec: &Spec, w: &Workflow) -> Vec<usize> {
    match &w.images {
        Some(list) => list
            .iter()
            .filter_map(|n| spec.image_index(&n.value))
            .collect(),
        None => (0..spec.images.len()).collect(),
    }
}

/// The (image, variant) targets a workflow builds, in spec order.
pub fn workflow_targets(spec: &Spec, w: &Workflow) -> Vec<(usize, usize)> {
    workflow_images(spec, w)
        .into_iter()
        .flat_map(|ii| {
            image_variants(spec, &spec.images[ii])
                .into_iter()
                .map(move |v| (ii, v))
        })
        .collect()
}

/// The workflow's layout (see [`Workflow::layout`]), from the platforms of its targets.
pub fn workflow_layout(spec: &Spec, w: &Workflow) -> WorkflowLayout {
    let counts = workflow_targets(spec, w)
        .into_iter()
        .map(|(_, v)| variant_platforms(spec, v).len());
    w.layout(counts)
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

/// How variant `v` of `image` decorates a tag: a prefix, a suffix, and whether the
/// undecorated tag is pushed too (for the image's bare variant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagAffixes {
    pub prefix: String,
    pub suffix: String,
    pub also_bare: bool,
}

impl TagAffixes {
    pub fn of(spec: &Spec, image: &Image, v: usize) -> Self {
        let built = image_variants(spec, image);
        let variant = &spec.variants[v];
        let prefix = match &variant.tag_prefix {
            Some(p) => p.value.clone(),
            None if built.len() > 1 => format!("{}-", variant.name.value),
            None => String::new(),
        };
        let suffix = variant
            .tag_suffix
            .as_ref()
            .map_or(String::new(), |s| s.value.clone());
        let decorated = !prefix.is_empty() || !suffix.is_empty();
        TagAffixes {
            also_bare: decorated && bare_variant(spec, &built) == Some(v),
            prefix,
            suffix,
        }
    }

    /// The tags one rendered rule `base` gives: decorated, then bare where it applies.
    pub fn apply(&self, base: &str) -> Vec<String> {
        let mut tags = vec![format!("{}{base}{}", self.prefix, self.suffix)];
        if self.also_bare {
            tags.push(base.to_string());
        }
        tags
    }
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

/// The repository path of an image: `repository=`, else its name.
pub fn image_path(image: &Image) -> String {
    image
        .repository
        .as_ref()
        .unwrap_or(&image.name)
        .value
        .clone()
}

/// Where `image` goes in `registry`: the namespace as the spec gives it.
pub fn repository(spec: &Spec, registry: &Registry, image: &Image) -> Repository {
    let namespace = match (&registry.namespace, &registry.namespace_secret) {
        (Some(ns), _) => Namespace::Literal {
            value: ns.value.clone(),
        },
        (None, secret) => Namespace::FromCi {
            variable: secret.as_ref().map(|s| s.value.to_string()),
            fallback: spec.project.name.value.to_lowercase(),
        },
    };
    Repository {
        registry: registry.name.value.clone(),
        host: registry.host.value.clone(),
        namespace,
        path: image_path(image),
    }
}

/// The repositories `image` is pushed to, in the order of its `registries=`.
pub fn repositories(spec: &Spec, image: &Image) -> Vec<Repository> {
    image
        .registries
        .iter()
        .filter_map(|r| spec.registry_index(&r.value).map(|x| &spec.registries[x]))
        .map(|r| repository(spec, r, image))
        .collect()
}
