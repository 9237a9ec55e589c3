//! Checked spec in, one Dockerfile per image out (one per variant only where the
//! variants' instructions really differ; identical content is written once).

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use super::{RenderOptions, Rendered, escape, header, join, render_template};
use crate::check::targets::image_variants;
use crate::check::{Checked, arg_reference};
use crate::diagnostics::Error;
use crate::plan::build_order;
use crate::spec::{Healthcheck, Instruction, InstructionKind, Mount, Spec, Text};

/// The Dockerfiles of a spec and which one each target (image, variant) uses.
pub struct Dockerfiles {
    pub files: Vec<Rendered>,
    pub by_target: HashMap<(usize, usize), String>,
}

#[derive(Serialize)]
struct Context {
    /// `# syntax=REF`, the parser directive BuildKit reads only on the very first line.
    syntax: Option<String>,
    header: Vec<String>,
    global_args: Vec<GlobalArg>,
    stages: Vec<StageContext>,
}

#[derive(Serialize)]
struct GlobalArg {
    name: String,
    value: String,
}

#[derive(Serialize)]
struct StageContext {
    from: String,
    name: String,
    lines: Vec<Line>,
}

#[derive(Serialize)]
struct Line {
    keyword: &'static str,
    text: String,
}

/// The lines of one stage.
struct Lines {
    lines: Vec<Line>,
}

impl Lines {
    fn push(&mut self, keyword: &'static str, text: String) {
        self.lines.push(Line { keyword, text });
    }
}

/// An escaped value; `check` refuses every value the escaping cannot carry (line breaks,
/// empty words, `$` in paths, non-ASCII flags), so an error here is a bug in specc.
fn escaped(result: Result<String, String>) -> String {
    result.unwrap_or_else(|reason| panic!("check refuses this value: {reason}"))
}

/// A double-quoted Dockerfile value.
fn quoted(s: &str) -> String {
    escaped(escape::docker_quoted(s, false))
}

fn words(list: &[Text]) -> Vec<String> {
    list.iter().map(|t| t.value.clone()).collect()
}

/// The values of `list`, each with whether `ins` lets Docker expand `$VAR` in it.
fn expanding(ins: &Instruction, list: &[Text]) -> Vec<(String, bool)> {
    list.iter()
        .map(|t| (t.value.clone(), ins.expands(t)))
        .collect()
}

/// A double-quoted value of `ins`, `$` literal unless it was written `(expand)`.
fn quoted_in(ins: &Instruction, value: &Text) -> String {
    escaped(escape::docker_quoted(&value.value, ins.expands(value)))
}

/// A bare word of `ins` (WORKDIR, USER).
fn word_in(ins: &Instruction, value: &Text) -> String {
    escaped(escape::docker_word(&value.value, ins.expands(value)))
}

/// Appends the instruction's Dockerfile lines.
fn instruction(out: &mut Lines, ins: &Instruction) {
    match &ins.kind {
        InstructionKind::Workdir(p) => out.push("WORKDIR", word_in(ins, p)),
        InstructionKind::Copy(c) => {
            let mut flags = Vec::new();
            if let Some(from) = &c.from {
                flags.push(format!("--from={}", from.value));
            }
            permission_flags(&mut flags, ins, &c.chown, &c.chmod, c.link);
            paths(out, ins, "COPY", flags, &c.sources, &c.to);
        }
        InstructionKind::Add(a) => {
            let mut flags = Vec::new();
            if let Some(sum) = &a.checksum {
                let sum = escaped(escape::docker_flag_word(&sum.value, false));
                flags.push(format!("--checksum={sum}"));
            }
            permission_flags(&mut flags, ins, &a.chown, &a.chmod, a.link);
            paths(out, ins, "ADD", flags, &a.sources, &a.to);
        }
        InstructionKind::Run(run) => {
            let mut parts: Vec<String> = run.mounts.iter().map(mount).collect();
            let commands: Vec<&str> = run.commands.iter().map(|c| c.as_str()).collect();
            parts.push(commands.join(" && \\\n    "));
            out.push("RUN", parts.join(" "));
        }
        InstructionKind::Env(pairs) => {
            let items: Vec<String> = pairs
                .iter()
                .map(|e| {
                    let v = escaped(escape::docker_quoted(&e.value.value, e.expand));
                    format!("{}={v}", e.name.value)
                })
                .collect();
            if !items.is_empty() {
                out.push("ENV", items.join(" \\\n    "));
            }
        }
        InstructionKind::Arg(a) => {
            let text = match &a.value {
                Some(v) => format!("{}={}", a.name.value, quoted_in(ins, v)),
                None => a.name.value.clone(),
            };
            out.push("ARG", text);
        }
        InstructionKind::Expose(ports) => out.push("EXPOSE", words(ports).join(" ")),
        InstructionKind::User(u) => out.push("USER", word_in(ins, u)),
        InstructionKind::Healthcheck(h) => out.push("HEALTHCHECK", healthcheck(h)),
        InstructionKind::Label(key, value) => {
            let k = escaped(escape::docker_label_key(&key.value));
            out.push("LABEL", format!("{k}={}", quoted_in(ins, value)));
        }
        InstructionKind::Volume(paths) => {
            out.push("VOLUME", escape::lexer_list(&expanding(ins, paths)))
        }
        InstructionKind::Shell(w) => out.push("SHELL", escape::exec_form(&words(w))),
        InstructionKind::Entrypoint(w) => out.push("ENTRYPOINT", escape::exec_form(&words(w))),
        InstructionKind::Cmd(w) => out.push("CMD", escape::exec_form(&words(w))),
        // Shell form: Docker does not expand `$` in CMD or ENTRYPOINT; the shell does, when
        // the container starts. `check` refuses a line the Dockerfile would misread.
        InstructionKind::CmdShell(line) => out.push("CMD", line.value.clone()),
        InstructionKind::EntrypointShell(line) => out.push("ENTRYPOINT", line.value.clone()),
        InstructionKind::Comment(text) => out.push("#", escape::comment(&text.value)),
    }
}

/// The text of a HEALTHCHECK instruction.
fn healthcheck(h: &Healthcheck) -> String {
    let mut text = String::new();
    for (flag, value) in [
        ("interval", &h.interval),
        ("timeout", &h.timeout),
        ("start-period", &h.start_period),
    ] {
        if let Some(v) = value {
            text.push_str(&format!("--{flag}={} ", v.value));
        }
    }
    if let Some(r) = &h.retries {
        text.push_str(&format!("--retries={} ", r.value));
    }
    if h.shell_form {
        text.push_str(&format!("CMD {}", h.command.value));
        return text;
    }
    // Exec form through the shell: the same meaning as the shell form (unless `shell`
    // changes the stage's shell), and what linters ask for.
    let command = vec![
        "/bin/sh".to_string(),
        "-c".to_string(),
        h.command.value.clone(),
    ];
    text.push_str(&format!("CMD {}", escape::exec_form(&command)));
    text
}

fn permission_flags(
    flags: &mut Vec<String>,
    ins: &Instruction,
    chown: &Option<Text>,
    chmod: &Option<Text>,
    link: bool,
) {
    if let Some(o) = chown {
        flags.push(format!(
            "--chown={}",
            escaped(escape::docker_flag_word(&o.value, ins.expands(o)))
        ));
    }
    if let Some(m) = chmod {
        flags.push(format!("--chmod={}", m.value));
    }
    if link {
        flags.push("--link".into());
    }
}

fn paths(
    out: &mut Lines,
    ins: &Instruction,
    keyword: &'static str,
    mut flags: Vec<String>,
    sources: &[Text],
    to: &Text,
) {
    let mut all = expanding(ins, sources);
    let mut dest = to.value.clone();
    // Docker requires a folder destination (ending in `/`) for several sources.
    if sources.len() > 1 && !dest.ends_with('/') {
        dest.push('/');
    }
    all.push((dest, ins.expands(to)));
    flags.push(escaped(escape::docker_paths(&all)));
    out.push(keyword, flags.join(" "));
}

/// A `--mount` flag; `check` refuses option values that would need quoting.
fn mount(m: &Mount) -> String {
    match m {
        Mount::Cache {
            target,
            id,
            sharing,
        } => {
            let mut s = format!("--mount=type=cache,target={}", target.value);
            if let Some(id) = id {
                s.push_str(&format!(",id={}", id.value));
            }
            if let Some(sh) = sharing {
                s.push_str(&format!(",sharing={}", sh.value));
            }
            s
        }
        Mount::Bind {
            source,
            target,
            from,
            rw,
        } => {
            let mut s = format!(
                "--mount=type=bind,source={},target={}",
                source.value, target.value
            );
            if let Some(from) = from {
                s.push_str(&format!(",from={}", from.value));
            }
            if *rw {
                s.push_str(",rw");
            }
            s
        }
        Mount::Secret {
            id,
            target,
            required,
        } => {
            let mut s = format!("--mount=type=secret,id={}", id.value);
            if let Some(t) = target {
                s.push_str(&format!(",target={}", t.value));
            }
            if *required {
                s.push_str(",required=true");
            }
            s
        }
    }
}

/// The OCI labels of an image's final stage; `${VERSION}`/`${REVISION}` come from build args.
fn oci_labels(spec: &Spec, image: usize, out: &mut Lines) {
    let p = &spec.project;
    let img = &spec.images[image];
    let mut labels: Vec<(&str, String)> =
        vec![("org.opencontainers.image.title", img.name.value.clone())];
    if let Some(d) = img.description.as_ref().or(p.description.as_ref()) {
        labels.push(("org.opencontainers.image.description", d.value.clone()));
    }
    if let Some(s) = &p.source {
        labels.push(("org.opencontainers.image.source", s.value.clone()));
    }
    if let Some(u) = &p.url {
        labels.push(("org.opencontainers.image.url", u.value.clone()));
    }
    if let Some(l) = &p.license {
        labels.push(("org.opencontainers.image.licenses", l.value.clone()));
    }
    if !p.maintainers.is_empty() {
        labels.push((
            "org.opencontainers.image.authors",
            words(&p.maintainers).join(", "),
        ));
    }
    let mut items: Vec<String> = labels
        .into_iter()
        .map(|(key, value)| format!("{key}={}", quoted(&value)))
        .collect();
    items.push("org.opencontainers.image.version=\"${VERSION}\"".into());
    items.push("org.opencontainers.image.revision=\"${REVISION}\"".into());
    // Declared last so a new version does not invalidate the cache of earlier layers.
    out.push(
        "ARG",
        format!("VERSION={}", quoted(p.version.value.as_str())),
    );
    out.push("ARG", "REVISION=\"\"".into());
    out.push("LABEL", items.join(" \\\n      "));
}

/// Renders the Dockerfile text of `image` in variant `v`.
fn render_variant(
    checked: &Checked,
    image: usize,
    v: usize,
    options: &RenderOptions,
    sharing: &[usize],
    errors: &mut Vec<Error>,
) -> Option<String> {
    let spec = &checked.spec;
    let img = &spec.images[image];
    let target = spec.stage_index(&img.stage.value)?;
    let variant = &spec.variants[v];
    let built = image_variants(spec, img);
    // This variant's own value: a plain `docker build` of its file must use the base the
    // spec names for it.
    let global_arg = |name: &str| GlobalArg {
        name: name.to_string(),
        value: variant
            .args
            .iter()
            .chain(&spec.args)
            .find(|a| a.name.value == name)
            .and_then(|a| a.value.as_ref())
            .map_or_else(|| "\"\"".into(), |v| quoted(&v.value)),
    };
    // Every top-level `arg` is a global ARG, as the language reference says.
    let mut global_args: Vec<GlobalArg> = spec
        .args
        .iter()
        .map(|a| global_arg(&a.name.value))
        .collect();
    let mut stages = Vec::new();
    let order = build_order(checked, target);
    for &s in &order {
        let stage = &spec.stages[s];
        if let Some(arg) = arg_reference(stage.from.value.as_str())
            && !global_args.iter().any(|a| a.name == arg)
        {
            global_args.push(global_arg(arg));
        }
        let mut lines = Lines { lines: Vec::new() };
        for ins in &stage.instructions {
            let applies = ins
                .variants
                .as_ref()
                .is_none_or(|list| list.iter().any(|n| n.value == variant.name.value));
            if applies {
                if !ins.lint_ignore.is_empty() {
                    let rules: Vec<String> = words(&ins.lint_ignore);
                    lines.push("#", format!("hadolint ignore={}", rules.join(",")));
                }
                instruction(&mut lines, ins);
            }
        }
        if s == target {
            oci_labels(spec, image, &mut lines);
        }
        let platform = stage.platform.as_ref();
        let flag = platform.map(|p| format!("--platform={} ", p.value.flag_value()));
        stages.push(StageContext {
            from: format!("{}{}", flag.unwrap_or_default(), stage.from.value),
            name: stage.name.value.clone(),
            lines: lines.lines,
        });
    }
    let mut head = header(options);
    let variants: Vec<&str> = sharing
        .iter()
        .map(|b| spec.variants[*b].name.as_str())
        .collect();
    if !variants.is_empty() && !spec.variants[built[0]].implicit {
        head.push(format!(
            "Image `{}`, {}: {}.",
            img.name.value,
            if variants.len() == 1 {
                "variant"
            } else {
                "variants"
            },
            variants.join(", ")
        ));
    }
    let context = Context {
        syntax: checked
            .spec
            .project
            .dockerfile_syntax
            .as_ref()
            .map(|t| t.value.clone()),
        header: head,
        global_args,
        stages,
    };
    match render_template("Dockerfile", &img.name.value, &context) {
        Ok(text) => {
            // `check` bounds every line; this is the second line of defence.
            let longest = text.lines().map(str::len).max().unwrap_or(0);
            if longest > crate::value::dockerfile::MAX_LINE_BYTES {
                errors.push(Error::InvalidOutput {
                    path: img.name.value.clone(),
                    format: "Dockerfile".into(),
                    reason: format!(
                        "a line of {longest} bytes is longer than BuildKit reads (64 KiB)"
                    ),
                });
                return None;
            }
            Some(text)
        }
        Err(e) => {
            errors.push(e);
            None
        }
    }
}

pub fn render(checked: &Checked, options: &RenderOptions, errors: &mut Vec<Error>) -> Dockerfiles {
    let spec = &checked.spec;
    let mut files = Vec::new();
    let mut by_target = HashMap::new();
    let dir = &spec.output.dockerfiles.value;
    for (ii, image) in spec.images.iter().enumerate() {
        let built = image_variants(spec, image);
        // Render every variant, then write each distinct text once. The header names the
        // variants that share a file, which is known only after comparing the texts, so
        // they are compared without that line and each distinct file is rendered once
        // more with it.
        let bare: Vec<(usize, String)> = built
            .iter()
            .filter_map(|&v| render_variant(checked, ii, v, options, &[], errors).map(|t| (v, t)))
            .collect();
        let mut full: HashMap<&String, String> = HashMap::new();
        let mut texts: Vec<(usize, String)> = Vec::with_capacity(bare.len());
        for (v, text) in &bare {
            let file = full.entry(text).or_insert_with(|| {
                let sharing: Vec<usize> = bare
                    .iter()
                    .filter(|(_, other)| other == text)
                    .map(|(w, _)| *w)
                    .collect();
                render_variant(checked, ii, *v, options, &sharing, &mut Vec::new())
                    .expect("rendered once already")
            });
            texts.push((*v, file.clone()));
        }
        let distinct: BTreeSet<&String> = texts.iter().map(|(_, t)| t).collect();
        let mut written: HashMap<&String, String> = HashMap::new();
        for (v, text) in &texts {
            let path = match written.get(text) {
                Some(p) => p.clone(),
                None => {
                    let file = if distinct.len() == 1 {
                        format!("{}.Dockerfile", image.name.value)
                    } else {
                        format!(
                            "{}.{}.Dockerfile",
                            image.name.value, spec.variants[*v].name.value
                        )
                    };
                    let path = join(dir, &file);
                    files.push(Rendered {
                        path: path.clone(),
                        contents: text.clone(),
                    });
                    written.insert(text, path.clone());
                    path
                }
            };
            by_target.insert((ii, *v), path);
        }
    }
    Dockerfiles { files, by_target }
}
