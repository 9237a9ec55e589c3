//! Safety of values (issue 3, acceptance 3): arbitrary strings placed into a spec reach
//! every generated file meaning exactly the same string, or specc reports a clean
//! diagnostic instead of writing the file.
//!
//! Each property builds a spec (KDL v2, strings encoded by [`kdl_string`]) with one
//! arbitrary string in one position, compiles and renders it in-process, and reads the
//! outputs back the way their consumers do:
//!
//! * Dockerfiles with [`crate::support::dockerfile_reader`] (BuildKit's parsing rules, including
//!   variable expansion, which must not happen to a literal value);
//! * `compose.yaml` with `serde_yaml`, then compose's interpolation (`$$` is a literal `$`;
//!   any other `$` would be a variable);
//! * `docker-bake.hcl` with `hcl-rs`, evaluated (interpolation `${..}` resolved, `$${`
//!   literal);
//! * workflows with `serde_yaml`, then GitHub's expression syntax (`${{ .. }}` would be
//!   evaluated; only the string-literal expressions specc writes to neutralise a literal
//!   `${{` are accepted).
//!
//! A rejected spec must be a compile diagnostic: `check` refuses every value a file cannot
//! carry, so rendering a checked spec never fails (and never panics). The readers
//! are cross-checked once against the real consumers (buildah, docker-compose, actionlint)
//! in `real_tools_read_the_values_back`.
//!
//! Cases per property: `PROPTEST_CASES` (default 100).

use crate::support::dockerfile_reader::{self as df, Args};
use crate::support::kdl::string as kdl_string;
use proptest::prelude::*;
use serde_yaml_ng::Value as Yaml;
use specc::render::{RenderOptions, Rendered};

// ---------------------------------------------------------------------------------------
// Spec text
// ---------------------------------------------------------------------------------------

/// Where the arbitrary string goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// `env E1 "…"` in a stage: Dockerfile ENV.
    EnvValue,
    /// `label "…" "v"`: Dockerfile LABEL key.
    LabelKey,
    /// `label "com.example.k" "…"`: Dockerfile LABEL value.
    LabelValue,
    /// `project description="…"`: the OCI description label.
    Description,
    /// `run "…"`: the first (or only) command of a RUN.
    RunFirst,
    /// `run "true" "…"`: a later command, on a continuation line.
    RunLater,
    /// `cmd "-c" "…"`: a CMD exec-form word.
    CmdWord,
    /// `entrypoint "/bin/sh" "…"`: an ENTRYPOINT exec-form word.
    EntrypointWord,
    /// `copy "…" to="/app/"`: a COPY source.
    CopySource,
    /// `copy "src" to="…"`: a COPY destination.
    CopyDest,
    /// `workdir "…"`.
    Workdir,
    /// `user "…"`.
    User,
    /// `volume "…"`.
    Volume,
    /// `healthcheck "…"` in the stage: Dockerfile HEALTHCHECK.
    Healthcheck,
    /// `arg XARG "…"` in the variant: bake args and compose build args.
    VariantArg,
    /// `env E2 "…"` in a service: compose environment.
    ServiceEnv,
    /// `command "run" "…"` in a service.
    ServiceCommand,
    /// `healthcheck "…"` in a service.
    ServiceHealthcheck,
    /// `env E3 "…"` in a workflow smoke test: a step's `env`.
    SmokeEnv,
    /// `workflow ci name="…"`: the workflow's name, a static field.
    WorkflowName,
    /// `scan "trivy" severity="…"`: a step's `with` input.
    ScanSeverity,
    /// `project source="…"`: the OCI source label, in the Dockerfile and the bake file.
    Source,
}

pub(crate) const SLOTS: &[Slot] = &[
    Slot::EnvValue,
    Slot::LabelKey,
    Slot::LabelValue,
    Slot::Description,
    Slot::RunFirst,
    Slot::RunLater,
    Slot::CmdWord,
    Slot::EntrypointWord,
    Slot::CopySource,
    Slot::CopyDest,
    Slot::Workdir,
    Slot::User,
    Slot::Volume,
    Slot::Healthcheck,
    Slot::VariantArg,
    Slot::ServiceEnv,
    Slot::ServiceCommand,
    Slot::ServiceHealthcheck,
    Slot::SmokeEnv,
    Slot::WorkflowName,
    Slot::ScanSeverity,
    Slot::Source,
];

/// The spec with `value` in `slot` and plain values everywhere else; services and the
/// workflow only where the slot is in them (rendering stays cheap).
pub(crate) fn spec_with(slot: Slot, value: &str) -> String {
    let text = full_spec_with(slot, value);
    let (head, rest) = text.split_once("service app image=app").expect("services");
    let (services, workflow) = rest.split_once("workflow ci").expect("workflow");
    let mut out = head.to_string();
    if matches!(
        slot,
        Slot::VariantArg | Slot::ServiceEnv | Slot::ServiceCommand | Slot::ServiceHealthcheck
    ) {
        out.push_str("service app image=app");
        out.push_str(services);
    }
    if matches!(
        slot,
        Slot::SmokeEnv | Slot::WorkflowName | Slot::ScanSeverity
    ) {
        out.push_str("workflow ci");
        out.push_str(workflow);
    }
    out
}

/// The spec with `value` in `slot`, and every section.
fn full_spec_with(slot: Slot, value: &str) -> String {
    let v = |s: Slot, default: &str| {
        if s == slot {
            kdl_string(value)
        } else {
            kdl_string(default)
        }
    };
    format!(
        r#"project demo version="1.0.0" description={desc} source={source}
variant one default=#true {{
    arg XARG {arg}
}}
stage main from="busybox:1.36" {{
    workdir {workdir}
    env E1 {env}
    label {lk} {lv}
    copy {src} to={dest}
    run {run1}
    run "true" {run2}
    user {user}
    volume {volume}
    healthcheck {hc}
    entrypoint "/bin/sh" {ep}
    cmd "-c" {cmd}
}}
image app stage=main
service app image=app {{
    env E2 {senv}
    command "run" {scmd}
}}
service probe image=app {{
    healthcheck {shc}
}}
workflow ci name={wname} {{
    on "dispatch"
    smoke-test image=app {{
        env E3 {smoke}
    }}
    scan "trivy" severity={severity}
}}
"#,
        desc = v(Slot::Description, "A demo"),
        arg = v(Slot::VariantArg, "1"),
        workdir = v(Slot::Workdir, "/app"),
        env = v(Slot::EnvValue, "value"),
        lk = v(Slot::LabelKey, "com.example.k"),
        lv = v(Slot::LabelValue, "v"),
        src = v(Slot::CopySource, "src"),
        dest = v(Slot::CopyDest, "/app/"),
        run1 = v(Slot::RunFirst, "echo one"),
        run2 = v(Slot::RunLater, "echo two"),
        user = v(Slot::User, "app"),
        volume = v(Slot::Volume, "/data"),
        hc = v(Slot::Healthcheck, "true"),
        ep = v(Slot::EntrypointWord, "-c"),
        cmd = v(Slot::CmdWord, "echo hi"),
        senv = v(Slot::ServiceEnv, "x"),
        scmd = v(Slot::ServiceCommand, "arg"),
        shc = v(Slot::ServiceHealthcheck, "true"),
        smoke = v(Slot::SmokeEnv, "s"),
        wname = v(Slot::WorkflowName, "CI"),
        severity = v(Slot::ScanSeverity, "CRITICAL,HIGH"),
        source = v(Slot::Source, "https://example.com/demo"),
    )
}

// ---------------------------------------------------------------------------------------
// Compile and render
// ---------------------------------------------------------------------------------------

/// What specc made of a spec.
pub(crate) enum Outcome {
    /// The spec was refused with diagnostics (the codes).
    Refused(Vec<String>),
    /// The files, sorted by path.
    Files(Vec<Rendered>),
}

fn code(e: &specc::Error) -> String {
    use miette::Diagnostic;
    e.code().map(|c| c.to_string()).unwrap_or_default()
}

pub(crate) fn generate(text: &str) -> Result<Outcome, String> {
    let checked = match specc::compile("spec.kdl", text) {
        Ok(c) => c,
        Err(d) => {
            if !d.has_errors() {
                return Err("compile failed without an error".into());
            }
            return Ok(Outcome::Refused(d.errors.iter().map(code).collect()));
        }
    };
    let plan = specc::plan::plan(&checked, &specc::PlanOptions::default());
    let options = RenderOptions {
        spec_name: "spec.kdl".into(),
        regenerate: "specc generate spec.kdl".into(),
        check: "specc check spec.kdl".into(),
    };
    match specc::render::render(&checked, &plan, &options) {
        Ok(files) => Ok(Outcome::Files(files)),
        Err(errors) => {
            let codes: Vec<String> = errors.iter().map(code).collect();
            Err(format!("a checked spec failed to render: {codes:?}"))
        }
    }
}

fn file<'a>(files: &'a [Rendered], path: &str) -> Result<&'a str, String> {
    files
        .iter()
        .find(|f| f.path == path)
        .map(|f| f.contents.as_str())
        .ok_or_else(|| {
            let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
            format!("no `{path}` among {paths:?}")
        })
}

// ---------------------------------------------------------------------------------------
// Reading the outputs back
// ---------------------------------------------------------------------------------------

/// A compose string after compose's interpolation: `$$` is `$`; any other `$` would
/// start a variable (or be an invalid template), which a literal value must never do.
fn compose_literal(s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' {
            if chars.peek() == Some(&'$') {
                chars.next();
                out.push('$');
            } else {
                return Err(format!("compose would interpolate `$` in {s:?}"));
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// A workflow string after GitHub evaluates its `${{ … }}` expressions. Only
/// string-literal expressions (`${{ '…' }}`) are accepted: anything else would read
/// contexts or call functions, so a literal value was turned into an expression.
fn gha_literal(s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find("${{") {
        out.push_str(&rest[..at]);
        let mut expr = rest[at + 3..].trim_start_matches([' ', '\t']);
        let Some(body) = expr.strip_prefix('\'') else {
            return Err(format!("GitHub would evaluate an expression in {s:?}"));
        };
        // A single-quoted literal; `''` is a quote.
        let mut literal = String::new();
        let mut chars = body.char_indices().peekable();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if matches!(chars.peek(), Some((_, '\''))) {
                    chars.next();
                    literal.push('\'');
                } else {
                    end = Some(i + 1);
                    break;
                }
            } else {
                literal.push(c);
            }
        }
        let Some(end) = end else {
            return Err(format!("unterminated expression literal in {s:?}"));
        };
        expr = body[end..].trim_start_matches([' ', '\t']);
        let Some(after) = expr.strip_prefix("}}") else {
            return Err(format!("GitHub would evaluate an expression in {s:?}"));
        };
        out.push_str(&literal);
        rest = after;
    }
    out.push_str(rest);
    Ok(out)
}

/// A static workflow field (`name`): GitHub refuses any expression there.
fn gha_static(s: &str) -> Result<String, String> {
    if s.contains("${{") {
        return Err(format!(
            "GitHub refuses an expression in a static field: {s:?}"
        ));
    }
    Ok(s.to_string())
}

fn yaml(text: &str) -> Result<Yaml, String> {
    serde_yaml_ng::from_str(text).map_err(|e| format!("YAML does not parse: {e}\n{text}"))
}

fn yaml_str<'a>(v: &'a Yaml, path: &[&str]) -> Result<&'a str, String> {
    let mut cur = v;
    for key in path {
        cur = match key.parse::<usize>() {
            Ok(i) => cur.get(i),
            Err(_) => cur.get(*key),
        }
        .ok_or_else(|| format!("no `{}` in the YAML", path.join(".")))?;
    }
    cur.as_str()
        .ok_or_else(|| format!("`{}` is not a string: {cur:?}", path.join(".")))
}

/// The string at `path` in the generated `compose.yaml`, after compose's interpolation.
fn compose_value(files: &[Rendered], path: &[&str]) -> Result<String, String> {
    let compose = yaml(file(files, "compose.yaml")?)?;
    compose_literal(yaml_str(&compose, path)?)
}

/// Every step of every job of the generated `ci` workflow.
fn workflow_steps(files: &[Rendered]) -> Result<Vec<Yaml>, String> {
    let wf = yaml(file(files, ".github/workflows/ci.yml")?)?;
    let jobs = wf.get("jobs").and_then(Yaml::as_mapping).ok_or("no jobs")?;
    Ok(jobs
        .values()
        .filter_map(|job| job.get("steps").and_then(Yaml::as_sequence))
        .flatten()
        .cloned()
        .collect())
}

/// The bake file evaluated as `docker buildx bake` would (variables at their defaults),
/// strings normalised to NFC as go-cty does.
fn bake(text: &str) -> Result<serde_json::Value, String> {
    Ok(nfc(crate::support::bake::evaluate(
        text,
        &Default::default(),
    )?))
}

fn nfc(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    use unicode_normalization::UnicodeNormalization;
    match v {
        Value::String(s) => Value::String(s.nfc().collect()),
        Value::Array(a) => Value::Array(a.into_iter().map(nfc).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, nfc(v))).collect()),
        other => other,
    }
}

fn json_str<'a>(v: &'a serde_json::Value, path: &[&str]) -> Result<&'a str, String> {
    v.pointer(&format!("/{}", path.join("/")))
        .and_then(|x| x.as_str())
        .ok_or_else(|| format!("no string at `{}` in the bake file: {v}", path.join(".")))
}

/// The Dockerfile's instructions.
fn dockerfile(files: &[Rendered]) -> Result<Vec<df::Instruction>, String> {
    let text = file(files, "docker/app.Dockerfile")?;
    df::parse(text).map_err(|e| format!("{e}\n{text}"))
}

fn only<'a>(ins: &'a [df::Instruction], keyword: &str) -> Result<&'a df::Instruction, String> {
    let all: Vec<&df::Instruction> = ins.iter().filter(|i| i.keyword == keyword).collect();
    match all.as_slice() {
        [one] => Ok(one),
        _ => Err(format!(
            "expected one {keyword}, found {}: {ins:#?}",
            all.len()
        )),
    }
}

fn expand(word: &str) -> Result<String, String> {
    df::expand(word).map_err(|e| e.to_string())
}

/// Expanded list arguments (COPY, VOLUME) in either form.
fn list(args: &Args) -> Result<Vec<String>, String> {
    match args {
        Args::Json(words) | Args::Words(words) => words.iter().map(|w| expand(w)).collect(),
        other => Err(format!("not a list: {other:?}")),
    }
}

/// The `key=value` pairs of every instruction `keyword`: keys expanded, values raw (the
/// OCI version labels expand `${VERSION}` on purpose).
fn pairs(ins: &[df::Instruction], keyword: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for i in ins.iter().filter(|i| i.keyword == keyword) {
        let Args::Pairs(ps) = &i.args else {
            return Err(format!("{keyword} without pairs: {i:?}"));
        };
        for (k, v) in ps {
            out.push((expand(k)?, v.clone()));
        }
    }
    Ok(out)
}

/// The expanded value of `key`.
fn pair(ins: &[df::Instruction], keyword: &str, key: &str) -> Result<String, String> {
    let raw = pairs(ins, keyword)?
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .ok_or_else(|| format!("no {keyword} `{key}` in {ins:#?}"))?;
    expand(&raw)
}

fn text(i: &df::Instruction) -> Result<&str, String> {
    match &i.args {
        Args::Text(t) => Ok(t),
        other => Err(format!("{} is not in shell form: {other:?}", i.keyword)),
    }
}

fn json_words(args: &Args) -> Result<&[String], String> {
    match args {
        Args::Json(w) => Ok(w),
        other => Err(format!("not an exec-form array: {other:?}")),
    }
}

/// What the consumers read where `slot` is, in the generated files.
pub(crate) fn read_back(slot: Slot, files: &[Rendered]) -> Result<Vec<String>, String> {
    let single = |s: String| Ok(vec![s]);
    match slot {
        Slot::EnvValue => single(pair(&dockerfile(files)?, "ENV", "E1")?),
        Slot::LabelKey => {
            let labels = pairs(&dockerfile(files)?, "LABEL")?;
            let keys: Vec<String> = labels
                .into_iter()
                .filter(|(k, v)| v == "\"v\"" && !k.starts_with("org.opencontainers."))
                .map(|(k, _)| k)
                .collect();
            Ok(keys)
        }
        Slot::LabelValue => single(pair(&dockerfile(files)?, "LABEL", "com.example.k")?),
        Slot::Description => single(pair(
            &dockerfile(files)?,
            "LABEL",
            "org.opencontainers.image.description",
        )?),
        Slot::RunFirst | Slot::RunLater => {
            let ins = dockerfile(files)?;
            let runs: Vec<&df::Instruction> = ins.iter().filter(|i| i.keyword == "RUN").collect();
            if runs.len() != 2 {
                return Err(format!("expected two RUN instructions: {ins:#?}"));
            }
            if slot == Slot::RunFirst {
                single(text(runs[0])?.to_string())
            } else {
                // Commands are joined with `&&` and a continuation line; BuildKit joins the
                // lines, keeping the next line's indentation.
                let t = text(runs[1])?;
                match t.strip_prefix("true &&     ") {
                    Some(rest) => single(rest.to_string()),
                    None => Err(format!("second RUN is not `true && …`: {t:?}")),
                }
            }
        }
        Slot::CmdWord | Slot::EntrypointWord => {
            let ins = dockerfile(files)?;
            let (keyword, first) = if slot == Slot::CmdWord {
                ("CMD", "-c")
            } else {
                ("ENTRYPOINT", "/bin/sh")
            };
            let words = json_words(&only(&ins, keyword)?.args)?;
            match words {
                [a, b] if a == first => single(b.clone()),
                _ => Err(format!("{keyword} is {words:?}")),
            }
        }
        Slot::CopySource | Slot::CopyDest => {
            let ins = dockerfile(files)?;
            let copy = only(&ins, "COPY")?;
            if !copy.flags.is_empty() {
                return Err(format!("COPY gained flags: {copy:?}"));
            }
            let paths = list(&copy.args)?;
            match paths.as_slice() {
                [src, dest] if slot == Slot::CopySource && dest == "/app/" => single(src.clone()),
                [src, dest] if slot == Slot::CopyDest && src == "src" => single(dest.clone()),
                _ => Err(format!("COPY paths are {paths:?}")),
            }
        }
        Slot::Workdir | Slot::User => {
            let ins = dockerfile(files)?;
            let keyword = if slot == Slot::Workdir {
                "WORKDIR"
            } else {
                "USER"
            };
            single(expand(text(only(&ins, keyword)?)?)?)
        }
        Slot::Volume => list(&only(&dockerfile(files)?, "VOLUME")?.args),
        Slot::Healthcheck => {
            let ins = dockerfile(files)?;
            let hc = only(&ins, "HEALTHCHECK")?;
            let Args::Health(kind, cmd) = &hc.args else {
                return Err(format!("HEALTHCHECK: {hc:?}"));
            };
            let words = json_words(cmd)?;
            match (kind.as_str(), words) {
                ("CMD", [sh, c, command]) if sh == "/bin/sh" && c == "-c" => {
                    single(command.clone())
                }
                _ => Err(format!("HEALTHCHECK is {kind} {words:?}")),
            }
        }
        Slot::VariantArg => {
            let b = bake(file(files, "docker-bake.hcl")?)?;
            let from_bake = json_str(&b, &["target", "app", "args", "XARG"])?.to_string();
            let from_compose = compose_value(files, &["services", "app", "build", "args", "XARG"])?;
            Ok(vec![from_bake, from_compose])
        }
        Slot::ServiceEnv => single(compose_value(
            files,
            &["services", "app", "environment", "E2"],
        )?),
        Slot::ServiceCommand => single(compose_value(files, &["services", "app", "command", "1"])?),
        Slot::ServiceHealthcheck => single(compose_value(
            files,
            &["services", "probe", "healthcheck", "test", "1"],
        )?),
        Slot::WorkflowName => {
            let wf = yaml(file(files, ".github/workflows/ci.yml")?)?;
            single(gha_static(yaml_str(&wf, &["name"])?)?)
        }
        Slot::Source => {
            let key = "org.opencontainers.image.source";
            let from_dockerfile = pair(&dockerfile(files)?, "LABEL", key)?;
            let b = bake(file(files, "docker-bake.hcl")?)?;
            let from_bake = json_str(&b, &["target", "app", "labels", key])?.to_string();
            Ok(vec![from_dockerfile, from_bake])
        }
        Slot::ScanSeverity => {
            let mut found = Vec::new();
            for step in workflow_steps(files)? {
                let trivy = step
                    .get("uses")
                    .and_then(Yaml::as_str)
                    .is_some_and(|u| u.starts_with("aquasecurity/trivy-action"));
                if trivy {
                    let v = step.get("with").and_then(|w| w.get("severity"));
                    let s = v
                        .and_then(Yaml::as_str)
                        .ok_or_else(|| format!("severity is not a string: {v:?}"))?;
                    found.push(gha_literal(s)?);
                }
            }
            Ok(found)
        }
        Slot::SmokeEnv => {
            let mut found = Vec::new();
            for step in workflow_steps(files)? {
                if let Some(v) = step.get("env").and_then(|e| e.get("E3")) {
                    let s = v
                        .as_str()
                        .ok_or_else(|| format!("E3 is not a string: {v:?}"))?;
                    found.push(gha_literal(s)?);
                }
            }
            Ok(found)
        }
    }
}

/// The property: `value` in `slot` comes back unchanged from every consumer, or the spec
/// is refused with a diagnostic.
pub(crate) fn round_trip(slot: Slot, value: &str) -> Result<Option<Vec<String>>, String> {
    let text = spec_with(slot, value);
    match generate(&text)? {
        Outcome::Refused(_) => Ok(None),
        Outcome::Files(files) => {
            let got = read_back(slot, &files).map_err(|e| format!("{slot:?}: {e}"))?;
            if got.is_empty() || got.iter().any(|g| g != value) {
                return Err(format!(
                    "{slot:?}: wrote {value:?}, consumers read {got:?}\n--- spec\n{text}"
                ));
            }
            Ok(Some(got))
        }
    }
}

/// The value must round-trip (not be refused).
fn accepted(slot: Slot, value: &str) {
    match round_trip(slot, value) {
        Ok(Some(_)) => {}
        Ok(None) => {
            let text = spec_with(slot, value);
            let codes = match generate(&text) {
                Ok(Outcome::Refused(c)) => c,
                _ => Vec::new(),
            };
            panic!("{slot:?}: {value:?} was refused ({codes:?}) but is representable")
        }
        Err(e) => panic!("{e}"),
    }
}

/// Each of `values` must round-trip in each of `slots`.
fn accepted_in(slots: &[Slot], values: &[&str]) {
    for value in values {
        for &slot in slots {
            accepted(slot, value);
        }
    }
}

/// The value must be refused with a diagnostic with this code.
fn refused(slot: Slot, value: &str, expected: &str) {
    match generate(&spec_with(slot, value)) {
        Ok(Outcome::Refused(codes)) => assert!(
            codes.iter().any(|c| c == expected),
            "{slot:?}: {value:?} refused with {codes:?}, expected {expected}"
        ),
        Ok(Outcome::Files(files)) => panic!(
            "{slot:?}: {value:?} was accepted; read back as {:?}",
            read_back(slot, &files)
        ),
        Err(e) => panic!("{e}"),
    }
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

/// Pieces that mean something to at least one of the formats.
const NASTY: &[&str] = &[
    "\"",
    "'",
    "`",
    "\\",
    "\\\\",
    "\n",
    "\r\n",
    "\t",
    " ",
    "#",
    "# x",
    "$",
    "$VAR",
    "${VAR}",
    "${VAR:-d}",
    "$$",
    "$1",
    "${{ x }}",
    "${{",
    "}}",
    "{{ y }}",
    "{{",
    "%{",
    "%%{",
    "${",
    "$${",
    "&&",
    "||",
    ";",
    "|",
    "<<EOF",
    "<<-X",
    "<<<",
    "[",
    "]",
    "[\"a\"]",
    "{",
    "}",
    "=",
    ",",
    ":",
    "- ",
    "? ",
    "!",
    "&a",
    "*a",
    "@",
    "%",
    "--",
    "--mount=type=cache,target=/x",
    "/",
    "./",
    "..",
    "*",
    "?",
    "~",
    "null",
    "true",
    "0x1F",
    "1e3",
    "é",
    "e\u{301}",
    "ß",
    "İ",
    "שלום",
    "مرحبا",
    "\u{202e}",
    "\u{200f}",
    "🦀",
    "👩‍👩‍👧",
    "\u{0}",
    "\u{1}",
    "\u{7f}",
    "\u{85}",
    "\u{a0}",
    "\u{2028}",
    "\u{feff}",
    "\u{fffe}",
    "\u{ffff}",
    "\u{10ffff}",
    "\u{212b}",
    "\u{1100}\u{1161}",
    "a",
    "b",
    "x y",
    "/app",
];

fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::collection::vec(prop::sample::select(NASTY), 1..6).prop_map(|v| v.concat()),
        1 => any::<String>(),
        1 => "[ -~]{0,12}",
    ]
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
}

/// Runs the property for `slot`, and checks that it is not vacuous: a good share of the
/// strings must really have been written and read back (not all refused).
fn property(slot: Slot) {
    use proptest::test_runner::{Config, TestRunner};
    let cases = cases();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let accepted = std::cell::Cell::new(0u32);
    let result = runner.run(&nasty_string(), |value| {
        match round_trip(slot, &value) {
            Ok(Some(_)) => accepted.set(accepted.get() + 1),
            Ok(None) => {}
            Err(e) => return Err(TestCaseError::fail(e)),
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    if std::env::var_os("SPECC_PROPS_STATS").is_some() {
        eprintln!("{slot:?}: {} of {cases} accepted", accepted.get());
    }
    assert!(
        accepted.get() * 5 >= cases,
        "{slot:?}: only {} of {cases} strings were accepted",
        accepted.get()
    );
}

macro_rules! slot_properties {
    ($($name:ident => $slot:expr),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                property($slot);
            }
        )*
    };
}

slot_properties! {
    prop_env_value => Slot::EnvValue,
    prop_label_key => Slot::LabelKey,
    prop_label_value => Slot::LabelValue,
    prop_description => Slot::Description,
    prop_run_first => Slot::RunFirst,
    prop_run_later => Slot::RunLater,
    prop_cmd_word => Slot::CmdWord,
    prop_entrypoint_word => Slot::EntrypointWord,
    prop_copy_source => Slot::CopySource,
    prop_copy_dest => Slot::CopyDest,
    prop_workdir => Slot::Workdir,
    prop_user => Slot::User,
    prop_volume => Slot::Volume,
    prop_healthcheck => Slot::Healthcheck,
    prop_variant_arg => Slot::VariantArg,
    prop_service_env => Slot::ServiceEnv,
    prop_service_command => Slot::ServiceCommand,
    prop_service_healthcheck => Slot::ServiceHealthcheck,
    prop_smoke_env => Slot::SmokeEnv,
    prop_workflow_name => Slot::WorkflowName,
    prop_scan_severity => Slot::ScanSeverity,
    prop_source => Slot::Source,
}

// ---------------------------------------------------------------------------------------
// Examples: the nastiest strings, with exact expectations
// ---------------------------------------------------------------------------------------

#[test]
fn every_slot_carries_quotes_dollars_and_unicode() {
    let value = "a \"q\" 'b' $HOME ${X} ${{ x }} {{ y }} % 🦀 שלום";
    for &slot in SLOTS {
        match slot {
            // Paths, users and directories: no `$` (Docker would expand it) and no spaces
            // at the ends; a workflow name takes no `${{`; see the dedicated examples.
            Slot::CopySource
            | Slot::CopyDest
            | Slot::Workdir
            | Slot::User
            | Slot::Volume
            | Slot::WorkflowName => {}
            _ => accepted(slot, value),
        }
    }
}

#[test]
fn dollar_reaches_the_container_literally() {
    accepted_in(
        &[
            Slot::EnvValue,
            Slot::LabelValue,
            Slot::ServiceEnv,
            Slot::VariantArg,
        ],
        &[
            "$HOME",
            "${HOME}",
            "${HOME:-x}",
            "a$",
            "$$",
            "\\$x",
            "price: 5$",
        ],
    );
}

#[test]
fn expand_annotation_keeps_dollar_for_docker_and_compose() {
    let text = full_spec_with(Slot::EnvValue, "x")
        .replace("env E1 \"x\"", "env PATH (expand)\"/opt/bin:${PATH}\"");
    let text = text.replace("env E2 \"x\"", "env E2 (expand)\"${HOST:-localhost}\"");
    let Outcome::Files(files) = generate(&text).unwrap() else {
        panic!("refused")
    };
    let ins = dockerfile(&files).unwrap();
    let Args::Pairs(ps) = &ins.iter().find(|i| i.keyword == "ENV").unwrap().args else {
        panic!()
    };
    assert_eq!(
        ps[0],
        ("PATH".to_string(), "\"/opt/bin:${PATH}\"".to_string())
    );
    assert!(
        df::expand(&ps[0].1).is_err(),
        "Docker expands ${{PATH}} here"
    );
    let compose = yaml(file(&files, "compose.yaml").unwrap()).unwrap();
    assert_eq!(
        yaml_str(&compose, &["services", "app", "environment", "E2"]).unwrap(),
        "${HOST:-localhost}"
    );
}

#[test]
fn backslashes_and_quotes() {
    accepted_in(
        &[
            Slot::EnvValue,
            Slot::LabelValue,
            Slot::Description,
            Slot::CmdWord,
            Slot::ServiceEnv,
            Slot::VariantArg,
            Slot::SmokeEnv,
        ],
        &[
            "\\",
            "a\\",
            "\\\"",
            "C:\\path\\",
            "\"\"",
            "'",
            "\\n",
            "\\$HOME",
        ],
    );
}

#[test]
fn github_expressions_in_values_stay_literal() {
    accepted_in(
        &[
            Slot::SmokeEnv,
            Slot::ServiceEnv,
            Slot::VariantArg,
            Slot::EnvValue,
        ],
        &[
            "${{ secrets.TOKEN }}",
            "${{",
            "a ${{ github.ref }} b",
            "${{ '${{' }}",
        ],
    );
}

#[test]
fn workflow_name_cannot_hold_an_expression() {
    accepted(Slot::WorkflowName, "Release 'images' \"now\" $x {{ y }} 🦀");
    refused(
        Slot::WorkflowName,
        "CI ${{ github.ref }}",
        "specc::check::workflow_expression",
    );
}

#[test]
fn workflow_triggers_cannot_hold_an_expression() {
    for trigger in [
        "on \"tag\" pattern=\"v${{ x }}*\"",
        "on \"push\" branch=\"main${{ x }}\"",
    ] {
        let text = edit(Slot::EnvValue, "on \"dispatch\"", trigger);
        assert_eq!(
            codes(&text),
            ["specc::check::workflow_expression"],
            "{trigger}"
        );
    }
}

#[test]
fn bake_values_must_be_nfc() {
    // buildx (go-cty) normalises strings to NFC: a decomposed `é` would change.
    accepted(Slot::VariantArg, "caf\u{e9}");
    refused(Slot::VariantArg, "cafe\u{301}", "specc::check::not_nfc");
    refused(Slot::Source, "\u{212b}", "specc::check::not_nfc");
    // Compose and Dockerfiles carry it as it is.
    accepted(Slot::ServiceEnv, "cafe\u{301}");
    accepted(Slot::EnvValue, "cafe\u{301}");
}

#[test]
fn hcl_interpolation_stays_literal() {
    accepted_in(
        &[Slot::VariantArg],
        &[
            "${VERSION}",
            "%{ if true }x%{ endif }",
            "$${",
            "%%{",
            "$",
            "%",
        ],
    );
}

#[test]
fn line_breaks_survive_yaml_and_hcl_and_are_refused_in_dockerfiles() {
    accepted_in(
        &[Slot::ServiceEnv, Slot::VariantArg, Slot::SmokeEnv],
        &["a\nb", "a\r\nb", "\n", "x\u{2028}y", "x\u{85}y"],
    );
    refused(Slot::EnvValue, "a\nb", "specc::check::line_break");
    refused(Slot::RunFirst, "echo a\necho b", "specc::check::line_break");
    refused(Slot::LabelValue, "a\rb", "specc::check::line_break");
}

#[test]
fn control_characters() {
    accepted_in(
        &[
            Slot::ServiceEnv,
            Slot::VariantArg,
            Slot::EnvValue,
            Slot::CmdWord,
        ],
        &[
            "\u{1}",
            "\u{7f}",
            "a\tb",
            "\u{1b}[31m",
            "\u{feff}",
            "\u{fffe}",
        ],
    );
}

#[test]
fn run_commands_keep_their_shell_text() {
    accepted_in(
        &[Slot::RunFirst, Slot::RunLater, Slot::Healthcheck],
        &[
            "echo \"$HOME\" '$x' `date` $(id -u)",
            "test -f /x || exit 1",
            "printf '%s\\n' a b",
            "echo a # comment",
            "[ -f /etc/os-release ]",
        ],
    );
}

#[test]
fn run_commands_docker_would_misread_are_refused() {
    // A JSON array at the start would make the RUN an exec form (and drop the rest).
    refused(
        Slot::RunFirst,
        "[ \"$x\" ] && echo set",
        "specc::check::run_command",
    );
    // `<<WORD` starts a heredoc: BuildKit would read the next lines as its body.
    refused(Slot::RunFirst, "cat <<EOF", "specc::check::heredoc");
    refused(Slot::RunLater, "cat <<-END", "specc::check::heredoc");
    // A later command starting with `#` would be dropped as a Dockerfile comment.
    refused(Slot::RunLater, "# note", "specc::check::run_command");
    // A leading `--` word would be read as a RUN flag.
    refused(
        Slot::RunFirst,
        "--mount=type=cache,target=/x echo",
        "specc::check::run_command",
    );
    // A trailing backslash would continue into the next line.
    refused(Slot::RunFirst, "echo \\", "specc::check::run_command");
}

#[test]
fn paths_with_spaces_quotes_and_unicode() {
    for value in [
        "my file.txt",
        "it's",
        "a\"b",
        "a\\b",
        "データ/ファイル",
        "x y/",
        "<<EOF",
    ] {
        accepted(Slot::CopySource, value);
        accepted(Slot::Volume, &format!("/{value}"));
        accepted(Slot::Workdir, &format!("/{value}"));
    }
    accepted(Slot::CopyDest, "/my dir/it's/");
}

/// Without `(expand)`, a `$` in a COPY path is escaped: Docker copies the file of that
/// very name (`tests/integration/expand.rs` builds it with buildah).
#[test]
fn dollar_in_paths_is_literal() {
    accepted_in(
        &[Slot::CopySource, Slot::CopyDest],
        &["$HOME/x/", "a${B}c/", "$"],
    );
}

#[test]
fn label_keys() {
    accepted_in(
        &[Slot::LabelKey],
        &["com.example.team", "my key", "k\"q\"", "ключ", "$x"],
    );
    // BuildKit splits `key=value` at the first `=`, quoted or not.
    refused(Slot::LabelKey, "a=b", "specc::check::label_key");
    refused(Slot::LabelKey, "", "specc::check::empty_value");
}

#[test]
fn users() {
    accepted_in(
        &[Slot::User],
        &["app", "1000:1000", "o'brien", "a\"b", "back\\slash"],
    );
}

/// The spec with `from` replaced by `to` (which must occur exactly once).
fn edit(slot: Slot, from: &str, to: &str) -> String {
    let text = full_spec_with(slot, "x");
    assert_eq!(text.matches(from).count(), 1, "{from} in the base spec");
    text.replace(from, to)
}

fn codes(text: &str) -> Vec<String> {
    match generate(text) {
        Ok(Outcome::Refused(c)) => c,
        Ok(Outcome::Files(_)) => Vec::new(),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn flag_values_are_escaped_twice() {
    // `--chown=` is read by BuildKit's flag parser, then by its shell lexer.
    for owner in ["o'brien:staff", "a\\b", "x\"y", "$USER"] {
        let text = edit(
            Slot::EnvValue,
            "copy \"src\" to=\"/app/\"",
            &format!("copy \"src\" to=\"/app/\" chown={}", kdl_string(owner)),
        );
        let Outcome::Files(files) = generate(&text).unwrap() else {
            panic!("{owner:?} refused")
        };
        let ins = dockerfile(&files).unwrap();
        let copy = only(&ins, "COPY").unwrap();
        assert_eq!(copy.flags.len(), 1, "{copy:?}");
        let value = copy.flags[0].strip_prefix("chown=").unwrap();
        assert_eq!(expand(value).unwrap(), owner);
        assert_eq!(list(&copy.args).unwrap(), ["src", "/app/"]);
    }
    // The flag parser reads bytes: non-ASCII cannot pass.
    let text = edit(
        Slot::EnvValue,
        "copy \"src\" to=\"/app/\"",
        "copy \"src\" to=\"/app/\" chown=\"jürgen\"",
    );
    assert_eq!(codes(&text), ["specc::check::invalid_owner"]);
    // A checksum with a space would split the instruction.
    let text = edit(
        Slot::EnvValue,
        "copy \"src\" to=\"/app/\"",
        "add \"https://example.com/a.tgz\" to=\"/app/\" checksum=\"sha256:ab cd\"",
    );
    assert_eq!(codes(&text), ["specc::check::invalid_checksum"]);
    // Mount options: no `$` (BuildKit expands it), no quotes, no non-ASCII.
    for target in ["/cache/$HOME", "/it's", "/café"] {
        let text = edit(
            Slot::EnvValue,
            "run \"echo one\"",
            &format!(
                "run \"echo one\" {{\n        cache {}\n    }}",
                kdl_string(target)
            ),
        );
        assert_eq!(codes(&text), ["specc::check::mount_option"], "{target:?}");
    }
}

#[test]
fn defaults_that_cannot_be_written_are_reported_not_emptied() {
    // A FROM argument's default with a line break was once written as `ARG BASE=""`.
    let text = edit(
        Slot::EnvValue,
        "stage main from=\"busybox:1.36\"",
        "stage main from=\"$BASE\"",
    )
    .replace(
        "arg XARG \"1\"",
        "arg XARG \"1\"\n    arg BASE \"busybox:1.36\\nx\"",
    );
    assert_eq!(codes(&text), ["specc::check::line_break"]);
}

#[test]
fn kdl_encoder_round_trips() {
    for value in NASTY {
        let doc: kdl::KdlDocument = format!("n {}", kdl_string(value)).parse().unwrap();
        let got = doc.nodes()[0].entries()[0].value().as_string().unwrap();
        assert_eq!(got, *value);
    }
}

#[test]
fn dockerfile_reader_reads_the_forms_specc_writes() {
    let text = "# header\n\nFROM scratch AS a\nENV A=\"x \\\"y\\\" \\$Z\" \\\n    B=\"2\"\n# dropped\nRUN --mount=type=cache,target=/c echo a && \\\n    # dropped too\n    echo b\nCMD [\"a\", \"b c\"]\nCOPY [\"it\\\\'s\", \"/d/\"]\n";
    let ins = df::parse(text).unwrap();
    assert_eq!(
        ins[0].args,
        Args::Words(vec!["scratch".into(), "AS".into(), "a".into()])
    );
    let Args::Pairs(pairs) = &ins[1].args else {
        panic!("{:?}", ins[1])
    };
    assert_eq!(df::expand(&pairs[0].1).unwrap(), "x \"y\" $Z");
    assert_eq!(df::expand(&pairs[1].1).unwrap(), "2");
    assert_eq!(ins[2].flags, vec!["mount=type=cache,target=/c"]);
    assert_eq!(ins[2].args, Args::Text("echo a &&     echo b".into()));
    assert_eq!(ins[3].args, Args::Json(vec!["a".into(), "b c".into()]));
    assert_eq!(list(&ins[4].args).unwrap(), ["it's", "/d/"]);
    // What BuildKit would misread is reported.
    assert!(df::parse("FROM a\nRUN cat <<EOF\nx\nEOF\n").is_err());
    assert!(df::expand("\"$HOME\"").is_err());
    assert!(df::expand("'unterminated").is_err());
}

/// The same values read back by the real consumers: buildah builds the Dockerfile (its
/// parser is BuildKit's) and reports the image config, `docker-compose config` resolves
/// the compose file, actionlint accepts the neutralised `${{` in the workflow.
#[test]
fn real_tools_read_the_values_back() {
    use crate::support::buildah::{Build, Buildah};
    use crate::support::validators::run_tool_ok;

    let nasty = "a \"q\" 'b' $HOME ${X} \\ \\\\ ${{ x }} %{y} #z 🦀 שלום e\u{301}";
    let file_name = "it's a \"file\" 🦀.txt";
    let workdir = "/w d/it's \"q\" $x";
    let volume = "/v a/$x'\"";
    let label_key = "com.example.k y\"'$";
    let user = "o'brien:$g";
    let k = kdl_string;
    let text = format!(
        r#"project demo version="1.0.0" description={desc}
stage main from="scratch" {{
    workdir {workdir}
    env E1 {nasty}
    label {label_key} {nasty}
    copy {file} to="/dst/"
    user {user}
    volume {volume}
    entrypoint "/bin/sh" {nasty}
    cmd {nasty}
}}
image app stage=main
service app image=app {{
    env E2 {nasty}
    command "run" {nasty}
}}
workflow ci {{
    on "dispatch"
    smoke-test image=app {{
        env E3 {nasty}
    }}
}}
"#,
        desc = k(nasty),
        workdir = k(workdir),
        nasty = k(nasty),
        label_key = k(label_key),
        file = k(file_name),
        user = k(user),
        volume = k(volume),
    );
    let Outcome::Files(files) = generate(&text).unwrap() else {
        panic!("refused")
    };
    let dir = tempfile::tempdir().unwrap();
    for f in &files {
        let path = dir.path().join(&f.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &f.contents).unwrap();
    }
    std::fs::write(dir.path().join(file_name), "payload\n").unwrap();

    // buildah: the build finds the oddly named file, and the config holds every value.
    let buildah = Buildah::new();
    buildah.build(&Build {
        context: dir.path().to_path_buf(),
        dockerfile: dir.path().join("docker/app.Dockerfile"),
        target: "main".into(),
        tags: vec!["localhost/render-props:1".into()],
        ..Build::default()
    });
    let info = buildah.inspect_image("localhost/render-props:1");
    let config = &info["OCIv1"]["config"];
    let env: Vec<&str> = config["Env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.as_str())
        .collect();
    assert!(env.contains(&format!("E1={nasty}").as_str()), "{env:?}");
    assert_eq!(config["Labels"][label_key], nasty, "{config}");
    assert_eq!(
        config["Labels"]["org.opencontainers.image.description"],
        nasty
    );
    assert_eq!(config["WorkingDir"], workdir);
    assert_eq!(config["User"], user);
    assert!(config["Volumes"].get(volume).is_some(), "{config}");
    assert_eq!(config["Entrypoint"], serde_json::json!(["/bin/sh", nasty]));
    assert_eq!(config["Cmd"], serde_json::json!([nasty]));

    // docker-compose: `config` prints the model after interpolation, as a compose file
    // again, so a literal `$` shows as `$$`; an interpolated `$HOME` or `${X}` would show
    // as its value (or vanish).
    let out = run_tool_ok(
        "docker-compose",
        ["-f", "compose.yaml", "config", "--format", "json"],
        dir.path(),
    );
    let resolved: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let app = &resolved["services"]["app"];
    let printed = nasty.replace('$', "$$");
    assert_eq!(app["environment"]["E2"], printed.as_str(), "{app}");
    assert_eq!(app["command"], serde_json::json!(["run", printed]));

    // actionlint: the workflow, with its `${{ '${{' }}`, is valid.
    run_tool_ok(
        "actionlint",
        ["-no-color", ".github/workflows/ci.yml"],
        dir.path(),
    );
}
