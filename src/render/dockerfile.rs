//! Checked spec in, one Dockerfile per image out (one per variant only where the
//! variants' instructions really differ; identical content is written once).

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use super::{RenderOptions, Rendered, escape, header, join, push_once, render_template};
use crate::check::targets::image_variants;
use crate::check::{Checked, arg_reference};
use crate::diagnostics::Error;
use crate::plan::build_order;
use crate::spec::{Instruction, InstructionKind, Mount, Spec, Text};

/// The Dockerfiles of a spec and which one each target (image, variant) uses.
pub struct Dockerfiles {
    pub files: Vec<Rendered>,
    pub by_target: HashMap<(usize, usize), String>,
}

#[derive(Serialize)]
struct Context {
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

/// Reports values a Dockerfile cannot carry.
struct Lines<'e> {
    errors: &'e mut Vec<Error>,
    lines: Vec<Line>,
}

impl Lines<'_> {
    fn fail(&mut self, what: &str, value: &Text, reason: String, help: &str) {
        let error = Error::Unrepresentable {
            what: what.into(),
            format: "a Dockerfile".into(),
            reason,
            span: value.span,
            help: help.into(),
        };
        push_once(self.errors, error);
    }

    fn push(&mut self, keyword: &'static str, text: String) {
        self.lines.push(Line { keyword, text });
    }

    /// `value` escaped by `f`, or a reported problem.
    fn value(
        &mut self,
        what: &str,
        value: &Text,
        help: &str,
        f: impl Fn(&str) -> Result<String, String>,
    ) -> Option<String> {
        match f(&value.value) {
            Ok(s) => Some(s),
            Err(reason) => {
                self.fail(what, value, reason, help);
                None
            }
        }
    }
}

fn words(list: &[Text]) -> Vec<String> {
    list.iter().map(|t| t.value.clone()).collect()
}

/// Appends the instruction's Dockerfile lines.
fn instruction(out: &mut Lines, ins: &Instruction) {
    match &ins.kind {
        InstructionKind::Workdir(p) => {
            if let Some(p) = out.value(
                "working directory",
                p,
                "use a path on one line",
                escape::docker_word,
            ) {
                out.push("WORKDIR", p);
            }
        }
        InstructionKind::Copy(c) => {
            let mut flags = Vec::new();
            if let Some(from) = &c.from {
                flags.push(format!("--from={}", from.value));
            }
            permission_flags(out, &mut flags, &c.chown, &c.chmod, c.link);
            paths(out, "COPY", flags, &c.sources, &c.to);
        }
        InstructionKind::Add(a) => {
            let mut flags = Vec::new();
            if let Some(sum) = &a.checksum
                && let Some(sum) = out.value(
                    "a checksum",
                    sum,
                    "write e.g. `checksum=\"sha256:<64 hex digits>\"`",
                    escape::docker_flag_word,
                )
            {
                flags.push(format!("--checksum={sum}"));
            }
            permission_flags(out, &mut flags, &a.chown, &a.chmod, a.link);
            paths(out, "ADD", flags, &a.sources, &a.to);
        }
        InstructionKind::Run(run) => {
            let mut parts: Vec<String> = Vec::new();
            for m in &run.mounts {
                parts.push(mount(out, m));
            }
            let mut commands = Vec::new();
            for (i, c) in run.commands.iter().enumerate() {
                let checked = if i == 0 {
                    escape::first_shell_command(&c.value)
                } else {
                    escape::later_shell_command(&c.value)
                };
                match checked {
                    Ok(c) => commands.push(c.to_string()),
                    Err(reason) => out.fail(
                        "a RUN command",
                        c,
                        reason,
                        "split it into several arguments of `run`; they are joined with `&&`",
                    ),
                }
            }
            parts.push(commands.join(" && \\\n    "));
            out.push("RUN", parts.join(" "));
        }
        InstructionKind::Env(pairs) => {
            let mut items = Vec::new();
            for e in pairs {
                if let Some(v) = out.value("an ENV value", &e.value, "remove the line break", |s| {
                    escape::docker_quoted(s, e.expand)
                }) {
                    items.push(format!("{}={v}", e.name.value));
                }
            }
            if !items.is_empty() {
                out.push("ENV", items.join(" \\\n    "));
            }
        }
        InstructionKind::Arg(a) => {
            let text = match &a.value {
                Some(v) => out
                    .value("an ARG default", v, "remove the line break", |s| {
                        escape::docker_quoted(s, false)
                    })
                    .map(|v| format!("{}={v}", a.name.value)),
                None => Some(a.name.value.clone()),
            };
            if let Some(t) = text {
                out.push("ARG", t);
            }
        }
        InstructionKind::Expose(ports) => out.push("EXPOSE", words(ports).join(" ")),
        InstructionKind::User(u) => {
            if let Some(u) = out.value(
                "a user",
                u,
                "write `user` or `user:group`",
                escape::docker_word,
            ) {
                out.push("USER", u);
            }
        }
        InstructionKind::Healthcheck(h) => {
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
            // Exec form through the shell: the same meaning as the shell form, and what
            // linters ask for.
            let command = vec![
                "/bin/sh".to_string(),
                "-c".to_string(),
                h.command.value.clone(),
            ];
            text.push_str(&format!("CMD {}", escape::exec_form(&command)));
            out.push("HEALTHCHECK", text);
        }
        InstructionKind::Label(key, value) => {
            let k = out.value(
                "a LABEL key",
                key,
                "use a key like `com.example.team`",
                escape::docker_label_key,
            );
            let v = out.value("a LABEL value", value, "remove the line break", |s| {
                escape::docker_quoted(s, false)
            });
            if let (Some(k), Some(v)) = (k, v) {
                out.push("LABEL", format!("{k}={v}"));
            }
        }
        InstructionKind::Volume(paths) => out.push("VOLUME", escape::lexer_list(&words(paths))),
        InstructionKind::Shell(w) => out.push("SHELL", escape::exec_form(&words(w))),
        InstructionKind::Entrypoint(w) => out.push("ENTRYPOINT", escape::exec_form(&words(w))),
        InstructionKind::Cmd(w) => out.push("CMD", escape::exec_form(&words(w))),
    }
}

fn permission_flags(
    out: &mut Lines,
    flags: &mut Vec<String>,
    chown: &Option<Text>,
    chmod: &Option<Text>,
    link: bool,
) {
    if let Some(o) = chown
        && let Some(o) = out.value(
            "an owner",
            o,
            "write `user:group`",
            escape::docker_flag_word,
        )
    {
        flags.push(format!("--chown={o}"));
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
    keyword: &'static str,
    mut flags: Vec<String>,
    sources: &[Text],
    to: &Text,
) {
    let mut all = words(sources);
    let mut dest = to.value.clone();
    // Docker requires a folder destination (ending in `/`) for several sources.
    if sources.len() > 1 && !dest.ends_with('/') {
        dest.push('/');
    }
    all.push(dest);
    match escape::docker_paths(&all) {
        Ok(p) => {
            flags.push(p);
            out.push(keyword, flags.join(" "));
        }
        Err(reason) => {
            let culprit = sources
                .iter()
                .chain(std::iter::once(to))
                .find(|s| escape::docker_paths(std::slice::from_ref(&s.value)).is_err())
                .unwrap_or(to);
            out.fail(
                &format!("a {keyword} path"),
                culprit,
                reason,
                "rename the file, or copy its folder instead",
            );
        }
    }
}

fn mount(out: &mut Lines, m: &Mount) -> String {
    let check = |out: &mut Lines, t: &Text| {
        if t.value.contains([',', '=', '"', '\'', '\\', '$'])
            || t.value.contains(char::is_whitespace)
            || !t.value.is_ascii()
        {
            out.fail(
                "a mount option",
                t,
                "`,`, `=`, quotes, `\\`, `$`, white space and non-ASCII characters cannot appear in a --mount option".into(),
                "choose a plain path or id",
            );
        }
    };
    match m {
        Mount::Cache {
            target,
            id,
            sharing,
        } => {
            check(out, target);
            let mut s = format!("--mount=type=cache,target={}", target.value);
            if let Some(id) = id {
                check(out, id);
                s.push_str(&format!(",id={}", id.value));
            }
            if let Some(sh) = sharing {
                s.push_str(&format!(",sharing={}", sh.value));
            }
            s
        }
        Mount::Secret {
            id,
            target,
            required,
        } => {
            check(out, id);
            let mut s = format!("--mount=type=secret,id={}", id.value);
            if let Some(t) = target {
                check(out, t);
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
    if let Some(l) = &p.license {
        labels.push(("org.opencontainers.image.licenses", l.value.clone()));
    }
    if !p.maintainers.is_empty() {
        labels.push((
            "org.opencontainers.image.authors",
            words(&p.maintainers).join(", "),
        ));
    }
    let mut items = Vec::new();
    for (key, value) in labels {
        let text = Text::new(value, img.name.span);
        if let Some(v) = out.value("a label value", &text, "remove the line break", |s| {
            escape::docker_quoted(s, false)
        }) {
            items.push(format!("{key}={v}"));
        }
    }
    items.push("org.opencontainers.image.version=\"${VERSION}\"".into());
    items.push("org.opencontainers.image.revision=\"${REVISION}\"".into());
    // Declared last so a new version does not invalidate the cache of earlier layers.
    if let Some(v) = out.value(
        "the project version",
        &p.version,
        "remove the line break",
        |s| escape::docker_quoted(s, false),
    ) {
        out.push("ARG", format!("VERSION={v}"));
    }
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
    let target = spec
        .stages
        .iter()
        .position(|s| s.name.value == img.stage.value)?;
    let variant = &spec.variants[v];
    let built = image_variants(spec, img);
    let mut global_args: Vec<GlobalArg> = Vec::new();
    let mut stages = Vec::new();
    let order = build_order(checked, target);
    for &s in &order {
        let stage = &spec.stages[s];
        if stage.name.value.starts_with(|c: char| c.is_ascii_digit()) {
            let e = Error::Unrepresentable {
                what: format!("stage name `{}`", stage.name.value),
                format: "a Dockerfile".into(),
                reason: "Dockerfile stage names start with a letter".into(),
                span: stage.name.span,
                help: format!("rename it, e.g. `stage s{}`", stage.name.value),
            };
            push_once(errors, e);
        }
        if let Some(arg) = arg_reference(&stage.from.value)
            && !global_args.iter().any(|a| a.name == arg)
        {
            // This variant's own value: a plain `docker build` of its file must use the
            // base the spec names for it.
            let value = variant
                .args
                .iter()
                .chain(&spec.args)
                .find(|a| a.name.value == arg)
                .and_then(|a| a.value.clone());
            let value = match value {
                Some(v) => match escape::docker_quoted(&v.value, false) {
                    Ok(q) => q,
                    Err(reason) => {
                        let e = Error::Unrepresentable {
                            what: format!("the default of build argument `{arg}`"),
                            format: "a Dockerfile".into(),
                            reason,
                            span: v.span,
                            help: "remove the line break".into(),
                        };
                        push_once(errors, e);
                        "\"\"".into()
                    }
                },
                None => "\"\"".into(),
            };
            global_args.push(GlobalArg {
                name: arg.to_string(),
                value,
            });
        }
        let mut lines = Lines {
            errors: &mut *errors,
            lines: Vec::new(),
        };
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
        stages.push(StageContext {
            from: stage.from.value.clone(),
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
        header: head,
        global_args,
        stages,
    };
    match render_template("Dockerfile", &img.name.value, &context) {
        Ok(text) => {
            // `check` bounds every line; this is the second line of defence.
            let longest = text.lines().map(str::len).max().unwrap_or(0);
            if longest > crate::value::dockerfile::MAX_LINE_BYTES {
                push_once(
                    errors,
                    Error::Unrepresentable {
                        what: format!("the Dockerfile of image `{}`", img.name.value),
                        format: "a Dockerfile".into(),
                        reason: format!(
                            "a line of {longest} bytes is longer than BuildKit reads (64 KiB)"
                        ),
                        span: img.name.span,
                        help: "shorten the values on that line".into(),
                    },
                );
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
