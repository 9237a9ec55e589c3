//! Name -> index, per kind of named node: built once when a spec is decoded, read by
//! every later stage. A linear search per reference (`depends-on`, an image's stage, a
//! service's image) makes a spec with thousands of targets take quadratic time.

use std::collections::HashMap;

use super::{Spec, Text};

/// The index of the first node of each name, per kind (a decoded spec with errors may
/// hold a name twice; the first is the one a search in spec order would find).
#[derive(Debug, Clone, Default)]
pub(super) struct Names {
    stages: HashMap<String, usize>,
    images: HashMap<String, usize>,
    variants: HashMap<String, usize>,
    registries: HashMap<String, usize>,
    services: HashMap<String, usize>,
    workflows: HashMap<String, usize>,
    charts: HashMap<String, usize>,
}

impl Names {
    pub(super) fn of(spec: &Spec) -> Names {
        Names {
            stages: first_of_each(&spec.stages, |s| &s.name),
            images: first_of_each(&spec.images, |i| &i.name),
            variants: first_of_each(&spec.variants, |v| &v.name),
            registries: first_of_each(&spec.registries, |r| &r.name),
            services: first_of_each(&spec.services, |s| &s.name),
            workflows: first_of_each(&spec.workflows, |w| &w.name),
            charts: first_of_each(&spec.charts, |c| &c.name),
        }
    }
}

fn first_of_each<T>(items: &[T], key: impl Fn(&T) -> &Text) -> HashMap<String, usize> {
    let mut names = HashMap::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        names.entry(key(item).value.clone()).or_insert(i);
    }
    names
}

impl Spec {
    /// The index of the stage called `name`.
    pub fn stage_index(&self, name: &str) -> Option<usize> {
        self.names.stages.get(name).copied()
    }
    /// The index of the image called `name`.
    pub fn image_index(&self, name: &str) -> Option<usize> {
        self.names.images.get(name).copied()
    }
    /// The index of the variant called `name`.
    pub fn variant_index(&self, name: &str) -> Option<usize> {
        self.names.variants.get(name).copied()
    }
    /// The index of the registry called `name`.
    pub fn registry_index(&self, name: &str) -> Option<usize> {
        self.names.registries.get(name).copied()
    }
    /// The index of the service called `name`.
    pub fn service_index(&self, name: &str) -> Option<usize> {
        self.names.services.get(name).copied()
    }
    /// The index of the workflow called `name`.
    pub fn workflow_index(&self, name: &str) -> Option<usize> {
        self.names.workflows.get(name).copied()
    }
    /// The index of the chart called `name`.
    pub fn chart_index(&self, name: &str) -> Option<usize> {
        self.names.charts.get(name).copied()
    }
}
