//! Issue 10: the generated `.dockerignore` files mean what the spec says in the tool that
//! reads them, and the matcher specc hashes inputs with (`value::ignore::IgnoreRules`)
//! agrees with it. Each case generates a spec whose image copies its whole context
//! (`copy "." to="/ctx/"`), builds it with buildah and lists what landed in `/ctx`: the
//! files the build context sent. That list must be the one written in the test, and the
//! one `IgnoreRules` gives for the same file.

use specc::value::ignore::IgnoreRules;

use crate::support::buildah::{Build, Buildah};
use crate::support::repo::Repo;

/// A context with files specc's defaults exclude, at the top and under folders.
fn tree(spec: &str) -> Repo {
    let mut repo = Repo::new().spec(spec);
    for file in [
        "README.md",
        "notes.md",
        ".env",
        "api/main.py",
        "api/.env",
        "api/debug.log",
        "api/keep/.env",
        "api/node_modules/x/index.js",
        "api/sub/.env",
        "web/index.html",
        "web/node_modules/y.js",
        ".git/config",
    ] {
        repo = repo.file(file, format!("{file}\n"));
    }
    repo
}

/// What `IgnoreRules` reads from `ignore` (a `.dockerignore` text): the repository's files
/// it does not exclude.
fn kept_by_rules(repo: &Repo, ignore: &str) -> Vec<String> {
    let rules = IgnoreRules::from_text(ignore);
    repo.files()
        .into_keys()
        .filter(|f| !rules.excludes(f))
        .collect()
}

/// The files buildah copies into `/ctx` for the Dockerfile `dockerfile`, reading the
/// context's `.dockerignore`, or `ignorefile` when given.
fn copied(
    buildah: &Buildah,
    repo: &Repo,
    dockerfile: &str,
    ignorefile: Option<&str>,
) -> Vec<String> {
    let build = Build {
        context: repo.path().to_path_buf(),
        dockerfile: repo.join(dockerfile),
        tags: vec!["localhost/ignore-test:1".into()],
        ..Build::default()
    };
    let ignorefile = ignorefile.map(|f| repo.join(f));
    buildah.copied_files(&build, "/ctx", ignorefile.as_deref())
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_dockerignore_excludes_what_buildah_excludes_and_user_negations_bring_back_only_what_they_name()
 {
    let buildah = Buildah::new();
    let cases: &[(&str, &[&str])] = &[
        // The issue's allow-list: `!api/**` brings back `api`, but not the `.env` files
        // and `node_modules` specc's defaults exclude under it; `!api/keep/.env` names
        // one of them, and gets it.
        (
            r#"ignore "*" "!api/**" "!api/keep/.env""#,
            &["api/keep/.env", "api/main.py"],
        ),
        // No `!`: the defaults and the spec's exclusions.
        (
            r#"ignore "*.md""#,
            &[
                ".dockerignore",
                "api/main.py",
                "docker/app.Dockerfile",
                "specc.kdl",
                "web/index.html",
            ],
        ),
        // A `!` naming a default brings its files back (here the top-level `.env` and
        // every `*.log`), and nothing else of the defaults.
        (
            r#"ignore "*.md" "!README.md" "!/.env" "!**/*.log""#,
            &[
                ".dockerignore",
                ".env",
                "README.md",
                "api/debug.log",
                "api/main.py",
                "docker/app.Dockerfile",
                "specc.kdl",
                "web/index.html",
            ],
        ),
    ];
    for (ignore, expected) in cases {
        let spec = format!(
            "project app version=\"1.0.0\"\n{ignore}\nstage app from=\"scratch\" {{\n    copy \".\" to=\"/ctx/\"\n}}\nimage app stage=app\n"
        );
        let repo = tree(&spec);
        repo.run(&["generate"]).success();
        let text = repo.read_text(".dockerignore");
        let sent = copied(&buildah, &repo, "docker/app.Dockerfile", None);
        assert_eq!(sent, strings(expected), "buildah with `{ignore}`:\n{text}");
        assert_eq!(
            kept_by_rules(&repo, &text),
            sent,
            "IgnoreRules disagrees with buildah for `{ignore}`:\n{text}"
        );
    }
}

/// Two images share the context `.` and need different files: each gets its own
/// `<Dockerfile>.dockerignore`, which BuildKit reads instead of `.dockerignore` (buildah
/// 1.28 reads it only when given as `--ignorefile`). The context's `.dockerignore` holds
/// the shared patterns alone, and each image's input hash follows its own file.
#[test]
fn images_sharing_a_context_get_their_own_ignore_files() {
    let spec = r#"project app version="1.0.0"
ignore "*.md"
stage api from="scratch" {
    copy "." to="/ctx/"
}
stage web from="scratch" {
    copy "." to="/ctx/"
}
image api stage=api {
    ignore "*" "!api/**"
}
image web stage=web {
    ignore "api"
}
image all stage=api
"#;
    let repo = tree(spec);
    repo.run(&["generate"]).success();
    for file in [
        "docker/api.Dockerfile.dockerignore",
        "docker/web.Dockerfile.dockerignore",
        ".dockerignore",
    ] {
        assert!(repo.exists(file), "{file} is written");
    }
    assert!(!repo.exists("docker/all.Dockerfile.dockerignore"));
    let buildah = Buildah::new();
    // What the shared context sends past the top-level patterns and the defaults.
    let everything = [
        ".dockerignore",
        "api/main.py",
        "docker/all.Dockerfile",
        "docker/api.Dockerfile",
        "docker/api.Dockerfile.dockerignore",
        "docker/web.Dockerfile",
        "docker/web.Dockerfile.dockerignore",
        "specc.kdl",
        "web/index.html",
    ];
    let without_api: Vec<&str> = everything
        .iter()
        .copied()
        .filter(|f| !f.starts_with("api/"))
        .collect();
    for (image, ignorefile, expected) in [
        (
            "api",
            Some("docker/api.Dockerfile.dockerignore"),
            &["api/main.py"][..],
        ),
        (
            "web",
            Some("docker/web.Dockerfile.dockerignore"),
            &without_api[..],
        ),
        ("all", None, &everything[..]),
    ] {
        let dockerfile = format!("docker/{image}.Dockerfile");
        let sent = copied(&buildah, &repo, &dockerfile, ignorefile);
        assert_eq!(sent, strings(expected), "{image}");
        let text = repo.read_text(ignorefile.unwrap_or(".dockerignore"));
        assert_eq!(kept_by_rules(&repo, &text), sent, "{image}:\n{text}");
    }
    // `web/` is outside what api's file lets through: its hash does not move.
    std::fs::remove_dir_all(repo.join(".git")).expect("remove the stand-in .git");
    repo.commit("generated");
    repo.write("web/index.html", "changed\n");
    let out = repo.run(&["plan", "--changed"]).success();
    let changed: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(changed, ["web", "all"], "{out}");
}

/// A file the spec's own `ignore` keeps out, which a `copy` needs: buildah (like BuildKit)
/// fails the step, so `check` refuses the spec; a `!` pattern naming the file fixes both.
#[test]
fn a_copied_file_the_spec_ignores_is_refused_because_the_build_fails() {
    let spec = |ignore: &str| {
        format!(
            "project app version=\"1.0.0\"\n{ignore}\nstage app from=\"scratch\" {{\n    copy \"README.md\" to=\"/ctx/\"\n}}\nimage app stage=app\n"
        )
    };
    let refused = tree(&spec(r#"ignore "*.md""#));
    refused
        .run(&["check", "--spec-only"])
        .code(1)
        .stderr_contains("specc::check::source_ignored");
    let repo = tree(&spec(r#"ignore "*.md" "!README.md""#));
    repo.run(&["generate"]).success();
    let buildah = Buildah::new();
    assert_eq!(
        copied(&buildah, &repo, "docker/app.Dockerfile", None),
        ["README.md"]
    );
    // The refused spec's patterns, as a .dockerignore: the build fails.
    repo.write(".dockerignore", "*.md\n");
    let args: Vec<std::ffi::OsString> = vec![
        "build".into(),
        "--isolation".into(),
        "chroot".into(),
        "-f".into(),
        repo.join("docker/app.Dockerfile").into(),
        repo.path().into(),
    ];
    let out = buildah.run(args);
    assert!(
        !out.status.success(),
        "the build of an ignored file succeeded: {out}"
    );
}
