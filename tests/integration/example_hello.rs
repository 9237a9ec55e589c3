//! `examples/hello` is a real project (issue 3, acceptance 4): its generated Dockerfile
//! really builds with `buildah`, and the image of each variant, when run, prints that
//! variant's name.
//!
//! The test works on a temp copy of `examples/hello` plus the static busybox of Debian's
//! `busybox-static` (never committed), runs `specc generate` and `specc plan --json` there
//! like a user would, then builds every plan target with exactly what its bake target
//! passes (context, dockerfile, target stage, args, labels, tags), with `vfs` storage and
//! `chroot` isolation in a private store, and runs each image's own ENTRYPOINT/CMD.
//! A missing buildah or busybox fails the test (see `crate::support::validators`).

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::support::buildah::Buildah;
use crate::support::examples::{bake_build, bake_targets, example_repo, str_field};
use crate::support::repo::Repo;
use crate::support::validators::{repo_root, run_tool};
use serde_json::Value as Json;

fn example_dir() -> PathBuf {
    repo_root().join("examples").join("hello")
}

/// A temp copy of `examples/hello` with a static busybox in its build context.
fn hello_repo() -> Repo {
    example_repo(&example_dir())
}

#[test]
fn each_variant_builds_with_buildah_and_prints_its_name() {
    let repo = hello_repo();
    repo.run(&["generate"]).success();
    let plan: Json = serde_json::from_str(&repo.run(&["plan", "--json"]).success().stdout)
        .expect("plan --json prints JSON");
    let targets = plan["targets"].as_array().expect("plan has targets");
    let bake = bake_targets(&repo.read_text("docker-bake.hcl"));

    // The example is what acceptance 4 asks for: two variants, two stages.
    let variants: BTreeSet<&str> = targets
        .iter()
        .map(|t| str_field(t, "variant", "plan target"))
        .collect();
    assert_eq!(
        variants,
        BTreeSet::from(["en", "fr"]),
        "variants of the plan"
    );
    for target in targets {
        assert_eq!(
            target["stages"].as_array().map(Vec::len),
            Some(2),
            "{target}"
        );
    }
    assert_eq!(
        bake.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        targets
            .iter()
            .map(|t| str_field(t, "name", "plan target"))
            .collect::<BTreeSet<_>>(),
        "bake targets and plan targets"
    );
    // The variants differ only by a build argument: one Dockerfile serves both.
    let dockerfiles: BTreeSet<&str> = bake
        .values()
        .map(|t| str_field(t, "dockerfile", "bake target"))
        .collect();
    assert_eq!(
        dockerfiles.len(),
        1,
        "one shared Dockerfile: {dockerfiles:?}"
    );

    let buildah = Buildah::new();
    for target in targets {
        let name = str_field(target, "name", "plan target");
        let variant = str_field(target, "variant", "plan target");
        let bake_target = &bake[name];
        let image = format!("localhost/hello:{variant}");
        let mut tags = vec![image.clone()];
        tags.extend(
            bake_target["tags"]
                .as_array()
                .expect("bake target has tags")
                .iter()
                .map(|t| t.as_str().expect("tag is a string").to_owned()),
        );
        buildah.build(&bake_build(&repo, bake_target, target, tags));

        let run = buildah.run_image(&image).assert_success();
        assert_eq!(
            run.stdout,
            format!("{variant}\n"),
            "running the `{variant}` image must print its variant's name: {run}"
        );
    }
}

#[test]
fn committed_dockerfile_has_no_hadolint_finding() {
    let dockerfile = example_dir().join("docker").join("hello.Dockerfile");
    assert!(
        dockerfile.is_file(),
        "{} is not committed",
        dockerfile.display()
    );
    let out = run_tool(
        "hadolint",
        [std::ffi::OsStr::new("--no-color"), dockerfile.as_os_str()],
        repo_root(),
    );
    assert!(
        out.success() && out.stdout.trim().is_empty(),
        "hadolint findings: {out}"
    );
}

#[test]
fn generated_files_get_ordinary_permissions() {
    // `specc generate` writes through temp files; the outputs must end up with the mode
    // any new file of the user gets (umask applied), not a temp file's 0600, or builders
    // and CI steps running as another user cannot read them.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let repo = hello_repo();
        for rel in [
            ".dockerignore",
            "docker-bake.hcl",
            "docker/hello.Dockerfile",
            "specc.lock",
        ] {
            std::fs::remove_file(repo.join(rel)).expect("remove the copied output");
        }
        repo.write("reference.txt", "created like any file\n");
        repo.run(&["generate"]).success();
        let mode = |rel: &str| {
            std::fs::metadata(repo.join(rel))
                .unwrap_or_else(|e| panic!("{rel}: {e}"))
                .permissions()
                .mode()
                & 0o777
        };
        let expected = mode("reference.txt");
        for rel in [
            ".dockerignore",
            "docker-bake.hcl",
            "docker/hello.Dockerfile",
            "specc.lock",
        ] {
            assert_eq!(mode(rel), expected, "mode of {rel} is {:o}", mode(rel));
        }
    }
}
