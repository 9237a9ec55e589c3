//! A generated `docker-bake.hcl` read back and checked for the structure `docker buildx
//! bake` users rely on.
//!
//! The file is parsed by the real `hcl2tojson` (python-hcl2); [`Bake::from_hcl2json`]
//! takes its JSON apart. python-hcl2 keeps every string as HCL source (`"\"text\""`, and
//! `"${expr}"` for a bare expression such as a conditional), so values are evaluated
//! with hcl-rs, with bake's `lower()` and chosen variable values, the way buildx would.
//! [`check`] then compares the result with `specc plan --json` and `specc.lock`:
//! groups, targets, contexts, Dockerfiles and stages, platforms, args, the input-hash
//! label, tags for every registry (release and branch push) and cache scopes.

use std::collections::{BTreeMap, BTreeSet};

use hcl::eval::{Context, Evaluate, FuncArgs, FuncDef, ParamType};
use serde_json::Value as Json;

/// One bake file as `hcl2tojson` printed it: blocks by kind and (unquoted) name, each
/// holding its attributes as python-hcl2's JSON.
#[derive(Debug, Default)]
pub struct Bake {
    pub variables: BTreeMap<String, BTreeMap<String, Json>>,
    pub groups: BTreeMap<String, BTreeMap<String, Json>>,
    pub targets: BTreeMap<String, BTreeMap<String, Json>>,
    /// Problems found while taking the JSON apart (duplicate or unknown blocks).
    pub problems: Vec<String>,
}

impl Bake {
    /// Takes apart one JSON document printed by `hcl2tojson` (a `__file__` key, as
    /// `--ndjson` adds, is ignored).
    pub fn from_hcl2json(doc: &Json) -> Result<Bake, String> {
        let top = doc
            .as_object()
            .ok_or_else(|| format!("hcl2tojson printed a non-object: {doc}"))?;
        let mut bake = Bake::default();
        for (kind, blocks) in top {
            if kind == "__file__" {
                continue;
            }
            let into = match kind.as_str() {
                "variable" => &mut bake.variables,
                "group" => &mut bake.groups,
                "target" => &mut bake.targets,
                other => {
                    bake.problems
                        .push(format!("unexpected top-level `{other}` in a bake file"));
                    continue;
                }
            };
            let blocks = blocks
                .as_array()
                .ok_or_else(|| format!("`{kind}` is not a list of blocks: {blocks}"))?;
            for block in blocks {
                let block = block
                    .as_object()
                    .filter(|b| b.len() == 1)
                    .ok_or_else(|| format!("a `{kind}` block is not one labelled body: {block}"))?;
                let (label, body) = block.iter().next().expect("one entry");
                let name = literal(label)?;
                let attrs: BTreeMap<String, Json> = body
                    .as_object()
                    .ok_or_else(|| format!("{kind} `{name}` has no body"))?
                    .iter()
                    .filter(|(k, _)| !k.starts_with("__"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if into.insert(name.clone(), attrs).is_some() {
                    bake.problems
                        .push(format!("{kind} `{name}` is defined twice"));
                }
            }
        }
        Ok(bake)
    }
}

/// The HCL expression a python-hcl2 JSON string holds.
fn expression(source: &str) -> Result<hcl::Expression, String> {
    let inner = if source.starts_with('"') {
        source
    } else {
        source
            .strip_prefix("${")
            .and_then(|s| s.strip_suffix('}'))
            .unwrap_or(source)
    };
    let body = hcl::parse(&format!("v = {inner}\n"))
        .map_err(|e| format!("`{source}` is not an HCL expression: {e}"))?;
    let attr = body
        .attributes()
        .next()
        .ok_or_else(|| format!("`{source}` parsed to nothing"))?;
    Ok(attr.expr.clone())
}

/// A quoted label or key without variables, e.g. `"\"default\""` -> `default`.
fn literal(source: &str) -> Result<String, String> {
    match expression(source)?.evaluate(&Context::new()) {
        Ok(hcl::Value::String(s)) => Ok(s),
        Ok(other) => Err(format!("`{source}` is not a string: {other:?}")),
        Err(e) => Err(format!("`{source}`: {e}")),
    }
}

// The functions of buildx bake's standard library (go-cty's stdlib) that a bake file may
// use, with go-cty's semantics. A function not declared here fails the evaluation, so a
// bake file cannot pass by calling something this evaluator does not know.

/// The `i`-th argument, a string (hcl-rs has checked the parameter types).
fn arg(args: &FuncArgs, i: usize) -> &str {
    args[i].as_str().expect("a string parameter")
}

/// `lower(s)`: Go's `strings.ToLower`.
fn lower(args: FuncArgs) -> Result<hcl::Value, String> {
    Ok(hcl::Value::String(arg(&args, 0).to_lowercase()))
}

/// `upper(s)`: Go's `strings.ToUpper`.
fn upper(args: FuncArgs) -> Result<hcl::Value, String> {
    Ok(hcl::Value::String(arg(&args, 0).to_uppercase()))
}

/// `trimprefix(s, prefix)`: Go's `strings.TrimPrefix`, which removes the prefix once.
fn trimprefix(args: FuncArgs) -> Result<hcl::Value, String> {
    let (s, prefix) = (arg(&args, 0), arg(&args, 1));
    Ok(hcl::Value::String(
        s.strip_prefix(prefix).unwrap_or(s).to_string(),
    ))
}

/// `trimsuffix(s, suffix)`: Go's `strings.TrimSuffix`.
fn trimsuffix(args: FuncArgs) -> Result<hcl::Value, String> {
    let (s, suffix) = (arg(&args, 0), arg(&args, 1));
    Ok(hcl::Value::String(
        s.strip_suffix(suffix).unwrap_or(s).to_string(),
    ))
}

/// `regex_replace(s, pattern, replacement)`: go-cty's `RegexReplaceFunc`, i.e. Go's
/// `regexp.MustCompile(pattern).ReplaceAllString(s, replacement)`. The `regex` crate has
/// RE2's syntax and Go's replacement syntax: `$1`, `${1}`, `$name` (the longest run of
/// letters, digits and `_`, so `$1a` is the group named `1a`), `$$`; a group that does
/// not exist is replaced by nothing.
fn regex_replace(args: FuncArgs) -> Result<hcl::Value, String> {
    let (s, pattern, replacement) = (arg(&args, 0), arg(&args, 1), arg(&args, 2));
    let re = regex::Regex::new(pattern)
        .map_err(|e| format!("regex_replace: invalid pattern `{pattern}`: {e}"))?;
    Ok(hcl::Value::String(
        re.replace_all(s, replacement).into_owned(),
    ))
}

/// `compact(list)`: go-cty's `CompactFunc`, the list without its empty strings.
fn compact(args: FuncArgs) -> Result<hcl::Value, String> {
    let items = args[0]
        .as_array()
        .ok_or("compact: the argument is not a list")?;
    let kept = items
        .iter()
        .filter(|v| v.as_str() != Some(""))
        .cloned()
        .collect();
    Ok(hcl::Value::Array(kept))
}

/// `substr(s, offset, length)`: go-cty's `SubstrFunc` (characters, not bytes; a length
/// past the end stops at the end; `-1` means to the end).
fn substr(args: FuncArgs) -> Result<hcl::Value, String> {
    let s = arg(&args, 0);
    let number = |i: usize| {
        args[i]
            .as_number()
            .and_then(|n| n.as_i64())
            .ok_or_else(|| format!("substr: argument {i} is not a whole number"))
    };
    let (offset, length) = (number(1)?, number(2)?);
    let chars: Vec<char> = s.chars().collect();
    let start = if offset < 0 {
        chars.len().saturating_sub(offset.unsigned_abs() as usize)
    } else {
        (offset as usize).min(chars.len())
    };
    let end = if length < 0 {
        chars.len()
    } else {
        (start + length as usize).min(chars.len())
    };
    Ok(hcl::Value::String(chars[start..end].iter().collect()))
}

/// `regexall(pattern, s)`: go-cty's `RegexAllFunc` for a pattern without capture
/// groups: the list of every match.
fn regexall(args: FuncArgs) -> Result<hcl::Value, String> {
    let (pattern, s) = (arg(&args, 0), arg(&args, 1));
    let re = regex::Regex::new(pattern)
        .map_err(|e| format!("regexall: invalid pattern `{pattern}`: {e}"))?;
    if re.captures_len() > 1 {
        return Err(format!(
            "regexall: `{pattern}` has capture groups, whose results this evaluator does not model"
        ));
    }
    Ok(hcl::Value::Array(
        re.find_iter(s)
            .map(|m| hcl::Value::String(m.as_str().to_string()))
            .collect(),
    ))
}

/// `length(list)`: go-cty's `LengthFunc` for a list.
fn length(args: FuncArgs) -> Result<hcl::Value, String> {
    let items = args[0]
        .as_array()
        .ok_or("length: the argument is not a list")?;
    Ok(hcl::Value::from(items.len() as u64))
}

/// `timestamp()`: buildx's, the current time in UTC as RFC 3339. Comparisons with the
/// plan fix `SPECC_DATE`, so that no test depends on the clock; a build whose tags are
/// overridden (`--set T.tags=`) still evaluates them.
fn timestamp(_: FuncArgs) -> Result<hcl::Value, String> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    Ok(hcl::Value::String(
        specc::value::date::UtcTime::from_unix(secs).iso(),
    ))
}

/// Declares the functions above in `ctx`.
fn declare_stdlib(ctx: &mut Context) {
    use ParamType::String as S;
    ctx.declare_func("lower", FuncDef::new(lower, [S]));
    ctx.declare_func("upper", FuncDef::new(upper, [S]));
    ctx.declare_func("trimprefix", FuncDef::new(trimprefix, [S, S]));
    ctx.declare_func("trimsuffix", FuncDef::new(trimsuffix, [S, S]));
    ctx.declare_func("regex_replace", FuncDef::new(regex_replace, [S, S, S]));
    let n = || ParamType::Number;
    ctx.declare_func("substr", FuncDef::new(substr, [S, n(), n()]));
    ctx.declare_func("compact", FuncDef::new(compact, [ParamType::array_of(S)]));
    ctx.declare_func("regexall", FuncDef::new(regexall, [S, S]));
    ctx.declare_func("length", FuncDef::new(length, [ParamType::array_of(S)]));
    ctx.declare_func("timestamp", FuncDef::new(timestamp, []));
}

/// Go's `strconv.ParseBool`.
fn go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The values of the bake file's `variable`s as `docker buildx bake` computes them under
/// the environment `env` (buildx `bake/hcl/parser.go`, `resolveValue`, with
/// `LookupVar = os.LookupEnv`):
/// - a variable without `default` is its environment variable, or `""` when unset;
/// - otherwise an environment variable that is SET overrides the default, even when it
///   is empty (`LookupEnv` reports presence, not emptiness): parsed as a bool when the
///   default is a bool, a number when it is a number, else taken as a string;
/// - a default may refer to other variables (resolved in dependency order).
pub fn variables(
    body: &hcl::Body,
    env: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, hcl::Value>, String> {
    let mut pending: Vec<(String, Option<hcl::Expression>)> = Vec::new();
    for block in body.blocks().filter(|b| b.identifier() == "variable") {
        let name = block
            .labels()
            .first()
            .ok_or("a variable block without a name")?
            .as_str()
            .to_string();
        let default = block
            .body()
            .attributes()
            .find(|a| a.key() == "default")
            .map(|a| a.expr().clone());
        pending.push((name, default));
    }
    let mut done: BTreeMap<String, hcl::Value> = BTreeMap::new();
    while !pending.is_empty() {
        let mut ctx = Context::new();
        declare_stdlib(&mut ctx);
        for (k, v) in &done {
            ctx.declare_var(k.as_str(), v.clone());
        }
        let before = pending.len();
        let mut errors = Vec::new();
        pending.retain(|(name, default)| {
            let from_env = env.get(name);
            let value = match (default, from_env) {
                (None, _) => Ok(hcl::Value::String(from_env.cloned().unwrap_or_default())),
                (Some(expr), _) => match expr.evaluate(&ctx) {
                    Err(e) => Err(format!("default of variable `{name}`: {e}")),
                    Ok(d) => match (from_env, d) {
                        (None, d) => Ok(d),
                        (Some(e), hcl::Value::Bool(_)) => go_bool(e)
                            .map(hcl::Value::Bool)
                            .ok_or_else(|| format!("failed to parse {name} as bool: `{e}`")),
                        (Some(e), hcl::Value::Number(_)) => e
                            .parse::<f64>()
                            .ok()
                            .and_then(hcl::Number::from_f64)
                            .map(hcl::Value::Number)
                            .ok_or_else(|| format!("failed to parse {name} as a number: `{e}`")),
                        (Some(e), _) => Ok(hcl::Value::String(e.clone())),
                    },
                },
            };
            match value {
                Ok(v) => {
                    done.insert(name.clone(), v);
                    false
                }
                Err(e) => {
                    errors.push(e);
                    true
                }
            }
        });
        if pending.len() == before {
            return Err(errors.join("; "));
        }
    }
    Ok(done)
}

/// The bake file evaluated with hcl-rs as `docker buildx bake --print` would under the
/// environment `env` (see [`variables`]; only the variables the file declares are read
/// from it). Returns the file as JSON.
pub fn evaluate(text: &str, env: &BTreeMap<String, String>) -> Result<Json, String> {
    let body: hcl::Body = hcl::from_str(text).map_err(|e| format!("HCL: {e}\n{text}"))?;
    let mut ctx = Context::new();
    declare_stdlib(&mut ctx);
    for (name, value) in variables(&body, env)? {
        ctx.declare_var(name, value);
    }
    hcl::eval::from_str(text, &ctx).map_err(|e| format!("HCL evaluation: {e}\n{text}"))
}

/// What a bake target builds, evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Evaluated {
    pub tags: Vec<String>,
    pub platforms: Vec<String>,
    pub args: BTreeMap<String, String>,
}

/// The targets of a bake file evaluated under `env`, by name.
pub fn evaluated_targets(
    text: &str,
    env: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Evaluated>, String> {
    let json = evaluate(text, env)?;
    let strings = |v: &Json, what: &str| -> Result<Vec<String>, String> {
        match v {
            Json::Null => Ok(Vec::new()),
            Json::Array(items) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| format!("{what}: not a string: {i}"))
                })
                .collect(),
            other => Err(format!("{what}: not a list: {other}")),
        }
    };
    let mut out = BTreeMap::new();
    if let Some(targets) = json.get("target") {
        let targets = targets
            .as_object()
            .ok_or_else(|| format!("`target` is not an object: {targets}"))?;
        for (name, t) in targets {
            let args = match &t["args"] {
                Json::Null => BTreeMap::new(),
                Json::Object(m) => m
                    .iter()
                    .map(|(k, v)| {
                        v.as_str()
                            .map(|s| (k.clone(), s.to_owned()))
                            .ok_or_else(|| format!("target `{name}`: arg {k} is not a string: {v}"))
                    })
                    .collect::<Result<_, _>>()?,
                other => return Err(format!("target `{name}`: args: {other}")),
            };
            out.insert(
                name.clone(),
                Evaluated {
                    tags: strings(&t["tags"], &format!("target `{name}`: tags"))?,
                    platforms: strings(&t["platforms"], &format!("target `{name}`: platforms"))?,
                    args,
                },
            );
        }
    }
    Ok(out)
}

/// Evaluates attribute values with the bake file's variables, some of them overridden
/// (as `docker buildx bake` does with environment variables).
pub struct Eval {
    ctx: Context<'static>,
}

impl Eval {
    pub fn new(bake: &Bake, overrides: &BTreeMap<String, String>) -> Result<Eval, String> {
        let mut ctx = Context::new();
        declare_stdlib(&mut ctx);
        for (name, attrs) in &bake.variables {
            let value = match overrides.get(name) {
                Some(v) => hcl::Value::String(v.clone()),
                None => match attrs.get("default") {
                    Some(d) => value(d, &Context::new())
                        .map_err(|e| format!("default of variable `{name}`: {e}"))?,
                    None => hcl::Value::String(String::new()),
                },
            };
            ctx.declare_var(name.as_str(), value);
        }
        Ok(Eval { ctx })
    }

    pub fn value(&self, json: &Json) -> Result<hcl::Value, String> {
        value(json, &self.ctx)
    }

    pub fn string(&self, json: &Json) -> Result<String, String> {
        match self.value(json)? {
            hcl::Value::String(s) => Ok(s),
            other => Err(format!("expected a string, got {other:?}")),
        }
    }

    pub fn strings(&self, json: &Json) -> Result<Vec<String>, String> {
        match self.value(json)? {
            hcl::Value::Array(items) => items
                .into_iter()
                .map(|i| match i {
                    hcl::Value::String(s) => Ok(s),
                    other => Err(format!("expected a string in the list, got {other:?}")),
                })
                .collect(),
            other => Err(format!("expected a list of strings, got {other:?}")),
        }
    }

    pub fn string_map(&self, json: &Json) -> Result<BTreeMap<String, String>, String> {
        match self.value(json)? {
            hcl::Value::Object(map) => map
                .into_iter()
                .map(|(k, v)| match v {
                    hcl::Value::String(s) => Ok((k, s)),
                    other => Err(format!("`{k}` is not a string: {other:?}")),
                })
                .collect(),
            other => Err(format!("expected an object, got {other:?}")),
        }
    }
}

fn value(json: &Json, ctx: &Context) -> Result<hcl::Value, String> {
    match json {
        Json::String(source) => expression(source)?
            .evaluate(ctx)
            .map_err(|e| format!("`{source}`: {e}")),
        Json::Array(items) => items
            .iter()
            .map(|i| value(i, ctx))
            .collect::<Result<Vec<_>, _>>()
            .map(hcl::Value::Array),
        Json::Object(map) => map
            .iter()
            .filter(|(k, _)| !k.starts_with("__"))
            .map(|(k, v)| Ok((literal(k)?, value(v, ctx)?)))
            .collect::<Result<hcl::Map<String, hcl::Value>, String>>()
            .map(hcl::Value::Object),
        other => serde_json::from_value(other.clone()).map_err(|e| e.to_string()),
    }
}

/// One target of `specc plan --json`.
#[derive(Debug, Clone)]
pub struct PlanTarget {
    pub name: String,
    pub image: String,
    pub variant: String,
    pub stage: String,
    pub context: String,
    pub platforms: Vec<String>,
    pub args: BTreeMap<String, String>,
    /// The tags, without repository.
    pub tags: Vec<String>,
    /// Repository (with `<NAME>` placeholders) -> its full references.
    pub registries: Vec<(String, Vec<String>)>,
}

/// The targets of a `specc plan --json` document, by name.
pub fn plan_targets(plan: &Json) -> Result<BTreeMap<String, PlanTarget>, String> {
    let s = |v: &Json, k: &str| -> Result<String, String> {
        v[k].as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("plan target has no string `{k}`: {v}"))
    };
    let list = |v: &Json| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect()
    };
    let mut out = BTreeMap::new();
    for t in plan["targets"]
        .as_array()
        .ok_or("plan has no `targets` list")?
    {
        let target = PlanTarget {
            name: s(t, "name")?,
            image: s(t, "image")?,
            variant: s(t, "variant")?,
            stage: s(t, "stage")?,
            context: s(t, "context")?,
            platforms: list(&t["platforms"]),
            tags: list(&t["tags"]),
            args: t["args"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect(),
            registries: t["registries"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| Ok((s(r, "repository")?, list(&r["refs"]))))
                .collect::<Result<_, String>>()?,
        };
        out.insert(target.name.clone(), target);
    }
    Ok(out)
}

/// What a bake file must agree with.
pub struct Expected<'a> {
    /// `specc plan --json --set-version <version> --sha <sha>` (a release).
    pub release: &'a Json,
    /// The same with `--branch <branch>` (a branch push).
    pub branch: &'a Json,
    /// The version, full commit and branch both plans were made for.
    pub version: &'a str,
    pub sha: &'a str,
    pub branch_name: &'a str,
    /// Every generated file (path relative to the output root -> text), to resolve each
    /// target's Dockerfile.
    pub files: &'a BTreeMap<String, String>,
}

/// The GitHub owner the tags are evaluated with (mixed case: bake must lower it); the
/// plans in [`Expected`] are made with the same `GITHUB_REPOSITORY_OWNER`.
pub const OWNER: &str = "Some-Owner";

/// Variable values for one event, and the plan's `<NAME>` placeholders -> what they
/// become with those values.
fn overrides(
    bake: &Bake,
    exp: &Expected,
    event: &str,
    problems: &mut Vec<String>,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut vars = BTreeMap::new();
    let known = [
        ("VERSION", exp.version.to_string()),
        ("GIT_SHA", exp.sha.to_string()),
        ("GIT_BRANCH", exp.branch_name.to_string()),
        ("SPECC_EVENT", event.to_string()),
        ("GITHUB_REPOSITORY_OWNER", OWNER.to_string()),
    ];
    for (name, v) in known {
        if bake.variables.contains_key(name) {
            vars.insert(name.to_string(), v);
        }
    }
    // The plan resolves every namespace itself (under the same owner): no placeholders.
    let _ = problems;
    (vars, BTreeMap::new())
}

fn substitute(text: &str, placeholders: &BTreeMap<String, String>) -> String {
    placeholders
        .iter()
        .fold(text.to_string(), |acc, (k, v)| acc.replace(k, v))
}

/// `dir/../x/./y` -> `x/y` (paths relative to the output root).
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// The stage names a Dockerfile defines (`FROM ... AS name`).
fn stages(dockerfile: &str) -> BTreeSet<String> {
    dockerfile
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let from = words.first()?.eq_ignore_ascii_case("FROM");
            let at = words.iter().rposition(|w| w.eq_ignore_ascii_case("AS"))?;
            (from && at + 1 < words.len()).then(|| words[at + 1].to_string())
        })
        .collect()
}

/// A cache entry's identity: `type=gha` by scope, `type=registry` by ref, others whole.
fn cache_key(entry: &str) -> String {
    let fields: BTreeMap<&str, &str> = entry.split(',').filter_map(|f| f.split_once('=')).collect();
    match fields.get("type").copied() {
        Some("gha") => format!("gha scope={}", fields.get("scope").unwrap_or(&"buildkit")),
        Some("registry") => format!("registry ref={}", fields.get("ref").unwrap_or(&"")),
        Some("local") => format!(
            "local {}",
            fields
                .get("dest")
                .or_else(|| fields.get("src"))
                .unwrap_or(&"")
        ),
        _ => entry.to_string(),
    }
}

/// Expands group or target `name` into target names (depth-first, detecting cycles).
fn expand(
    bake: &Bake,
    eval: &Eval,
    name: &str,
    trail: &mut Vec<String>,
    problems: &mut Vec<String>,
) -> BTreeSet<String> {
    if bake.targets.contains_key(name) {
        return [name.to_string()].into();
    }
    let Some(group) = bake.groups.get(name) else {
        problems.push(format!(
            "group `{}` lists `{name}`, which is neither a target nor a group",
            trail.last().map_or("?", String::as_str)
        ));
        return BTreeSet::new();
    };
    if trail.iter().any(|t| t == name) {
        problems.push(format!(
            "groups form a cycle: {} -> {name}",
            trail.join(" -> ")
        ));
        return BTreeSet::new();
    }
    let members = match group.get("targets").map(|t| eval.strings(t)) {
        Some(Ok(m)) => m,
        Some(Err(e)) => {
            problems.push(format!("group `{name}`: targets: {e}"));
            return BTreeSet::new();
        }
        None => {
            problems.push(format!("group `{name}` has no `targets`"));
            return BTreeSet::new();
        }
    };
    trail.push(name.to_string());
    let mut out = BTreeSet::new();
    for m in &members {
        out.extend(expand(bake, eval, m, trail, problems));
    }
    trail.pop();
    out
}

/// Every way the bake file disagrees with the plan, the lock or itself; empty when it
/// is as `docker buildx bake` users need it.
pub fn check(bake: &Bake, exp: &Expected) -> Vec<String> {
    let mut problems = bake.problems.clone();
    let release_plan = match plan_targets(exp.release) {
        Ok(p) => p,
        Err(e) => return vec![format!("release plan: {e}")],
    };
    let branch_plan = match plan_targets(exp.branch) {
        Ok(p) => p,
        Err(e) => return vec![format!("branch plan: {e}")],
    };
    let (release_vars, placeholders) = overrides(bake, exp, "release", &mut problems);
    let (branch_vars, _) = overrides(bake, exp, "branch", &mut problems);
    let eval = match Eval::new(bake, &release_vars) {
        Ok(e) => e,
        Err(e) => return vec![e],
    };
    let branch_eval = match Eval::new(bake, &branch_vars) {
        Ok(e) => e,
        Err(e) => return vec![e],
    };

    // Groups: every member exists; `default` and `all` build everything; the groups
    // named after a variant or an image build exactly its targets.
    for name in bake.groups.keys() {
        if bake.targets.contains_key(name) {
            problems.push(format!("`{name}` is both a group and a target"));
        }
    }
    let planned: BTreeSet<String> = release_plan.keys().cloned().collect();
    let defined: BTreeSet<String> = bake.targets.keys().cloned().collect();
    for missing in planned.difference(&defined) {
        problems.push(format!("the plan's target `{missing}` has no bake target"));
    }
    for extra in defined.difference(&planned) {
        problems.push(format!("bake target `{extra}` is not in the plan"));
    }
    let mut groups: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for name in bake.groups.keys() {
        let members = expand(bake, &eval, name, &mut Vec::new(), &mut problems);
        if members.is_empty() {
            problems.push(format!("group `{name}` builds nothing"));
        }
        groups.insert(name.clone(), members);
    }
    for required in ["default", "all"] {
        match groups.get(required) {
            None => problems.push(format!("there is no `{required}` group")),
            Some(m) if *m != planned => problems.push(format!(
                "group `{required}` builds {m:?}, not every target {planned:?}"
            )),
            Some(_) => {}
        }
    }
    let mut by_variant: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut by_image: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for t in release_plan.values() {
        by_variant
            .entry(&t.variant)
            .or_default()
            .insert(t.name.clone());
        by_image
            .entry(t.image.replace('.', "_"))
            .or_default()
            .insert(t.name.clone());
    }
    let selections = by_variant
        .iter()
        .map(|(v, m)| ("variant", v.to_string(), m, by_variant.len() > 1))
        .chain(
            by_image
                .iter()
                .map(|(i, m)| ("image", i.clone(), m, m.len() > 1)),
        );
    for (kind, name, members, required) in selections {
        if bake.targets.contains_key(&name) {
            continue; // a target of that name is selected by name already
        }
        match groups.get(&name) {
            Some(g) if g != members => problems.push(format!(
                "group `{name}` builds {g:?}, not the {kind}'s targets {members:?}"
            )),
            None if required => problems.push(format!(
                "there is no group `{name}` to build the {kind}'s targets {members:?}"
            )),
            _ => {}
        }
    }

    // Targets.
    let mut cache_owner: BTreeMap<String, String> = BTreeMap::new();
    for (name, attrs) in &bake.targets {
        let Some(plan) = release_plan.get(name) else {
            continue;
        };
        let mut problem = |what: String| problems.push(format!("target `{name}`: {what}"));
        let get = |key: &str| attrs.get(key);
        let string = |key: &str| -> Result<String, String> {
            let v = get(key).ok_or_else(|| format!("no `{key}`"))?;
            eval.string(v).map_err(|e| format!("{key}: {e}"))
        };

        match string("context") {
            Ok(c) if normalize(&c) != normalize(&plan.context) => problem(format!(
                "context `{c}`, but the plan says `{}`",
                plan.context
            )),
            Ok(_) => {}
            Err(e) => problem(e),
        }
        match (string("context"), string("dockerfile")) {
            (Ok(c), Ok(d)) => {
                let path = normalize(&format!("{c}/{d}"));
                match exp.files.get(&path) {
                    None => problem(format!(
                        "dockerfile `{d}` (from context `{c}`: `{path}`) is not a generated file"
                    )),
                    Some(text) => match string("target") {
                        Ok(stage) => {
                            if stage != plan.stage {
                                problem(format!(
                                    "target stage `{stage}`, but the plan says `{}`",
                                    plan.stage
                                ));
                            }
                            if !stages(text).contains(&stage) {
                                problem(format!("`{path}` has no stage `{stage}`"));
                            }
                        }
                        Err(e) => problem(e),
                    },
                }
            }
            (Err(e), _) | (_, Err(e)) => problem(e),
        }

        match get("platforms").map(|p| eval.strings(p)) {
            Some(Ok(p)) => {
                let mut sorted = p.clone();
                sorted.sort();
                sorted.dedup();
                let mut want = plan.platforms.clone();
                want.sort();
                if sorted.len() != p.len() {
                    problem(format!("platforms repeat: {p:?}"));
                }
                if sorted != want {
                    problem(format!(
                        "platforms {p:?}, but its variant `{}` builds {:?}",
                        plan.variant, plan.platforms
                    ));
                }
            }
            Some(Err(e)) => problem(format!("platforms: {e}")),
            None => problem("no `platforms`".into()),
        }

        match get("args").map(|a| eval.string_map(a)) {
            Some(Ok(args)) => {
                for (k, v) in &plan.args {
                    match args.get(k) {
                        Some(got) if got == v => {}
                        Some(got) => problem(format!("arg {k} is `{got}`, the plan says `{v}`")),
                        None => problem(format!("arg {k} of the plan is missing")),
                    }
                }
            }
            Some(Err(e)) => problem(format!("args: {e}")),
            None if !plan.args.is_empty() => problem("no `args`".into()),
            None => {}
        }

        // Committed outputs never carry an input hash: it covers application source.
        match get("labels").map(|l| eval.string_map(l)) {
            Some(Ok(labels)) => {
                if let Some(k) = labels.keys().find(|k| k.contains("input-hash")) {
                    problem(format!(
                        "label `{k}` would make the bake file follow source files"
                    ));
                }
            }
            Some(Err(e)) => problem(format!("labels: {e}")),
            None => problem("no `labels`".into()),
        }

        // Tags: the plan's references for every registry, on a release and on a branch
        // push.
        // Branch tags need the `SPECC_EVENT` switch; without it, a branch push must have
        // nothing to tag.
        let switch = bake.variables.contains_key("SPECC_EVENT");
        if !switch
            && branch_plan
                .get(name)
                .is_some_and(|t| t.registries.iter().any(|(_, refs)| !refs.is_empty()))
        {
            problem("the plan tags a branch push, but there is no SPECC_EVENT switch".into());
        }
        let mut events = vec![("release", &release_plan, &eval)];
        if switch {
            events.push(("branch push", &branch_plan, &branch_eval));
        }
        for (event, plan_of, ev) in events {
            let Some(planned) = plan_of.get(name) else {
                problem(format!("missing from the {event} plan"));
                continue;
            };
            let mut wanted_refs: Vec<(String, Vec<String>)> = planned
                .registries
                .iter()
                .map(|(repo, refs)| {
                    (
                        substitute(repo, &placeholders),
                        refs.iter().map(|r| substitute(r, &placeholders)).collect(),
                    )
                })
                .collect();
            let tags = match get("tags").map(|t| ev.strings(t)) {
                Some(Ok(t)) => t,
                Some(Err(e)) => {
                    problem(format!("tags on a {event}: {e}"));
                    continue;
                }
                None => Vec::new(),
            };
            if planned.registries.is_empty() && !planned.tags.is_empty() {
                // An image for no registry is tagged locally, `<repository>:<tag>`, with
                // the image's own repository name (the image name unless it sets one).
                let repo = tags
                    .first()
                    .and_then(|t| t.rsplit_once(':'))
                    .map_or(planned.image.clone(), |(r, _)| r.to_string());
                if repo != planned.image && repo.contains(['/', '.']) {
                    problem(format!(
                        "local tags use repository `{repo}`, not a plain name"
                    ));
                }
                let refs = planned.tags.iter().map(|t| format!("{repo}:{t}")).collect();
                wanted_refs.push((repo, refs));
            }
            let any_planned = wanted_refs.iter().any(|(_, refs)| !refs.is_empty());
            let unique: BTreeSet<&String> = tags.iter().collect();
            if unique.len() != tags.len() {
                problem(format!("tags repeat on a {event}: {tags:?}"));
            }
            if !any_planned {
                // Nothing to push on this event; the bake file must not invent tags.
                for t in &tags {
                    problem(format!("tag `{t}` on a {event}, where the plan has none"));
                }
                continue;
            }
            for (repo, refs) in &wanted_refs {
                let in_repo = |t: &&String| t.starts_with(&format!("{repo}:"));
                if !tags.iter().any(|t| in_repo(&t)) {
                    problem(format!(
                        "no tag for registry repository `{repo}` on a {event}"
                    ));
                }
                for r in refs {
                    if !tags.contains(r) {
                        problem(format!(
                            "tag `{r}` of the {event} plan is missing: {tags:?}"
                        ));
                    }
                }
            }
            for t in &tags {
                let planned = wanted_refs.iter().any(|(_, refs)| refs.contains(t));
                if !planned {
                    problem(format!("tag `{t}` on a {event} is not in the plan"));
                }
            }
        }

        // Cache: what a target writes it reads back, and no two targets share a scope.
        let entries = |key: &str| -> Vec<String> {
            match get(key).map(|v| eval.strings(v)) {
                Some(Ok(v)) => v,
                _ => Vec::new(),
            }
        };
        for key in ["cache-from", "cache-to"] {
            if let Some(Err(e)) = get(key).map(|v| eval.strings(v)) {
                problem(format!("{key}: {e}"));
            }
        }
        let from: BTreeSet<String> = entries("cache-from").iter().map(|e| cache_key(e)).collect();
        let to: BTreeSet<String> = entries("cache-to").iter().map(|e| cache_key(e)).collect();
        for k in to.difference(&from) {
            problem(format!("writes cache `{k}` but does not read it back"));
        }
        for k in from.union(&to) {
            if let Some(other) = cache_owner.insert(k.clone(), name.clone())
                && other != *name
            {
                problem(format!("shares cache `{k}` with target `{other}`"));
            }
        }
    }
    problems
}
