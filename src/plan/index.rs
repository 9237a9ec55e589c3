//! Where each target and compose service is in a [`Plan`]: by name, and each target by
//! its (image, variant). Built once with the plan, so that consumers and renderers find
//! a target without a linear search per reference (quadratic in a spec with thousands of
//! targets).

use std::collections::HashMap;

use super::{Plan, ServiceImage, Target};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Index {
    targets: HashMap<String, usize>,
    builds: HashMap<(usize, usize), usize>,
    services: HashMap<String, usize>,
}

impl Index {
    /// The index of `targets` (no services yet: they are planned from the targets).
    pub(super) fn of(targets: &[Target]) -> Index {
        let mut index = Index::default();
        for (i, t) in targets.iter().enumerate() {
            index.targets.entry(t.name.clone()).or_insert(i);
            index
                .builds
                .entry((t.image_index, t.variant_index))
                .or_insert(i);
        }
        index
    }

    /// The same, with `services` added.
    pub(super) fn with_services(mut self, services: &[ServiceImage]) -> Index {
        for (i, s) in services.iter().enumerate() {
            self.services.entry(s.name.clone()).or_insert(i);
        }
        self
    }

    /// The target of image `ii` in variant `v`, among `targets` (those it indexes).
    pub(super) fn build<'t>(
        &self,
        targets: &'t [Target],
        ii: usize,
        v: usize,
    ) -> Option<&'t Target> {
        self.builds.get(&(ii, v)).map(|&i| &targets[i])
    }
}

impl Plan {
    /// The target called `name`.
    pub fn target(&self, name: &str) -> Option<&Target> {
        self.index.targets.get(name).map(|&i| &self.targets[i])
    }

    /// The target of image `ii` in variant `v`.
    pub fn target_of(&self, ii: usize, v: usize) -> Option<&Target> {
        self.index.build(&self.targets, ii, v)
    }

    /// The planned image of the compose service called `name`.
    pub fn service(&self, name: &str) -> Option<&ServiceImage> {
        self.index.services.get(name).map(|&i| &self.services[i])
    }
}
