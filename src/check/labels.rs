//! User labels on the OCI keys specc sets itself: specc's label comes last in the final
//! stage (and bake and compose pass title, source, version and revision again), so the
//! user's value would be overwritten without a word. Such a label is refused, with the
//! spec setting that writes the key.

use super::Checker;
use crate::diagnostics::Error;
use crate::spec::{Image, InstructionKind};

const PREFIX: &str = "org.opencontainers.image.";

impl Checker<'_> {
    /// Every `label` in an image's final stage or a stage it builds on, whose key specc
    /// sets for that image.
    pub(super) fn managed_labels(&mut self) {
        let spec = self.spec;
        let mut reported = Vec::new();
        for image in &spec.images {
            let Some(target) = self.spec.stage_index(&image.stage.value) else {
                continue;
            };
            let target = &spec.stages[target];
            let chain = std::iter::once(target).chain(self.ancestors(target));
            for stage in chain {
                for ins in &stage.instructions {
                    let InstructionKind::Label(key, _) = &ins.kind else {
                        continue;
                    };
                    let Some(help) = self.managed_help(image, &key.value) else {
                        continue;
                    };
                    if reported.contains(&key.span) {
                        continue;
                    }
                    reported.push(key.span);
                    self.push(Error::ManagedLabel {
                        key: key.value.clone(),
                        image: image.name.value.clone(),
                        span: key.span,
                        help,
                    });
                }
            }
        }
    }

    /// How to set `key` for `image`, when specc writes that label for it.
    fn managed_help(&self, image: &Image, key: &str) -> Option<String> {
        let p = &self.spec.project;
        let name = &image.name.value;
        let help = match key.strip_prefix(PREFIX)? {
            "title" => format!(
                "specc sets the title to the image's name, `{name}`; to change it, rename the image (`image NEW-NAME ...`), or remove this label"
            ),
            "version" => "specc sets it from the `VERSION` build argument (the project `version`, or the release in CI); remove this label".into(),
            "revision" => "specc sets it from the `REVISION` build argument (the commit in CI); remove this label".into(),
            "description" if image.description.is_some() || p.description.is_some() => {
                "set it with `description=` on the image or the project, and remove this label".into()
            }
            "source" if p.source.is_some() => {
                "set it with the project's `source=`, and remove this label".into()
            }
            "url" if p.url.is_some() => "set it with the project's `url=`, and remove this label".into(),
            "licenses" if p.license.is_some() => {
                "set it with the project's `license=`, and remove this label".into()
            }
            "authors" if !p.maintainers.is_empty() => {
                "set it with the project's `maintainer` children, and remove this label".into()
            }
            _ => return None,
        };
        Some(help)
    }
}
