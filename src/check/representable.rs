//! Values the outputs cannot carry as written: a line break on a Dockerfile line, a
//! heredoc word or a trailing `\` in a `run` command, a stage name
//! a Dockerfile refuses, text bake would normalise, `${{` where GitHub takes no expression,
//! an ignore pattern `.dockerignore` reads as a comment. Refused here, in `check`, so that
//! a spec `check` accepts always generates; each refusal's help fits its case.

use super::Checker;
use crate::diagnostics::Error;
use crate::spec::{Instruction, InstructionKind, Mount, Run, Text, Trigger, Workflow};
use crate::value::dockerfile::{
    breaks_line, command_misread, has_surrounding_space, heredoc_word, is_mount_option, is_nfc,
};

const DOCKERFILE: &str = "a Dockerfile instruction";

/// A `run` argument, and what to do with a line break in it.
const RUN_COMMAND: (&str, &str) = (
    "a `run` command",
    "split it into several arguments of `run`; they are joined with `&&`",
);

/// A shell-form command line (`cmd`, `entrypoint`, `healthcheck` with `shell=#true`).
const SHELL_LINE: (&str, &str) = (
    "a shell-form command",
    "write the command on one line (join commands with `&&` or `;`), or put a script in the image and run it",
);

/// What to do with a heredoc in `run`: specc writes each command on one RUN line.
const HEREDOC_HELP: &str = "put the script in a file of the build context, `copy` it into the image and `run` it (e.g. `copy \"setup.sh\" to=\"/tmp/\"` then `run \"sh /tmp/setup.sh\"`); do not split a heredoc into several `run` arguments, which are joined with `&&`";

impl Checker<'_> {
    /// Every value the Dockerfiles, the bake file, the workflows and `.dockerignore` write.
    pub(super) fn representable(&mut self) {
        let spec = self.spec;
        for stage in &spec.stages {
            if stage.name.value.starts_with(|c: char| c.is_ascii_digit()) {
                self.push(Error::InvalidName {
                    kind: "stage".into(),
                    name: stage.name.value.clone(),
                    span: stage.name.span,
                    reason: "Dockerfile stage names start with a letter".into(),
                    help: format!("rename it, e.g. `stage s{}`", stage.name.value),
                });
            }
            for ins in &stage.instructions {
                self.instruction_values(ins);
            }
        }
        // Every argument reaches the bake file; a top-level one, and one a `from="$NAME"`
        // reads, is also the default of a global Dockerfile `ARG` line.
        let in_from = |name: &str| {
            spec.args.iter().any(|a| a.name.value == name)
                || spec
                    .stages
                    .iter()
                    .any(|s| super::arg_reference(s.from.value.as_str()) == Some(name))
        };
        for arg in spec
            .args
            .iter()
            .chain(spec.variants.iter().flat_map(|v| &v.args))
        {
            if let Some(v) = &arg.value {
                let what = format!("the value of build argument `{}`", arg.name.value);
                if in_from(&arg.name.value) {
                    self.one_line(&what, v, "write the value on one line");
                }
                self.nfc(&what, v);
            }
        }
        self.project_values();
        for w in &spec.workflows {
            self.workflow_values(w);
        }
        for pattern in spec
            .ignore
            .iter()
            .chain(spec.images.iter().flat_map(|i| &i.ignore))
        {
            self.ignore_pattern(pattern);
        }
    }

    /// The project's text that becomes OCI labels in every Dockerfile (and bake).
    fn project_values(&mut self) {
        let p = &self.spec.project;
        let descriptions = self
            .spec
            .images
            .iter()
            .filter_map(|i| i.description.as_ref());
        let version = Text::new(p.version.value.to_string(), p.version.span);
        let texts = std::iter::once(("the project version", &version))
            .chain(p.description.iter().map(|d| ("the description", d)))
            .chain(descriptions.map(|d| ("the description", d)))
            .chain(p.source.iter().map(|s| ("the project source", s)))
            .chain(p.url.iter().map(|u| ("the project url", u)))
            .chain(p.license.iter().map(|l| ("the license", l)))
            .chain(p.maintainers.iter().map(|m| ("a maintainer", m)));
        for (what, t) in texts {
            self.one_line(what, t, "write it on one line; it becomes an OCI label");
        }
        if let Some(s) = &p.source {
            self.nfc("the project source", s);
        }
    }

    /// Reports a line break in `value`, which a Dockerfile writes on one line.
    fn one_line(&mut self, what: &str, value: &Text, help: &str) -> bool {
        if !breaks_line(&value.value) {
            return true;
        }
        self.push(Error::LineBreak {
            what: what.into(),
            place: DOCKERFILE.into(),
            span: value.span,
            help: help.into(),
        });
        false
    }

    fn nfc(&mut self, what: &str, value: &Text) {
        if !is_nfc(&value.value) {
            self.push(Error::NotNfc {
                what: what.into(),
                span: value.span,
            });
        }
    }

    fn empty(&mut self, what: &str, value: &Text, help: &str) -> bool {
        if !value.value.is_empty() {
            return true;
        }
        self.push(Error::EmptyValue {
            what: what.into(),
            span: value.span,
            help: help.into(),
        });
        false
    }

    /// A bare Dockerfile word (WORKDIR, USER): one line, not empty, no white space at
    /// its ends (the lexer would drop it).
    fn word(&mut self, what: &str, value: &Text, example: &str) {
        let help = format!("write e.g. `{example}`");
        if !self.one_line(what, value, &help) || !self.empty(what, value, &help) {
            return;
        }
        if has_surrounding_space(&value.value) {
            self.push(Error::SurroundingSpace {
                what: what.into(),
                span: value.span,
                reason: "Docker drops white space at the ends of a word".into(),
                help: format!("write `{}`", value.value.trim()),
            });
        }
    }

    fn instruction_values(&mut self, ins: &Instruction) {
        match &ins.kind {
            InstructionKind::Workdir(p) => {
                self.word("the working directory", p, "workdir \"/app\"")
            }
            InstructionKind::User(u) => self.word("the user", u, "user \"app\""),
            InstructionKind::Copy(c) => self.paths("COPY", &c.sources, &c.to),
            InstructionKind::Add(a) => self.paths("ADD", &a.sources, &a.to),
            InstructionKind::Run(run) => self.run_values(run),
            InstructionKind::CmdShell(line) | InstructionKind::EntrypointShell(line) => {
                self.command(line, true, SHELL_LINE)
            }
            InstructionKind::Healthcheck(h) if h.shell_form => {
                self.command(&h.command, true, SHELL_LINE)
            }
            InstructionKind::Comment(text) => {
                self.one_line("a comment", text, "write one `comment` per line");
            }
            InstructionKind::Env(pairs) => {
                for e in pairs {
                    let what = format!("the value of `{}`", e.name.value);
                    self.one_line(&what, &e.value, "write the value on one line");
                }
            }
            InstructionKind::Arg(a) => {
                if let Some(v) = &a.value {
                    let what = format!("the default of `{}`", a.name.value);
                    self.one_line(&what, v, "write the default on one line");
                }
            }
            InstructionKind::Label(key, value) => {
                let help = "use a key like `com.example.team`";
                if self.one_line("a label key", key, help)
                    && self.empty("a label key", key, help)
                    && key.value.contains('=')
                {
                    self.push(Error::LabelKey {
                        value: key.value.clone(),
                        span: key.span,
                    });
                }
                self.one_line("a label value", value, "write the value on one line");
            }
            _ => {}
        }
    }

    /// COPY/ADD sources and destination: one line each, not empty (a `$` is escaped, or
    /// expanded where the value is written `(expand)`).
    fn paths(&mut self, keyword: &str, sources: &[Text], to: &Text) {
        let all = sources
            .iter()
            .map(|s| (s, "source"))
            .chain([(to, "destination")]);
        for (path, what) in all {
            let named = format!("a {keyword} {what}");
            if self.one_line(&named, path, "write the path on one line") {
                self.empty(&named, path, "write a path, e.g. `.` for the whole context");
            }
        }
    }

    fn run_values(&mut self, run: &Run) {
        for m in &run.mounts {
            let options = match m {
                Mount::Cache { target, id, .. } => [Some(target), id.as_ref()],
                Mount::Secret { id, target, .. } => [Some(id), target.as_ref()],
                Mount::Bind { source, target, .. } => [Some(source), Some(target)],
            };
            for t in options.into_iter().flatten() {
                if !is_mount_option(&t.value) {
                    self.push(Error::MountOption {
                        value: t.value.clone(),
                        span: t.span,
                    });
                }
            }
        }
        for (i, c) in run.commands.iter().enumerate() {
            self.command(c, i == 0, RUN_COMMAND);
        }
    }

    /// One argument of `run` (or a shell-form command line): it becomes one line of the
    /// instruction; `what` names it and says what to do with a line break.
    fn command(&mut self, c: &Text, first: bool, (what, split): (&str, &str)) {
        let s = c.value.as_str();
        // A heredoc spans lines: joining its lines with `&&` would break it, so it gets
        // the heredoc's own advice rather than the line break's.
        if let Some(word) = heredoc_word(s).filter(|_| breaks_line(s)) {
            self.push(Error::Heredoc {
                word,
                span: c.span,
                help: HEREDOC_HELP.into(),
            });
            return;
        }
        if !self.one_line(what, c, split) || !self.empty(what, c, "remove the empty argument") {
            return;
        }
        if has_surrounding_space(s) {
            self.push(Error::SurroundingSpace {
                what: what.into(),
                span: c.span,
                reason: "Docker trims white space at the ends of a command".into(),
                help: format!("write `{}`", s.trim()),
            });
        } else if let Some(word) = heredoc_word(s) {
            self.push(Error::Heredoc {
                word,
                span: c.span,
                help: format!("{HEREDOC_HELP}; if `<<` is meant literally, quote it (`'<<'`)"),
            });
        } else if let Some(reason) = command_misread(s, first) {
            self.push(Error::RunCommand {
                span: c.span,
                reason: reason.into(),
                help: if what == SHELL_LINE.0 && s.starts_with('[') {
                    "for the exec form, leave `shell=#true` out and give each word as an argument"
                        .into()
                } else {
                    command_help(s, first).into()
                },
            });
        }
    }

    fn workflow_values(&mut self, w: &Workflow) {
        let name = w.display_name.as_ref().unwrap_or(&w.name);
        let triggers = w.triggers.iter().filter_map(|t| match &t.value {
            Trigger::Tag { pattern } => Some(("a tag pattern", pattern)),
            Trigger::Push { branch } => Some(("a branch", branch)),
            Trigger::PullRequest { branch, .. } => branch.as_ref().map(|b| ("a branch", b)),
            Trigger::Schedule { cron } => Some(("a schedule", cron)),
            Trigger::Release | Trigger::Dispatch => None,
        });
        for (what, text) in std::iter::once(("a workflow name", name)).chain(triggers) {
            if text.value.contains("${{") {
                self.push(Error::WorkflowExpression {
                    what: what.into(),
                    span: text.span,
                });
            }
        }
        if let Some(severity) = w.scan.as_ref().and_then(|s| s.severity.as_ref()) {
            self.empty(
                "the scan severity",
                severity,
                "list severities, e.g. `severity=\"CRITICAL,HIGH\"`, or leave `severity` out",
            );
        }
    }

    /// A `.dockerignore` line: one line, not empty, no `#` first, no white space at its ends.
    fn ignore_pattern(&mut self, p: &Text) {
        let help = "write the pattern on its own, e.g. `ignore \"models/\"`";
        if breaks_line(&p.value) {
            self.push(Error::LineBreak {
                what: "an ignore pattern".into(),
                place: "a .dockerignore pattern".into(),
                span: p.span,
                help: "give each pattern its own argument: `ignore \"a\" \"b\"`".into(),
            });
            return;
        }
        if !self.empty("an ignore pattern", p, help) {
            return;
        }
        if p.value.starts_with('#') {
            self.push(Error::IgnoreComment {
                value: p.value.clone(),
                span: p.span,
            });
        } else if has_surrounding_space(&p.value) {
            self.push(Error::SurroundingSpace {
                what: "an ignore pattern".into(),
                span: p.span,
                reason: ".dockerignore trims white space at the ends of a line".into(),
                help: format!("write `{}`", p.value.trim()),
            });
        }
    }
}

/// Help for a command Docker would misread, for its case.
fn command_help(s: &str, first: bool) -> &'static str {
    if s.ends_with('\\') {
        "remove the trailing `\\`; the arguments of `run` are joined with `&&`, so no continuation is needed"
    } else if first && s.starts_with("--") {
        "start the command with the program, e.g. `run \"pip install --no-cache-dir x\"`"
    } else if first && s.starts_with('[') {
        "write the test with `test` instead of `[ ... ]`, e.g. `run \"test -f x && echo\"`"
    } else {
        "remove the comment, or put it at the end of the previous argument"
    }
}
