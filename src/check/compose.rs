//! Compose facts `check` and `plan` share, and the refusals they lead to: which profiles
//! a service is in (the default variant's services are in none, so a plain
//! `docker compose up` starts them), and dependencies that a profile can switch off.

use super::targets::{default_variant, image_variants};
use crate::diagnostics::{Error, suggest};
use crate::spec::{Service, Spec};

/// The profiles `s` is in: its own `profile` list; else, for a spec image built in more
/// than one variant, the variant's name unless it is the image's default variant (whose
/// services start with a plain `docker compose up`); else none.
pub fn service_profiles(spec: &Spec, s: &Service) -> Vec<String> {
    if let Some(list) = &s.profiles {
        return list.iter().map(|p| p.value.clone()).collect();
    }
    let Some(image) = spec
        .image_index(s.image.value.as_str())
        .map(|ii| &spec.images[ii])
    else {
        return Vec::new();
    };
    let built = image_variants(spec, image);
    if built.len() < 2 {
        return Vec::new();
    }
    let variant = match &s.variant {
        Some(n) => spec.variant_index(&n.value),
        None => default_variant(spec, &built),
    };
    match variant {
        Some(v) if Some(v) != default_variant(spec, &built) => {
            vec![spec.variants[v].name.value.clone()]
        }
        _ => Vec::new(),
    }
}

/// True when every profile selection that starts a service in `user` profiles also
/// starts one in `dependency` profiles (no profiles: always started).
fn always_with(user: &[String], dependency: &[String]) -> bool {
    dependency.is_empty() || (!user.is_empty() && user.iter().all(|p| dependency.contains(p)))
}

/// A required `depends-on` whose service a profile can leave out while the dependent
/// runs: compose then refuses the whole file ("depends on undefined service").
pub fn dependencies_across_profiles(spec: &Spec, problems: &mut Vec<Error>) {
    for s in &spec.services {
        let mine = service_profiles(spec, s);
        for d in s.depends_on.iter().filter(|d| d.required) {
            let Some(target) = spec
                .service_index(&d.service.value)
                .map(|x| &spec.services[x])
            else {
                continue;
            };
            let theirs = service_profiles(spec, target);
            if always_with(&mine, &theirs) {
                continue;
            }
            let when = if mine.is_empty() {
                "with a plain `docker compose up`".to_string()
            } else {
                format!("with profile `{}`", mine.join("` or `"))
            };
            problems.push(Error::DependsOnProfile {
                service: s.name.value.clone(),
                dependency: d.service.value.clone(),
                profiles: theirs.join("`, `"),
                span: d.service.span,
                help: format!(
                    "`{}` runs {when}, `{}` only with profile `{}`: write `depends-on \"{}\" required=#false` to start `{}` without it, or give `{}` the same profile (`profile \"{}\"`)",
                    s.name.value,
                    d.service.value,
                    theirs.join("` or `"),
                    d.service.value,
                    s.name.value,
                    s.name.value,
                    theirs[0],
                ),
            });
        }
    }
}

/// `pull_policy` on a service compose builds from a spec image: only `build` and
/// `missing` build it; the others would pull a reference no registry may serve yet
/// (or a local name none serves).
pub fn pull_policies(spec: &Spec, problems: &mut Vec<Error>) {
    for s in &spec.services {
        let Some(policy) = &s.fields.pull_policy else {
            continue;
        };
        let spec_image = !s.image_expand && spec.image_index(s.image.value.as_str()).is_some();
        if spec_image && !["build", "missing"].contains(&policy.as_str()) {
            problems.push(Error::InvalidServiceValue {
                what: "pull-policy".into(),
                value: policy.value.clone(),
                span: policy.span,
                reason: format!(
                    "`{}` runs the spec image `{}`, which compose builds",
                    s.name.value,
                    s.image.value.as_str()
                ),
                help: "write `pull-policy \"build\"` (always build) or `pull-policy \"missing\"` (build when absent), or leave it out".into(),
            });
        }
    }
}

/// Every network a service attaches to is declared with a top-level `network`.
pub fn networks(spec: &Spec, problems: &mut Vec<Error>) {
    let declared = || spec.networks.iter().map(|n| n.name.as_str());
    for s in &spec.services {
        for n in &s.fields.networks {
            if declared().any(|d| d == n.as_str()) {
                continue;
            }
            let declare = format!("declare it at the top level: `network {}`", n.value);
            let help = if spec.networks.is_empty() {
                declare
            } else {
                format!(
                    "{}; or {declare}",
                    suggest("networks", &n.value, declared())
                )
            };
            problems.push(Error::UnknownReference {
                kind: "network".into(),
                name: n.value.clone(),
                span: n.span,
                help,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::always_with;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_dependency_in_no_profile_always_runs() {
        assert!(always_with(&v(&[]), &v(&[])));
        assert!(always_with(&v(&["gpu"]), &v(&[])));
    }

    #[test]
    fn a_dependency_in_a_profile_runs_only_with_it() {
        assert!(!always_with(&v(&[]), &v(&["gpu"])));
        assert!(always_with(&v(&["gpu"]), &v(&["gpu", "cpu"])));
        assert!(!always_with(&v(&["gpu", "debug"]), &v(&["gpu"])));
    }
}
