//! The bundled examples (`examples/*/specc.kdl`) as real projects: a temp copy with the
//! static busybox their `FROM scratch` stages take from the build context, and a
//! `buildah build` of a plan target with exactly what its bake target passes.
//!
//! ```ignore
//! let repo = example_repo(&example_dirs()[0]);
//! repo.run(&["generate"]).success();
//! let bake = bake_targets(&repo.read_text("docker-bake.hcl"));
//! buildah.build(&bake_build(&repo, &bake[name], plan_target, tags));
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use super::buildah::Build;
use super::repo::Repo;
use super::validators::{repo_root, require_tool};

/// Every `examples/<name>/` folder that holds a `specc.kdl`, sorted.
pub fn example_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(repo_root().join("examples"))
        .expect("read examples/")
        .map(|e| e.expect("an examples/ entry").path())
        .filter(|d| d.join("specc.kdl").is_file())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no examples/*/specc.kdl");
    dirs
}

/// The busybox binary to put into a build context; panics unless it is statically
/// linked (a dynamic one cannot run in a `FROM scratch` image).
pub fn static_busybox() -> PathBuf {
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

/// A temp copy of the example in `dir` (every file, as committed or as generated there)
/// with a static busybox added to its build context.
pub fn example_repo(dir: &Path) -> Repo {
    let repo = Repo::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.expect("walk the example");
        let rel = entry.path().strip_prefix(dir).expect("under the example");
        // A busybox a developer dropped into the example is not ours to use.
        if !entry.file_type().is_file() || rel == Path::new("busybox") {
            continue;
        }
        let rel = rel.to_str().expect("UTF-8 path");
        repo.write(rel, std::fs::read(entry.path()).expect("read example file"));
    }
    assert!(
        repo.exists("specc.kdl"),
        "{}/specc.kdl is missing",
        dir.display()
    );
    std::fs::copy(static_busybox(), repo.join("busybox")).expect("copy busybox");
    repo
}

/// The targets of a bake file, evaluated the way `docker buildx bake` does with no
/// variable set: every `variable` at its default.
pub fn bake_targets(text: &str) -> BTreeMap<String, Json> {
    let evaluated = super::bake::evaluate(text, &BTreeMap::new())
        .expect("docker-bake.hcl evaluates with its defaults");
    evaluated["target"]
        .as_object()
        .expect("docker-bake.hcl has targets")
        .iter()
        .map(|(name, target)| (name.clone(), target.clone()))
        .collect()
}

/// A JSON object of strings as a map.
pub fn string_map(value: &Json, what: &str) -> BTreeMap<String, String> {
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

pub fn str_field<'a>(value: &'a Json, key: &str, what: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{what} has no string `{key}`: {value}"))
}

/// The `buildah build` of `plan_target` (a target of `specc plan --json`) in `repo` with
/// what its bake target passes (context, Dockerfile, stage, args, labels), tagged
/// `tags`; panics unless the bake target builds the plan's stage with the plan's args.
pub fn bake_build(repo: &Repo, bake_target: &Json, plan_target: &Json, tags: Vec<String>) -> Build {
    let name = str_field(plan_target, "name", "plan target");
    let what = format!("bake target {name}");
    let context = repo.join(str_field(bake_target, "context", &what));
    let dockerfile = context.join(str_field(bake_target, "dockerfile", &what));
    let stage = str_field(bake_target, "target", &what);
    assert_eq!(
        stage,
        str_field(plan_target, "stage", "plan target"),
        "{what}"
    );
    let args = string_map(&bake_target["args"], &format!("{what}.args"));
    for (arg, value) in string_map(&plan_target["args"], &format!("plan {name}.args")) {
        assert_eq!(
            args.get(&arg),
            Some(&value),
            "{what} passes the plan's build arg {arg}"
        );
    }
    Build {
        context,
        dockerfile,
        target: stage.to_owned(),
        args,
        labels: string_map(&bake_target["labels"], &format!("{what}.labels")),
        tags,
        ..Build::default()
    }
}
