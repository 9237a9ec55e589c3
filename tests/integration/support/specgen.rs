//! Spec generators shared by the property tests: KDL documents in specc's vocabulary
//! ([`spec_document`]), specs that follow the language's grammar with a little noise
//! ([`grammar_document`]), and mutations of the bundled specs ([`mutated_spec`]).
//! `no_panic` feeds them to every entry point; `consistency` compares the outputs of the
//! specs among them that compile.

use crate::support::kdl::string as quote;
use proptest::prelude::*;
use proptest::sample::Index;
use specc::spec::{
    CHART_CHILDREN, INSTRUCTIONS, OUTPUT_SETTINGS, SERVICE_CHILDREN, TOP_LEVEL, WORKFLOW_CHILDREN,
};

pub const SPECS: [(&str, &str); 5] = [
    (
        "comfyui-runpod",
        include_str!("../../../specs/comfyui-runpod.kdl"),
    ),
    ("dify", include_str!("../../../specs/dify.kdl")),
    ("iopaint", include_str!("../../../specs/iopaint.kdl")),
    ("new-api", include_str!("../../../specs/new-api.kdl")),
    ("sd-on-eks", include_str!("../../../specs/sd-on-eks.kdl")),
];

pub fn weird_string() -> BoxedStrategy<String> {
    prop_oneof![
        3 => prop::sample::select(WEIRD.to_vec()).prop_map(str::to_string),
        1 => "\\PC{0,12}",
        1 => "[ -~]{0,12}",
        1 => Just("x".repeat(300)),
    ]
    .boxed()
}

pub const WEIRD: &[&str] = &[
    "",
    " ",
    "-",
    ".",
    "..",
    "/",
    "\\",
    "\"",
    "'",
    "#",
    "\n",
    "\r\n",
    "\t",
    "a\nb",
    "x # y",
    "$",
    "$X",
    "${X}",
    "${{ secrets.X }}",
    "${{",
    "{{",
    "}}",
    "{{version}}",
    "{{ version }}",
    "{{nope}}",
    "\\{{version}}",
    "*",
    "**/*",
    "!x",
    "[",
    "?",
    ":",
    "::",
    "@",
    "a:b:c:d",
    "ü",
    "日本語",
    "😀",
    "e\u{301}",
    "\u{200b}",
    "\u{feff}",
    "\u{202e}",
    "\u{7f}",
    "\u{85}",
    "\u{2028}",
    "%s%n",
    "--",
    "-rf",
    "null",
    "~",
    "yes",
    "no",
    "on",
    "0",
    "-1",
    "1e3",
    "0x10",
    "NaN",
    "true",
    "<<: *a",
    "&a",
    "!!str",
    "| x",
    "> x",
    "key: value",
    "- item",
    "[1, 2]",
    "{a: 1}",
    "C:\\x",
    "../../etc/passwd",
    "/etc/passwd",
    "a/../b",
    "dckr_pat_0123456789abcdefghij",
    "ghp_0123456789abcdefghijABCDEFGHIJ012345",
    "AKIAIOSFODNN7EXAMPLE",
];

// ---------------------------------------------------------------------------------------
// (b) KDL documents in specc's vocabulary
// ---------------------------------------------------------------------------------------

/// A KDL value as written in the document.
#[derive(Debug, Clone)]
pub enum Value {
    /// A quoted string (escaped as needed).
    Str(String),
    /// `#"..."#`
    Raw(String),
    /// A multi-line string `"""..."""`.
    Multi(Vec<String>),
    /// Written as is: bare identifiers, numbers, keywords.
    Verbatim(String),
    Annotated(String, Box<Value>),
}

#[derive(Debug, Clone)]
pub struct Node {
    annotation: Option<String>,
    name: String,
    args: Vec<Value>,
    props: Vec<(String, Value)>,
    children: Option<Vec<Node>>,
    /// `/-` in front: the node is commented out.
    slashdash: bool,
}

/// A bare identifier when KDL allows one, else a quoted string.
pub fn ident(s: &str) -> String {
    let bare = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && !s.starts_with(['-', '.'])
        && !matches!(s, "true" | "false" | "null" | "inf" | "nan");
    if bare { s.to_string() } else { quote(s) }
}

impl Value {
    fn write(&self, out: &mut String) {
        match self {
            Value::Str(s) => out.push_str(&quote(s)),
            Value::Raw(s) => {
                let hashes = "#".repeat(1 + s.matches('#').count().min(3));
                out.push_str(&format!("{hashes}\"{s}\"{hashes}"));
            }
            Value::Multi(lines) => {
                out.push_str("\"\"\"\n");
                for l in lines {
                    out.push_str("    ");
                    out.push_str(&quote(l)[1..quote(l).len() - 1]);
                    out.push('\n');
                }
                out.push_str("    \"\"\"");
            }
            Value::Verbatim(v) => out.push_str(v),
            Value::Annotated(a, v) => {
                out.push_str(&format!("({})", ident(a)));
                v.write(out);
            }
        }
    }
}

impl Node {
    fn write(&self, out: &mut String, depth: usize) {
        let indent = "    ".repeat(depth);
        out.push_str(&indent);
        if self.slashdash {
            out.push_str("/-");
        }
        if let Some(a) = &self.annotation {
            out.push_str(&format!("({})", ident(a)));
        }
        out.push_str(&ident(&self.name));
        for a in &self.args {
            out.push(' ');
            a.write(out);
        }
        for (k, v) in &self.props {
            out.push(' ');
            out.push_str(&ident(k));
            out.push('=');
            v.write(out);
        }
        if let Some(children) = &self.children {
            out.push_str(" {\n");
            for c in children {
                c.write(out, depth + 1);
            }
            out.push_str(&indent);
            out.push('}');
        }
        out.push('\n');
    }
}

pub fn document(nodes: &[Node]) -> String {
    let mut out = String::new();
    for n in nodes {
        n.write(&mut out, 0);
    }
    out
}

/// Names that declarations use and references point at, so references often resolve.
pub const NAMES: &[&str] = &[
    "a", "b", "app", "runtime", "web", "cpu", "gpu", "hub", "ghcr", "default", "frontend",
];

/// Values of any KDL type, many of them odd.
pub fn any_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        4 => weird_string().prop_map(Value::Str),
        1 => "[a-z#\" ]{0,8}".prop_map(Value::Raw),
        1 => prop::collection::vec(weird_string(), 0..3).prop_map(Value::Multi),
        2 => any::<i64>().prop_map(|n| Value::Verbatim(n.to_string())),
        1 => any::<f64>().prop_map(|f| Value::Verbatim(format!("{f:?}"))),
        2 => prop::sample::select(vec![
            "#true", "#false", "#null", "#inf", "#-inf", "#nan", "0", "-0", "+1", "1_000",
            "0x7fffffffffffffffffff", "0o777", "0b1010", "1.5e308", "1e999", "-1e-999",
            "99999999999999999999999999999999", "18446744073709551616", "-9223372036854775809",
            "3.0", "1.", "app", "cpu", "latest", "all", "x-y_z.w",
        ])
        .prop_map(|s| Value::Verbatim(s.to_string())),
    ];
    leaf.prop_recursive(1, 2, 1, |inner| {
        (
            prop::sample::select(vec!["expand", "u8", "i64", "f32", "date", "", "EXPAND"]),
            inner,
        )
            .prop_map(|(a, v)| Value::Annotated(a.to_string(), Box::new(v)))
    })
    .boxed()
}

/// Plausible values for an argument or property named `key`, mixed with odd ones.
pub fn value_for(key: &str) -> BoxedStrategy<Value> {
    let plausible: Vec<&'static str> = match key {
        "version" | "chart-version" => vec!["1.0.0", "1.6.0", "v2.3.4-rc.1", "0.0.0", "1", ""],
        "from" => vec![
            "a",
            "b",
            "app",
            "runtime",
            "frontend",
            "$BASE_IMAGE",
            "$X",
            "$",
            "alpine:3.20",
            "scratch",
            "node:18-alpine",
            "ghcr.io/org/base@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "Alpine",
        ],
        "host" => vec![
            "docker.io",
            "ghcr.io",
            "123456789012.dkr.ecr.us-west-2.amazonaws.com",
            "localhost:5000",
            "quay.io",
            "-bad-",
        ],
        "platforms" => vec![
            "linux/amd64",
            "linux/arm64",
            "linux/arm/v7",
            "windows/amd64",
            "linux",
            "linux/amd64 linux/arm64",
        ],
        "tag" => vec![
            "{{version}}",
            "latest",
            "v{{major}}.{{minor}}",
            "{{patch}}",
            "dev-{{sha}}",
            "{{branch}}",
            "{{nope}}",
            "{{",
            "a{{version}}{{version}}{{version}}{{version}}{{version}}{{version}}",
            "pr-{{pr}}",
            "{{sha_long}}",
            "nightly-{{date 'YYYYMMDD'}}",
            "{{date 'MMM'}}",
        ],
        "when" => vec![
            "release",
            "branch",
            "always",
            "never",
            "pr",
            "schedule",
            "branch schedule",
        ],
        "port" => vec![
            "8080:80",
            "80",
            "127.0.0.1:8080:80/udp",
            "3000-3005:3000-3005",
            "99999",
            "[::1]:80:80",
            "a:b",
        ],
        "volume" => vec![
            "./data:/data",
            "pgdata:/var/lib/data",
            "/x",
            "a:b:ro",
            "./x:/y:zz",
            "~/m:/m",
        ],
        "restart" => vec![
            "no",
            "always",
            "on-failure:3",
            "on-failure:x",
            "unless-stopped",
        ],
        "username-secret"
        | "password-secret"
        | "namespace-secret"
        | "access-key-id-secret"
        | "secret-access-key-secret" => vec![
            "DOCKERHUB_TOKEN",
            "GITHUB_TOKEN",
            "X",
            "dckr_pat_0123456789abcdefghij",
            "lower-case",
        ],
        "login" => vec!["basic", "github-token", "aws", "ldap"],
        "region" => vec!["us-west-2", "eu-central-1", "mars-1"],
        "role" => vec!["arn:aws:iam::123456789012:role/push", "role"],
        "variants" | "profile" => vec!["cpu", "gpu", "cpu gpu", "cpu,gpu", "a", ""],
        "registries" | "registry" => vec!["hub", "ghcr", "hub ghcr", "hub,hub", "nope"],
        "images" | "image" => vec!["app", "web", "a", "postgres:16-alpine", "app web"],
        "stage" => vec!["runtime", "a", "b", "app", "frontend"],
        "variant" => vec!["cpu", "gpu", "default"],
        "default" | "link" | "allow-any-platform" | "required" => vec![],
        "count" => vec!["all", "1", "2", "0"],
        "driver" => vec!["nvidia", "amd"],
        "capabilities" => vec!["gpu", "gpu compute", "utility"],
        "tag-prefix" | "tag-suffix" => vec!["gpu-", "-cpu", "", "bad tag", "+"],
        "to" | "workdir" | "target" => vec!["/app", "./", ".", "/app/web_app", "rel", ""],
        "copy" | "add" | "volume-arg" => vec![
            "main.py",
            "web_app",
            "web_app/package.json",
            ".",
            "*.py",
            "[",
            "https://example.com/x.tgz",
            "../x",
            "/abs",
        ],
        "chown" | "user" => vec!["app", "app:app", "1000:1000", "root", ":"],
        "chmod" => vec!["755", "0644", "u+x", "rwxr-xr-x", "999"],
        "checksum" => vec!["sha256:0123", "md5:x"],
        "run" | "healthcheck" | "command" | "cmd" | "entrypoint" | "shell" => vec![
            "npm ci",
            "echo $HOME",
            "echo \"${X}\"",
            "curl -f http://localhost:8080/ || exit 1",
            "a && b",
            "/bin/sh",
            "-c",
        ],
        "interval" | "timeout" | "start-period" => vec!["30s", "1m30s", "2m", "0s", "5", "1h1h"],
        "retries" => vec!["3"],
        "expose" => vec!["8080", "8080/udp", "80/sctp", "0", "70000"],
        "env" | "arg" | "label" | "node-selector" => vec![
            "BASE_IMAGE",
            "PATH",
            "X",
            "python:3.10-slim",
            "nvidia/cuda:11.8.0-runtime-ubuntu22.04",
            "org.example.x",
            "1x",
            "karpenter.sh/nodepool",
        ],
        "ignore" => vec!["models", "*.md", "!README.md", "**/__pycache__", "/x", "#c"],
        "on" => vec!["tag", "release", "dispatch", "push", "schedule", "pull"],
        "pattern" => vec!["v*", "*", "v[0-9]+"],
        "branch" => vec!["main", "dev", "feature/x", "release/**"],
        "cron" => vec!["0 0 * * *", "* *", "@daily"],
        "scan" => vec!["trivy", "scout", "clair"],
        "severity" => vec!["CRITICAL,HIGH", "LOW", "x"],
        "readme" => vec!["README.md", "docs/x.md"],
        "path" => vec!["charts/app", "/api/status", "src/charts/sd_on_eks", "../x"],
        "key" => vec!["image", "queueAgent.image", "a..b", ".x"],
        "type" => vec!["sdwebui", "comfyui", "other", "registry", "gha"],
        "namespace" => vec!["default", "org", "org/team", "Bad"],
        "chart-repository" => vec!["oci://public.ecr.aws/x/charts", "https://x"],
        "cpu" | "memory" => vec!["500m", "2Gi", "1", "lots"],
        "operator" => vec!["Exists", "Equal", "Maybe"],
        "effect" => vec!["NoSchedule", "NoExecute"],
        "condition" => vec!["started", "healthy", "completed", "dead"],
        "sharing" => vec!["shared", "private", "locked", "open"],
        "id" => vec!["npm", "cache id"],
        "cache" => vec!["/root/.cache", "registry", "gha"],
        "secret" => vec!["npmrc", "GITHUB_TOKEN"],
        "repository" => vec!["org/app", "app", "sd-on-eks/charts", "UPPER", "a//b"],
        "context" => vec![".", "src/backend/queue_agent", "web_app", "missing"],
        "lint-ignore" => vec!["DL3008", "DL3008 DL3018", "XX"],
        "runner" => vec!["ubuntu-latest", "self-hosted"],
        "maintainer" => vec!["A <a@example.com>"],
        "source" => vec!["https://github.com/o/r", "not a url"],
        "license" => vec!["MIT", "Apache-2.0"],
        "dockerfiles" | "dockerignore" | "bake" | "compose" | "workflows" | "charts" | "lock" => {
            vec![
                "docker",
                ".dockerignore",
                "docker-bake.hcl",
                "x/compose.yaml",
                "out",
                "/abs",
                "../up",
            ]
        }
        "platform" => vec!["linux/amd64"],
        _ => vec!["x", "1.0", "app"],
    };
    let bools =
        prop::sample::select(vec!["#true", "#false"]).prop_map(|b| Value::Verbatim(b.to_string()));
    let plausible = if plausible.is_empty() {
        bools.boxed()
    } else {
        prop_oneof![
            6 => prop::sample::select(plausible).prop_map(|s| Value::Str(s.to_string())),
            1 => bools,
            1 => prop::sample::select(NAMES.to_vec()).prop_map(|s| Value::Verbatim(s.to_string())),
            1 => (0u32..5).prop_map(|n| Value::Verbatim(n.to_string())),
        ]
        .boxed()
    };
    prop_oneof![8 => plausible, 1 => any_value()].boxed()
}

/// What a node (by name) takes: its properties and its children's names. The same
/// name may mean different things in different places (`arg`, `env`, `image`, `cache`):
/// the tables merge them, so the generator also makes wrong-place uses.
pub fn shape(name: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match name {
        "project" => (
            &["version", "description", "source", "license"],
            &["maintainer"],
        ),
        "output" => (&[], OUTPUT_SETTINGS),
        "registry" => (&["host", "namespace", "namespace-secret"], &["login"]),
        "login" => (
            &[
                "username-secret",
                "password-secret",
                "region",
                "role",
                "access-key-id-secret",
                "secret-access-key-secret",
            ],
            &[],
        ),
        "variant" => (
            &["default", "tag-prefix", "tag-suffix"],
            &["arg", "platforms", "gpu"],
        ),
        "gpu" => (
            &["count", "driver", "capabilities", "allow-any-platform"],
            &[],
        ),
        "stage" => (&["from"], INSTRUCTIONS),
        "copy" | "add" => (
            &[
                "to", "from", "chown", "chmod", "link", "checksum", "variants",
            ],
            &[],
        ),
        "run" => (&["variants", "lint-ignore"], &["cache", "secret"]),
        "cache" => (&["id", "sharing", "registry"], &[]),
        // A mount, and the top-level declaration of the same name.
        "secret" => (&["target", "required", "env", "file", "github"], &[]),
        "healthcheck" => (
            &["interval", "timeout", "start-period", "retries", "variants"],
            &[],
        ),
        "env" => (&["variants", "BASE_IMAGE", "X"], &[]),
        // The other instructions (and the top-level `arg`).
        k if INSTRUCTIONS.contains(&k) => (&["variants"], &[]),
        "image" => (
            &[
                "stage",
                "variants",
                "registries",
                "repository",
                "context",
                "description",
                "variant",
                "registry",
                "key",
            ],
            &["tag", "cache", "ignore"],
        ),
        "tag" => (&["when", "branch", "registry"], &[]),
        "service" => (&["image", "variant"], SERVICE_CHILDREN),
        "depends-on" => (&["condition"], &[]),
        "workflow" => (&["name", "runner"], WORKFLOW_CHILDREN),
        "on" => (&["pattern", "branch", "cron"], &[]),
        "smoke-test" => (&["image", "variant", "port", "path", "command"], &["env"]),
        "scan" => (&["severity"], &[]),
        "dockerhub-description" => (&["registry", "readme", "image"], &[]),
        "chart" => (&["path"], CHART_CHILDREN),
        "runtime" => (
            &[
                "type",
                "namespace",
                "chart-repository",
                "chart-version",
                "image",
                "variant",
            ],
            &[],
        ),
        "resources" => (&["cpu", "memory"], &[]),
        "toleration" => (&["key", "operator", "value", "effect"], &[]),
        "push" => (&["registry", "repository"], &[]),
        _ => (&[], &[]),
    }
}

/// A top-level node called `name` and how often it comes (stages and images most).
pub fn top_level_node(name: &'static str) -> (u32, BoxedStrategy<Node>) {
    let weight = match name {
        "stage" => 3,
        "image" => 2,
        _ => 1,
    };
    // Argument 1 of all but these names what the node declares.
    let declares = !matches!(name, "output" | "arg" | "ignore");
    (weight, node(name, declares, 2))
}

/// A name that is sometimes misspelt, unknown or from elsewhere in the vocabulary.
pub fn node_name(name: &'static str) -> BoxedStrategy<String> {
    prop_oneof![
        20 => Just(name.to_string()),
        1 => Just(format!("{name}s")),
        1 => Just(name.to_uppercase()),
        1 => prop::sample::select(vec!["stgae", "imgae", "copyy", "env", "tag", "from", ""])
            .prop_map(str::to_string),
    ]
    .boxed()
}

/// A node called `name`, shaped by [`shape`], `depth` levels of children left.
pub fn node(name: &'static str, declares: bool, depth: u32) -> BoxedStrategy<Node> {
    let (props, children) = shape(name);
    let args = if declares {
        prop_oneof![
            12 => prop::sample::select(NAMES.to_vec())
                .prop_map(|n| vec![Value::Str(n.to_string())]),
            1 => prop::collection::vec(any_value(), 0..3),
        ]
        .boxed()
    } else {
        prop::collection::vec(value_for(name), 0..4).boxed()
    };
    let prop_names: Vec<&'static str> =
        props.iter().copied().chain(["bogus", "variants"]).collect();
    let props = prop::collection::vec(
        prop::sample::select(prop_names).prop_flat_map(|k| {
            let v = if k == "variants" {
                value_for("variants")
            } else {
                value_for(k)
            };
            (Just(k.to_string()), v)
        }),
        0..4,
    );
    let kids = if depth == 0 || children.is_empty() {
        prop_oneof![
            10 => Just(None),
            1 => Just(Some(Vec::new())),
        ]
        .boxed()
    } else {
        let child = prop::sample::select(children.to_vec())
            .prop_flat_map(move |c| node(c, false, depth - 1));
        prop_oneof![
            1 => Just(None),
            6 => prop::collection::vec(child, 0..6).prop_map(Some),
        ]
        .boxed()
    };
    let annotation = prop_oneof![
        30 => Just(None),
        1 => Just(Some("expand".to_string())),
        1 => Just(Some("x".to_string())),
    ];
    (
        annotation,
        node_name(name),
        args,
        props,
        kids,
        prop::bool::weighted(0.03),
    )
        .prop_map(
            |(annotation, name, args, props, children, slashdash)| Node {
                annotation,
                name,
                args,
                props,
                children,
                slashdash,
            },
        )
        .boxed()
}

/// A spec: usually a project first, then declarations and other top-level nodes.
pub fn spec_document() -> impl Strategy<Value = String> {
    let top = proptest::strategy::Union::new_weighted(
        TOP_LEVEL.iter().map(|&name| top_level_node(name)).collect(),
    );
    let project = prop_oneof![
        12 => node("project", true, 1).prop_map(Some),
        1 => Just(None),
    ];
    (project, prop::collection::vec(top, 0..10)).prop_map(|(project, rest)| {
        let mut nodes: Vec<Node> = project.into_iter().collect();
        nodes.extend(rest);
        document(&nodes)
    })
}

// ---------------------------------------------------------------------------------------
// (b') specs that follow the grammar, with a little noise: these reach plan and render
// ---------------------------------------------------------------------------------------

/// The names a generated spec declares; references are drawn from them.
#[derive(Debug, Clone)]
pub struct Declared {
    registries: Vec<&'static str>,
    variants: Vec<&'static str>,
    stages: Vec<&'static str>,
    images: Vec<&'static str>,
    services: Vec<&'static str>,
    workflows: Vec<&'static str>,
    charts: Vec<&'static str>,
    args: Vec<&'static str>,
}

pub fn string(v: &str) -> Value {
    Value::Str(v.to_string())
}

pub type Strat<T> = BoxedStrategy<T>;

/// Mostly one of `good`, rarely something odd.
pub fn pick(good: &[&'static str]) -> Strat<Value> {
    prop_oneof![
        150 => prop::sample::select(good.to_vec()).prop_map(string),
        1 => weird_string().prop_map(Value::Str),
        1 => any_value(),
    ]
    .boxed()
}

/// Mostly one of `good` written as is (numbers, booleans), rarely something odd.
pub fn pick_verbatim(good: &[&'static str]) -> Strat<Value> {
    prop_oneof![
        150 => prop::sample::select(good.to_vec()).prop_map(|v| Value::Verbatim(v.to_string())),
        1 => any_value(),
    ]
    .boxed()
}

pub fn boolean() -> Strat<Value> {
    pick_verbatim(&["#true", "#false"])
}

/// A declared name (rarely an undeclared one).
pub fn reference(names: &[&'static str]) -> Strat<Value> {
    if names.is_empty() {
        return Just(string("undeclared")).boxed();
    }
    prop_oneof![
        100 => prop::sample::select(names.to_vec()).prop_map(string),
        1 => Just(string("undeclared")),
    ]
    .boxed()
}

/// Some of the declared `names`, separated by spaces or commas.
pub fn list(names: &[&'static str]) -> Strat<Value> {
    if names.is_empty() {
        return Just(string("")).boxed();
    }
    let n = names.len();
    prop_oneof![
        100 => (prop::sample::subsequence(names.to_vec(), 1..=n), any::<bool>())
            .prop_map(|(ns, comma)| string(&ns.join(if comma { "," } else { " " }))),
        1 => pick(&["", " ", ",", "undeclared"]),
    ]
    .boxed()
}

/// A small chance of breaking a node that is otherwise right.
#[derive(Debug, Clone)]
pub enum Noise {
    None,
    ExtraArg(Value),
    BogusProp(Value),
    DropArg,
    DropProp,
    Annotate(&'static str),
    Slashdash,
    EmptyChildren,
}

pub fn noise() -> Strat<Noise> {
    prop_oneof![
        200 => Just(Noise::None),
        1 => any_value().prop_map(Noise::ExtraArg),
        1 => any_value().prop_map(Noise::BogusProp),
        1 => Just(Noise::DropArg),
        1 => Just(Noise::DropProp),
        1 => prop::sample::select(vec!["expand", "x"]).prop_map(Noise::Annotate),
        1 => Just(Noise::Slashdash),
        1 => Just(Noise::EmptyChildren),
    ]
    .boxed()
}

/// A node: `args` in order, each property present with its probability, then `children`.
pub fn build(
    name: &'static str,
    args: Strat<Vec<Value>>,
    props: Vec<(&'static str, f64, Strat<Value>)>,
    children: Strat<Option<Vec<Node>>>,
) -> Strat<Node> {
    let (names, values): (Vec<&'static str>, Vec<_>) = props
        .into_iter()
        .filter(|(_, p, _)| *p > 0.0)
        .map(|(n, p, s)| (n, prop::option::weighted(p, s)))
        .unzip();
    (args, values, children, noise())
        .prop_map(move |(args, values, children, noise)| {
            let mut node = Node {
                annotation: None,
                name: name.to_string(),
                args,
                props: names
                    .iter()
                    .zip(values)
                    .filter_map(|(n, v)| Some((n.to_string(), v?)))
                    .collect(),
                children,
                slashdash: false,
            };
            match noise {
                Noise::None => {}
                Noise::ExtraArg(v) => node.args.push(v),
                Noise::BogusProp(v) => node.props.push(("bogus".into(), v)),
                Noise::DropArg => {
                    node.args.pop();
                }
                Noise::DropProp => {
                    node.props.pop();
                }
                Noise::Annotate(a) => node.annotation = Some(a.to_string()),
                Noise::Slashdash => node.slashdash = true,
                Noise::EmptyChildren => node.children = Some(node.children.unwrap_or_default()),
            }
            node
        })
        .boxed()
}

pub fn args(values: Vec<Strat<Value>>) -> Strat<Vec<Value>> {
    values.boxed()
}

pub fn some_args(value: Strat<Value>, range: std::ops::Range<usize>) -> Strat<Vec<Value>> {
    prop::collection::vec(value, range).boxed()
}

pub fn no_children() -> Strat<Option<Vec<Node>>> {
    Just(None).boxed()
}

/// Children drawn from `kinds` (weight, strategy), `range` of them.
pub fn children(
    kinds: Vec<(u32, Strat<Node>)>,
    range: std::ops::Range<usize>,
) -> Strat<Option<Vec<Node>>> {
    if kinds.is_empty() {
        return no_children();
    }
    prop::collection::vec(proptest::strategy::Union::new_weighted(kinds), range)
        .prop_map(Some)
        .boxed()
}

/// Children each present with its own probability, in this order.
pub fn optional_children(kinds: Vec<(f64, Strat<Node>)>) -> Strat<Option<Vec<Node>>> {
    kinds
        .into_iter()
        .filter(|(p, _)| *p > 0.0)
        .map(|(p, s)| prop::option::weighted(p, s))
        .collect::<Vec<_>>()
        .prop_map(|nodes| {
            let nodes: Vec<Node> = nodes.into_iter().flatten().collect();
            (!nodes.is_empty()).then_some(nodes)
        })
        .boxed()
}

pub const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
pub const IMAGE_REFS: &[&str] = &[
    "alpine:3.20",
    "node:18-alpine",
    "python:3.10-slim-bookworm",
    "scratch",
    "nvidia/cuda:11.8.0-runtime-ubuntu22.04",
    "ghcr.io/org/base:1.2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "localhost:5000/x/y:z",
];
pub const TEXTS: &[&str] = &[
    "An app",
    "quotes \" and # and ${{ github.sha }} and {{version}}",
    "ü 😀 日本語",
    "two\nlines",
    "$HOME and ${X}",
    "",
    "'single' `back` \\ back",
];
pub const COMMANDS: &[&str] = &[
    "npm ci",
    "pip install --no-cache-dir -r requirements.txt",
    "echo \"$HOME\" > /tmp/x",
    "a && b || c",
    "echo '${{ github.sha }}' {{version}}",
    "printf '%s\\n' ü😀",
    "echo # not a comment",
    "curl -fsS http://localhost:8080/ || exit 1",
];
pub const WORDS: &[&str] = &[
    "/bin/sh",
    "-c",
    "python3",
    "main.py",
    "--port=8080",
    "echo $X",
    "a\"b",
    "ü",
    "",
    "${{ x }}",
];
pub const ENV_NAMES: &[&str] = &["PATH", "APP_MODE", "X", "_under", "lower"];
pub const ENV_VALUES: &[&str] = &[
    "1",
    "a b",
    "$PATH:/x",
    "${HOME}",
    "quote\"d",
    "#hash",
    "ü",
    "",
    "${{ x }}",
    "{{version}}",
    "yes",
    "null",
    "0123",
    "line\nbreak",
];
pub const SOURCES: &[&str] = &[
    "main.py",
    "web_app",
    "web_app/package.json",
    ".",
    "*.py",
    "requirements.txt",
    "a b/ü.txt",
    "models",
    "src/",
];

pub fn project() -> Strat<Node> {
    let maintainer = build(
        "maintainer",
        args(vec![pick(&["A <a@example.com>", "Bö 😀", "x"])]),
        vec![],
        no_children(),
    );
    build(
        "project",
        args(vec![pick(&["app", "my-project", "x1"])]),
        vec![
            (
                "version",
                0.8,
                pick(&["1.0.0", "1.6.0", "2.3.4-rc.1", "0.1.0", "v1.2.3"]),
            ),
            ("description", 0.5, pick(TEXTS)),
            ("source", 0.3, pick(&["https://github.com/o/r"])),
            ("license", 0.3, pick(&["MIT", "Apache-2.0"])),
        ],
        children(vec![(1, maintainer)], 0..2),
    )
}

pub fn output() -> Strat<Node> {
    let path = |name: &'static str, good: &[&'static str]| {
        (
            0.4,
            build(name, args(vec![pick(good)]), vec![], no_children()),
        )
    };
    build(
        "output",
        args(vec![]),
        vec![],
        optional_children(vec![
            path("dockerfiles", &["docker", "gen/docker"]),
            path("dockerignore", &[".dockerignore"]),
            path("bake", &["docker-bake.hcl", "gen/bake.hcl"]),
            path("compose", &["compose.yaml", "deploy/compose.yml"]),
            path("workflows", &[".github/workflows", "ci"]),
            path("charts", &["charts", "deploy/charts"]),
            path("lock", &["specc.lock", "gen/specc.lock"]),
        ]),
    )
}

pub fn top_arg(name: &'static str) -> Strat<Node> {
    build(
        "arg",
        args(vec![Just(string(name)).boxed(), pick(IMAGE_REFS)]),
        vec![("from-ci", 0.1, pick(&["sha", "run-id", "nope"]))],
        no_children(),
    )
}

/// A top-level build secret declaration of `id` (the mounts use `npmrc` and `token`).
pub fn build_secret(id: &'static str) -> Strat<Node> {
    build(
        "secret",
        args(vec![Just(string(id)).boxed()]),
        vec![
            ("env", 0.3, pick(&["NPM_TOKEN", "VERSION", "bad name"])),
            ("file", 0.2, pick(&[".secrets/npmrc", "../npmrc"])),
            ("github", 0.3, pick(&["NPM_RC", "GITHUB_X"])),
        ],
        no_children(),
    )
}

pub fn ignore() -> Strat<Node> {
    build(
        "ignore",
        some_args(
            pick(&[
                "models",
                "*.md",
                "!README.md",
                "**/__pycache__",
                "docs/",
                "a b",
                "[x",
            ]),
            1..4,
        ),
        vec![],
        no_children(),
    )
}

/// A compose network; services attach to `backend` and `frontend` by name.
pub fn network() -> Strat<Node> {
    build(
        "network",
        args(vec![pick(&["backend", "frontend", "Bad Name"])]),
        vec![
            ("internal", 0.5, boolean()),
            ("driver", 0.3, pick(&["bridge", "overlay", "bridged"])),
        ],
        no_children(),
    )
}

pub fn registry(name: &'static str) -> Strat<Node> {
    let (host, login) = match name {
        "hub" => (
            "docker.io",
            build(
                "login",
                args(vec![pick(&["basic"])]),
                vec![
                    ("username-secret", 0.995, pick(&["DOCKERHUB_USERNAME"])),
                    ("password-secret", 0.995, pick(&["DOCKERHUB_TOKEN"])),
                ],
                no_children(),
            ),
        ),
        "ghcr" => (
            "ghcr.io",
            build(
                "login",
                args(vec![pick(&["github-token"])]),
                vec![],
                no_children(),
            ),
        ),
        "ecr" => (
            "123456789012.dkr.ecr.us-west-2.amazonaws.com",
            build(
                "login",
                args(vec![pick(&["aws"])]),
                vec![
                    ("region", 0.995, pick(&["us-west-2"])),
                    (
                        "role",
                        0.995,
                        pick(&["arn:aws:iam::123456789012:role/push"]),
                    ),
                ],
                no_children(),
            ),
        ),
        _ => (
            "localhost:5000",
            build(
                "login",
                args(vec![pick(&["basic"])]),
                vec![
                    ("username-secret", 0.995, pick(&["REGISTRY_USER"])),
                    ("password-secret", 0.995, pick(&["REGISTRY_PASSWORD"])),
                ],
                no_children(),
            ),
        ),
    };
    build(
        "registry",
        args(vec![Just(string(name)).boxed()]),
        vec![
            ("host", 0.995, pick(&[host])),
            ("namespace", 0.4, pick(&["org", "team/sub"])),
            ("namespace-secret", 0.2, pick(&["DOCKERHUB_USERNAME", "NS"])),
        ],
        optional_children(vec![(
            if host == "localhost:5000" { 0.05 } else { 0.9 },
            login,
        )]),
    )
}

pub fn variant(index: usize, name: &'static str, d: &Declared) -> Strat<Node> {
    let mut kids: Vec<(f64, Strat<Node>)> = d
        .args
        .iter()
        .map(|a| {
            let arg = build(
                "arg",
                args(vec![Just(string(a)).boxed(), pick(IMAGE_REFS)]),
                vec![],
                no_children(),
            );
            (0.5, arg)
        })
        .collect();
    let platforms = prop::sample::subsequence(
        vec!["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/386"],
        1..3,
    )
    .prop_map(|ps| ps.into_iter().map(string).collect::<Vec<_>>())
    .boxed();
    kids.push((0.6, build("platforms", platforms, vec![], no_children())));
    let gpu = build(
        "gpu",
        args(vec![]),
        vec![
            (
                "count",
                0.5,
                prop_oneof![pick_verbatim(&["1", "2"]), pick(&["all"])].boxed(),
            ),
            ("driver", 0.3, pick(&["nvidia"])),
            (
                "capabilities",
                0.3,
                pick(&["gpu", "gpu compute", "compute,utility"]),
            ),
            ("allow-any-platform", 0.1, boolean()),
        ],
        no_children(),
    );
    kids.push((if name == "gpu" { 0.8 } else { 0.05 }, gpu));
    build(
        "variant",
        args(vec![Just(string(name)).boxed()]),
        vec![
            ("default", if index == 0 { 0.6 } else { 0.03 }, boolean()),
            ("tag-prefix", 0.2, pick(&["gpu-", "x-", ""])),
            ("tag-suffix", 0.2, pick(&["-slim", ""])),
        ],
        optional_children(kids),
    )
}

/// What a stage may be built `from`, and copied from: earlier stages, images, `$ARG`s.
pub fn base(index: usize, d: &Declared) -> Strat<Value> {
    let mut choices: Vec<(u32, Strat<Value>)> = vec![(3, pick(IMAGE_REFS))];
    if index > 0 {
        choices.push((2, reference(&d.stages[..index])));
    }
    if !d.args.is_empty() {
        let args: Vec<String> = d.args.iter().map(|a| format!("${a}")).collect();
        choices.push((2, prop::sample::select(args).prop_map(Value::Str).boxed()));
    }
    proptest::strategy::Union::new_weighted(choices).boxed()
}

pub fn instruction(index: usize, d: &Declared) -> Strat<Node> {
    let variants = || ("variants", 0.1, list(&d.variants));
    let simple = |name: &'static str, values: Strat<Vec<Value>>| {
        build(name, values, vec![variants()], no_children())
    };
    // `copy from=` takes an earlier stage or an image, not a `$NAME` argument.
    let from = if index == 0 {
        pick(IMAGE_REFS)
    } else {
        prop_oneof![pick(IMAGE_REFS), reference(&d.stages[..index])].boxed()
    };
    let copy_props = |from: Option<Strat<Value>>| {
        let mut props = vec![
            (
                "to",
                0.995,
                pick(&["/app/", "./", "/opt/x", ".", "/with space/"]),
            ),
            ("chown", 0.1, pick(&["app", "app:app", "1000:1000"])),
            ("chmod", 0.1, pick(&["755", "0644"])),
            ("link", 0.1, boolean()),
            variants(),
        ];
        if let Some(from) = from {
            props.push(("from", 0.2, from));
        }
        props
    };
    let run_children = children(
        vec![
            (
                1,
                build(
                    "cache",
                    args(vec![pick(&["/root/.cache", "/go/pkg/mod"])]),
                    vec![
                        ("id", 0.3, pick(&["npm", "go"])),
                        ("sharing", 0.3, pick(&["shared", "private", "locked"])),
                    ],
                    no_children(),
                ),
            ),
            (
                1,
                build(
                    "secret",
                    args(vec![pick(&["npmrc", "token"])]),
                    vec![
                        ("target", 0.3, pick(&["/run/secrets/x"])),
                        ("required", 0.3, boolean()),
                    ],
                    no_children(),
                ),
            ),
        ],
        0..2,
    );
    let env_value = prop_oneof![
        9 => pick(ENV_VALUES),
        1 => pick(ENV_VALUES).prop_map(|v| Value::Annotated("expand".into(), Box::new(v))),
    ]
    .boxed();
    let health = vec![
        ("interval", 0.4, pick(&["30s", "1m30s", "5s"])),
        ("timeout", 0.3, pick(&["10s", "1s"])),
        ("start-period", 0.2, pick(&["2m", "0s"])),
        ("retries", 0.3, pick_verbatim(&["3", "1"])),
        variants(),
    ];
    let kinds: Vec<(u32, Strat<Node>)> = vec![
        (
            2,
            simple(
                "workdir",
                args(vec![pick(&["/app", "/build", "rel/dir", "/with space"])]),
            ),
        ),
        (
            4,
            build(
                "copy",
                some_args(pick(SOURCES), 1..3),
                copy_props(Some(from)),
                no_children(),
            ),
        ),
        (
            1,
            build(
                "add",
                some_args(
                    pick(&["main.py", "https://example.com/x.tgz", "models", "*.txt"]),
                    1..3,
                ),
                {
                    let mut p = copy_props(None);
                    p.push((
                        "checksum",
                        0.05,
                        Just(string(&format!("sha256:{SHA}"))).boxed(),
                    ));
                    p
                },
                no_children(),
            ),
        ),
        (
            4,
            build(
                "run",
                some_args(pick(COMMANDS), 1..3),
                vec![
                    variants(),
                    ("lint-ignore", 0.1, pick(&["DL3008", "DL3008 DL3018"])),
                ],
                run_children,
            ),
        ),
        (
            2,
            build(
                "env",
                args(vec![pick(ENV_NAMES), env_value]),
                vec![variants()],
                no_children(),
            ),
        ),
        (
            1,
            simple(
                "arg",
                some_args(pick(&["VERSION", "BASE_IMAGE", "X"]), 1..2),
            ),
        ),
        (
            1,
            simple(
                "expose",
                some_args(
                    prop_oneof![pick_verbatim(&["8080", "80"]), pick(&["53/udp"])].boxed(),
                    1..3,
                ),
            ),
        ),
        (
            1,
            simple("user", args(vec![pick(&["app", "1000:1000", "root"])])),
        ),
        (
            1,
            build(
                "healthcheck",
                args(vec![pick(COMMANDS)]),
                health,
                no_children(),
            ),
        ),
        (
            1,
            simple(
                "label",
                args(vec![pick(&["org.example.x", "com.example.y"]), pick(TEXTS)]),
            ),
        ),
        (
            1,
            simple("volume", some_args(pick(&["/data", "/var/lib/x"]), 1..3)),
        ),
        (1, simple("shell", some_args(pick(WORDS), 1..3))),
        (1, simple("entrypoint", some_args(pick(WORDS), 1..3))),
        (2, simple("cmd", some_args(pick(WORDS), 1..3))),
        (
            1,
            simple(
                "comment",
                args(vec![pick(&[
                    "renovate: datasource=docker depName=alpine",
                    "note",
                ])]),
            ),
        ),
    ];
    proptest::strategy::Union::new_weighted(kinds).boxed()
}

pub fn stage(index: usize, d: &Declared) -> Strat<Node> {
    build(
        "stage",
        args(vec![Just(string(d.stages[index])).boxed()]),
        vec![("from", 0.995, base(index, d))],
        children(vec![(1, instruction(index, d))], 0..7),
    )
}

pub fn image(name: &'static str, d: &Declared) -> Strat<Node> {
    let tag = prop::sample::select(vec![
        ("{{version}}", None),
        ("latest", None),
        ("v{{major}}.{{minor}}", None),
        ("{{major}}", Some("release")),
        ("dev-{{sha}}", Some("branch")),
        ("{{branch}}", Some("branch")),
        ("{{sha}}", Some("always")),
        ("edge", Some("always")),
        ("{{sha_long}}", Some("branch schedule")),
        ("nightly-{{date 'YYYYMMDD'}}", Some("schedule")),
    ])
    .prop_flat_map(|(template, when)| {
        build(
            "tag",
            args(vec![pick(&[template])]),
            vec![(
                "when",
                if when.is_some() { 0.995 } else { 0.0 },
                pick(&[when.unwrap_or("release")]),
            )],
            no_children(),
        )
    })
    .boxed();
    let cache = prop_oneof![
        build("cache", args(vec![pick(&["gha"])]), vec![], no_children()),
        build(
            "cache",
            args(vec![pick(&["registry"])]),
            vec![("registry", 0.995, reference(&d.registries))],
            no_children(),
        ),
    ]
    .boxed();
    build(
        "image",
        args(vec![Just(string(name)).boxed()]),
        vec![
            ("stage", 0.995, reference(&d.stages)),
            ("variants", 0.3, list(&d.variants)),
            ("registries", 0.7, list(&d.registries)),
            ("repository", 0.2, pick(&["org/app", "team/x"])),
            (
                "context",
                0.2,
                pick(&[".", "web_app", "src/backend/queue_agent"]),
            ),
            ("description", 0.2, pick(TEXTS)),
        ],
        children(vec![(4, tag), (1, cache), (1, ignore())], 0..4),
    )
}

pub fn healthcheck_node() -> Strat<Node> {
    build(
        "healthcheck",
        args(vec![pick(COMMANDS)]),
        vec![
            ("interval", 0.4, pick(&["30s", "1m30s"])),
            ("retries", 0.3, pick_verbatim(&["3"])),
        ],
        no_children(),
    )
}

pub fn service(name: &'static str, d: &Declared) -> Strat<Node> {
    let one = |node: &'static str, good: &[&'static str]| {
        build(node, args(vec![pick(good)]), vec![], no_children())
    };
    let others: Vec<&'static str> = d.services.iter().copied().filter(|s| *s != name).collect();
    let kids = vec![
        (
            3,
            one(
                "port",
                &[
                    "8080:80",
                    "80",
                    "127.0.0.1:8081:8080",
                    "3000-3001:3000-3001",
                    "53:53/udp",
                ],
            ),
        ),
        (
            2,
            one(
                "volume",
                &[
                    "./data:/data",
                    "pgdata:/var/lib/data",
                    "./models:/app/models:ro",
                    "/tmp",
                ],
            ),
        ),
        (
            2,
            build(
                "env",
                args(vec![pick(ENV_NAMES), pick(ENV_VALUES)]),
                vec![],
                no_children(),
            ),
        ),
        (
            1,
            build(
                "depends-on",
                args(vec![reference(&others)]),
                vec![("condition", 0.3, pick(&["started", "healthy", "completed"]))],
                no_children(),
            ),
        ),
        (
            1,
            one(
                "restart",
                &[
                    "no",
                    "always",
                    "on-failure",
                    "on-failure:3",
                    "unless-stopped",
                ],
            ),
        ),
        (
            1,
            build(
                "command",
                some_args(pick(WORDS), 1..3),
                vec![],
                no_children(),
            ),
        ),
        (1, healthcheck_node()),
        (1, one("network", &["backend", "frontend", "nowhere"])),
        (1, one("shm-size", &["1gb", "64m", "1gib"])),
        (
            1,
            one("extra-host", &["db:10.0.0.2", "host:host-gateway", "db"]),
        ),
        (1, one("stop-signal", &["SIGINT", "TERM", "SIGFOO"])),
        (1, one("pull-policy", &["build", "missing", "always"])),
        (
            1,
            one("device", &["/dev/kfd", "/dev/dri:/dev/dri:rwm", "dev"]),
        ),
        (
            1,
            build(
                "profile",
                some_args(pick(&["debug", "gpu"]), 1..2),
                vec![],
                no_children(),
            ),
        ),
    ];
    let image = if d.images.is_empty() {
        pick(&["postgres:16-alpine"])
    } else {
        prop_oneof![3 => reference(&d.images), 1 => pick(&["postgres:16-alpine", "redis:7"])]
            .boxed()
    };
    build(
        "service",
        args(vec![Just(string(name)).boxed()]),
        vec![
            ("image", 0.995, image),
            ("variant", 0.3, reference(&d.variants)),
        ],
        children(kids, 0..5),
    )
}

pub fn workflow(name: &'static str, d: &Declared) -> Strat<Node> {
    let on = prop::sample::subsequence(
        vec![
            ("tag", Some(("pattern", "v*"))),
            ("release", None),
            ("dispatch", None),
            ("push", Some(("branch", "main"))),
            ("schedule", Some(("cron", "0 3 * * 1"))),
        ],
        1..4,
    )
    .prop_flat_map(|triggers| {
        triggers
            .into_iter()
            .map(|(kind, prop)| {
                let props = match prop {
                    Some((k, v)) => vec![(k, 0.995, pick(&[v]))],
                    None => vec![],
                };
                build("on", args(vec![pick(&[kind])]), props, no_children())
            })
            .collect::<Vec<_>>()
    });
    let images = build(
        "images",
        some_args(reference(&d.images), 1..2),
        vec![],
        no_children(),
    );
    let smoke = build(
        "smoke-test",
        args(vec![]),
        vec![
            ("image", 0.995, reference(&d.images)),
            ("variant", 0.1, reference(&d.variants)),
            ("port", 0.5, pick(&["3001:3000"])),
            ("path", 0.5, pick(&["/health", "/"])),
        ],
        children(
            vec![(
                1,
                build(
                    "env",
                    args(vec![pick(ENV_NAMES), pick(ENV_VALUES)]),
                    vec![],
                    no_children(),
                ),
            )],
            0..2,
        ),
    );
    let scan = build(
        "scan",
        args(vec![pick(&["trivy", "scout"])]),
        vec![("severity", 0.3, pick(&["CRITICAL,HIGH"]))],
        no_children(),
    );
    let description = build(
        "dockerhub-description",
        args(vec![]),
        vec![
            ("registry", 0.995, pick(&["hub"])),
            ("readme", 0.3, pick(&["README.md"])),
            ("image", 0.3, reference(&d.images)),
        ],
        no_children(),
    );
    let chart = build(
        "chart",
        args(vec![reference(&d.charts)]),
        vec![],
        no_children(),
    );
    let hub = d.registries.contains(&"hub");
    let rest = optional_children(vec![
        (0.5, images),
        (0.2, smoke),
        (0.3, scan),
        (if hub { 0.2 } else { 0.0 }, description),
        // A chart a workflow pushes needs a `push` destination, hence a registry.
        (
            if d.charts.is_empty() || d.registries.is_empty() {
                0.0
            } else {
                0.3
            },
            chart,
        ),
    ]);
    let kids = (on, rest)
        .prop_map(|(mut on, rest)| {
            on.extend(rest.unwrap_or_default());
            Some(on)
        })
        .boxed();
    build(
        "workflow",
        args(vec![Just(string(name)).boxed()]),
        vec![
            (
                "name",
                0.5,
                pick(&[
                    "Release images",
                    "CI",
                    "Build & push: \"app\"",
                    "ü",
                    "CI: build ${{ x }}",
                ]),
            ),
            ("runner", 0.2, pick(&["ubuntu-latest", "ubuntu-24.04"])),
        ],
        kids,
    )
}

pub fn chart(name: &'static str, d: &Declared) -> Strat<Node> {
    let image = build(
        "image",
        args(vec![reference(&d.images)]),
        vec![
            ("variant", 0.2, reference(&d.variants)),
            ("registry", 0.05, reference(&d.registries)),
            (
                "key",
                0.6,
                pick(&[
                    "image",
                    "a.b.image",
                    "web.image",
                    "a",
                    "a.image",
                    "resources",
                    "nodeSelector.x",
                    "modelsRuntime",
                ]),
            ),
        ],
        no_children(),
    );
    let runtime = build(
        "runtime",
        args(vec![pick(&["sdruntime", "comfy"])]),
        vec![
            ("type", 0.8, pick(&["sdwebui", "comfyui"])),
            ("namespace", 0.5, pick(&["default"])),
            (
                "chart-repository",
                0.5,
                pick(&["oci://public.ecr.aws/x/charts"]),
            ),
            ("chart-version", 0.5, pick(&["1.1.0"])),
            (
                "image",
                0.5,
                prop_oneof![reference(&d.images), pick(IMAGE_REFS)].boxed(),
            ),
        ],
        no_children(),
    );
    let resources = build(
        "resources",
        args(vec![]),
        vec![
            ("cpu", 0.7, pick(&["500m", "2"])),
            ("memory", 0.7, pick(&["1Gi", "512Mi"])),
        ],
        no_children(),
    );
    let selector = build(
        "node-selector",
        args(vec![
            pick(&["karpenter.sh/nodepool", "kubernetes.io/arch"]),
            pick(&["gpu", "amd64"]),
        ]),
        vec![],
        no_children(),
    );
    let toleration = build(
        "toleration",
        args(vec![]),
        vec![
            ("key", 0.9, pick(&["nvidia.com/gpu"])),
            ("operator", 0.9, pick(&["Exists"])),
            ("effect", 0.6, pick(&["NoSchedule"])),
        ],
        no_children(),
    );
    let push = build(
        "push",
        args(vec![]),
        vec![
            ("registry", 0.995, reference(&d.registries)),
            ("repository", 0.995, pick(&["org/charts"])),
        ],
        no_children(),
    );
    build(
        "chart",
        args(vec![Just(string(name)).boxed()]),
        vec![("path", 0.5, pick(&["charts/app", "src/charts/x"]))],
        optional_children(vec![
            (0.8, image.clone()),
            (0.3, image),
            (0.2, runtime),
            (0.2, resources),
            (0.3, selector),
            (0.2, toleration),
            (if d.registries.is_empty() { 0.0 } else { 0.9 }, push),
        ]),
    )
}

/// A whole spec: the declarations of a [`Declared`] set, each shaped by the grammar.
pub fn grammar_document() -> impl Strategy<Value = String> {
    use prop::sample::subsequence;
    let declared = (
        subsequence(vec!["hub", "ghcr", "ecr", "local"], 0..=2),
        subsequence(vec!["cpu", "gpu", "slim"], 0..=2),
        subsequence(vec!["build", "frontend", "runtime"], 1..=3),
        subsequence(vec!["app", "web"], 1..=2),
        subsequence(vec!["app", "db", "cache"], 0..=2),
        subsequence(vec!["release", "ci"], 0..=2),
        subsequence(vec!["app"], 0..=1),
        subsequence(vec!["BASE_IMAGE", "VERSION"], 0..=2),
    )
        .prop_map(
            |(registries, variants, stages, images, services, workflows, charts, args)| Declared {
                registries,
                variants,
                stages,
                images,
                services,
                workflows,
                charts,
                args,
            },
        );
    declared
        .prop_flat_map(|d| {
            let mut nodes: Vec<Strat<Option<Node>>> = vec![project().prop_map(Some).boxed()];
            let always = |n: Strat<Node>| n.prop_map(Some).boxed();
            nodes.push(prop::option::weighted(0.1, output()).boxed());
            nodes.push(prop::option::weighted(0.3, ignore()).boxed());
            nodes.push(prop::option::weighted(0.3, network()).boxed());
            nodes.extend(d.args.iter().map(|a| always(top_arg(a))));
            nodes.extend(d.registries.iter().map(|r| always(registry(r))));
            for id in ["npmrc", "token"] {
                nodes.push(prop::option::weighted(0.7, build_secret(id)).boxed());
            }
            nodes.extend(
                d.variants
                    .iter()
                    .enumerate()
                    .map(|(i, v)| always(variant(i, v, &d))),
            );
            nodes.extend((0..d.stages.len()).map(|i| always(stage(i, &d))));
            nodes.extend(d.images.iter().map(|i| always(image(i, &d))));
            nodes.extend(d.services.iter().map(|s| always(service(s, &d))));
            nodes.extend(d.workflows.iter().map(|w| always(workflow(w, &d))));
            nodes.extend(d.charts.iter().map(|c| always(chart(c, &d))));
            let nodes = nodes
                .prop_map(|n| n.into_iter().flatten().collect::<Vec<Node>>())
                .boxed();
            prop_oneof![
                3 => nodes.clone(),
                1 => nodes.prop_flat_map(|n| Just(n).prop_shuffle()),
            ]
        })
        .prop_map(|nodes| document(&nodes))
}

// ---------------------------------------------------------------------------------------
// (c) mutations of the real specs
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub enum Mutation {
    DeleteLine(Index),
    DuplicateLine(Index),
    SwapLines(Index, Index),
    MoveLine(Index, Index),
    /// Replace a whitespace-separated token of a line with another.
    ReplaceToken(Index, Index, Replacement),
    /// Insert text at a character position of the whole spec.
    Insert(Index, &'static str),
    /// Remove up to N characters from a position.
    Cut(Index, usize),
    Truncate(Index),
}

#[derive(Debug, Clone)]
pub enum Replacement {
    /// A token from elsewhere in the same spec.
    Other(Index),
    Text(String),
}

pub const SNIPPETS: &[&str] = &[
    "{",
    "}",
    "\"",
    "#",
    "=",
    ";",
    "\\",
    "/-",
    "/*",
    "*/",
    "//",
    "(expand)",
    "(x)",
    "\n",
    "-",
    "#true",
    "#null",
    " x",
    " x=1",
    "ü",
    "😀",
    "\u{feff}",
    "\r",
    "\t",
    " variants=\"nope\"",
    " from=runtime",
    " from=frontend",
    " {\n}",
    "{{",
    "$",
    "${{ github.sha }}",
];

pub fn mutation() -> impl Strategy<Value = Mutation> {
    let replacement = prop_oneof![
        3 => any::<Index>().prop_map(Replacement::Other),
        1 => weird_string().prop_map(|s| Replacement::Text(quote(&s))),
        1 => weird_string().prop_map(Replacement::Text),
        1 => prop::sample::select(NAMES.to_vec()).prop_map(|s| Replacement::Text(s.to_string())),
    ];
    prop_oneof![
        3 => any::<Index>().prop_map(Mutation::DeleteLine),
        2 => any::<Index>().prop_map(Mutation::DuplicateLine),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::MoveLine(a, b)),
        6 => (any::<Index>(), any::<Index>(), replacement)
            .prop_map(|(l, t, r)| Mutation::ReplaceToken(l, t, r)),
        2 => (any::<Index>(), prop::sample::select(SNIPPETS.to_vec()))
            .prop_map(|(i, s)| Mutation::Insert(i, s)),
        1 => (any::<Index>(), 1usize..40).prop_map(|(i, n)| Mutation::Cut(i, n)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
}

/// Byte offset of the character `index` picks (or the end).
pub fn char_offset(text: &str, index: &Index) -> usize {
    let n = text.chars().count();
    if n == 0 {
        return 0;
    }
    text.char_indices()
        .nth(index.index(n + 1))
        .map_or(text.len(), |(i, _)| i)
}

pub fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        lines.push(String::new());
    }
    let n = lines.len();
    match m {
        Mutation::DeleteLine(i) => {
            lines.remove(i.index(n));
        }
        Mutation::DuplicateLine(i) => {
            let i = i.index(n);
            lines.insert(i, lines[i].clone());
        }
        Mutation::SwapLines(a, b) => lines.swap(a.index(n), b.index(n)),
        Mutation::MoveLine(a, b) => {
            let line = lines.remove(a.index(n));
            lines.insert(b.index(n), line);
        }
        Mutation::ReplaceToken(l, t, r) => {
            let all: Vec<String> = text.split_whitespace().map(str::to_string).collect();
            let l = l.index(n);
            let mut tokens: Vec<String> = lines[l].split_whitespace().map(str::to_string).collect();
            if tokens.is_empty() {
                tokens.push(String::new());
            }
            let t = t.index(tokens.len());
            tokens[t] = match r {
                Replacement::Other(i) if !all.is_empty() => all[i.index(all.len())].clone(),
                Replacement::Other(_) => String::new(),
                Replacement::Text(s) => s.clone(),
            };
            let indent: String = lines[l].chars().take_while(|c| c.is_whitespace()).collect();
            lines[l] = format!("{indent}{}", tokens.join(" "));
        }
        Mutation::Insert(i, s) => {
            let text = lines.join("\n");
            let at = char_offset(&text, i);
            return format!("{}{s}{}", &text[..at], &text[at..]);
        }
        Mutation::Cut(i, len) => {
            let text = lines.join("\n");
            let at = char_offset(&text, i);
            let end = text[at..]
                .char_indices()
                .nth(*len)
                .map_or(text.len(), |(j, _)| at + j);
            return format!("{}{}", &text[..at], &text[end..]);
        }
        Mutation::Truncate(i) => {
            let text = lines.join("\n");
            let at = char_offset(&text, i);
            return text[..at].to_string();
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

pub fn mutated_spec() -> impl Strategy<Value = String> {
    (0..SPECS.len(), prop::collection::vec(mutation(), 1..4)).prop_map(|(spec, mutations)| {
        mutations
            .iter()
            .fold(SPECS[spec].1.to_string(), |text, m| apply(&text, m))
    })
}
