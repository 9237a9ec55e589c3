//! Checked spec and plan in, `docker-bake.hcl` out: variables CI can override, a target
//! per image x variant with tags for every registry x tag rule, cache scopes per target,
//! and groups `default`, `all`, one per variant and one per multi-variant image.

use std::collections::BTreeSet;

use miette::SourceSpan;
use serde::Serialize;

use super::dockerfile::Dockerfiles;
use super::{RenderOptions, Rendered, escape, header, relative_path, render_template};
use crate::check::Checked;
use crate::diagnostics::Error;
use crate::plan::{Plan, image_variants, variant_tags};
use crate::spec::{CacheKind, Image, Registry, Spec, TagWhen};
use crate::value::{self, Piece, Placeholder};

#[derive(Serialize)]
struct Context {
    header: Vec<String>,
    variables: Vec<Variable>,
    groups: Vec<Group>,
    targets: Vec<Target>,
}

#[derive(Serialize)]
struct Variable {
    name: String,
    default: String,
}

#[derive(Serialize)]
struct Group {
    name: String,
    targets: Vec<String>,
}

/// A key and an HCL expression (a quoted string, possibly with interpolation).
#[derive(Serialize)]
struct Entry {
    name: String,
    expr: String,
}

#[derive(Serialize)]
struct Target {
    name: String,
    context: String,
    dockerfile: String,
    stage: String,
    platforms: Vec<String>,
    args: Vec<Entry>,
    labels: Vec<Entry>,
    tag_exprs: Vec<String>,
    /// Tags of a branch push, when the image has branch rules (chosen by `SPECC_EVENT`).
    branch_tag_exprs: Vec<String>,
    cache_from: Vec<String>,
    cache_to: Vec<String>,
}

/// Reports a value the bake file cannot carry (once).
fn unrepresentable(errors: &mut Vec<Error>, what: String, reason: String, span: SourceSpan) {
    let e = Error::Unrepresentable {
        what,
        format: "docker-bake.hcl".into(),
        reason,
        span,
        help: "write the text in its composed (NFC) form".into(),
    };
    super::push_once(errors, e);
}

/// The bake variable a placeholder reads.
fn variable(p: Placeholder) -> &'static str {
    match p {
        Placeholder::Version => "VERSION",
        Placeholder::Major => "VERSION_MAJOR",
        Placeholder::Minor => "VERSION_MINOR",
        Placeholder::Patch => "VERSION_PATCH",
        Placeholder::Sha => "GIT_SHA",
        Placeholder::Branch => "GIT_BRANCH",
    }
}

/// The inside of an HCL string literal (without the quotes).
fn hcl_literal(s: &str) -> String {
    let quoted = escape::hcl(s);
    quoted[1..quoted.len() - 1].to_string()
}

/// The namespace of a registry as the inside of an HCL string.
fn namespace(r: &Registry) -> String {
    match (&r.namespace, &r.namespace_secret) {
        (Some(ns), _) => hcl_literal(&ns.value),
        (None, Some(secret)) => format!(
            "${{lower({0} != \"\" ? {0} : GITHUB_REPOSITORY_OWNER)}}",
            secret.value
        ),
        (None, None) => "${lower(GITHUB_REPOSITORY_OWNER)}".into(),
    }
}

fn repository(r: &Registry, image: &Image) -> String {
    let repo = image.repository.as_ref().unwrap_or(&image.name);
    format!(
        "{}/{}/{}",
        hcl_literal(&r.host.value),
        namespace(r),
        hcl_literal(&repo.value)
    )
}

pub fn render(
    checked: &Checked,
    plan: &Plan,
    dockerfiles: &Dockerfiles,
    hashes: &std::collections::BTreeMap<String, String>,
    options: &RenderOptions,
    errors: &mut Vec<Error>,
) -> Option<Rendered> {
    let spec: &Spec = &checked.spec;
    let path = spec.output.bake.value.clone();
    let mut used: BTreeSet<&'static str> = BTreeSet::new();
    let mut secrets: Vec<String> = Vec::new();
    let mut owner = false;
    let mut targets = Vec::new();
    for (ii, image) in spec.images.iter().enumerate() {
        let release_bases = rule_bases(image, TagWhen::Release, &mut used);
        // Branch tags only where the image has rules for branch pushes.
        let branch_bases = if image.tags.iter().any(|r| r.when.value == TagWhen::Branch) {
            used.insert("SPECC_EVENT");
            rule_bases(image, TagWhen::Branch, &mut used)
        } else {
            Vec::new()
        };
        let registries: Vec<&Registry> = image
            .registries
            .iter()
            .filter_map(|n| spec.registries.iter().find(|r| r.name.value == n.value))
            .collect();
        for r in &registries {
            match (&r.namespace, &r.namespace_secret) {
                (Some(_), _) => {}
                (None, Some(s)) => {
                    if !secrets.contains(&s.value) {
                        secrets.push(s.value.clone());
                    }
                    owner = true;
                }
                (None, None) => owner = true,
            }
        }
        for v in image_variants(spec, image) {
            let Some(planned) = plan
                .targets
                .iter()
                .find(|t| t.image == image.name.value && t.variant == spec.variants[v].name.value)
            else {
                continue;
            };
            let Some(dockerfile) = dockerfiles.by_target.get(&(ii, v)) else {
                continue;
            };
            let hash = hashes.get(&planned.name).cloned().unwrap_or_default();
            // The input hash is also a tag, so CI can find an image built from the same inputs.
            let hash_tag = [format!("specc-{}", &hash[..hash.len().min(16)])];
            let mut tag_exprs = tag_exprs(spec, image, v, &registries, &release_bases);
            tag_exprs.extend(tag_exprs_for_hash(image, &registries, &hash_tag));
            let mut branch_tag_exprs =
                tag_exprs_for_branch(spec, image, v, &registries, &branch_bases);
            if !branch_tag_exprs.is_empty() {
                branch_tag_exprs.extend(tag_exprs_for_hash(image, &registries, &hash_tag));
            }
            let mut args: Vec<Entry> = Vec::new();
            for (k, value) in planned.args.iter().filter(|(k, _)| k.as_str() != "VERSION") {
                match escape::bake_string(value) {
                    Ok(expr) => args.push(Entry {
                        name: k.clone(),
                        expr,
                    }),
                    Err(reason) => {
                        let span = spec
                            .variants
                            .iter()
                            .flat_map(|x| &x.args)
                            .chain(&spec.args)
                            .filter(|a| &a.name.value == k)
                            .filter_map(|a| a.value.as_ref())
                            .find(|x| &x.value == value)
                            .map_or(image.name.span, |x| x.span);
                        unrepresentable(errors, format!("build argument `{k}`"), reason, span);
                    }
                }
            }
            args.push(Entry {
                name: "VERSION".into(),
                expr: "\"${VERSION}\"".into(),
            });
            args.push(Entry {
                name: "REVISION".into(),
                expr: "\"${REVISION}\"".into(),
            });
            let mut labels = vec![Entry {
                name: "org.opencontainers.image.title".into(),
                expr: escape::hcl(&image.name.value),
            }];
            if let Some(s) = &spec.project.source {
                match escape::bake_string(&s.value) {
                    Ok(expr) => labels.push(Entry {
                        name: "org.opencontainers.image.source".into(),
                        expr,
                    }),
                    Err(reason) => {
                        unrepresentable(errors, "the project source".into(), reason, s.span)
                    }
                }
            }
            labels.push(Entry {
                name: "org.opencontainers.image.version".into(),
                expr: "\"${VERSION}\"".into(),
            });
            labels.push(Entry {
                name: "dev.specc.input-hash".into(),
                expr: escape::hcl(&hash),
            });
            labels.push(Entry {
                name: "org.opencontainers.image.revision".into(),
                expr: "\"${REVISION}\"".into(),
            });
            let (mut cache_from, mut cache_to) = (Vec::new(), Vec::new());
            for cache in &image.caches {
                match cache.kind {
                    CacheKind::Gha => {
                        let scope = &planned.name;
                        cache_from.push(format!("\"type=gha,scope={scope}\""));
                        cache_to.push(format!("\"type=gha,mode=max,scope={scope}\""));
                    }
                    CacheKind::Registry => {
                        let Some(r) = cache
                            .registry
                            .as_ref()
                            .and_then(|n| spec.registries.iter().find(|r| r.name.value == n.value))
                        else {
                            continue;
                        };
                        let reference =
                            format!("{}:buildcache-{}", repository(r, image), planned.name);
                        cache_from.push(format!("\"type=registry,ref={reference}\""));
                        cache_to.push(format!("\"type=registry,ref={reference},mode=max\""));
                    }
                }
            }
            targets.push(Target {
                name: planned.name.clone(),
                context: image.context.value.clone(),
                dockerfile: relative_path(&image.context.value, dockerfile),
                stage: image.stage.value.clone(),
                platforms: planned.platforms.clone(),
                args,
                labels,
                tag_exprs,
                branch_tag_exprs,
                cache_from,
                cache_to,
            });
        }
    }
    let version = value::parse_version(&spec.project.version.value);
    let mut variables = vec![
        Variable {
            name: "VERSION".into(),
            default: spec.project.version.value.clone(),
        },
        Variable {
            name: "REVISION".into(),
            default: String::new(),
        },
    ];
    for (name, part) in [
        ("VERSION_MAJOR", version.as_ref().map(|v| v.major.clone())),
        ("VERSION_MINOR", version.as_ref().map(|v| v.minor.clone())),
        ("VERSION_PATCH", version.as_ref().map(|v| v.patch.clone())),
        ("GIT_SHA", Some("0000000".into())),
        ("GIT_BRANCH", Some("main".into())),
        ("SPECC_EVENT", Some("release".into())),
    ] {
        if used.contains(name) {
            variables.push(Variable {
                name: name.into(),
                default: part.unwrap_or_default(),
            });
        }
    }
    for s in &secrets {
        variables.push(Variable {
            name: s.clone(),
            default: String::new(),
        });
    }
    if owner {
        // Set by GitHub Actions; the project name stands in for local builds.
        variables.push(Variable {
            name: "GITHUB_REPOSITORY_OWNER".into(),
            default: spec.project.name.value.clone(),
        });
    }
    let mut head = header(options);
    // Variables are set from the environment; `--set '*.args.VERSION=..'` would change the
    // build argument but not the tags, which bake evaluates before applying `--set`.
    head.push("Build: docker buildx bake [GROUP|TARGET...]   (groups: default, all, one per variant and per image)".into());
    head.push("Release: VERSION=1.2.3 docker buildx bake --push   (tags and labels follow the VERSION variable)".into());
    let context = Context {
        header: head,
        variables,
        groups: groups(spec, &targets),
        targets,
    };
    match render_template("bake", &path, &context) {
        Ok(contents) => Some(Rendered { path, contents }),
        Err(e) => {
            errors.push(e);
            None
        }
    }
}

/// `default` and `all`, then one group per variant and per multi-variant image; a group
/// never takes the name of a target.
fn groups(spec: &Spec, targets: &[Target]) -> Vec<Group> {
    let all: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
    let mut groups = vec![
        Group {
            name: "default".into(),
            targets: all.clone(),
        },
        Group {
            name: "all".into(),
            targets: all.clone(),
        },
    ];
    let target_of = |image: &Image, v: usize| crate::plan::target_name(spec, image, v);
    for (v, variant) in spec.variants.iter().enumerate() {
        if variant.implicit {
            continue;
        }
        let members: Vec<String> = spec
            .images
            .iter()
            .filter(|i| image_variants(spec, i).contains(&v))
            .map(|i| target_of(i, v))
            .filter(|t| all.contains(t))
            .collect();
        groups.push(Group {
            name: variant.name.value.clone(),
            targets: members,
        });
    }
    for image in &spec.images {
        let built = image_variants(spec, image);
        if built.len() > 1 {
            let members = built
                .iter()
                .map(|v| target_of(image, *v))
                .filter(|t| all.contains(t))
                .collect();
            groups.push(Group {
                name: image.name.value.replace('.', "_"),
                targets: members,
            });
        }
    }
    let mut seen = BTreeSet::new();
    groups
        .retain(|g| !g.targets.is_empty() && !all.contains(&g.name) && seen.insert(g.name.clone()));
    groups
}

/// The image's tag rules that apply on `event` (and `always`), as HCL string insides.
fn rule_bases(image: &Image, event: TagWhen, used: &mut BTreeSet<&'static str>) -> Vec<String> {
    let mut bases = Vec::new();
    for rule in image
        .tags
        .iter()
        .filter(|r| r.when.value == event || r.when.value == TagWhen::Always)
    {
        let Ok(pieces) = value::parse_tag_template(&rule.template.value) else {
            continue;
        };
        let text: String = pieces
            .iter()
            .map(|p| match p {
                Piece::Literal(s) => hcl_literal(s),
                Piece::Placeholder(ph) => {
                    used.insert(variable(*ph));
                    format!("${{{}}}", variable(*ph))
                }
            })
            .collect();
        bases.push(text);
    }
    bases
}

/// Full tag references (quoted HCL strings) of variant `v` for every registry.
fn tag_exprs(
    spec: &Spec,
    image: &Image,
    v: usize,
    registries: &[&Registry],
    bases: &[String],
) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for base in bases {
        tags.extend(variant_tags(spec, image, v, base));
    }
    let mut exprs = Vec::new();
    for r in registries {
        for t in &tags {
            let expr = format!("\"{}:{t}\"", repository(r, image));
            if !exprs.contains(&expr) {
                exprs.push(expr);
            }
        }
    }
    if registries.is_empty() {
        let repo = hcl_literal(&image.repository.as_ref().unwrap_or(&image.name).value);
        for t in &tags {
            let expr = format!("\"{repo}:{t}\"");
            if !exprs.contains(&expr) {
                exprs.push(expr);
            }
        }
    }
    exprs
}

fn tag_exprs_for_branch(
    spec: &Spec,
    image: &Image,
    v: usize,
    registries: &[&Registry],
    bases: &[String],
) -> Vec<String> {
    if bases.is_empty() {
        return Vec::new();
    }
    tag_exprs(spec, image, v, registries, bases)
}

/// The input-hash tag of an image for every registry (or locally).
fn tag_exprs_for_hash(image: &Image, registries: &[&Registry], tags: &[String]) -> Vec<String> {
    let mut exprs = Vec::new();
    for t in tags {
        if registries.is_empty() {
            let repo = hcl_literal(&image.repository.as_ref().unwrap_or(&image.name).value);
            exprs.push(format!("\"{repo}:{t}\""));
        }
        for r in registries {
            exprs.push(format!("\"{}:{t}\"", repository(r, image)));
        }
    }
    exprs
}
