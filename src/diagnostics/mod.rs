//! Every diagnostic specc can report: spans into the spec in, miette diagnostics out.
//!
//! One variant per kind of problem, each with a stable code (`specc::<stage>::<what>`), a
//! label on the exact span and a `help` that says what to type. The doc comment of each
//! variant shows a short spec that triggers it. [`Diagnostics`] carries the spec's file
//! name and text, and every problem found by a stage as `related` diagnostics.

use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, Severity, SourceSpan};
use thiserror::Error;

/// One problem in a spec.
#[derive(Debug, Clone, Error, Diagnostic, PartialEq, Eq)]
pub enum Error {
    /// The text is not valid KDL v2: `stage a from="x`
    #[error("{message}")]
    #[diagnostic(code(specc::syntax))]
    Syntax {
        message: String,
        #[label("{label}")]
        span: SourceSpan,
        label: String,
        #[help]
        help: Option<String>,
    },

    /// The spec has no `project` node.
    #[error("the spec has no `project` node")]
    #[diagnostic(
        code(specc::model::missing_project),
        help("add one at the top, e.g. `project myapp version=\"1.0.0\"`")
    )]
    MissingProject {
        #[label("expected `project` in this document")]
        span: SourceSpan,
    },

    /// A node specc does not know: `stgae build from="alpine:3.20"`
    #[error("unknown node `{name}` {place}")]
    #[diagnostic(code(specc::model::unknown_node))]
    UnknownNode {
        name: String,
        place: String,
        #[label("not a known node here")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A property the node does not take: `stage build form="alpine:3.20"`
    #[error("unknown property `{name}` on `{node}`")]
    #[diagnostic(code(specc::model::unknown_property))]
    UnknownProperty {
        name: String,
        node: String,
        #[label("not a property of `{node}`")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A property given twice: `image app stage=a stage=b`
    #[error("property `{name}` is given twice on `{node}`")]
    #[diagnostic(
        code(specc::model::duplicate_property),
        help("keep one of them; KDL would silently use the last one")
    )]
    DuplicateProperty {
        name: String,
        node: String,
        #[label("first here")]
        first: SourceSpan,
        #[label("again here")]
        span: SourceSpan,
    },

    /// More arguments than the node takes: `user "app" "extra"`
    #[error("`{node}` takes {expected}")]
    #[diagnostic(code(specc::model::unexpected_argument))]
    UnexpectedArgument {
        node: String,
        expected: String,
        #[label("unexpected argument")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A children block on a node that takes none: `expose 80 { udp }`
    #[error("`{node}` takes no children block")]
    #[diagnostic(
        code(specc::model::unexpected_children),
        help("remove the `{{ ... }}` block")
    )]
    UnexpectedChildren {
        node: String,
        #[label("not allowed here")]
        span: SourceSpan,
    },

    /// A type annotation specc does not know: `env A (expnad)"$B"`, `(x)stage a from="b"`
    #[error("unknown annotation `({name})` on `{node}`")]
    #[diagnostic(code(specc::model::unknown_annotation))]
    UnknownAnnotation {
        name: String,
        node: String,
        #[label("not an annotation specc knows")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// `(expand)` on a value nothing expands: `run (expand)"echo $HOME"`
    #[error("`(expand)` has no meaning on {what}")]
    #[diagnostic(code(specc::model::misplaced_expand))]
    MisplacedExpand {
        what: String,
        #[label("nothing expands variables here")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A value of the wrong type: `variant cpu default="yes"`
    #[error("{what} must be {expected}, found {found}")]
    #[diagnostic(code(specc::model::wrong_type))]
    WrongType {
        what: String,
        expected: String,
        found: String,
        #[label("expected {expected}")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A required value is missing: `image app` (no `stage=`)
    #[error("`{node}` is missing {what}")]
    #[diagnostic(code(specc::model::missing_value))]
    MissingValue {
        node: String,
        what: String,
        #[label("needs {what}")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A value outside a fixed set: `restart "sometimes"`
    #[error("`{value}` is not a valid {what}")]
    #[diagnostic(code(specc::model::invalid_choice))]
    InvalidChoice {
        what: String,
        value: String,
        #[label("not one of the accepted values")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// Two declarations with one name: `stage app ...` twice (or one platform listed twice:
    /// `platforms "linux/amd64" "linux/amd64"`)
    #[error("{kind} `{name}` is declared twice")]
    #[diagnostic(code(specc::model::duplicate_name))]
    DuplicateName {
        kind: String,
        name: String,
        #[label("first declared here")]
        first: SourceSpan,
        #[label("declared again here")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A name that does not fit the naming rule: `stage Build_Stage ...`
    #[error("{kind} name `{name}` is not valid")]
    #[diagnostic(code(specc::model::invalid_name))]
    InvalidName {
        kind: String,
        name: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// More than one default variant: `variant a default=#true` and `variant b default=#true`
    #[error("more than one variant is marked `default=#true`")]
    #[diagnostic(
        code(specc::model::multiple_defaults),
        help("keep `default=#true` on one variant only")
    )]
    MultipleDefaults {
        #[label("first default")]
        first: SourceSpan,
        #[label("second default")]
        span: SourceSpan,
    },

    /// A name that refers to nothing: `image app stage=runtme`
    #[error("unknown {kind} `{name}`")]
    #[diagnostic(code(specc::check::unknown_reference))]
    UnknownReference {
        kind: String,
        name: String,
        #[label("no {kind} is named `{name}`")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// `copy from=` names neither a stage nor an image: `copy from=frontnd "/dist" to="/app"`
    #[error("`copy from={name}` names no stage")]
    #[diagnostic(code(specc::check::copy_from_unknown_stage))]
    CopyFromUnknownStage {
        name: String,
        #[label("no stage is named `{name}`")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// `from="$NAME"` with no value for some variant: `stage s from="$BASE"` with no `arg BASE`
    #[error("build argument `{name}` has no value {context}")]
    #[diagnostic(code(specc::check::undefined_arg))]
    UndefinedArg {
        name: String,
        /// "for variant `gpu`", "for variants `cpu` and `gpu`", or why there is none.
        context: String,
        #[label("`${name}` is used here")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// Stages that depend on each other in a circle: `stage a from=b` and `stage b from=a`
    /// (or services: `service a ... { depends-on b }` and `service b ... { depends-on a }`)
    #[error("{kind} form a cycle: {path}")]
    #[diagnostic(
        code(specc::check::cycle),
        help(
            "a {kind_one} cannot depend on itself, directly or through others; break one of the marked edges"
        )
    )]
    Cycle {
        kind: String,
        kind_one: String,
        path: String,
        #[label(collection)]
        edges: Vec<LabeledSpan>,
    },

    /// A platform that is not `os/arch[/variant]`: `platforms "linux/x86"`
    #[error("`{value}` is not a valid platform")]
    #[diagnostic(code(specc::check::invalid_platform))]
    InvalidPlatform {
        value: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// A tag rule that cannot be rendered: `tag "{{verison}}"`
    #[error("invalid tag template `{template}`")]
    #[diagnostic(code(specc::check::invalid_tag_template))]
    InvalidTagTemplate {
        template: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// A tag rule that renders to an invalid OCI tag: `tag "release/{{version}}"`
    #[error("tag rule `{template}` can produce the invalid tag `{tag}`")]
    #[diagnostic(code(specc::check::invalid_tag))]
    InvalidTag {
        template: String,
        tag: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// A `branch=` filter on a tag rule that also applies where there is no branch:
    /// `tag "edge" branch="main"` (a release)
    #[error("`branch=` filters branch pushes, but this rule also applies on {event}")]
    #[diagnostic(code(specc::check::tag_branch_filter))]
    TagBranchFilter {
        /// "a release", "a pull request".
        event: String,
        #[label("{event} has no branch to compare")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A tag rule of an image a workflow builds that the workflow cannot apply:
    /// `tag "pr-{{pr}}" when="pr"`
    #[error("workflow `{workflow}` cannot apply the tag rule `{template}`")]
    #[diagnostic(code(specc::check::workflow_tag_rule))]
    WorkflowTagRule {
        template: String,
        workflow: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// Two variants of one image push the same tag: `variant a tag-prefix=""` and `variant b tag-prefix=""`
    #[error(
        "tag `{tag}` of image `{image}` is produced by both variant `{first_variant}` and variant `{second_variant}`"
    )]
    #[diagnostic(code(specc::check::tag_collision))]
    TagCollision {
        tag: String,
        image: String,
        first_variant: String,
        second_variant: String,
        /// The rule that produced the tag first, when it is another rule.
        #[label("`{first_variant}` gets `{tag}` from this rule")]
        first: Option<SourceSpan>,
        #[label("`{second_variant}` gets `{tag}` here too")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A version that tag rules cannot split: `project app version="latest"` with `tag "{{major}}"`
    #[error("version `{version}` is not a semantic version, but tag rules use `{{{{{part}}}}}`")]
    #[diagnostic(
        code(specc::check::invalid_version),
        help("write the version as MAJOR.MINOR.PATCH, e.g. `version=\"1.6.0\"`")
    )]
    InvalidVersion {
        version: String,
        part: String,
        #[label("not MAJOR.MINOR.PATCH")]
        span: SourceSpan,
    },

    /// An image reference that is not valid: `stage s from="Node:18"`
    #[error("`{value}` is not a valid image reference")]
    #[diagnostic(code(specc::check::invalid_image_reference))]
    InvalidImageReference {
        value: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// A repository or namespace that registries reject: `image app repository="My_App"`
    #[error("`{value}` is not a valid {what}")]
    #[diagnostic(code(specc::check::invalid_repository))]
    InvalidRepository {
        what: String,
        value: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// A registry host that is not a host name: `registry r host="https://docker.io"`
    #[error("`{value}` is not a valid registry host")]
    #[diagnostic(code(specc::check::invalid_host))]
    InvalidHost {
        value: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// A login that does not suit its registry: `registry hub host="docker.io" { login "github-token" }`
    #[error("{message}")]
    #[diagnostic(code(specc::check::login))]
    Login {
        message: String,
        #[label("{label}")]
        span: SourceSpan,
        label: String,
        #[help]
        help: String,
    },

    /// A port mapping compose rejects: `port "80:80:80"`
    #[error("`{value}` is not a valid port mapping")]
    #[diagnostic(code(specc::check::invalid_port))]
    InvalidPort {
        value: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// An `(expand)` compose value that is not valid interpolation:
    /// `port (expand)"${PORT:-8080:8080"`
    #[error("`{value}` is not valid compose interpolation")]
    #[diagnostic(
        code(specc::check::invalid_interpolation),
        help(
            "write `${{NAME}}`, `${{NAME:-default}}` or `${{NAME-default}}` (also `:?`, `?`, `:+`, `+`); a literal `$` is `$$`"
        )
    )]
    InvalidInterpolation {
        value: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
    },

    /// A service setting Docker would refuse: `shm-size "1gib"`, `extra-host "db"`,
    /// `stop-signal "SIGFOO"`, `device "dev/kfd"`
    #[error("`{value}` is not a valid `{what}`")]
    #[diagnostic(code(specc::check::invalid_service_value))]
    InvalidServiceValue {
        what: String,
        value: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// A volume compose rejects: `volume "./data:data"`
    #[error("`{value}` is not a valid volume")]
    #[diagnostic(code(specc::check::invalid_volume))]
    InvalidVolume {
        value: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// An environment variable or build argument name that shells reject: `env "MY-VAR" "1"`
    #[error("`{name}` is not a valid {what} name")]
    #[diagnostic(code(specc::check::invalid_variable_name))]
    InvalidVariableName {
        what: String,
        name: String,
        #[label("use letters, digits and `_`, not starting with a digit")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A secret value where the NAME of a secret belongs: `login "basic" password-secret="dckr_pat_EXAMPLE0000"`
    #[error("`{property}` looks like a credential, not the name of a secret")]
    #[diagnostic(code(specc::check::credential_literal))]
    CredentialLiteral {
        property: String,
        #[label("this looks like a secret value")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A credential in a value that lands in an image or a committed file: `env API_KEY="sk-proj-..."`
    #[error("{what} looks like a credential")]
    #[diagnostic(code(specc::check::credential_value))]
    CredentialValue {
        what: String,
        /// Where the value would end up: "baked into the image", "committed in compose.yaml".
        place: String,
        #[label("this looks like a secret value, {place}")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A build secret with two local sources: `secret "hf" env="HF_TOKEN" file="hf.txt"`
    #[error("build secret `{id}` has both `env=` and `file=`")]
    #[diagnostic(
        code(specc::model::secret_source),
        help("a local build reads a secret from one place: keep `env=` or `file=`, not both")
    )]
    SecretSource {
        id: String,
        #[label("read from this variable")]
        first: SourceSpan,
        #[label("and from this file")]
        span: SourceSpan,
    },

    /// A `run { secret ID }` mount of a secret the spec does not declare: `run "make" { secret "hf" }` without `secret "hf"`
    #[error("build secret `{id}` is not declared")]
    #[diagnostic(code(specc::check::undeclared_secret))]
    UndeclaredSecret {
        id: String,
        #[label("no top-level `secret \"{id}\"` says where this comes from")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A build secret passed in a variable that already means something else in bake or
    /// CI, or that carries another secret: `secret "version"` (read from `VERSION`)
    #[error("build secret `{id}` cannot be passed in the variable `{var}`")]
    #[diagnostic(code(specc::check::secret_variable))]
    SecretVariable {
        id: String,
        var: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// `from-ci` on a build argument specc sets itself: `arg VERSION from-ci="ref-name"`
    #[error("build argument `{name}` is set by specc")]
    #[diagnostic(code(specc::check::managed_arg))]
    ManagedArg {
        name: String,
        #[label("specc gives `{name}` its own value; `from-ci` would be ignored")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A declared build secret no `run` mounts: `secret "hf"` and no `run { secret "hf" }`
    #[error("build secret `{id}` is not used by any `run`")]
    #[diagnostic(
        code(specc::check::unused_secret),
        severity(Warning),
        help("remove it, or mount it: `run \"...\" {{ secret \"{id}\" }}`")
    )]
    UnusedSecret {
        id: String,
        #[label("never mounted")]
        span: SourceSpan,
    },

    /// A secret name GitHub does not accept: `login "basic" username-secret="docker user"`
    #[error("`{name}` is not a valid secret name")]
    #[diagnostic(code(specc::check::invalid_secret_name))]
    InvalidSecretName {
        name: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// A duration Go (and so Docker and compose) refuses: `healthcheck "true" interval="1.2.3s"`
    #[error("`{value}` is not a valid duration")]
    #[diagnostic(code(specc::check::invalid_duration))]
    InvalidDuration {
        value: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// A file mode that is not octal: `copy "a" to="/a" chmod="rwxr-xr-x"`
    #[error("`{value}` is not a valid file mode")]
    #[diagnostic(code(specc::check::invalid_file_mode))]
    InvalidFileMode {
        value: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// An owner that is not `user[:group]` in ASCII: `copy "a" to="/a" chown="app user"`
    #[error("`{value}` is not a valid owner")]
    #[diagnostic(code(specc::check::invalid_owner))]
    InvalidOwner {
        value: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// An `add` checksum that is not a digest: `add "https://x/a.tgz" to="/a" checksum="abc"`
    #[error("`{value}` is not a valid checksum")]
    #[diagnostic(code(specc::check::invalid_checksum))]
    InvalidChecksum {
        value: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// A GPU count that is not a whole number or `"all"`: `gpu count=0`
    #[error("`{value}` is not a valid GPU count")]
    #[diagnostic(code(specc::model::invalid_gpu_count))]
    InvalidGpuCount {
        value: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// A hadolint rule code that is not one: `run "x" lint-ignore="3008"`
    #[error("`{value}` is not a valid hadolint rule")]
    #[diagnostic(code(specc::check::invalid_lint_rule))]
    InvalidLintRule {
        value: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// A tag prefix or suffix that cannot be part of a tag: `variant gpu tag-prefix="gpu/"`
    #[error("`{value}` is not a valid {what}")]
    #[diagnostic(code(specc::check::invalid_tag_affix))]
    InvalidTagAffix {
        what: String,
        value: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// An IAM role that is not a role ARN: `login "aws" region="us-east-1" role="push"`
    #[error("`{value}` is not a valid IAM role ARN")]
    #[diagnostic(code(specc::check::invalid_role_arn))]
    InvalidRoleArn {
        value: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// A cron schedule without five fields: `on "schedule" cron="every night"`
    #[error("`{value}` is not a valid cron schedule")]
    #[diagnostic(code(specc::check::invalid_cron))]
    InvalidCron {
        value: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// A smoke test probe path that is not absolute: `smoke-test image=app path="health"`
    #[error("`{value}` is not a valid probe path")]
    #[diagnostic(code(specc::check::invalid_probe_path))]
    InvalidProbePath {
        value: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// A Helm values key that is not dotted identifiers: `image app key="image..repository"`
    #[error("`{value}` is not a valid values key")]
    #[diagnostic(code(specc::check::invalid_values_key))]
    InvalidValuesKey {
        value: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// Two images of one chart, or an image and specc's own values, at one values key:
    /// `image web key="image"` and `image worker key="image.sidecar"`
    #[error("values key `{value}` clashes with another")]
    #[diagnostic(code(specc::check::values_key_clash))]
    ValuesKeyClash {
        value: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// A setting that does not fit the chart's mode (an overlay for the user's chart, or
    /// a chart specc creates): `runtime` in `chart app path="deploy/chart"`
    #[error("{what} does not fit {mode}")]
    #[diagnostic(code(specc::check::chart_mode))]
    ChartMode {
        what: String,
        mode: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// A chart folder specc writes an overlay for is not a chart: no folder, no
    /// `Chart.yaml` or no `values.yaml`: `chart app path="deploy/chart"` with no such folder
    #[error("chart folder `{path}` {reason}")]
    #[diagnostic(code(specc::check::chart_missing))]
    ChartMissing {
        path: String,
        reason: String,
        #[label("the chart whose values specc wires")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A chart a workflow pushes whose `Chart.yaml` names it otherwise: `helm push` files
    /// the package under the Chart.yaml name, not the one the workflow prepares
    #[error("chart `{chart}` is named `{name}` in its Chart.yaml")]
    #[diagnostic(code(specc::check::chart_name))]
    ChartName {
        chart: String,
        name: String,
        #[label("`helm push` would file it as `{name}`")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A chart's `values.yaml` or `values.schema.json` that cannot be read as what it is:
    /// `values.yaml` holding `image: [`
    #[error("`{file}` cannot be read: {reason}")]
    #[diagnostic(code(specc::check::chart_file_invalid))]
    ChartFileInvalid {
        file: String,
        reason: String,
        #[label("the chart this file belongs to")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A mapped values key the chart's `values.yaml` does not have:
    /// `image app key="imag"` for a chart whose values have `image`
    #[error("chart `{chart}` has no values key `{key}`")]
    #[diagnostic(code(specc::check::chart_key_missing))]
    ChartKeyMissing {
        chart: String,
        key: String,
        #[label("not in {file}")]
        span: SourceSpan,
        file: String,
        #[help]
        help: String,
    },

    /// A mapped values key whose type in the chart (`values.schema.json`, or the value
    /// `values.yaml` holds) does not take what specc writes there:
    /// `image app tag="replicaCount"` where the schema says integer
    #[error("values key `{key}` does not take {writes}")]
    #[diagnostic(code(specc::check::chart_key_type))]
    ChartKeyType {
        key: String,
        writes: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// An empty value where a Dockerfile, a workflow or `.dockerignore` needs text:
    /// `workdir ""`
    #[error("{what} is empty")]
    #[diagnostic(code(specc::check::empty_value))]
    EmptyValue {
        what: String,
        #[label("empty")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// `variant=` on a service that runs an external image: `service db image="postgres:16" variant=cpu`
    #[error("an external image has no variants")]
    #[diagnostic(
        code(specc::check::external_variant),
        help("remove `variant=`, or point `image=` at an image of this spec")
    )]
    ExternalVariant {
        #[label("`{value}` is a variant of this spec's images only")]
        span: SourceSpan,
        value: String,
    },

    /// A `dockerhub-description` registry that is not Docker Hub: `dockerhub-description registry=ghcr`
    #[error("registry `{name}` is not Docker Hub")]
    #[diagnostic(
        code(specc::check::not_docker_hub),
        help("name a registry with `host=\"docker.io\"`")
    )]
    NotDockerHub {
        name: String,
        host: String,
        #[label("its host is `{host}`, not docker.io")]
        span: SourceSpan,
    },

    /// Helm values need a literal repository, but the image's registry has a namespace only
    /// CI knows: `registry hub host="docker.io" namespace-secret=NS` feeding a chart
    #[error("Helm values cannot name the repository `{value}`")]
    #[diagnostic(code(specc::check::helm_namespace))]
    HelmNamespace {
        value: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// A required dependency on a service that a compose profile can leave out while the
    /// dependent runs: `service web image=app { depends-on "gpu-worker" }` with
    /// `gpu-worker` in profile `gpu`
    #[error("`{service}` depends on `{dependency}`, which runs only with profile `{profiles}`")]
    #[diagnostic(code(specc::check::depends_on_profile))]
    DependsOnProfile {
        service: String,
        dependency: String,
        profiles: String,
        #[label("compose refuses the file when this service is left out")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A chart fed an image whose every release tag depends on the CI run:
    /// `image demo stage=runtime { tag "commit-{{sha}}" }` with `chart demo { image demo }`
    #[error("Helm values cannot name a tag of image `{image}`")]
    #[diagnostic(code(specc::check::chart_tag))]
    ChartTagUnknown {
        image: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// A path that leaves the repository: `output { bake "../bake.hcl" }`
    #[error("`{value}` is not a valid {what}")]
    #[diagnostic(code(specc::check::invalid_path))]
    InvalidPath {
        what: String,
        value: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// A variant an image is not built in: `service s image=app variant=gpu` when app has only cpu
    #[error("image `{image}` is not built in variant `{variant}`")]
    #[diagnostic(code(specc::check::variant_not_built))]
    VariantNotBuilt {
        image: String,
        variant: String,
        #[label("not one of the image's variants")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A GPU variant built for a platform other than linux/amd64: `variant gpu { platforms "linux/arm64"; gpu }`
    #[error("GPU variant `{variant}` is built for `{platform}`")]
    #[diagnostic(
        code(specc::check::gpu_platform),
        severity(Warning),
        help(
            "GPU base images (CUDA) are mostly amd64-only; drop the platform, or write `gpu allow-any-platform=#true` if it is intended"
        )
    )]
    GpuPlatform {
        variant: String,
        platform: String,
        #[label("not linux/amd64")]
        span: SourceSpan,
    },

    /// A stage no image builds: `stage scratchpad from="alpine:3.20"` used by nothing
    #[error("stage `{name}` is not used by any image")]
    #[diagnostic(
        code(specc::check::unused_stage),
        severity(Warning),
        help("remove it, or build from it: `image NAME stage={name}` or `copy from={name} ...`")
    )]
    UnusedStage {
        name: String,
        #[label("never built")]
        span: SourceSpan,
    },

    /// A line break (or NUL) in a value a Dockerfile writes on one line: `run "echo a\necho b"`
    #[error("{what} cannot hold a line break")]
    #[diagnostic(code(specc::check::line_break))]
    LineBreak {
        what: String,
        /// Where the value goes: "a Dockerfile instruction", "a .dockerignore pattern".
        place: String,
        #[label("{place} takes one line")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A `<<WORD` in a `run` command, which Docker reads as a heredoc: `run "cat <<EOF"`
    #[error("`{word}` would start a Dockerfile heredoc")]
    #[diagnostic(code(specc::check::heredoc))]
    Heredoc {
        word: String,
        #[label("Docker would read the following lines as this heredoc's body")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A `run` command Docker would read differently from what it says: `run "make \\"`
    #[error("Docker would not run this command as written")]
    #[diagnostic(code(specc::check::run_command))]
    RunCommand {
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// An `(expand)` value names a variable the stage does not declare:
    /// `workdir (expand)"/srv/$APP"` with no `arg APP` or `env APP` before it
    #[error("`{name}` is not a build argument or environment variable of stage `{stage}` here")]
    #[diagnostic(code(specc::check::undeclared_variable))]
    UndeclaredVariable {
        name: String,
        stage: String,
        #[label("Docker would expand this to an empty string")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A user label on an OCI key specc sets for the image:
    /// `label "org.opencontainers.image.title" "IOPaint"`
    #[error("specc sets label `{key}` of image `{image}` itself")]
    #[diagnostic(code(specc::check::managed_label))]
    ManagedLabel {
        key: String,
        image: String,
        #[label("specc's own value would overwrite this one")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// An `(expand)` value Docker's expansion cannot read: `user (expand)"${APP"`
    #[error("this value does not expand as written")]
    #[diagnostic(code(specc::check::invalid_expansion))]
    InvalidExpansion {
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// White space at the ends of a value the output would trim: `workdir " /app"`
    #[error("{what} has white space at its ends")]
    #[diagnostic(code(specc::check::surrounding_space))]
    SurroundingSpace {
        what: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// A character a `--mount` option cannot hold: `mount "cache" target="/a,b"`
    #[error("`{value}` cannot be a --mount option")]
    #[diagnostic(
        code(specc::check::mount_option),
        help("choose a plain path or id: letters, digits and `/._-`")
    )]
    MountOption {
        value: String,
        #[label(
            "`,`, `=`, quotes, `\\`, `$`, white space and non-ASCII characters end or break the option"
        )]
        span: SourceSpan,
    },

    /// A LABEL key with `=`, which Docker splits at: `label "a=b" "c"`
    #[error("label key `{value}` contains `=`")]
    #[diagnostic(
        code(specc::check::label_key),
        help("use a key like `com.example.team`; Docker splits a label at its first `=`")
    )]
    LabelKey {
        value: String,
        #[label("Docker would split the label here")]
        span: SourceSpan,
    },

    /// Text `docker buildx bake` would change (it normalises strings to Unicode NFC):
    /// `arg NAME "cafe\u{301}"`
    #[error("{what} is not in Unicode NFC, which docker buildx bake would change")]
    #[diagnostic(
        code(specc::check::not_nfc),
        help("write the text in its composed (NFC) form")
    )]
    NotNfc {
        what: String,
        #[label("bake normalises this string")]
        span: SourceSpan,
    },

    /// `${{` in a workflow's name or trigger, where GitHub allows no expression:
    /// `on "push" branch="${{ x }}"`
    #[error("{what} cannot contain `${{{{`")]
    #[diagnostic(
        code(specc::check::workflow_expression),
        help("remove `${{{{`; GitHub evaluates no expression in a workflow's name or triggers")
    )]
    WorkflowExpression {
        what: String,
        #[label("GitHub allows no `${{{{` here")]
        span: SourceSpan,
    },

    /// An ignore pattern `.dockerignore` would read as a comment: `ignore "# models"`
    #[error("ignore pattern `{value}` starts with `#`")]
    #[diagnostic(
        code(specc::check::ignore_comment),
        help(
            "remove the `#`, e.g. `ignore \"models/\"`; `.dockerignore` reads a line starting with `#` as a comment"
        )
    )]
    IgnoreComment {
        value: String,
        #[label("would be a comment")]
        span: SourceSpan,
    },

    /// A COPY/ADD source outside the image's build context: `copy "../x" to="/x"`,
    /// `copy "/etc/passwd" to="/x"`
    #[error("{keyword} source `{value}` is outside the build context")]
    #[diagnostic(code(specc::check::source_outside_context))]
    SourceOutsideContext {
        keyword: String,
        value: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// A COPY/ADD that would put the repository's `.git` folder (and any token a checkout
    /// left in it) into the image: `copy ".git" to="/src/.git"`
    #[error("{keyword} would copy the repository's `.git` folder into the image")]
    #[diagnostic(code(specc::check::copies_git))]
    CopiesGit {
        keyword: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// A COPY/ADD source the spec's own `ignore` patterns exclude from the build context:
    /// `ignore "*.md"` and `copy "README.md" to="/app/"`
    #[error(
        "{keyword} `{value}` is excluded from the build context by the ignore pattern `{pattern}`"
    )]
    #[diagnostic(code(specc::check::source_ignored))]
    SourceIgnored {
        keyword: String,
        value: String,
        pattern: String,
        #[label("BuildKit would fail this step: it is not sent")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A Dockerfile line longer than BuildKit reads (64 KiB): a `run` command of 70,000
    /// characters
    #[error("{what} makes a Dockerfile line of about {bytes} bytes")]
    #[diagnostic(
        code(specc::check::line_too_long),
        help(
            "BuildKit refuses Dockerfile lines of 64 KiB or more; split a `run` command into several arguments, or put long text in a file of the build context and `copy` it"
        )
    )]
    LineTooLong {
        what: String,
        bytes: usize,
        #[label("too long for one Dockerfile line")]
        span: SourceSpan,
    },

    /// An empty `variants=` list, which would drop an image or an instruction from every
    /// variant: `image app stage=runtime variants=""`
    #[error("`variants=` lists no variant")]
    #[diagnostic(code(specc::model::no_variants))]
    NoVariants {
        #[label("{consequence}")]
        span: SourceSpan,
        consequence: String,
        #[help]
        help: String,
    },

    /// A smoke test port without a host port the probe can reach: `smoke-test image=app port="127.0.0.1::80"`
    #[error("smoke test port `{value}` names no host port")]
    #[diagnostic(code(specc::check::smoke_test_port))]
    SmokeTestPort {
        value: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// Two outputs at one path, or an output at the spec's or the lock's path:
    /// `output { bake "compose.yaml" }`
    #[error("output path `{value}` is already taken")]
    #[diagnostic(code(specc::check::output_clash))]
    OutputClash {
        value: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// Two images pushing one reference: `image a repository="app"` and `image b repository="app"`
    /// with the same tag rules
    #[error("images `{first_image}` and `{second_image}` both push `{reference}`")]
    #[diagnostic(code(specc::check::shared_reference))]
    SharedReference {
        reference: String,
        first_image: String,
        second_image: String,
        #[label("`{first_image}` pushes it")]
        first: SourceSpan,
        #[label("`{second_image}` pushes it too")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A workflow runner label GitHub cannot match: `workflow ci runner=""`
    #[error("`{value}` is not a valid runner label")]
    #[diagnostic(code(specc::check::runner_label))]
    RunnerLabel {
        value: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// A `runs-on` the workflow cannot use: `runs-on "linux/s390x" "x"` when no target of
    /// the workflow builds that platform
    #[error("`runs-on \"{platform}\"` {problem}")]
    #[diagnostic(code(specc::check::runs_on))]
    RunsOn {
        platform: String,
        problem: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// A branch or tag filter GitHub's pattern grammar refuses: `on "push" branch="my branch"`
    #[error("`{value}` is not a valid {what} pattern")]
    #[diagnostic(code(specc::check::ref_pattern))]
    RefPattern {
        what: String,
        value: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// A cache or secret mount `target` or `id` that is empty or holds a control
    /// character: `cache ""`
    #[error("{what} cannot be empty or hold control characters")]
    #[diagnostic(code(specc::check::mount_value))]
    MountValue {
        what: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// A node selector key or value that is not a Kubernetes label key or value:
    /// `node-selector "gpu type" "a"`
    #[error("`{value}` is not a valid node selector {what}")]
    #[diagnostic(code(specc::check::node_selector))]
    NodeSelector {
        what: String,
        value: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// A chart resource that is not a Kubernetes quantity: `resources cpu="two"`
    #[error("`{value}` is not a Kubernetes quantity")]
    #[diagnostic(code(specc::check::invalid_quantity))]
    InvalidQuantity {
        value: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
        #[help]
        help: String,
    },

    /// A generated file that does not parse back (a bug in specc): reported, never written.
    #[error("generated `{path}` is not valid {format}: {reason}")]
    #[diagnostic(
        code(specc::render::invalid_output),
        help("this is a bug in specc; please report it with the spec that triggers it")
    )]
    InvalidOutput {
        path: String,
        format: String,
        reason: String,
    },
}

impl Error {
    /// True for problems that do not stop compilation.
    pub fn is_warning(&self) -> bool {
        self.severity() == Some(Severity::Warning)
    }
}

/// All problems one stage found in one spec, with the spec's name and text.
#[derive(Debug, Clone, Error)]
#[error("{}", summary(errors))]
pub struct Diagnostics {
    pub src: Source,
    pub errors: Vec<Error>,
    /// The line that replaces the problems past [`MAX_SHOWN`], made when first printed.
    more: std::sync::OnceLock<Option<More>>,
}

/// The spec's name and text as miette reads them, with columns counted in characters:
/// miette counts them in bytes, so `é` before a problem moved its `[file:line:column]`.
#[derive(Debug, Clone)]
pub struct Source(NamedSource<Arc<String>>);

impl Source {
    pub fn name(&self) -> &str {
        self.0.name()
    }
}

impl miette::SourceCode for Source {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let contents = self.0.read_span(span, before, after)?;
        if before > 0 {
            // The contents start at a line's start: column 0 either way.
            return Ok(contents);
        }
        let text = self.0.inner().as_str();
        let offset = span.offset().min(text.len());
        let line_start = text
            .get(..offset)
            .and_then(|t| t.rfind('\n'))
            .map_or(0, |i| i + 1);
        let column = text
            .get(line_start..offset)
            .map_or(contents.column(), |t| t.chars().count());
        Ok(Box::new(
            miette::MietteSpanContents::new_named(
                self.name().to_string(),
                contents.data(),
                *contents.span(),
                contents.line(),
                column,
                contents.line_count(),
            )
            .with_language("kdl"),
        ))
    }
}

/// At most this many problems of one report are shown (in spec order); one more
/// diagnostic, [`More`], says how many others there are. Exit codes count them all.
pub const MAX_SHOWN: usize = 100;

/// `specc::spec::more`: how many problems past [`MAX_SHOWN`] are not shown.
#[derive(Debug, Clone, Error, Diagnostic, PartialEq, Eq)]
#[error("{count} more {} not shown ({detail})", if *count == 1 { "problem is" } else { "problems are" })]
#[diagnostic(
    code(specc::spec::more),
    severity(Advice),
    help("fix the problems above and run again to see the rest")
)]
pub struct More {
    pub count: usize,
    pub detail: String,
}

fn summary(errors: &[Error]) -> String {
    let warnings = errors.iter().filter(|e| e.is_warning()).count();
    let errors = errors.len() - warnings;
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    match (errors, warnings) {
        (0, w) => format!("the spec has {}", plural(w, "warning")),
        (e, 0) => format!("the spec has {}", plural(e, "error")),
        (e, w) => format!(
            "the spec has {} and {}",
            plural(e, "error"),
            plural(w, "warning")
        ),
    }
}

impl Diagnostics {
    pub fn new(name: &str, text: Arc<String>, errors: Vec<Error>) -> Self {
        Diagnostics {
            src: Source(NamedSource::new(name, text).with_language("kdl")),
            errors,
            more: std::sync::OnceLock::new(),
        }
    }

    /// True when any problem is an error (not only warnings).
    pub fn has_errors(&self) -> bool {
        self.errors.iter().any(|e| !e.is_warning())
    }
}

impl Diagnostic for Diagnostics {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new("specc::spec"))
    }

    fn severity(&self) -> Option<Severity> {
        Some(if self.has_errors() {
            Severity::Error
        } else {
            Severity::Warning
        })
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.src)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        // One problem past the cap is shown rather than replaced by a line counting it
        // (the syntax stage's own "N more syntax errors" is such a 101st problem).
        let limit = if self.errors.len() <= MAX_SHOWN + 1 {
            MAX_SHOWN + 1
        } else {
            MAX_SHOWN
        };
        let more = self.more.get_or_init(|| {
            let rest = self.errors.get(limit..).filter(|r| !r.is_empty())?;
            Some(More {
                count: rest.len(),
                detail: summary(rest)
                    .trim_start_matches("the spec has ")
                    .to_string(),
            })
        });
        let shown = self.errors.iter().take(limit).map(|e| e as &dyn Diagnostic);
        Some(Box::new(
            shown.chain(more.iter().map(|m| m as &dyn Diagnostic)),
        ))
    }
}

/// "did you mean `x`?" for the closest candidate, else `title: `a`, `b``.
pub fn suggest<'a>(
    title: &str,
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> String {
    let candidates: Vec<&str> = candidates.into_iter().collect();
    // A near miss is looked for among a bounded number of names, and at most a few are
    // listed: a spec with thousands of names and thousands of bad references must not
    // cost (or print) names x references.
    let searched = if candidates.len() <= SUGGEST_SEARCHED {
        closest(name, candidates.iter().copied())
    } else {
        None
    };
    match searched {
        Some(c) => format!("did you mean `{c}`?"),
        None if candidates.is_empty() => format!("{title}: none"),
        None => {
            let list: Vec<String> = candidates
                .iter()
                .take(SUGGEST_LISTED)
                .map(|c| format!("`{c}`"))
                .collect();
            let more = candidates.len().saturating_sub(SUGGEST_LISTED);
            if more == 0 {
                format!("{title}: {}", list.join(", "))
            } else {
                format!("{title}: {}, and {more} more", list.join(", "))
            }
        }
    }
}

/// How many names a did-you-mean search compares at most.
const SUGGEST_SEARCHED: usize = 2_000;
/// How many names a help lists at most.
const SUGGEST_LISTED: usize = 20;

/// Orders problems as they appear in the spec (by their first label), keeping the order of
/// problems found at one place.
pub fn sort_by_position(errors: &mut [Error]) {
    // Stable, and each key computed once.
    errors.sort_by_cached_key(|e| {
        e.labels()
            .and_then(|labels| labels.map(|l| l.offset()).min())
            .unwrap_or(usize::MAX)
    });
}

/// The candidate closest to `name`, if it is close enough to be a likely typo.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let len = name.chars().count();
    let limit = (len / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        // Replacing every character is no typo: `a` is not a misspelt `b`.
        .filter(|(d, _)| *d <= limit && *d < len)
        .min()
        .map(|(_, c)| c)
}

/// The plural of a kind of declaration: `stage` -> `stages`, `registry` -> `registries`.
pub fn plural(kind: &str) -> String {
    match kind.strip_suffix('y') {
        Some(stem) if !stem.ends_with(['a', 'e', 'o', 'u']) => format!("{stem}ies"),
        _ => format!("{kind}s"),
    }
}

/// Joins a suggestion and a further hint into one help sentence.
pub fn and_also(help: String, extra: &str) -> String {
    if extra.is_empty() {
        return help;
    }
    if help.ends_with('?') {
        let mut chars = extra.chars();
        let capital: String = chars
            .next()
            .map(|c| c.to_uppercase().chain(chars).collect())
            .unwrap_or_default();
        format!("{help} {capital}")
    } else {
        format!("{help}; {extra}")
    }
}

#[cfg(test)]
mod suggest_tests {
    use super::*;

    #[test]
    fn many_names_are_neither_all_searched_nor_all_listed() {
        let names: Vec<String> = (0..3000).map(|i| format!("s{i}")).collect();
        let help = suggest("declared stages", "s1x", names.iter().map(String::as_str));
        let listed: Vec<String> = (0..20).map(|i| format!("`s{i}`")).collect();
        assert_eq!(
            help,
            format!("declared stages: {}, and 2980 more", listed.join(", "))
        );
        // Among few names, a near miss is still found.
        assert_eq!(
            suggest("declared stages", "s1x", ["s1", "build"]),
            "did you mean `s1`?"
        );
    }
}
