//! `runs-on` of a workflow: each names a platform one of the workflow's targets builds,
//! once, and only in the native layout, where build jobs run per platform (in the single
//! layout one job builds every platform, so a per-platform runner would be ignored).

use super::Checker;
use super::targets::{variant_platforms, workflow_layout, workflow_targets};
use crate::diagnostics::{Error, suggest};
use crate::spec::{Workflow, WorkflowLayout};

impl Checker<'_> {
    pub(super) fn runs_on(&mut self, w: &Workflow) {
        let spec = self.spec;
        let mut built: Vec<String> = workflow_targets(spec, w)
            .into_iter()
            .flat_map(|(_, v)| variant_platforms(spec, v))
            .collect();
        built.sort();
        built.dedup();
        let single = workflow_layout(spec, w) == WorkflowLayout::Single;
        for (i, r) in w.runs_on.iter().enumerate() {
            let platform = &r.platform;
            let (problem, reason, help) = if single {
                (
                    "needs the native layout",
                    "one job builds every platform in the single layout".to_string(),
                    format!(
                        "add `layout=\"native\"` to workflow `{}` for a build job per platform, or remove this line and set `runner=`",
                        w.name.value
                    ),
                )
            } else if !built.contains(&platform.value) {
                (
                    "names a platform the workflow does not build",
                    "no target of this workflow is built for it".to_string(),
                    suggest(
                        "platforms",
                        &platform.value,
                        built.iter().map(String::as_str),
                    ),
                )
            } else if w.runs_on[..i]
                .iter()
                .any(|o| o.platform.value == platform.value)
            {
                (
                    "is given twice",
                    "a second `runs-on` for this platform".to_string(),
                    "keep one `runs-on` per platform, with all its labels".to_string(),
                )
            } else {
                continue;
            };
            self.push(Error::RunsOn {
                platform: platform.value.clone(),
                problem: problem.into(),
                span: platform.span,
                reason,
                help,
            });
        }
    }
}
