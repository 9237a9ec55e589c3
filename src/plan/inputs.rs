//! Rendered Dockerfiles, plan and build contexts in, one input hash per target out.
//!
//! A target's input hash covers its Dockerfile text, its build arguments and platforms,
//! and the bytes of the context files its COPY/ADD instructions reach (through
//! [`Contexts`], honouring the context's `.dockerignore`). `VERSION` and `REVISION` are
//! left out: they only feed labels, so a new release of unchanged inputs can reuse the
//! image that is already built.

use std::collections::{BTreeMap, BTreeSet};

use crate::check::{Checked, reachable_stages};
use crate::plan::contexts::Contexts;
use crate::plan::{Plan, image_variants, target_name};
use crate::spec::InstructionKind;

/// Target name -> input hash (blake3, hex).
pub(crate) fn input_hashes(
    checked: &Checked,
    plan: &Plan,
    dockerfile_of: &dyn Fn(usize, usize) -> Option<String>,
    dockerignore_of: &dyn Fn(&str) -> String,
    contexts: &dyn Contexts,
    generated: &BTreeSet<String>,
) -> BTreeMap<String, String> {
    let spec = &checked.spec;
    let mut hashes = BTreeMap::new();
    for (ii, image) in spec.images.iter().enumerate() {
        let Some(stage) = spec
            .stages
            .iter()
            .position(|s| s.name.value == image.stage.value)
        else {
            continue;
        };
        for v in image_variants(spec, image) {
            let name = target_name(spec, image, v);
            let Some(target) = plan.targets.iter().find(|t| t.name == name) else {
                continue;
            };
            let variant = &spec.variants[v].name.value;
            let mut sources: Vec<String> = Vec::new();
            for s in reachable_stages(&checked.graph, stage) {
                for ins in &spec.stages[s].instructions {
                    let applies = ins
                        .variants
                        .as_ref()
                        .is_none_or(|l| l.iter().any(|n| &n.value == variant));
                    match &ins.kind {
                        InstructionKind::Copy(c) if applies && c.from.is_none() => {
                            sources.extend(c.sources.iter().map(|t| t.value.clone()))
                        }
                        InstructionKind::Add(a) if applies => {
                            sources.extend(a.sources.iter().map(|t| t.value.clone()))
                        }
                        _ => {}
                    }
                }
            }
            let dockerfile = dockerfile_of(ii, v).unwrap_or_default();
            let context = &image.context.value;
            let mut h = blake3::Hasher::new();
            h.update(b"specc-input-v1\0");
            h.update(dockerfile.as_bytes()).update(b"\0");
            for (k, val) in target
                .args
                .iter()
                .filter(|(k, _)| k.as_str() != "VERSION" && k.as_str() != "REVISION")
            {
                h.update(k.as_bytes())
                    .update(b"=")
                    .update(val.as_bytes())
                    .update(b"\0");
            }
            for p in &target.platforms {
                h.update(p.as_bytes()).update(b"\0");
            }
            h.update(
                contexts
                    .digest(context, &sources, &dockerignore_of(context), generated)
                    .as_bytes(),
            );
            hashes.insert(name, h.finalize().to_hex().to_string());
        }
    }
    hashes
}
