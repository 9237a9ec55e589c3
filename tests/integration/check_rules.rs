//! Rules that moved into `check` (issue 8): what the diagnostics fixtures cannot show,
//! because it is not a diagnostic.

use crate::support::repo::Repo;

/// `node:18` and `node/18` are two images; `specc graph` used to merge them into one
/// vertex because their ids differed only in characters an id cannot hold.
#[test]
fn graph_keeps_references_that_differ_only_in_punctuation_apart() {
    let spec = "project demo version=\"1.0.0\"\n\
stage a from=\"node:18\"\n\
stage b from=\"node/18\"\n\
image a stage=a\n\
image b stage=b\n";
    let out = Repo::new().spec(spec).run(&["graph"]).success();
    let expected = "digraph specc {
  rankdir=LR;
  node [shape=box, fontname=\"monospace\"];
  stage_0 [label=\"stage a\"];
  stage_1 [label=\"stage b\"];
  variant_0 [label=\"variant default\"];
  ext_3_node_18 [label=\"node:18\", style=dashed];
  ext_4_node_18 [label=\"node/18\", style=dashed];
  image_0 [label=\"image a\"];
  image_1 [label=\"image b\"];
  stage_0 -> ext_3_node_18 [label=\"from\"];
  stage_1 -> ext_4_node_18 [label=\"from\"];
  image_0 -> stage_0 [label=\"target\"];
  image_0 -> variant_0 [label=\"variant\"];
  image_1 -> stage_1 [label=\"target\"];
  image_1 -> variant_0 [label=\"variant\"];
}
";
    assert_eq!(out.stdout, expected);
}

/// A spec `check --spec-only` accepts generates; here with every value the old renderers
/// refused written the way they accept it (the fixtures show the refusals).
#[test]
fn values_check_accepts_generate() {
    let spec = "project demo version=\"1.0.0\"\n\
ignore \"models/\"\n\
stage build from=\"alpine:3.20\" {\n    copy \"app\" to=\"/srv/app\"\n    run \"echo one\" \"echo two\"\n}\n\
image demo stage=build\n";
    let repo = Repo::new().spec(spec).file("app/main.py", "print(1)\n");
    repo.run(&["check", "--spec-only"]).success();
    repo.run(&["generate"]).success();
}

/// Issue 10: an image's own `ignore` patterns are checked like the top-level ones: one
/// naming `.git` is refused, while a broad `!**` is not (specc writes its defaults, `.git`
/// among them, again after the spec's patterns), and the generated file keeps `.git` out.
#[test]
fn an_image_ignore_naming_git_is_refused_and_a_broad_negation_is_not() {
    let spec = |pattern: &str| {
        format!(
            "project demo version=\"1.0.0\"\n\
stage app from=\"scratch\" {{\n    copy \".\" to=\"/app\"\n}}\n\
image demo stage=app {{\n    ignore \"{pattern}\"\n}}\n"
        )
    };
    Repo::new()
        .spec(&spec("!.git/config"))
        .run(&["check", "--spec-only"])
        .code(1)
        .stderr_contains("specc::check::copies_git");
    let repo = Repo::new().spec(&spec("!**"));
    repo.run(&["generate"]).success();
    let text = repo.read_text("docker/demo.Dockerfile.dockerignore");
    let rules = specc::value::ignore::IgnoreRules::from_text(&text);
    assert!(rules.excludes(".git/config"), "{text}");
    assert!(!rules.excludes("app/main.py"), "{text}");
}
