//! Checked spec and plan in, generated files (path + text) out. No I/O.
//!
//! Each output has a typed context built in Rust (one module per output) and a
//! handlebars template from `templates/`, embedded in the binary. Strict mode is on and
//! HTML escaping off: values are escaped for their target format by the functions in
//! [`escape`], which are also registered as template helpers. Every YAML, HCL and JSON
//! output is parsed back before it is accepted.

pub mod actions;
mod bake;
mod compose;
mod dockerfile;
mod dockerignore;
pub mod escape;
mod helm;
mod verify;
mod workflow;

use std::sync::OnceLock;

use handlebars::{Handlebars, handlebars_helper};
use serde::Serialize;

use crate::check::Checked;
use crate::diagnostics::Error;
use crate::plan::Plan;
pub use crate::value::repo_path::{join, relative_path};

/// One generated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Relative to the output root, `/`-separated.
    pub path: String,
    pub contents: String,
}

/// How the header comments name the spec and the command that regenerates the outputs.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// The spec as the user named it, e.g. `specs/iopaint.kdl`.
    pub spec_name: String,
    /// The command line that regenerates the outputs.
    pub regenerate: String,
    /// The command line that checks them, run from the output root (CI runs it).
    pub check: String,
}

const TEMPLATES: &[(&str, &str)] = &[
    ("Dockerfile", include_str!("../../templates/Dockerfile.hbs")),
    (
        "dockerignore",
        include_str!("../../templates/dockerignore.hbs"),
    ),
    ("bake", include_str!("../../templates/docker-bake.hcl.hbs")),
    ("compose", include_str!("../../templates/compose.yaml.hbs")),
    ("workflow", include_str!("../../templates/workflow.yml.hbs")),
    ("values", include_str!("../../templates/values.yaml.hbs")),
];

handlebars_helper!(yaml_helper: |s: str| escape::yaml(s));
handlebars_helper!(yaml_key_helper: |s: str| escape::yaml_key(s));
handlebars_helper!(compose_helper: |s: str| escape::compose(s));
handlebars_helper!(gha_helper: |s: str| escape::gha(s));
handlebars_helper!(hcl_helper: |s: str| escape::hcl(s));
handlebars_helper!(json_helper: |s: str| escape::json(s));

/// `{{action "owner/repo"}}`: the pinned `uses:` value from [`actions::ACTIONS`]; a name
/// missing from the table is a bug in a template, and fails the render.
fn action_helper(
    helper: &handlebars::Helper,
    _: &Handlebars,
    _: &handlebars::Context,
    _: &mut handlebars::RenderContext,
    out: &mut dyn handlebars::Output,
) -> handlebars::HelperResult {
    let name = helper.param(0).and_then(|p| p.value().as_str()).ok_or(
        handlebars::RenderErrorReason::ParamNotFoundForIndex("action", 0),
    )?;
    let action = actions::find(name).ok_or_else(|| {
        handlebars::RenderErrorReason::Other(format!(
            "action {name} is not pinned in render::actions"
        ))
    })?;
    out.write(&action.uses())?;
    Ok(())
}

/// The registry holding template `name` alone, compiled on its first use and kept for the
/// process: a spec compiles only the templates of the outputs it has (the workflow
/// template alone costs more to compile than rendering a typical spec's Dockerfiles).
fn registry(name: &str) -> Option<&'static Handlebars<'static>> {
    static REGISTRIES: [OnceLock<Handlebars<'static>>; TEMPLATES.len()] =
        [const { OnceLock::new() }; TEMPLATES.len()];
    let index = TEMPLATES.iter().position(|(n, _)| *n == name)?;
    Some(REGISTRIES[index].get_or_init(|| {
        let (name, text) = TEMPLATES[index];
        trace(&format!("compile template {name}"));
        let mut h = Handlebars::new();
        h.set_strict_mode(true);
        h.register_escape_fn(handlebars::no_escape);
        h.register_helper("yaml", Box::new(yaml_helper));
        h.register_helper("yaml_key", Box::new(yaml_key_helper));
        h.register_helper("compose", Box::new(compose_helper));
        h.register_helper("hcl", Box::new(hcl_helper));
        h.register_helper("gha", Box::new(gha_helper));
        h.register_helper("json", Box::new(json_helper));
        h.register_helper("action", Box::new(action_helper));
        h.register_template_string(name, text)
            .unwrap_or_else(|e| panic!("embedded template {name} is invalid: {e}"));
        h
    }))
}

/// Renders template `name` with `context`; a failure here is a bug in specc.
fn render_template(name: &str, path: &str, context: &impl Serialize) -> Result<String, Error> {
    let error = |reason: String| Error::InvalidOutput {
        path: path.to_string(),
        format: name.to_string(),
        reason,
    };
    registry(name)
        .ok_or_else(|| error(format!("no embedded template is named {name}")))?
        .render(name, context)
        .map_err(|e| error(e.to_string()))
}

/// The comment lines every generated file starts with.
fn header(options: &RenderOptions) -> Vec<String> {
    vec![
        format!(
            "Generated by specc from {}. Do not edit by hand:",
            escape::comment(&options.spec_name)
        ),
        format!(
            "change the spec, then run `{}`.",
            escape::comment(&options.regenerate)
        ),
    ]
}

/// Everything `specc generate` produces for a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// The files, sorted by path.
    pub files: Vec<Rendered>,
    /// Target name -> its input hash and Dockerfile.
    pub targets: std::collections::BTreeMap<String, TargetInputs>,
}

/// What a target is built from, as recorded in the lock.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct TargetInputs {
    pub input_hash: String,
    pub dockerfile: String,
}

/// A digest of specc's version, every embedded template and the action pins: when it
/// changes, outputs may change even though the spec did not.
pub fn templates_hash() -> String {
    let mut h = blake3::Hasher::new();
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(&TEMPLATES_DIGEST.to_le_bytes());
    for action in actions::ACTIONS {
        h.update(action.uses().as_bytes()).update(b"\0");
    }
    h.finalize().to_hex().to_string()
}

/// The templates' names and texts digested when specc is compiled: they are part of the
/// binary, and hashing 26 KB on every run was a tenth of a no-op check.
const TEMPLATES_DIGEST: u64 = digest(TEMPLATES);

/// A 64-bit FNV-1a digest of `templates` (name, NUL, text, for each in order).
const fn digest(templates: &[(&str, &str)]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < templates.len() {
        h = fnv1a(h, templates[i].0.as_bytes());
        h = fnv1a(h, b"\0");
        h = fnv1a(h, templates[i].1.as_bytes());
        i += 1;
    }
    h
}

/// `h` extended with `bytes` by FNV-1a.
const fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    h
}

/// Renders every output of the spec, in a fixed order, without reading build contexts
/// (input hashes then cover the Dockerfiles, arguments and platforms only).
pub fn render(
    checked: &Checked,
    plan: &Plan,
    options: &RenderOptions,
) -> Result<Vec<Rendered>, Vec<Error>> {
    render_with(checked, plan, options, &crate::plan::contexts::NoContexts).map(|g| g.files)
}

/// Renders every output of the spec; `contexts` supplies the digests of build contexts.
pub fn render_with(
    checked: &Checked,
    plan: &Plan,
    options: &RenderOptions,
    contexts: &dyn crate::plan::contexts::Contexts,
) -> Result<Generated, Vec<Error>> {
    trace("render");
    let mut errors = Vec::new();
    let mut outputs = Vec::new();
    let dockerfiles = dockerfile::render(checked, options, &mut errors);
    outputs.extend(dockerfiles.files.iter().cloned());
    let ignores = dockerignore::render(checked, &dockerfiles, options, &mut errors);
    outputs.extend(ignores.files.iter().cloned());
    let spec = &checked.spec;
    let dockerignore_of = |ii: usize, v: usize| ignores.text_of(ii, v);
    let dockerfile_of = |ii: usize, v: usize| {
        let path = dockerfiles.by_target.get(&(ii, v))?;
        let file = dockerfiles.files.iter().find(|o| &o.path == path)?;
        Some(file.contents.clone())
    };
    // Compose, workflows and Helm values do not depend on the input hashes: render them
    // first, so that every path specc writes is known before build contexts are read.
    if !checked.spec.services.is_empty() {
        outputs.extend(compose::render(
            checked,
            plan,
            &dockerfiles,
            options,
            &mut errors,
        ));
    }
    outputs.extend(workflow::render(checked, plan, options, &mut errors));
    outputs.extend(helm::render(checked, plan, options, &mut errors));
    let generated: std::collections::BTreeSet<String> = outputs
        .iter()
        .map(|o| o.path.clone())
        .chain([
            spec.output.bake.value.clone(),
            spec.output.lock.value.clone(),
        ])
        .collect();
    let hashes = crate::plan::inputs::input_hashes(
        checked,
        plan,
        &dockerfile_of,
        &dockerignore_of,
        contexts,
        &generated,
    );
    let mut targets = std::collections::BTreeMap::new();
    for t in &plan.targets {
        if let (Some(hash), Some(dockerfile)) = (
            hashes.get(&t.name),
            dockerfiles.by_target.get(&(t.image_index, t.variant_index)),
        ) {
            targets.insert(
                t.name.clone(),
                TargetInputs {
                    input_hash: hash.clone(),
                    dockerfile: dockerfile.clone(),
                },
            );
        }
    }
    if !plan.targets.is_empty() {
        outputs.extend(bake::render(
            checked,
            plan,
            &dockerfiles,
            options,
            &mut errors,
        ));
    }
    for out in &outputs {
        if let Err(e) = verify::verify(out) {
            errors.push(e);
        }
    }
    if errors.is_empty() {
        outputs.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Generated {
            files: outputs,
            targets,
        })
    } else {
        Err(errors)
    }
}

/// Prints `specc-trace: <what>` on stderr when `SPECC_TRACE` is set: tests use it to see
/// which expensive steps ran.
pub fn trace(what: &str) {
    if std::env::var_os("SPECC_TRACE").is_some() {
        eprintln!("specc-trace: {what}");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_embedded_template_compiles() {
        // Each is compiled on first use only: this is where a broken one shows up.
        for (name, _) in super::TEMPLATES {
            assert!(super::registry(name).is_some(), "{name}");
        }
        assert!(super::registry("no such template").is_none());
    }

    #[test]
    fn the_templates_digest_changes_with_any_template() {
        assert_eq!(super::digest(super::TEMPLATES), super::TEMPLATES_DIGEST);
        for i in 0..super::TEMPLATES.len() {
            let (name, text) = super::TEMPLATES[i];
            let edited = format!("{text} ");
            let mut templates = super::TEMPLATES.to_vec();
            templates[i] = (name, &edited);
            assert_ne!(super::digest(&templates), super::TEMPLATES_DIGEST, "{name}");
        }
    }
}
