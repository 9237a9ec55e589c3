//! The `docker` stand-in: `login`, `buildx bake` (the bake file evaluated with
//! [`crate::support::bake::evaluate`] under the call's environment, `--set` overrides,
//! `--push`/`--load`, outputs with `push-by-digest`, registry `cache-to`, the metadata
//! file), `buildx build`, `buildx imagetools inspect|create`, and the local commands a
//! smoke test runs (`run`, `ps`, `rm`, `logs`, `pull`, `push`, `tag`, `inspect`).
//!
//! Digests are fakes made from what was built (target, platforms, args, Dockerfile), so
//! the same build gives the same digest. Pushing needs a login to the registry in the
//! same job leg, and an ECR repository that exists.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use super::standin::{Reply, Request, State, flag_value, positionals};
use super::{Build, Manifest, Push, Pushed};

/// `sha256:` and a hash of `parts`.
pub fn fake_digest(parts: &[&str]) -> String {
    format!(
        "sha256:{}",
        blake3::hash(parts.join("\0").as_bytes()).to_hex()
    )
}

/// `host/path` of a repository, as docker names it (`ubuntu` is
/// `docker.io/library/ubuntu`).
pub fn normalize_repository(repo: &str) -> String {
    let first = repo.split('/').next().unwrap_or_default();
    let has_host =
        repo.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let repo = if has_host {
        repo.to_string()
    } else if repo.contains('/') {
        format!("docker.io/{repo}")
    } else {
        format!("docker.io/library/{repo}")
    };
    repo.strip_prefix("index.docker.io/")
        .map_or(repo.clone(), |rest| format!("docker.io/{rest}"))
}

/// A reference's repository and tag (`None` for none, or for a digest reference, whose
/// repository keeps the `@digest`).
pub fn split_reference(reference: &str) -> (String, Option<String>) {
    if reference.contains('@') {
        return (reference.to_string(), None);
    }
    let slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[slash..].rfind(':') {
        Some(i) => (
            normalize_repository(&reference[..slash + i]),
            Some(reference[slash + i + 1..].to_string()),
        ),
        None => (normalize_repository(reference), None),
    }
}

/// A reference with its repository normalized (`repo:tag`, `repo@digest`).
fn normalize_reference(reference: &str) -> String {
    if let Some((repo, digest)) = reference.split_once('@') {
        let repo = split_reference(repo).0;
        return format!("{repo}@{digest}");
    }
    match split_reference(reference) {
        (repo, Some(tag)) => format!("{repo}:{tag}"),
        (repo, None) => format!("{repo}:latest"),
    }
}

/// The repository of a normalized `repo:tag` or `repo@digest`.
fn repository_of(reference: &str) -> String {
    match reference.split_once('@') {
        Some((repo, _)) => repo.to_string(),
        None => split_reference(reference).0,
    }
}

/// The registry host of a repository (`docker.io` for Docker Hub).
pub fn registry_host(repo: &str) -> String {
    normalize_repository(repo)
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// A login's server as docker records it.
fn login_host(server: &str) -> String {
    let s = server.trim_start_matches("https://").trim_end_matches('/');
    match s {
        "" | "index.docker.io" | "registry-1.docker.io" | "index.docker.io/v1" => {
            "docker.io".into()
        }
        other => other.split('/').next().unwrap_or(other).to_string(),
    }
}

/// An ECR repository must exist before a push (ECR does not create it).
pub fn check_ecr_repository(repo: &str, registry: &super::Registry) -> Result<(), String> {
    let host = registry_host(repo);
    if host.contains(".dkr.ecr.") && !registry.repositories.contains_key(repo) {
        return Err(format!(
            "name unknown: The repository with name '{}' does not exist in the registry",
            repo.split_once('/').map_or("", |(_, p)| p)
        ));
    }
    Ok(())
}

/// Stores `digest` at `repo` (and `tag`) and records the push.
pub fn push(s: &mut State, kind: Pushed, repo: &str, tag: Option<&str>, digest: &str) {
    s.registry.put(repo, tag, digest);
    let reference = match tag {
        Some(t) => format!("{repo}:{t}"),
        None => format!("{repo}@{digest}"),
    };
    let record = Push {
        at: s.at.clone(),
        kind,
        reference,
        digest: digest.to_string(),
    };
    s.pushes.push(record);
}

/// Fails unless the leg logged in to every registry of `repos`, and ECR repositories
/// exist.
fn check_push(s: &State, repos: &[String]) -> Result<(), Reply> {
    for repo in repos {
        let host = registry_host(repo);
        if !s.leg.docker_logins.contains(&host) && !s.open_registries.contains(&host) {
            return Err(Reply::fail(
                1,
                format!(
                    "ERROR: failed to push {repo}: unauthorized: authentication required (no login to {host} in this job)\n"
                ),
            ));
        }
        check_ecr_repository(repo, &s.registry)
            .map_err(|e| Reply::fail(1, format!("ERROR: failed to push {repo}: {e}\n")))?;
    }
    Ok(())
}

pub fn docker(req: &Request, s: &mut State) -> Reply {
    let args = req.args(0);
    let word = |i: usize| args.get(i).map(String::as_str).unwrap_or_default();
    match (word(0), word(1)) {
        ("login", _) => login(req, s),
        ("logout", _) => Reply::ok(""),
        ("version" | "info", _)
        | ("buildx", "version" | "create" | "use" | "inspect" | "ls" | "du") => {
            Reply::ok("simulated docker\n")
        }
        ("buildx", "bake") => bake(req, s),
        ("buildx", "build") => build(req, s),
        ("buildx", "imagetools") => match word(2) {
            "inspect" => inspect(req, s),
            "create" => create(req, s),
            other => Reply::fail(
                1,
                format!("stand-in docker: unknown `imagetools {other}`\n"),
            ),
        },
        ("run", _) => run(req, s),
        ("ps", _) => ps(req, s),
        ("rm", _) => rm(req, s),
        ("logs", _) => Reply::ok(""),
        ("pull", _) => pull(req, s),
        ("push", _) => push_local(req, s),
        ("tag", _) => tag(req, s),
        ("inspect", _) | ("image", "inspect") => image_inspect(req, s),
        ("manifest", "inspect") => match s.registry.resolve(&normalize_reference(word(2))) {
            Some(d) => Reply::ok(format!("{{\"digest\": \"{d}\"}}\n")),
            None => Reply::fail(1, format!("no such manifest: {}\n", word(2))),
        },
        _ => Reply::unknown(req),
    }
}

/// `docker login [-u U] [--password-stdin | -p P] [SERVER]`.
fn login(req: &Request, s: &mut State) -> Reply {
    let args = req.args(1);
    let takes = ["-u", "--username", "-p", "--password"];
    let server = positionals(args, &takes)
        .into_iter()
        .next()
        .unwrap_or_default();
    let username = flag_value(args, "--username")
        .or_else(|| flag_value(args, "-u"))
        .unwrap_or_default();
    let password = flag_value(args, "--password")
        .or_else(|| flag_value(args, "-p"))
        .unwrap_or_else(|| req.stdin.trim_end_matches('\n').to_string());
    if username.is_empty() || password.is_empty() {
        return Reply::fail(
            1,
            "Error: Cannot perform an interactive login from a non TTY device\n",
        );
    }
    let host = login_host(&server);
    s.leg.docker_logins.insert(host.clone());
    let record = super::Login {
        at: s.at.clone(),
        tool: "docker".into(),
        registry: host,
        username,
        secrets: s.step_secrets.clone(),
    };
    s.logins.push(record);
    Reply::ok("Login Succeeded\n")
}

// ---------------------------------------------------------------------------------------
// What one build does
// ---------------------------------------------------------------------------------------

/// A target with its overrides applied: what buildx builds.
#[derive(Debug, Clone, Default)]
struct Target {
    name: String,
    context: String,
    dockerfile: String,
    stage: String,
    platforms: Vec<String>,
    tags: Vec<String>,
    args: BTreeMap<String, String>,
    outputs: Vec<String>,
    cache_to: Vec<String>,
}

/// `type=image,name=a,push=true` as key -> value (quoted CSV fields, as buildx reads them).
fn csv_fields(entry: &str) -> BTreeMap<String, String> {
    let mut fields = Vec::new();
    let (mut field, mut quoted) = (String::new(), false);
    for c in entry.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
        .into_iter()
        .filter(|f| !f.is_empty())
        .map(|f| match f.split_once('=') {
            Some((k, v)) => (k.trim().to_string(), v.trim().to_string()),
            None => (f.trim().to_string(), String::new()),
        })
        .collect()
}

/// What a target's outputs ask for.
#[derive(Debug, Default)]
struct Exports {
    /// Repositories and tags pushed by tag.
    tagged: Vec<String>,
    /// Repositories pushed by digest.
    by_digest: Vec<String>,
    loaded: Vec<String>,
}

fn exports(t: &Target) -> Result<Exports, String> {
    let mut out = Exports::default();
    for entry in &t.outputs {
        let f = csv_fields(entry);
        let names: Vec<String> = match f.get("name") {
            Some(n) => n.split(',').map(str::to_string).collect(),
            None => t.tags.clone(),
        };
        let is_true = |k: &str| f.get(k).is_some_and(|v| v == "true");
        let kind = f.get("type").map(String::as_str);
        let pushes = kind == Some("registry") || (kind == Some("image") && is_true("push"));
        if pushes && names.is_empty() {
            return Err(format!(
                "target `{}`: tag is needed when pushing to registry",
                t.name
            ));
        }
        match kind {
            Some("image") if pushes && is_true("push-by-digest") => out
                .by_digest
                .extend(names.iter().map(|n| split_reference(n).0)),
            _ if pushes => out.tagged.extend(names),
            Some("docker") => out.loaded.extend(names),
            Some("image" | "local" | "tar" | "oci" | "cacheonly") => {}
            other => return Err(format!("output type {other:?} of `{entry}`")),
        }
    }
    Ok(out)
}

/// The registry refs `cache-to` exports to.
fn cache_refs(t: &Target) -> Vec<String> {
    t.cache_to
        .iter()
        .map(|c| csv_fields(c))
        .filter(|f| f.get("type").is_some_and(|t| t == "registry"))
        .filter_map(|f| f.get("ref").cloned())
        .collect()
}

/// Builds `t`: checks logins, stores pushes and loads, records the build; returns its
/// digest.
fn build_target(s: &mut State, t: &Target) -> Result<String, Reply> {
    let ex = exports(t).map_err(|e| Reply::fail(1, format!("ERROR: {e}\n")))?;
    let caches = cache_refs(t);
    let pushed: Vec<String> = ex
        .tagged
        .iter()
        .map(|r| split_reference(r).0)
        .chain(ex.by_digest.iter().cloned())
        .chain(caches.iter().map(|r| split_reference(r).0))
        .collect();
    check_push(s, &pushed)?;
    let platforms = if t.platforms.is_empty() {
        vec![format!("linux/{}", s.leg.arch)]
    } else {
        t.platforms.clone()
    };
    let args: Vec<String> = t.args.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut parts = vec!["build", &t.name, &t.context, &t.dockerfile, &t.stage];
    parts.extend(platforms.iter().map(String::as_str));
    parts.extend(args.iter().map(String::as_str));
    let digest = fake_digest(&parts);
    store(s, &ex, &caches, &t.name, &digest);
    let record = Build {
        at: s.at.clone(),
        target: t.name.clone(),
        platforms,
        tags: t.tags.clone(),
        args: t.args.clone(),
        outputs: t.outputs.clone(),
        cache_to: t.cache_to.clone(),
        push: !ex.tagged.is_empty() || !ex.by_digest.is_empty(),
        push_by_digest: !ex.by_digest.is_empty(),
        load: !ex.loaded.is_empty(),
        digest: digest.clone(),
        runner_arch: s.leg.arch.clone(),
    };
    s.builds.push(record);
    Ok(digest)
}

fn store(s: &mut State, ex: &Exports, caches: &[String], name: &str, digest: &str) {
    for r in &ex.tagged {
        let (repo, tag) = split_reference(r);
        push(
            s,
            Pushed::Image,
            &repo,
            Some(tag.as_deref().unwrap_or("latest")),
            digest,
        );
    }
    for repo in &ex.by_digest {
        push(s, Pushed::Image, repo, None, digest);
    }
    for r in &ex.loaded {
        s.leg
            .images
            .insert(normalize_reference(r), digest.to_string());
    }
    for r in caches {
        let (repo, tag) = split_reference(r);
        let cache = fake_digest(&["cache", name, r]);
        push(
            s,
            Pushed::Cache,
            &repo,
            Some(tag.as_deref().unwrap_or("latest")),
            &cache,
        );
    }
}

/// The metadata buildx writes for one target.
fn metadata(t: &Target, digest: &str) -> Json {
    json!({
        "buildx.build.ref": format!("builder/builder0/{}", &digest[7..32]),
        "containerimage.descriptor": {
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": digest,
            "size": 1609,
        },
        "containerimage.digest": digest,
        "image.name": t.tags.join(","),
    })
}

fn write_file(req: &Request, path: &Option<String>, text: &str) -> Result<(), Reply> {
    if let Some(p) = path {
        std::fs::write(req.path(p), text)
            .map_err(|e| Reply::fail(1, format!("ERROR: {p}: {e}\n")))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// buildx bake
// ---------------------------------------------------------------------------------------

#[derive(Debug, Default)]
struct BakeOptions {
    files: Vec<String>,
    sets: Vec<String>,
    push: bool,
    load: bool,
    print: bool,
    metadata_file: Option<String>,
    targets: Vec<String>,
}

const BAKE_VALUE_FLAGS: [&str; 11] = [
    "--file",
    "-f",
    "--set",
    "--metadata-file",
    "--allow",
    "--provenance",
    "--sbom",
    "--call",
    "--builder",
    "--progress",
    "--var",
];

/// One word of a command line: an option with its value (`--flag V`, `--flag=V`), a
/// switch, or an argument.
enum Word {
    Value(String, String),
    Switch(String),
    Argument(String),
}

/// `args` as words, `takes_value` naming the options that take one.
fn words(args: &[String], takes_value: &[&str]) -> Result<Vec<Word>, String> {
    let mut out = Vec::new();
    let mut rest = args.iter();
    while let Some(a) = rest.next() {
        let (flag, inline) = a
            .split_once('=')
            .map_or((a.as_str(), None), |(f, v)| (f, Some(v)));
        out.push(if takes_value.contains(&flag) {
            let value = match inline {
                Some(v) => v.to_string(),
                None => rest
                    .next()
                    .cloned()
                    .ok_or(format!("{flag} needs a value"))?,
            };
            Word::Value(flag.to_string(), value)
        } else if a.starts_with('-') {
            Word::Switch(a.clone())
        } else {
            Word::Argument(a.clone())
        });
    }
    Ok(out)
}

fn bake_options(args: &[String]) -> Result<BakeOptions, String> {
    let mut o = BakeOptions::default();
    for word in words(args, &BAKE_VALUE_FLAGS)? {
        match word {
            Word::Value(flag, value) => match flag.as_str() {
                "--file" | "-f" => o.files.push(value),
                "--set" => o.sets.push(value),
                "--metadata-file" => o.metadata_file = Some(value),
                _ => {}
            },
            Word::Switch(flag) => match flag.as_str() {
                "--push" => o.push = true,
                "--load" => o.load = true,
                "--print" => o.print = true,
                "--no-cache" | "--pull" | "--check" => {}
                other => return Err(format!("unknown flag: {other}")),
            },
            // A remote definition (the action's default git context) is this checkout.
            Word::Argument(a) if a.contains("://") || a.ends_with(".git") => {}
            Word::Argument(a) => o.targets.push(a),
        }
    }
    Ok(o)
}

/// The evaluated definition's targets named by `names` (groups expanded, `default` when
/// none), in order, each once.
fn resolve_targets(def: &Json, names: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut stack: Vec<String> = if names.is_empty() {
        vec!["default".into()]
    } else {
        names.iter().rev().cloned().collect()
    };
    while let Some(name) = stack.pop() {
        if let Some(group) = def["group"].get(&name) {
            let members: Vec<String> = strings(&group["targets"]);
            stack.extend(members.into_iter().rev());
        } else if def["target"].get(&name).is_some() {
            if !out.contains(&name) {
                out.push(name);
            }
        } else {
            return Err(format!("failed to find target {name}"));
        }
    }
    Ok(out)
}

fn strings(v: &Json) -> Vec<String> {
    match v {
        Json::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        Json::String(s) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn target_of(name: &str, t: &Json) -> Target {
    Target {
        name: name.to_string(),
        context: t["context"].as_str().unwrap_or(".").to_string(),
        dockerfile: t["dockerfile"].as_str().unwrap_or("Dockerfile").to_string(),
        stage: t["target"].as_str().unwrap_or_default().to_string(),
        platforms: strings(&t["platforms"]),
        tags: strings(&t["tags"]),
        args: t["args"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), super::expr::to_string(v)))
            .collect(),
        outputs: strings(&t["output"]),
        cache_to: strings(&t["cache-to"]),
    }
}

/// Glob `*` in a `--set` target pattern.
fn pattern_matches(pattern: &str, name: &str) -> bool {
    let re = format!("^{}$", regex::escape(pattern).replace(r"\*", ".*"));
    regex::Regex::new(&re).is_ok_and(|r| r.is_match(name))
}

/// Applies `--set pattern.key=value` overrides: the first for a list key replaces the
/// file's list, later ones add to it.
fn apply_sets(targets: &mut [Target], sets: &[String]) -> Result<(), String> {
    let mut replaced: Vec<(String, String)> = Vec::new();
    for set in sets {
        let (lhs, value) = set
            .split_once('=')
            .ok_or(format!("invalid override {set}"))?;
        let (pattern, key) = lhs
            .split_once('.')
            .ok_or(format!("invalid override {set}"))?;
        for t in targets
            .iter_mut()
            .filter(|t| pattern_matches(pattern, &t.name))
        {
            let first = !replaced.contains(&(t.name.clone(), key.to_string()));
            replaced.push((t.name.clone(), key.to_string()));
            override_one(t, key, value, first)?;
        }
    }
    Ok(())
}

fn override_one(t: &mut Target, key: &str, value: &str, first: bool) -> Result<(), String> {
    let list = |l: &mut Vec<String>, items: Vec<String>| {
        if first {
            l.clear();
        }
        l.extend(items.into_iter().filter(|i| !i.is_empty()));
    };
    match key {
        "tags" => list(&mut t.tags, vec![value.into()]),
        "platform" => list(
            &mut t.platforms,
            value.split(',').map(str::to_string).collect(),
        ),
        "output" => list(&mut t.outputs, vec![value.into()]),
        "cache-to" => list(&mut t.cache_to, vec![value.into()]),
        "context" => t.context = value.into(),
        "dockerfile" => t.dockerfile = value.into(),
        "target" => t.stage = value.into(),
        "push" if value == "true" => set_push(t),
        "cache-from" | "attest" | "no-cache" | "pull" | "push" => {}
        k if k.starts_with("args.") => {
            t.args.insert(k["args.".len()..].to_string(), value.into());
        }
        k if k.starts_with("labels.") || k.starts_with("annotations") => {}
        other => return Err(format!("unknown key: {other}")),
    }
    Ok(())
}

/// `--push`: image outputs push; a target without outputs gets `type=image,push=true`.
fn set_push(t: &mut Target) {
    if t.outputs.is_empty() {
        t.outputs.push("type=image,push=true".into());
        return;
    }
    for o in &mut t.outputs {
        let ty = csv_fields(o).get("type").cloned().unwrap_or_default();
        if ty == "image" && !csv_fields(o).contains_key("push") {
            o.push_str(",push=true");
        }
    }
}

/// `--load`: the image goes to the local store too.
fn set_load(t: &mut Target) {
    if !t
        .outputs
        .iter()
        .any(|o| csv_fields(o).get("type").is_some_and(|t| t == "docker"))
    {
        t.outputs.push("type=docker".into());
    }
}

fn bake(req: &Request, s: &mut State) -> Reply {
    bake_result(req, s).unwrap_or_else(|r| r)
}

fn bake_result(req: &Request, s: &mut State) -> Result<Reply, Reply> {
    let err = |e: String| Reply::fail(1, format!("ERROR: {e}\n"));
    let o = bake_options(req.args(2)).map_err(err)?;
    let file = match o.files.as_slice() {
        [] => "docker-bake.hcl".to_string(),
        [one] if one.ends_with(".hcl") => one.clone(),
        other => {
            return Err(err(format!(
                "the stand-in reads one HCL bake file, not {other:?}"
            )));
        }
    };
    let text = std::fs::read_to_string(req.path(&file)).map_err(|e| err(format!("{file}: {e}")))?;
    let def = crate::support::bake::evaluate(&text, &req.env).map_err(err)?;
    let names = resolve_targets(&def, &o.targets).map_err(err)?;
    let mut targets: Vec<Target> = names
        .iter()
        .map(|n| target_of(n, &def["target"][n]))
        .collect();
    apply_sets(&mut targets, &o.sets).map_err(err)?;
    for t in &mut targets {
        if o.push {
            set_push(t);
        }
        if o.load {
            set_load(t);
        }
    }
    if o.print {
        return Ok(Reply::ok(print_definition(&targets)));
    }
    let mut meta = serde_json::Map::new();
    for t in &targets {
        let digest = build_target(s, t)?;
        meta.insert(t.name.clone(), metadata(t, &digest));
    }
    write_file(req, &o.metadata_file, &Json::Object(meta).to_string())?;
    Ok(Reply::ok(""))
}

/// `bake --print`: the group and targets as JSON.
fn print_definition(targets: &[Target]) -> String {
    let mut out = serde_json::Map::new();
    for t in targets {
        let mut v = json!({
            "context": t.context,
            "dockerfile": t.dockerfile,
            "platforms": t.platforms,
            "tags": t.tags,
            "args": t.args,
        });
        if !t.stage.is_empty() {
            v["target"] = json!(t.stage);
        }
        if !t.outputs.is_empty() {
            v["output"] = json!(t.outputs);
        }
        out.insert(t.name.clone(), v);
    }
    let names: Vec<&String> = targets.iter().map(|t| &t.name).collect();
    serde_json::to_string_pretty(&json!({"group": {"default": {"targets": names}}, "target": out}))
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// buildx build
// ---------------------------------------------------------------------------------------

const BUILD_VALUE_FLAGS: [&str; 24] = [
    "--file",
    "-f",
    "--tag",
    "-t",
    "--platform",
    "--build-arg",
    "--label",
    "--target",
    "--output",
    "-o",
    "--cache-from",
    "--cache-to",
    "--metadata-file",
    "--iidfile",
    "--provenance",
    "--sbom",
    "--secret",
    "--attest",
    "--annotation",
    "--builder",
    "--progress",
    "--network",
    "--ssh",
    "--allow",
];

/// `docker buildx build [options] CONTEXT`.
fn build(req: &Request, s: &mut State) -> Reply {
    let mut t = Target {
        context: ".".into(),
        dockerfile: "Dockerfile".into(),
        ..Target::default()
    };
    let (mut metadata_file, mut iidfile) = (None, None);
    let words = match words(req.args(2), &BUILD_VALUE_FLAGS) {
        Ok(w) => w,
        Err(e) => return Reply::fail(1, format!("ERROR: {e}\n")),
    };
    for word in words {
        match word {
            Word::Value(flag, value) => match flag.as_str() {
                "--metadata-file" => metadata_file = Some(value),
                "--iidfile" => iidfile = Some(value),
                _ => build_flag(&mut t, &flag, value),
            },
            Word::Switch(flag) => match flag.as_str() {
                "--push" => set_push(&mut t),
                "--load" => set_load(&mut t),
                "--no-cache" | "--pull" => {}
                other => return Reply::fail(1, format!("ERROR: unknown flag: {other}\n")),
            },
            Word::Argument(context) => t.context = context,
        }
    }
    t.name = if t.stage.is_empty() {
        t.dockerfile.clone()
    } else {
        t.stage.clone()
    };
    let digest = match build_target(s, &t) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let written = write_file(req, &metadata_file, &metadata(&t, &digest).to_string())
        .and_then(|()| write_file(req, &iidfile, &digest));
    written.err().unwrap_or_else(|| Reply::ok(""))
}

/// One `docker buildx build` option into the target it builds.
fn build_flag(t: &mut Target, flag: &str, value: String) {
    match flag {
        "--file" | "-f" => t.dockerfile = value,
        "--tag" | "-t" => t.tags.push(value),
        "--platform" => t.platforms.extend(value.split(',').map(str::to_string)),
        "--build-arg" => {
            let (k, v) = value.split_once('=').unwrap_or((&value, ""));
            t.args.insert(k.to_string(), v.to_string());
        }
        "--target" => t.stage = value,
        "--output" | "-o" => t.outputs.push(value),
        "--cache-to" => t.cache_to.push(value),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------
// buildx imagetools
// ---------------------------------------------------------------------------------------

/// `imagetools inspect REF [--format F] [--raw]`.
fn inspect(req: &Request, s: &mut State) -> Reply {
    let args = req.args(3);
    let Some(reference) = positionals(args, &["--format", "--builder"])
        .into_iter()
        .next()
    else {
        return Reply::fail(1, "ERROR: inspect needs a reference\n");
    };
    let Some(digest) = s.registry.resolve(&normalize_reference(&reference)) else {
        return Reply::fail(1, format!("ERROR: {reference}: not found\n"));
    };
    let descriptor = json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest, "size": 1609});
    if args.iter().any(|a| a == "--raw") {
        return Reply::ok(format!(
            "{}\n",
            json!({"schemaVersion": 2, "mediaType": descriptor["mediaType"], "manifests": []})
        ));
    }
    match flag_value(args, "--format").as_deref() {
        None => Reply::ok(format!(
            "Name:      {reference}\nMediaType: application/vnd.oci.image.index.v1+json\nDigest:    {digest}\n"
        )),
        Some("{{json .Manifest}}") => Reply::ok(format!("{descriptor}\n")),
        Some("{{.Manifest.Digest}}") => Reply::ok(format!("{digest}\n")),
        Some(other) => Reply::fail(
            1,
            format!("stand-in docker: unsupported --format {other}\n"),
        ),
    }
}

/// `imagetools create -t REF... SOURCE...`: a manifest list of the sources under every
/// tag. A source may be `repo@digest`, `repo:tag`, or a bare digest in the first tag's
/// repository.
fn create(req: &Request, s: &mut State) -> Reply {
    let args = req.args(3);
    let takes = [
        "-t",
        "--tag",
        "-f",
        "--file",
        "--annotation",
        "--builder",
        "--progress",
    ];
    let mut tags = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if a == "-t" || a == "--tag" {
            tags.extend(args.get(i + 1).cloned());
        } else if let Some(v) = a.strip_prefix("--tag=") {
            tags.push(v.to_string());
        }
    }
    if tags.is_empty() {
        return Reply::fail(1, "ERROR: imagetools create needs a tag (-t)\n");
    }
    let tags: Vec<String> = tags.iter().map(|t| normalize_reference(t)).collect();
    let first_repo = split_reference(&tags[0]).0;
    let mut sources = Vec::new();
    for src in positionals(args, &takes) {
        let reference = if src.starts_with("sha256:") {
            format!("{first_repo}@{src}")
        } else {
            normalize_reference(&src)
        };
        let Some(digest) = s.registry.resolve(&reference) else {
            return Reply::fail(1, format!("ERROR: {src}: not found\n"));
        };
        sources.push(format!("{}@{digest}", repository_of(&reference)));
    }
    if sources.is_empty() {
        return Reply::fail(1, "ERROR: imagetools create needs a source\n");
    }
    if args.iter().any(|a| a == "--dry-run") {
        return Reply::ok(format!("{}\n", json!({"manifests": sources})));
    }
    let repos: Vec<String> = tags.iter().map(|t| split_reference(t).0).collect();
    if let Err(r) = check_push(s, &repos) {
        return r;
    }
    let mut parts: Vec<&str> = vec!["index"];
    parts.extend(sources.iter().map(String::as_str));
    let digest = fake_digest(&parts);
    for t in &tags {
        let (repo, tag) = split_reference(t);
        push(s, Pushed::Image, &repo, tag.as_deref(), &digest);
    }
    let record = Manifest {
        at: s.at.clone(),
        tags,
        sources,
        digest,
    };
    s.manifests.push(record);
    Reply::ok("")
}

// ---------------------------------------------------------------------------------------
// Local images and containers
// ---------------------------------------------------------------------------------------

const RUN_VALUE_FLAGS: [&str; 16] = [
    "--name",
    "-p",
    "--publish",
    "-e",
    "--env",
    "-v",
    "--volume",
    "--network",
    "--entrypoint",
    "--gpus",
    "--env-file",
    "-w",
    "--workdir",
    "--platform",
    "--pull",
    "-u",
];

/// `docker run [options] IMAGE [COMMAND]`: the image must be loaded or in a registry.
fn run(req: &Request, s: &mut State) -> Reply {
    let args = req.args(1);
    let mut i = 0;
    let mut name = None;
    while i < args.len() && args[i].starts_with('-') {
        let a = args[i].as_str();
        if RUN_VALUE_FLAGS.contains(&a) {
            if a == "--name" {
                name = args.get(i + 1).cloned();
            }
            i += 1;
        } else if !matches!(
            a,
            "-d" | "--detach" | "--rm" | "-i" | "-t" | "-it" | "--init" | "--privileged"
        ) && !a.contains('=')
        {
            return Reply::fail(125, format!("stand-in docker run: unknown flag {a}\n"));
        }
        i += 1;
    }
    let Some(image) = args.get(i) else {
        return Reply::fail(125, "docker run needs an image\n");
    };
    let reference = normalize_reference(image);
    if !s.leg.images.contains_key(&reference) && s.registry.resolve(&reference).is_none() {
        return Reply::fail(
            125,
            format!("Unable to find image '{image}' locally\nError: pull access denied\n"),
        );
    }
    let name = name.unwrap_or_else(|| format!("container{}", s.leg.containers.len()));
    s.leg.containers.insert(name.clone(), true);
    Reply::ok(format!("{}\n", &fake_digest(&["container", &name])[7..19]))
}

/// `docker ps [-q] [--filter name=N] [--filter status=running]`.
fn ps(req: &Request, s: &mut State) -> Reply {
    let args = req.args(1);
    let mut name_filter = None;
    for (i, a) in args.iter().enumerate() {
        if let (true, Some(n)) = (
            a == "--filter" || a == "-f",
            args.get(i + 1).and_then(|f| f.strip_prefix("name=")),
        ) {
            name_filter = Some(n.to_string());
        }
    }
    let ids: Vec<String> = s
        .leg
        .containers
        .iter()
        .filter(|(n, running)| {
            **running && name_filter.as_ref().is_none_or(|f| n.contains(f.as_str()))
        })
        .map(|(n, _)| fake_digest(&["container", n])[7..19].to_string())
        .collect();
    Reply::ok(ids.iter().map(|i| format!("{i}\n")).collect::<String>())
}

fn rm(req: &Request, s: &mut State) -> Reply {
    for name in positionals(req.args(1), &[]) {
        s.leg.containers.remove(&name);
    }
    Reply::ok("")
}

fn pull(req: &Request, s: &mut State) -> Reply {
    let Some(image) = positionals(req.args(1), &["--platform"]).into_iter().next() else {
        return Reply::fail(1, "docker pull needs an image\n");
    };
    let reference = normalize_reference(&image);
    match s.registry.resolve(&reference) {
        Some(d) => {
            s.leg.images.insert(reference, d);
            Reply::ok("")
        }
        None => Reply::fail(
            1,
            format!("Error response from daemon: manifest for {image} not found\n"),
        ),
    }
}

fn push_local(req: &Request, s: &mut State) -> Reply {
    let Some(image) = positionals(req.args(1), &[]).into_iter().next() else {
        return Reply::fail(1, "docker push needs an image\n");
    };
    let reference = normalize_reference(&image);
    let Some(digest) = s.leg.images.get(&reference).cloned() else {
        return Reply::fail(
            1,
            format!("An image does not exist locally with the tag: {image}\n"),
        );
    };
    let (repo, tag) = split_reference(&reference);
    if let Err(r) = check_push(s, std::slice::from_ref(&repo)) {
        return r;
    }
    push(s, Pushed::Image, &repo, tag.as_deref(), &digest);
    Reply::ok("")
}

fn tag(req: &Request, s: &mut State) -> Reply {
    let names = positionals(req.args(1), &[]);
    let [source, target] = names.as_slice() else {
        return Reply::fail(1, "docker tag needs SOURCE and TARGET\n");
    };
    match s.leg.images.get(&normalize_reference(source)).cloned() {
        Some(d) => {
            s.leg.images.insert(normalize_reference(target), d);
            Reply::ok("")
        }
        None => Reply::fail(
            1,
            format!("Error response from daemon: No such image: {source}\n"),
        ),
    }
}

fn image_inspect(req: &Request, s: &mut State) -> Reply {
    let names = positionals(req.args(0), &["--format", "-f"]);
    let Some(image) = names.iter().find(|n| *n != "inspect" && *n != "image") else {
        return Reply::fail(1, "docker inspect needs a name\n");
    };
    match s.leg.images.get(&normalize_reference(image)) {
        Some(d) => Reply::ok(format!("[{}]\n", json!({"Id": d, "RepoTags": [image]}))),
        None => Reply::fail(1, format!("Error: No such object: {image}\n")),
    }
}
