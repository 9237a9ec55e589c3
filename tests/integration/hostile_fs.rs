//! Hostile repositories (issue 9, findings 1, 2, 3, 8 and 9): a tampered lock, committed
//! symbolic links, outputs aimed at `.git`, oversized or endless specs, `kill -9` at any
//! moment and concurrent runs. Each test reproduces a finding and shows it fixed: no file
//! outside the temporary repository changes (a sibling "victim" folder is snapshotted),
//! tracked files stay byte-identical, nothing secret is printed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::repo::{Output, command_in, run_in, specc_bin};

const SPEC: &str = r#"project demo version="1.0.0"

stage api-run from="python:3.12-slim" {
    workdir "/app"
    copy "." to="."
    cmd "python3" "main.py"
}

image api stage=api-run context="api"

service api image=api {
    port "8000:8000"
}
"#;

/// A parent folder holding the repository `repo/` and a sibling `victim/` folder.
struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new(spec: &str) -> World {
        let dir = tempfile::Builder::new()
            .prefix("specc-hostile-")
            .tempdir()
            .unwrap();
        let w = World { dir };
        w.write("repo/specc.kdl", spec);
        w.write("repo/README.md", "# demo\n");
        w.write("repo/src/main.rs", "fn main() {}\n");
        w.write("repo/api/main.py", "print('api')\n");
        w.write("victim/x", "precious\n");
        w.write("victim/sub/y", "also precious\n");
        w
    }
    fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }
    fn victim(&self) -> PathBuf {
        self.dir.path().join("victim")
    }
    fn write(&self, rel: &str, text: impl AsRef<[u8]>) {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    fn run(&self, args: &[&str]) -> Output {
        run_in(&self.repo(), specc_bin(), args, &[])
    }
    /// Every file and link under the parent folder, with its bytes or link target.
    fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        snapshot(self.dir.path())
    }
}

/// Every file (bytes) and symbolic link (`-> target`) under `root`, not following links.
fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(root).follow_links(false) {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(root).unwrap().display().to_string();
        if e.path_is_symlink() {
            let t = std::fs::read_link(e.path()).unwrap();
            out.insert(rel, format!("-> {}", t.display()).into_bytes());
        } else if e.file_type().is_file() {
            out.insert(rel, std::fs::read(e.path()).unwrap());
        }
    }
    out
}

fn lock_with_entry(lock: &str, entry: &str, hash: &str) -> String {
    let key = entry.replace('\\', "\\\\").replace('"', "\\\"");
    lock.replacen(
        "[outputs]\n",
        &format!("[outputs]\n\"{key}\" = \"{hash}\"\n"),
        1,
    )
}

#[test]
fn a_tampered_lock_never_removes_files_outside_or_tracked_ones() {
    // Finding 1: entries joined to the root unchecked deleted `../victim/x`, absolute
    // paths, README.md and src/main.rs (exit 0 when the hash matched; any with --force).
    let w = World::new(SPEC);
    w.run(&["generate"]).success();
    let lock = std::fs::read_to_string(w.repo().join("specc.lock")).unwrap();
    let abs = w.victim().join("x").display().to_string();
    let cases = [
        ("../victim/x", "precious\n"),
        (abs.as_str(), "precious\n"),
        ("README.md", "# demo\n"),
        ("src/main.rs", "fn main() {}\n"),
        ("api/../../victim/sub/y", "also precious\n"),
    ];
    for (entry, bytes) in cases {
        let hash = blake3::hash(bytes.as_bytes()).to_hex().to_string();
        for hash in [hash.as_str(), "0000"] {
            std::fs::write(
                w.repo().join("specc.lock"),
                lock_with_entry(&lock, entry, hash),
            )
            .unwrap();
            let before = w.snapshot();
            for args in [&["generate"][..], &["generate", "--force"], &["check"]] {
                w.run(args)
                    .code(2)
                    .stderr_contains("specc::io::lock_entry")
                    .stderr_lacks("precious");
                assert_eq!(w.snapshot(), before, "{entry} ({hash}) with {args:?}");
            }
        }
    }
}

#[cfg(unix)]
#[test]
fn committed_links_at_output_folders_and_files_are_never_followed() {
    // Finding 3: with `docker -> ../elsewhere` committed, generate wrote outside the
    // repository and check said in sync.
    let w = World::new(SPEC);
    std::fs::create_dir_all(w.dir.path().join("elsewhere")).unwrap();
    std::os::unix::fs::symlink("../elsewhere", w.repo().join("docker")).unwrap();
    let before = w.snapshot();
    for args in [&["generate"][..], &["generate", "--force"], &["check"]] {
        w.run(args)
            .code(2)
            .stderr_contains("specc::io::path")
            .stderr_contains("`docker` is a symbolic link");
        assert_eq!(w.snapshot(), before, "{args:?}");
    }
    // A link at an output file (to the victim): never read, never written through.
    std::fs::remove_file(w.repo().join("docker")).unwrap();
    std::os::unix::fs::symlink("../victim/x", w.repo().join("compose.yaml")).unwrap();
    let before = w.snapshot();
    for args in [&["generate"][..], &["generate", "--force"], &["check"]] {
        w.run(args)
            .code(2)
            .stderr_contains("specc::io::path")
            .stderr_lacks("precious");
        assert_eq!(w.snapshot(), before, "{args:?}");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn proc_self_environ_is_never_printed() {
    // Finding 2: a lock entry or a committed link made `check` print any readable file
    // as a "diff", /proc/self/environ (secrets included) among them.
    const SECRET: &str = "hunter2-do-not-print";
    let w = World::new(SPEC);
    w.run(&["generate"]).success();
    let lock = std::fs::read_to_string(w.repo().join("specc.lock")).unwrap();
    let run = |args: &[&str]| run_in(&w.repo(), specc_bin(), args, &[("SECRET_TOKEN", SECRET)]);
    let assert_silent = |out: Output| {
        assert!(
            !out.stdout.contains(SECRET) && !out.stderr.contains(SECRET),
            "{out}"
        );
        assert_ne!(out.status.code(), Some(0), "{out}");
    };
    for entry in ["/proc/self/environ", "../../../../../../proc/self/environ"] {
        std::fs::write(
            w.repo().join("specc.lock"),
            lock_with_entry(&lock, entry, "00"),
        )
        .unwrap();
        for args in [&["check"][..], &["generate"], &["generate", "--force"]] {
            assert_silent(run(args));
        }
    }
    std::fs::write(w.repo().join("specc.lock"), &lock).unwrap();
    for (link, target) in [
        ("compose.yaml", "/proc/self/environ"),
        ("docker/api.Dockerfile", "/proc/self/environ"),
        ("specc.lock", "/proc/self/environ"),
    ] {
        let path = w.repo().join(link);
        let saved = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(target, &path).unwrap();
        for args in [&["check"][..], &["generate"], &["generate", "--force"]] {
            assert_silent(run(args));
        }
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, saved).unwrap();
    }
    // The spec itself as a link out of its folder.
    let spec = w.repo().join("specc.kdl");
    std::fs::rename(&spec, w.repo().join("real.kdl")).unwrap();
    std::os::unix::fs::symlink("/proc/self/environ", &spec).unwrap();
    assert_silent(run(&["check"]));
}

#[test]
fn outputs_never_go_inside_git() {
    // Finding 3: `output { dockerfiles ".git/hooks" }` was accepted, and
    // `output { lock ".git/config" }` corrupted the git config with --force.
    for output in [
        "output {\n    dockerfiles \".git/hooks\"\n}\n",
        "output {\n    lock \".git/config\"\n}\n",
        "output {\n    compose \"sub/.git/config\"\n}\n",
    ] {
        let w = World::new(&format!("{SPEC}{output}"));
        w.write("repo/.git/config", "[core]\n");
        w.write("repo/.git/hooks/pre-commit", "#!/bin/sh\n");
        w.write("repo/sub/.git/config", "[core]\n");
        let before = w.snapshot();
        for args in [&["generate"][..], &["generate", "--force"], &["check"]] {
            w.run(args).code(1).stderr_contains("inside `.git`");
            assert_eq!(w.snapshot(), before, "{output} {args:?}");
        }
    }
}

/// The peak resident memory of `specc ARGS` (KiB) with `stdin`, measured by
/// `/usr/bin/time -f %M`; the run's output.
fn peak_kib(dir: &Path, args: &[&str], stdin: Stdio) -> (u64, Output) {
    let mut c = command_in(dir, "/usr/bin/time", &["-f", "peak-kib=%M"], &[]);
    c.arg(specc_bin()).args(args).stdin(stdin);
    let out = Output::of(&mut c);
    let kib = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak-kib="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak in {out}"));
    (kib, out)
}

#[test]
fn oversized_and_endless_specs_are_refused_with_bounded_memory() {
    // Finding 8: /dev/zero as the spec, or on stdin, grew to 5.6-7.2 GB in 10 s.
    if !Path::new("/usr/bin/time").exists() {
        eprintln!("skipped: /usr/bin/time is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // 17 MiB of valid KDL comments: over the 16 MiB limit.
    let line = format!("// {}\n", "x".repeat(1021));
    std::fs::write(dir.path().join("big.kdl"), line.repeat(17 * 1024)).unwrap();
    let start = Instant::now();
    let cases: [(&[&str], Stdio); 3] = [
        (&["check", "--spec-only", "big.kdl"], Stdio::null()),
        (&["check", "--spec-only", "/dev/zero"], Stdio::null()),
        (
            &["check", "--spec-only", "-"],
            Stdio::from(std::fs::File::open("/dev/zero").unwrap()),
        ),
    ];
    for (args, stdin) in cases {
        let (kib, out) = peak_kib(dir.path(), args, stdin);
        assert_eq!(out.status.code(), Some(2), "{out}");
        assert!(out.stderr.contains("larger than 16 MiB"), "{out}");
        // Reading at most 16 MiB (plus a doubling buffer) and a 256 MiB stack reserved
        // but untouched: far below the gigabytes of before.
        assert!(kib < 128 * 1024, "{args:?}: peak {kib} KiB");
        eprintln!("{args:?}: peak {kib} KiB");
    }
    assert!(start.elapsed() < Duration::from_secs(30));
}

/// A tiny xorshift generator: reproducible from the seed printed on failure.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A spec with `n` images; `variant` changes every Dockerfile and adds or drops outputs.
fn many(n: usize, variant: bool) -> String {
    let mut s = String::from("project demo version=\"1.0.0\"\n");
    let base = if variant {
        "alpine:3.21"
    } else {
        "alpine:3.20"
    };
    for i in 0..n {
        s.push_str(&format!(
            "stage s{i} from=\"{base}\" {{\n    copy \".\" to=\"/app\"\n}}\nimage i{i} stage=s{i} context=\"c{i}\"\n"
        ));
    }
    // Only in one spec: an output appears or disappears between them.
    let only = if variant { "extra-b" } else { "extra-a" };
    s.push_str(&format!(
        "stage {only} from=\"{base}\" {{\n    expose 80\n}}\nimage {only} stage={only}\n"
    ));
    s
}

/// The outputs (lock included) `spec` generates in a fresh repository.
fn outputs_of(spec: &str) -> BTreeMap<String, Vec<u8>> {
    let w = World::new(spec);
    w.run(&["generate"]).success();
    let mut files = snapshot(&w.repo());
    for kept in ["specc.kdl", "README.md", "src/main.rs", "api/main.py"] {
        files.remove(kept);
    }
    files
}

fn temporaries(root: &Path) -> Vec<String> {
    snapshot(root)
        .into_keys()
        .filter(|p| p.rsplit('/').next().unwrap().starts_with(".specc-"))
        .collect()
}

#[cfg(unix)]
#[test]
fn kill_9_at_any_moment_leaves_old_or_new_files_and_recovers_without_force() {
    // Finding 9: kills left thousands of temporary files, and regenerating after putting
    // the old spec back reported files "edited by hand" until --force.
    let (a, b) = (many(3, false), many(3, true));
    let (out_a, out_b) = (outputs_of(&a), outputs_of(&b));
    let w = World::new(&a);
    w.run(&["generate"]).success();
    // How long one generate takes here: kills land anywhere in it.
    let t = Instant::now();
    w.run(&["generate"]).success();
    let span = (t.elapsed().as_micros() as u64 * 3 / 2).clamp(1000, 60_000);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = Rng(seed);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut iterations = 0;
    let mut specs = [&a, &b];
    while iterations < 100 {
        assert!(
            Instant::now() < deadline,
            "seed {seed}: 100 kills took over 30 s"
        );
        iterations += 1;
        specs.swap(0, 1);
        std::fs::write(w.repo().join("specc.kdl"), specs[0]).unwrap();
        let mut child = command_in(&w.repo(), specc_bin(), &["generate"], &[])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.next() % span));
        let _ = child.kill();
        let _ = child.wait();
        // Every output is the old or the new one, never a mix or half a file.
        for (path, bytes) in snapshot(&w.repo()) {
            let name = path.rsplit('/').next().unwrap();
            if name.starts_with(".specc-tmp-")
                || (!out_a.contains_key(&path) && !out_b.contains_key(&path))
            {
                continue;
            }
            assert!(
                out_a.get(&path) == Some(&bytes) || out_b.get(&path) == Some(&bytes),
                "seed {seed}, iteration {iterations}: {path} is neither old nor new"
            );
        }
        // Every few kills, recover without --force: with the spec of the killed run, or
        // with the spec reverted to the one before it.
        if iterations % 10 == 0 {
            let (spec, expected) = if iterations % 20 == 10 {
                (specs[1], if specs[1] == &a { &out_a } else { &out_b })
            } else {
                (specs[0], if specs[0] == &a { &out_a } else { &out_b })
            };
            std::fs::write(w.repo().join("specc.kdl"), spec).unwrap();
            w.run(&["generate"]).success();
            w.run(&["check"]).success();
            assert_eq!(temporaries(&w.repo()), Vec::<String>::new(), "seed {seed}");
            let mut now = snapshot(&w.repo());
            for kept in ["specc.kdl", "README.md", "src/main.rs", "api/main.py"] {
                now.remove(kept);
            }
            assert_eq!(&now, expected, "seed {seed}, iteration {iterations}");
            std::fs::write(w.repo().join("specc.kdl"), specs[0]).unwrap();
        }
    }
    eprintln!("{iterations} kills (seed {seed}, window {span} µs)");
    assert!(iterations >= 100);
}

#[test]
fn concurrent_generates_take_turns_and_both_succeed() {
    // Finding 9: one of two concurrent runs failed with a misleading "cannot write".
    for round in 0..4 {
        let spec = many(3, round % 2 == 1);
        let w = World::new(&spec);
        let spawn = || {
            command_in(&w.repo(), specc_bin(), &["generate"], &[])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (x, y) = (spawn(), spawn());
        for child in [x, y] {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        w.run(&["check"]).success();
        assert_eq!(temporaries(&w.repo()), Vec::<String>::new());
    }
}

#[test]
fn the_loser_of_a_held_folder_says_so() {
    let w = World::new(SPEC);
    let held = std::fs::File::open(w.repo()).unwrap();
    held.lock().unwrap();
    let out = Output::of(
        Command::new(specc_bin())
            .arg("generate")
            .current_dir(w.repo())
            .env("SPECC_LOCK_WAIT", "1")
            .env("NO_COLOR", "1"),
    );
    drop(held);
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(out.stderr.contains("another specc run is writing"), "{out}");
    assert!(!w.repo().join("specc.lock").exists());
}
