//! Issue 11, acceptance 3: a real registry. Every bundled example (`examples/*/`) is built
//! with buildah and pushed, under every tag `specc plan` gives it and its hash tag, to
//! Debian's `docker-registry` on 127.0.0.1 (one per example, see
//! `crate::support::registry`); `skopeo list-tags` then lists exactly the plan's tags, and
//! a second release with unchanged inputs finds its `specc-<hash>` tag there, as a CI
//! run deciding whether to rebuild would.
//!
//! The example runs from a temp copy whose spec points its registries at the local one
//! (an example that pushes nowhere gets one registry that every image goes to), built
//! offline as `example_hello` does (`FROM scratch` plus a static busybox in the context).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value as Json;

use crate::support::buildah::Buildah;
use crate::support::examples::{bake_build, bake_targets, example_dirs, example_repo, str_field};
use crate::support::registry::Registry;
use crate::support::repo::Repo;

/// The registry an example that pushes nowhere gets.
const LOCAL: &str = "specc-test";

/// `spec` with every registry at `host`, without logins (the local registry needs none).
/// A spec with no registry gets one, `LOCAL` at `host` with `namespace`, and every image
/// is pushed to it.
fn pointed_at(spec: &str, host: &str, namespace: &str) -> String {
    let mut doc: kdl::KdlDocument = spec.parse().expect("the example's spec is KDL");
    let mut registries = 0;
    for node in doc.nodes_mut() {
        if node.name().value() != "registry" {
            continue;
        }
        registries += 1;
        let entry = node.entry_mut("host").expect("a registry has a host");
        entry.set_value(host);
        entry.clear_format();
        if let Some(children) = node.children_mut() {
            children.nodes_mut().retain(|n| n.name().value() != "login");
        }
    }
    if registries == 0 {
        for node in doc.nodes_mut() {
            if node.name().value() == "image" {
                node.push(("registries", LOCAL));
            }
        }
        let mut registry = kdl::KdlNode::new("registry");
        registry.push(LOCAL);
        registry.push(("host", host));
        registry.push(("namespace", namespace));
        doc.nodes_mut().insert(0, registry);
    }
    doc.to_string()
}

/// `specc plan --json --hashes EXTRA` of `repo`.
fn plan(repo: &Repo, extra: &[&str]) -> Json {
    let args = [&["plan", "--json", "--hashes"], extra].concat();
    let out = repo.run(&args).success();
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

fn targets(plan: &Json) -> &Vec<Json> {
    plan["targets"].as_array().expect("the plan has targets")
}

fn strings(value: &Json) -> Vec<String> {
    let list = value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"));
    list.iter()
        .map(|s| s.as_str().expect("a string").to_owned())
        .collect()
}

/// The repositories (`host/path`) a target goes to.
fn repositories(target: &Json) -> Vec<String> {
    let registries = target["registries"].as_array().expect("registries");
    registries
        .iter()
        .map(|r| str_field(r, "repository", "a registry").to_owned())
        .collect()
}

/// Every reference a release pushes a target to: the plan's, and its hash tag in each of
/// its repositories.
fn pushed_refs(target: &Json) -> Vec<String> {
    let hash_tag = str_field(target, "hash_tag", "plan target");
    let registries = target["registries"].as_array().expect("registries");
    let mut refs: Vec<String> = registries
        .iter()
        .flat_map(|r| strings(&r["refs"]))
        .collect();
    refs.extend(
        repositories(target)
            .iter()
            .map(|r| format!("{r}:{hash_tag}")),
    );
    refs
}

/// Per repository, the tags a release of `plan` puts there (hash tags included), sorted.
fn planned_tags(plan: &Json) -> BTreeMap<String, Vec<String>> {
    let mut tags: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for target in targets(plan) {
        for reference in pushed_refs(target) {
            let (repository, tag) = reference.rsplit_once(':').expect("a tag");
            tags.entry(repository.into()).or_default().push(tag.into());
        }
    }
    for list in tags.values_mut() {
        list.sort();
        list.dedup();
    }
    tags
}

/// What the registry lists for each repository of `planned`.
fn listed_tags(
    registry: &Registry,
    planned: &BTreeMap<String, Vec<String>>,
) -> BTreeMap<String, Vec<String>> {
    planned
        .keys()
        .map(|r| (r.clone(), registry.tags(r)))
        .collect()
}

/// Builds every target of `plan` in `repo` as its bake target says and pushes it to
/// every reference of [`pushed_refs`]; target name -> the digest buildah pushed.
fn release(repo: &Repo, plan: &Json, buildah: &Buildah) -> BTreeMap<String, String> {
    let bake = bake_targets(&repo.read_text("docker-bake.hcl"));
    let mut digests = BTreeMap::new();
    for target in targets(plan) {
        let name = str_field(target, "name", "plan target");
        let refs = pushed_refs(target);
        buildah.build(&bake_build(repo, &bake[name], target, refs.clone()));
        let digest_file = buildah.path().join(format!("{name}.digest"));
        let mut pushed = Vec::new();
        for reference in &refs {
            let destination = format!("docker://{reference}");
            let digest_arg = digest_file.to_str().expect("UTF-8 path");
            buildah.run_ok([
                "push",
                "--tls-verify=false",
                "--digestfile",
                digest_arg,
                reference,
                &destination,
            ]);
            pushed.push(std::fs::read_to_string(&digest_file).expect("the pushed digest"));
        }
        pushed.dedup();
        assert_eq!(
            pushed.len(),
            1,
            "{name}: one image under every tag: {pushed:?}"
        );
        digests.insert(name.to_owned(), pushed.remove(0));
    }
    digests
}

/// Target name -> what `skopeo inspect` finds under its hash tag in its repositories
/// (one answer per target: every repository must agree).
fn found_by_hash(registry: &Registry, plan: &Json) -> BTreeMap<String, Result<String, String>> {
    let mut found = BTreeMap::new();
    for target in targets(plan) {
        let name = str_field(target, "name", "plan target");
        let hash_tag = str_field(target, "hash_tag", "plan target");
        let mut answers: Vec<Result<String, String>> = repositories(target)
            .iter()
            .map(|r| {
                registry.digest(&format!("{r}:{hash_tag}")).map_err(|out| {
                    assert!(out.stderr.contains("manifest unknown"), "{out}");
                    "not found".to_owned()
                })
            })
            .collect();
        answers.dedup();
        assert_eq!(answers.len(), 1, "{name}: {answers:?}");
        found.insert(name.to_owned(), answers.remove(0));
    }
    found
}

/// The registry lists exactly the tags a release of `plan` pushed, and each reference
/// holds the image buildah pushed for its target.
fn assert_released(registry: &Registry, plan: &Json, digests: &BTreeMap<String, String>) {
    let planned = planned_tags(plan);
    assert_eq!(listed_tags(registry, &planned), planned);
    for target in targets(plan) {
        let name = str_field(target, "name", "plan target");
        for reference in pushed_refs(target) {
            let digest = registry.digest(&reference).map_err(|o| o.to_string());
            assert_eq!(digest.as_ref(), Ok(&digests[name]), "{reference}");
        }
    }
}

/// With one context file (busybox) changed, a target whose hash tag moved is not in the
/// registry, and one whose did not is found as released.
fn assert_changed_input_not_found(
    repo: &Repo,
    registry: &Registry,
    released: &Json,
    digests: &BTreeMap<String, String>,
) {
    let busybox = repo.read("busybox");
    repo.write("busybox", [&busybox[..], &b"\n"[..]].concat());
    let changed = plan(repo, &[]);
    let found = found_by_hash(registry, &changed);
    let mut moved_any = false;
    for (old, new) in targets(released).iter().zip(targets(&changed)) {
        let name = str_field(new, "name", "plan target");
        assert_eq!(old["name"], new["name"]);
        let moved = old["hash_tag"] != new["hash_tag"];
        moved_any |= moved;
        let expected = if moved {
            Err("not found".to_owned())
        } else {
            Ok(digests[name].clone())
        };
        assert_eq!(found[name], expected, "{name}");
    }
    assert!(moved_any, "changing busybox changed no target's hash");
    repo.write("busybox", &busybox);
    assert_eq!(&plan(repo, &[]), released, "busybox restored");
}

/// Negative control: another version's tags and hash tags are not what the registry has.
fn assert_other_version_not_listed(repo: &Repo, registry: &Registry, released: &Json) {
    let other = plan(repo, &["--set-version", "9.8.7"]);
    let other_tags = planned_tags(&other);
    let repositories = |t: &BTreeMap<String, Vec<String>>| t.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        repositories(&other_tags),
        repositories(&planned_tags(released))
    );
    assert_ne!(listed_tags(registry, &other_tags), other_tags);
    let found = found_by_hash(registry, &other);
    assert!(found.values().all(Result::is_err), "{found:?}");
}

/// The example in `dir`, pointed at a registry of its own, released, then planned again
/// unchanged, with a changed input, and for another version.
fn example_against_a_registry(dir: &Path, buildah: &Buildah) {
    let name = dir.file_name().unwrap().to_str().unwrap();
    let registry = Registry::start();
    let repo = example_repo(dir);
    let spec = pointed_at(&repo.read_text("specc.kdl"), &registry.host(), name);
    repo.write("specc.kdl", spec);
    repo.run(&["generate"]).success();
    let first = plan(&repo, &[]);
    let prefix = format!("{}/", registry.host());
    let repositories: Vec<String> = planned_tags(&first).into_keys().collect();
    assert!(
        !repositories.is_empty() && repositories.iter().all(|r| r.starts_with(&prefix)),
        "{name}: every target goes to the local registry: {repositories:?}"
    );
    let digests = release(&repo, &first, buildah);
    assert_released(&registry, &first, &digests);

    // A second release with unchanged inputs: same plan, same hash tags, found.
    let second = plan(&repo, &[]);
    assert_eq!(second, first, "{name}: unchanged inputs, same plan");
    let reused: BTreeMap<_, _> = digests
        .iter()
        .map(|(t, d)| (t.clone(), Ok(d.clone())))
        .collect();
    assert_eq!(found_by_hash(&registry, &second), reused, "{name}");

    assert_changed_input_not_found(&repo, &registry, &first, &digests);
    assert_other_version_not_listed(&repo, &registry, &first);
}

#[test]
fn every_planned_tag_of_the_examples_is_pushed_to_a_real_registry_and_found_again() {
    let buildah = Buildah::new();
    for dir in example_dirs() {
        example_against_a_registry(&dir, &buildah);
    }
}
