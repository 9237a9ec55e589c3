//! The typed spec: a KDL document in, a [`Spec`] out, every value [`Spanned`].
//!
//! `decode` turns KDL nodes into these types and reports unknown nodes and properties,
//! wrong types and missing values. Values with a grammar of their own (port mappings,
//! platforms, durations, tag templates, the version, image references, secret names) are
//! parsed here, once, into `value` types; one that does not parse is reported and left
//! out (a secret name is kept, as an invalid declaration name is). How names refer to
//! each other is the business of `check` (which also reports an image reference that
//! does not parse where the value is meant as one).

mod decode;
mod names;
mod reader;

pub use decode::{
    CHART_CHILDREN, INSTRUCTIONS, OUTPUT_SETTINGS, SERVICE_CHILDREN, TOP_LEVEL, WORKFLOW_CHILDREN,
    decode,
};
use miette::SourceSpan;

pub use crate::value::duration::Duration;
pub use crate::value::image_ref::{ImageRef, ImageSource};
pub use crate::value::platform::Platform;
pub use crate::value::port::PortMapping;
pub use crate::value::ref_glob::RefPattern;
pub use crate::value::secret::{SecretName, SecretProblem};
pub use crate::value::tag_template::TagTemplate;
pub use crate::value::version::Version;

/// A value and the place in the spec it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: SourceSpan,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: SourceSpan) -> Self {
        Spanned { value, span }
    }
}

impl Spanned<String> {
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

pub type Text = Spanned<String>;

#[derive(Debug, Clone)]
pub struct Spec {
    pub project: Project,
    pub output: Output,
    pub args: Vec<ArgDecl>,
    /// Extra `.dockerignore` patterns (`ignore "models/" "*.ckpt"`).
    pub ignore: Vec<Text>,
    pub registries: Vec<Registry>,
    /// Build secrets (`secret "hf" env="HF_TOKEN"`): where each `run { secret }` mount
    /// gets its value, locally and in CI.
    pub secrets: Vec<BuildSecret>,
    /// Never empty: a spec without variants gets one implicit variant, `default`.
    pub variants: Vec<Variant>,
    pub stages: Vec<Stage>,
    pub images: Vec<Image>,
    pub services: Vec<Service>,
    /// Compose networks (`network backend internal=#true`).
    pub networks: Vec<Network>,
    pub workflows: Vec<Workflow>,
    pub charts: Vec<Chart>,
    /// Name -> index per kind, built when the spec is decoded (nothing changes a spec
    /// after that): read it with [`Spec::stage_index`] and its siblings.
    names: names::Names,
}

#[derive(Debug, Clone)]
pub struct Project {
    pub name: Text,
    pub version: Spanned<Version>,
    pub description: Option<Text>,
    pub source: Option<Text>,
    /// `url=`: the project's home page, `org.opencontainers.image.url`.
    pub url: Option<Text>,
    pub license: Option<Text>,
    /// `dockerfile-syntax=`: the BuildKit frontend every Dockerfile names in its first
    /// line (`# syntax=docker/dockerfile:1.7`), an image reference.
    pub dockerfile_syntax: Option<Text>,
    pub maintainers: Vec<Text>,
    pub span: SourceSpan,
}

/// Output paths, relative to the spec's folder.
#[derive(Debug, Clone)]
pub struct Output {
    pub dockerfiles: Text,
    pub dockerignore: Text,
    pub bake: Text,
    pub compose: Text,
    pub workflows: Text,
    pub charts: Text,
    pub lock: Text,
}

impl Output {
    /// Every setting with what it names, for rules that treat all of them alike.
    pub fn settings(&self) -> [(&Text, &'static str); 7] {
        [
            (&self.dockerfiles, "Dockerfile folder"),
            (&self.dockerignore, ".dockerignore path"),
            (&self.bake, "bake file path"),
            (&self.compose, "compose file path"),
            (&self.workflows, "workflow folder"),
            (&self.charts, "chart folder"),
            (&self.lock, "lock file path"),
        ]
    }
}

/// `arg NAME VALUE`: a build argument and its value (top level or in a variant).
#[derive(Debug, Clone)]
pub struct ArgDecl {
    pub name: Text,
    /// The value; with `from_ci`, the value of a build outside CI.
    pub value: Option<Text>,
    /// `from-ci="sha"`: in CI the value is this GitHub Actions variable (`GITHUB_SHA`).
    pub from_ci: Option<Text>,
    pub span: SourceSpan,
}

/// `from-ci=` values and the GitHub Actions variable each reads (GitHub sets them in
/// every step, so bake reads them without the workflow passing anything).
pub const CI_VALUES: &[(&str, &str)] = &[
    ("sha", "GITHUB_SHA"),
    ("ref", "GITHUB_REF"),
    ("ref-name", "GITHUB_REF_NAME"),
    ("run-id", "GITHUB_RUN_ID"),
    ("run-number", "GITHUB_RUN_NUMBER"),
    ("repository", "GITHUB_REPOSITORY"),
];

#[derive(Debug, Clone)]
pub struct Registry {
    pub name: Text,
    pub host: Text,
    pub namespace: Option<Text>,
    pub namespace_secret: Option<Spanned<SecretName>>,
    pub login: Option<Login>,
    pub span: SourceSpan,
}

#[derive(Debug, Clone)]
pub struct Login {
    pub method: LoginMethod,
    pub span: SourceSpan,
}

#[derive(Debug, Clone)]
pub enum LoginMethod {
    Basic {
        username_secret: Spanned<SecretName>,
        password_secret: Spanned<SecretName>,
    },
    GithubToken,
    Aws {
        region: Text,
        role: Option<Text>,
        access_key_id_secret: Option<Spanned<SecretName>>,
        secret_access_key_secret: Option<Spanned<SecretName>>,
    },
}

/// `secret ID [env=VAR | file=PATH] [github=NAME]`: a build secret's sources.
#[derive(Debug, Clone)]
pub struct BuildSecret {
    pub id: Text,
    /// Where a local build (bake, compose) reads the value.
    pub local: SecretSource,
    /// The GitHub Actions secret CI passes to the build.
    pub github: Spanned<SecretName>,
    pub span: SourceSpan,
}

/// Where a local build reads a secret from.
#[derive(Debug, Clone)]
pub enum SecretSource {
    /// An environment variable (`env=`, by default the id in upper case).
    Env(Spanned<SecretName>),
    /// A file, relative to the spec's folder (`file=`).
    File(Text),
}

#[derive(Debug, Clone)]
pub struct Variant {
    pub name: Text,
    pub default: Option<Spanned<bool>>,
    pub tag_prefix: Option<Text>,
    pub tag_suffix: Option<Text>,
    pub args: Vec<ArgDecl>,
    pub platforms: Vec<Spanned<Platform>>,
    pub gpu: Option<Gpu>,
    /// True for the variant specc makes up when the spec declares none.
    pub implicit: bool,
    pub span: SourceSpan,
}

#[derive(Debug, Clone)]
pub struct Gpu {
    pub count: GpuCount,
    /// `device-ids="0 1"`: these devices instead of a count (compose takes one or the
    /// other).
    pub device_ids: Vec<Text>,
    pub driver: Text,
    pub capabilities: Vec<Text>,
    pub allow_any_platform: bool,
    pub span: SourceSpan,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GpuCount {
    All,
    Count(u32),
    /// `count=(expand)"${GPU_COUNT:-1}"`: compose interpolates it (checked at decode).
    Interpolated(Text),
}

#[derive(Debug, Clone)]
pub struct Stage {
    pub name: Text,
    pub from: Spanned<ImageSource>,
    /// `platform=`: the platform the stage's base is pulled for (`FROM --platform=`).
    pub platform: Option<Spanned<StagePlatform>>,
    pub instructions: Vec<Instruction>,
    pub span: SourceSpan,
}

/// `stage ... platform=`: `"build"` is the platform of the machine that builds
/// (`$BUILDPLATFORM`, for cross-compiling stages), `"target"` the platform being built
/// for (`$TARGETPLATFORM`), else a platform such as `linux/amd64`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StagePlatform {
    Build,
    Target,
    Fixed(Platform),
}

impl StagePlatform {
    /// The value of `FROM --platform=`.
    pub fn flag_value(&self) -> String {
        match self {
            StagePlatform::Build => "$BUILDPLATFORM".into(),
            StagePlatform::Target => "$TARGETPLATFORM".into(),
            StagePlatform::Fixed(p) => p.to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Instruction {
    pub kind: InstructionKind,
    /// `variants=`: the instruction applies only to these variants.
    pub variants: Option<Vec<Text>>,
    /// `lint-ignore=`: hadolint rules silenced for this instruction only.
    pub lint_ignore: Vec<Text>,
    /// The spans of the values written `(expand)"..."`: Docker expands `$VAR` in them.
    /// Every other `$` of the instruction is literal (`env` keeps its own flag).
    pub expanded: Vec<SourceSpan>,
    pub span: SourceSpan,
}

impl Instruction {
    /// The paths this instruction reads from the build context: `copy` sources without
    /// `from=`, `add` sources (URLs too), and `run` bind mounts without `from=`.
    pub fn context_sources(&self) -> Vec<&Text> {
        match &self.kind {
            InstructionKind::Copy(c) if c.from.is_none() => c.sources.iter().collect(),
            InstructionKind::Add(a) => a.sources.iter().collect(),
            InstructionKind::Run(run) => run
                .mounts
                .iter()
                .filter_map(|m| match m {
                    Mount::Bind {
                        source, from: None, ..
                    } => Some(source),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// True when `value` (one of this instruction's) was written `(expand)`.
    pub fn expands(&self, value: &Text) -> bool {
        self.expanded.contains(&value.span)
    }
}

#[derive(Debug, Clone)]
pub enum InstructionKind {
    Workdir(Text),
    Copy(Copy),
    Add(Add),
    Run(Run),
    Env(Vec<EnvVar>),
    Arg(ArgDecl),
    Expose(Vec<Text>),
    User(Text),
    Healthcheck(Healthcheck),
    Label(Text, Text),
    Volume(Vec<Text>),
    Shell(Vec<Text>),
    Entrypoint(Vec<Text>),
    Cmd(Vec<Text>),
    /// `entrypoint "..." shell=#true`: the shell form, run by the stage's shell.
    EntrypointShell(Text),
    /// `cmd "..." shell=#true`: the shell form, run by the stage's shell.
    CmdShell(Text),
    /// `comment "renovate: ..."`: a `# ...` line above the next instruction.
    Comment(Text),
}

impl InstructionKind {
    /// The node name this instruction is written as.
    pub fn keyword(&self) -> &'static str {
        match self {
            InstructionKind::Workdir(_) => "workdir",
            InstructionKind::Copy(_) => "copy",
            InstructionKind::Add(_) => "add",
            InstructionKind::Run(_) => "run",
            InstructionKind::Env(_) => "env",
            InstructionKind::Arg(_) => "arg",
            InstructionKind::Expose(_) => "expose",
            InstructionKind::User(_) => "user",
            InstructionKind::Healthcheck(_) => "healthcheck",
            InstructionKind::Label(..) => "label",
            InstructionKind::Volume(_) => "volume",
            InstructionKind::Shell(_) => "shell",
            InstructionKind::Entrypoint(_) | InstructionKind::EntrypointShell(_) => "entrypoint",
            InstructionKind::Cmd(_) | InstructionKind::CmdShell(_) => "cmd",
            InstructionKind::Comment(_) => "comment",
        }
    }
}

/// An environment variable; `expand` lets Docker (or compose) expand `$VAR` in the
/// value, written `env PATH (expand)"/opt/bin:${PATH}"`. Without it `$` is literal.
#[derive(Debug, Clone)]
pub struct EnvVar {
    pub name: Text,
    pub value: Text,
    pub expand: bool,
}

#[derive(Debug, Clone)]
pub struct Copy {
    pub sources: Vec<Text>,
    pub to: Text,
    /// A stage name or an image reference.
    pub from: Option<Spanned<ImageSource>>,
    pub chown: Option<Text>,
    pub chmod: Option<Text>,
    pub link: bool,
    /// `include-git=#true`: the spec means to copy the repository's `.git` folder.
    pub include_git: Option<Spanned<bool>>,
}

#[derive(Debug, Clone)]
pub struct Add {
    pub sources: Vec<Text>,
    pub to: Text,
    pub chown: Option<Text>,
    pub chmod: Option<Text>,
    pub link: bool,
    pub checksum: Option<Text>,
    /// `include-git=#true`: the spec means to copy the repository's `.git` folder.
    pub include_git: Option<Spanned<bool>>,
}

#[derive(Debug, Clone)]
pub struct Run {
    pub commands: Vec<Text>,
    pub mounts: Vec<Mount>,
}

#[derive(Debug, Clone)]
pub enum Mount {
    Cache {
        target: Text,
        id: Option<Text>,
        sharing: Option<Text>,
    },
    Secret {
        id: Text,
        target: Option<Text>,
        required: bool,
    },
    /// `bind "src" target="/mnt/src"`: files of the build context (or of stage or image
    /// `from`) visible at `target` during the RUN only.
    Bind {
        source: Text,
        target: Text,
        from: Option<Spanned<ImageSource>>,
        rw: bool,
    },
}

#[derive(Debug, Clone)]
pub struct Healthcheck {
    pub command: Text,
    /// `shell=#true`: `HEALTHCHECK CMD <command>`, run by the stage's `shell` (by default
    /// the command runs through `/bin/sh -c` in exec form).
    pub shell_form: bool,
    /// `(expand)` on a service's health check: compose interpolates the command.
    pub expand: bool,
    pub interval: Option<Spanned<Duration>>,
    pub timeout: Option<Spanned<Duration>>,
    pub start_period: Option<Spanned<Duration>>,
    pub retries: Option<Spanned<u32>>,
    pub span: SourceSpan,
}

#[derive(Debug, Clone)]
pub struct Image {
    pub name: Text,
    pub stage: Text,
    /// `None`: every variant of the spec.
    pub variants: Option<Vec<Text>>,
    pub registries: Vec<Text>,
    pub repository: Option<Text>,
    pub context: Text,
    pub description: Option<Text>,
    pub tags: Vec<TagRule>,
    pub caches: Vec<Cache>,
    /// `.dockerignore` patterns of this image alone (`ignore` children): its builds read
    /// their own `<Dockerfile>.dockerignore`.
    pub ignore: Vec<Text>,
    pub span: SourceSpan,
}

#[derive(Debug, Clone)]
pub struct TagRule {
    pub template: Spanned<TagTemplate>,
    pub when: Spanned<TagEvents>,
    /// `branch=`: pushed only on a branch whose name the pattern matches.
    pub branch: Option<Spanned<RefPattern>>,
    /// `registry=`: pushed only to these registries of the image (empty: to all).
    pub registries: Vec<Text>,
    pub span: SourceSpan,
}

/// The kind of CI run a plan, a bake file or a workflow step computes tags for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    /// A version tag, a published release, or a manual dispatch on a tag or the default
    /// branch.
    Release,
    /// A push to a branch, or a manual dispatch on another branch.
    Branch,
    /// A pull request.
    Pr,
    /// A scheduled run (on the default branch).
    Schedule,
}

impl Event {
    pub const ALL: [Event; 4] = [Event::Release, Event::Branch, Event::Pr, Event::Schedule];

    /// The name `when=`, `specc plan --event` and `SPECC_EVENT` use.
    pub fn name(self) -> &'static str {
        match self {
            Event::Release => "release",
            Event::Branch => "branch",
            Event::Pr => "pr",
            Event::Schedule => "schedule",
        }
    }

    /// The event called `name`.
    pub fn named(name: &str) -> Option<Event> {
        Event::ALL.into_iter().find(|e| e.name() == name)
    }

    /// The run in words, for messages: "a release", "a pull request".
    pub fn described(self) -> &'static str {
        match self {
            Event::Release => "a release",
            Event::Branch => "a branch push",
            Event::Pr => "a pull request",
            Event::Schedule => "a scheduled run",
        }
    }

    /// True when the run is on a branch, whose name `{{branch}}` and `branch=` read.
    pub fn has_branch(self) -> bool {
        matches!(self, Event::Branch | Event::Schedule)
    }
}

/// The events a tag rule names in `when=` (`"branch schedule"`). `"always"` names every
/// run that pushes: a release, a branch push and a scheduled run; a pull request, which
/// no generated workflow pushes, is named on its own (`"always pr"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TagEvents {
    bits: u8,
}

impl TagEvents {
    pub const RELEASE: TagEvents = TagEvents::of(&[Event::Release]);
    pub const ALWAYS: TagEvents = TagEvents::of(&[Event::Release, Event::Branch, Event::Schedule]);

    pub const fn of(events: &[Event]) -> TagEvents {
        let mut bits = 0;
        let mut i = 0;
        while i < events.len() {
            bits |= 1 << events[i] as u8;
            i += 1;
        }
        TagEvents { bits }
    }

    /// The events named in `when=`.
    pub fn named(self, e: Event) -> bool {
        self.bits & (1 << e as u8) != 0
    }

    /// True when the rule gives tags on a run of `event`: the events it names, and a
    /// scheduled run takes the rules of a branch push too (it runs on a branch, as
    /// docker/metadata-action's `type=ref,event=branch` and `type=edge` do).
    pub fn applies_on(self, event: Event) -> bool {
        self.named(event) || (event == Event::Schedule && self.named(Event::Branch))
    }

    /// The events named in `when=` (`always` as release, branch and schedule).
    pub fn named_events(self) -> impl Iterator<Item = Event> {
        Event::ALL.into_iter().filter(move |e| self.named(*e))
    }

    /// The events the rule gives tags on, in [`Event::ALL`] order.
    pub fn events(self) -> impl Iterator<Item = Event> {
        Event::ALL.into_iter().filter(move |e| self.applies_on(*e))
    }

    /// True when two rules can give tags on one run.
    pub fn overlap(self, other: TagEvents) -> bool {
        self.events().any(|e| other.applies_on(e))
    }
}

#[derive(Debug, Clone)]
pub struct Cache {
    pub kind: CacheKind,
    pub registry: Option<Text>,
    pub span: SourceSpan,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheKind {
    Registry,
    Gha,
}

/// A string of a compose field. Compose interpolates `$` in every string: `expand`
/// (`(expand)"${PORT:-8080}:8080"`) leaves it to compose, whose interpolation was checked
/// at decode; without it `$` is literal (written `$$`).
#[derive(Debug, Clone)]
pub struct ComposeText {
    pub text: Text,
    pub expand: bool,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub name: Text,
    /// A spec image name or an external image reference.
    pub image: Spanned<ImageSource>,
    /// `image=(expand)"..."`: an external reference compose interpolates.
    pub image_expand: bool,
    pub variant: Option<Text>,
    /// Literal mappings were parsed as [`PortMapping`]s at decode; interpolated ones had
    /// their literal parts checked.
    pub ports: Vec<ComposeText>,
    pub volumes: Vec<ComposeText>,
    pub env: Vec<EnvVar>,
    pub depends_on: Vec<DependsOn>,
    pub restart: Option<Text>,
    pub command: Option<Vec<ComposeText>>,
    pub healthcheck: Option<Healthcheck>,
    pub profiles: Option<Vec<Text>>,
    /// The service's own GPU request (an external image, or other devices than its
    /// variant's).
    pub gpu: Option<Gpu>,
    pub fields: ServiceFields,
    pub span: SourceSpan,
}

/// The service settings specc passes to compose as they are, each value checked at
/// decode: `container_name`, `env_file`, `devices`, `group_add`, `device_cgroup_rules`,
/// `shm_size`, `extra_hosts`, `tty`, `stop_signal`, `pull_policy`, `entrypoint`.
#[derive(Debug, Clone, Default)]
pub struct ServiceFields {
    pub container_name: Option<Text>,
    /// Files and whether compose must find them (`required=#false`: skipped when absent).
    pub env_files: Vec<(ComposeText, bool)>,
    pub devices: Vec<Text>,
    pub group_add: Vec<Text>,
    pub device_cgroup_rules: Vec<Text>,
    pub shm_size: Option<Text>,
    pub extra_hosts: Vec<Text>,
    pub tty: bool,
    pub stop_signal: Option<Text>,
    pub pull_policy: Option<Text>,
    pub entrypoint: Option<Vec<ComposeText>>,
    pub logging: Option<Logging>,
    /// The networks it attaches to (none: compose's default network).
    pub networks: Vec<Text>,
}

/// A compose network services attach to by name.
#[derive(Debug, Clone)]
pub struct Network {
    pub name: Text,
    /// `internal=#true`: no route to the outside.
    pub internal: bool,
    pub driver: Option<Text>,
    pub span: SourceSpan,
}

/// `logging "json-file" max-size="10m"`: a log driver and its options.
#[derive(Debug, Clone)]
pub struct Logging {
    pub driver: Text,
    pub options: Vec<(Text, Text)>,
}

#[derive(Debug, Clone)]
pub struct DependsOn {
    pub service: Text,
    pub condition: Option<Text>,
    /// `required=#false`: start the service even when this one is not (e.g. when a
    /// profile leaves it out).
    pub required: bool,
}

#[derive(Debug, Clone)]
pub struct Workflow {
    pub name: Text,
    pub display_name: Option<Text>,
    pub runner: Text,
    /// `layout=`: `"single"` (one job, QEMU for foreign platforms) or `"native"` (a
    /// build job per target and platform on its own runner, then a merge job per
    /// target); none: chosen by [`Workflow::layout`].
    pub layout: Option<Text>,
    /// `runs-on PLATFORM LABEL...`: the runner labels of a platform's build jobs.
    pub runs_on: Vec<RunsOn>,
    pub triggers: Vec<Spanned<Trigger>>,
    pub images: Option<Vec<Text>>,
    pub smoke_tests: Vec<SmokeTest>,
    pub scan: Option<Scan>,
    pub dockerhub_description: Option<DockerhubDescription>,
    pub charts: Vec<Text>,
    pub span: SourceSpan,
}

/// The runner labels a platform's build jobs run on (`runs-on` of GitHub Actions; several
/// labels select a self-hosted or third-party runner that has them all).
#[derive(Debug, Clone)]
pub struct RunsOn {
    pub platform: Text,
    pub labels: Vec<Text>,
    pub span: SourceSpan,
}

/// How a workflow spreads its builds over jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkflowLayout {
    /// One job builds every target and platform (foreign platforms under QEMU).
    Single,
    /// A `prepare` job plans, one build job per target and platform runs on that
    /// platform's runner and pushes by digest, one merge job per target tags the
    /// multi-platform image.
    Native,
}

impl Workflow {
    /// The layout `layout=` names; without it, native when any of `platform_counts` (the
    /// number of platforms of each target the workflow builds) is above one, since one
    /// runner would build the others under QEMU, and single otherwise.
    pub fn layout(&self, mut platform_counts: impl Iterator<Item = usize>) -> WorkflowLayout {
        match self.layout.as_ref().map(|l| l.as_str()) {
            Some("native") => WorkflowLayout::Native,
            Some(_) => WorkflowLayout::Single,
            None if platform_counts.any(|n| n > 1) => WorkflowLayout::Native,
            None => WorkflowLayout::Single,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Trigger {
    Tag {
        pattern: Text,
    },
    Release,
    Dispatch,
    Push {
        branch: Text,
    },
    /// `pull_request`, optionally only for pull requests into `branch`: built, never pushed,
    /// no login and no secrets, so that it is safe for forks.
    PullRequest {
        branch: Option<Text>,
        /// `paths "api/**" ...`: run only when the pull request changes a matching file;
        /// none: the inputs of the workflow's builds (see `render::workflow`).
        paths: Option<Vec<Text>>,
    },
    Schedule {
        cron: Text,
    },
}

#[derive(Debug, Clone)]
pub struct SmokeTest {
    pub image: Text,
    pub variant: Option<Text>,
    pub port: Option<Spanned<PortMapping>>,
    pub path: Option<Text>,
    pub command: Option<Text>,
    pub env: Vec<EnvVar>,
    pub span: SourceSpan,
}

#[derive(Debug, Clone)]
pub struct Scan {
    pub tool: Text,
    pub severity: Option<Text>,
    pub span: SourceSpan,
}

#[derive(Debug, Clone)]
pub struct DockerhubDescription {
    pub registry: Text,
    pub readme: Text,
    pub image: Option<Text>,
    pub span: SourceSpan,
}

#[derive(Debug, Clone)]
pub struct Chart {
    pub name: Text,
    pub path: Option<Text>,
    /// `create=#true`: specc writes the chart's whole `values.yaml` and schema.
    pub create: Option<Spanned<bool>>,
    /// `values=`: the overlay file's name inside the chart folder.
    pub values: Option<Text>,
    pub images: Vec<ChartImage>,
    pub runtimes: Vec<Runtime>,
    pub resources: Option<Resources>,
    pub node_selector: Vec<(Text, Text)>,
    pub tolerations: Vec<Toleration>,
    pub push: Option<ChartPush>,
    pub span: SourceSpan,
}

#[derive(Debug, Clone)]
pub struct ChartImage {
    pub image: Text,
    pub variant: Option<Text>,
    pub registry: Option<Text>,
    /// A map key that takes `repository` and `tag` (`image` when no key is named).
    pub key: Option<Text>,
    /// A string key for the repository alone.
    pub repository: Option<Text>,
    /// A string key for the tag alone.
    pub tag: Option<Text>,
    /// A string key for the whole reference (`repository:tag`).
    pub reference: Option<Text>,
    pub span: SourceSpan,
}

/// What a chart values key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// A map with `repository` and `tag`.
    Image,
    Repository,
    Tag,
    /// `repository:tag` in one string.
    Reference,
}

impl ChartImage {
    /// Every values key this entry writes, with what it holds.
    pub fn slots(&self) -> Vec<(&Text, Slot)> {
        [
            (&self.key, Slot::Image),
            (&self.repository, Slot::Repository),
            (&self.tag, Slot::Tag),
            (&self.reference, Slot::Reference),
        ]
        .into_iter()
        .filter_map(|(k, s)| k.as_ref().map(|k| (k, s)))
        .collect()
    }
}

impl Chart {
    /// True when specc writes only an overlay for the user's chart: a chart with `path=`
    /// and no `create=#true`.
    pub fn overlay(&self) -> bool {
        self.path.is_some() && !self.create.as_ref().is_some_and(|c| c.value)
    }

    /// The files specc writes in the chart folder: the overlay (`values=`, else
    /// `values.specc.yaml`), or a created chart's values and schema.
    pub fn files(&self) -> Vec<String> {
        if self.overlay() {
            let name = self.values.as_ref().map(|v| v.value.as_str());
            vec![name.unwrap_or("values.specc.yaml").to_string()]
        } else {
            vec!["values.yaml".into(), "values.schema.json".into()]
        }
    }
}

#[derive(Debug, Clone)]
pub struct Runtime {
    pub name: Text,
    pub kind: Text,
    pub namespace: Option<Text>,
    pub chart_repository: Option<Text>,
    pub chart_version: Option<Text>,
    pub image: Option<Spanned<ImageSource>>,
    pub variant: Option<Text>,
    pub span: SourceSpan,
}

#[derive(Debug, Clone)]
pub struct Resources {
    pub cpu: Option<Text>,
    pub memory: Option<Text>,
    pub span: SourceSpan,
}

#[derive(Debug, Clone)]
pub struct Toleration {
    pub key: Option<Text>,
    pub operator: Option<Text>,
    pub value: Option<Text>,
    pub effect: Option<Text>,
    pub span: SourceSpan,
}

#[derive(Debug, Clone)]
pub struct ChartPush {
    pub registry: Text,
    pub repository: Text,
    pub span: SourceSpan,
}

/// The span of bytes `start..start+len` of `value` inside the entry at `span`, when the
/// entry is written plainly (bare, or quoted without escapes, maybe after `(expand)`);
/// else the whole entry.
pub fn inner_span(span: SourceSpan, value: &str, start: usize, len: usize) -> SourceSpan {
    const EXPAND: usize = "(expand)".len();
    let quote = if span.len() == value.len() + 2 {
        1
    } else if span.len() == value.len() {
        0
    } else if span.len() == value.len() + 2 + EXPAND {
        1 + EXPAND
    } else {
        return span;
    };
    SourceSpan::from((span.offset() + quote + start, len))
}
