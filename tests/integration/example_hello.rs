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

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::support::buildah::{Build, Buildah};
use crate::support::repo::Repo;
use crate::support::validators::{repo_root, require_tool, run_tool};
use serde_json::Value as Json;

fn example_dir() -> PathBuf {
    repo_root().join("examples").join("hello")
}

/// The busybox binary to put into the build context; panics unless it is statically
/// linked (a dynamic one cannot run in a `FROM scratch` image).
pub(crate) fn static_busybox() -> PathBuf {
    let path = require_tool("busybox");
    let path = path.canonicalize().unwrap_or(path);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(
        !elf_has_interpreter(&bytes),
        "{} is dynamically linked; the FROM-scratch example needs a static busybox \
         (Debian: `apt-get install busybox-static`)",
        path.display()
    );
    path
}

/// True when an ELF file has a PT_INTERP program header (it needs a dynamic loader).
fn elf_has_interpreter(bytes: &[u8]) -> bool {
    assert!(bytes.starts_with(b"\x7fELF"), "busybox is not an ELF file");
    let big_endian = bytes[5] == 2;
    let uint = |at: usize, len: usize| -> u64 {
        let field = &bytes[at..at + len];
        let mut value = 0u64;
        for i in 0..len {
            let byte = if big_endian {
                field[i]
            } else {
                field[len - 1 - i]
            };
            value = value << 8 | u64::from(byte);
        }
        value
    };
    let (phoff, phentsize, phnum) = match bytes[4] {
        1 => (uint(28, 4), uint(42, 2), uint(44, 2)),
        2 => (uint(32, 8), uint(54, 2), uint(56, 2)),
        class => panic!("unknown ELF class {class}"),
    };
    const PT_INTERP: u64 = 3;
    (0..phnum).any(|i| uint((phoff + i * phentsize) as usize, 4) == PT_INTERP)
}

/// A temp copy of `examples/hello` (every file, as committed or as generated there) with
/// a static busybox added to its build context.
fn hello_repo() -> Repo {
    let repo = Repo::new();
    let src = example_dir();
    for entry in walkdir::WalkDir::new(&src).sort_by_file_name() {
        let entry = entry.expect("walk examples/hello");
        let rel = entry.path().strip_prefix(&src).expect("under the example");
        // A busybox a developer dropped into the example is not ours to use.
        if !entry.file_type().is_file() || rel == Path::new("busybox") {
            continue;
        }
        let rel = rel.to_str().expect("UTF-8 path");
        repo.write(rel, std::fs::read(entry.path()).expect("read example file"));
    }
    assert!(
        repo.exists("specc.kdl"),
        "examples/hello/specc.kdl is missing"
    );
    std::fs::copy(static_busybox(), repo.join("busybox")).expect("copy busybox");
    repo
}

/// The targets of a bake file, evaluated the way `docker buildx bake` does with no
/// variable set: every `variable` at its default.
fn bake_targets(text: &str) -> BTreeMap<String, Json> {
    let evaluated = crate::support::bake::evaluate(text, &BTreeMap::new())
        .expect("docker-bake.hcl evaluates with its defaults");
    evaluated["target"]
        .as_object()
        .expect("docker-bake.hcl has targets")
        .iter()
        .map(|(name, target)| (name.clone(), target.clone()))
        .collect()
}

/// A JSON object of strings as a map.
fn string_map(value: &Json, what: &str) -> BTreeMap<String, String> {
    match value {
        Json::Null => BTreeMap::new(),
        Json::Object(map) => map
            .iter()
            .map(|(k, v)| {
                let v = v
                    .as_str()
                    .unwrap_or_else(|| panic!("{what}.{k} is not a string: {v}"));
                (k.clone(), v.to_owned())
            })
            .collect(),
        other => panic!("{what} is not an object: {other}"),
    }
}

fn str_field<'a>(value: &'a Json, key: &str, what: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{what} has no string `{key}`: {value}"))
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
        let what = format!("bake target {name}");

        let context = repo.join(str_field(bake_target, "context", &what));
        let dockerfile = context.join(str_field(bake_target, "dockerfile", &what));
        let stage = str_field(bake_target, "target", &what);
        assert_eq!(stage, str_field(target, "stage", "plan target"), "{what}");
        let args = string_map(&bake_target["args"], &format!("{what}.args"));
        for (arg, value) in string_map(&target["args"], &format!("plan {name}.args")) {
            assert_eq!(
                args.get(&arg),
                Some(&value),
                "{what} passes the plan's build arg {arg}"
            );
        }
        let image = format!("localhost/hello:{variant}");
        let mut tags = vec![image.clone()];
        tags.extend(
            bake_target["tags"]
                .as_array()
                .expect("bake target has tags")
                .iter()
                .map(|t| t.as_str().expect("tag is a string").to_owned()),
        );
        buildah.build(&Build {
            context,
            dockerfile,
            target: stage.to_owned(),
            args,
            labels: string_map(&bake_target["labels"], &format!("{what}.labels")),
            tags,
            ..Build::default()
        });

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
