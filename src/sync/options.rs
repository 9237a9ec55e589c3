//! Command-line plan options (`--set-version`, `--event`, `--branch`, `--pr`, `--sha`,
//! `--date`) checked against each other and the spec, so that `specc plan` never shows
//! references no registry accepts; the time of the run read from `SPECC_DATE` or the
//! clock when not given.

use miette::Diagnostic;

use crate::plan::{self, Event, Plan, PlanOptions};
use crate::sync::source::Loaded;
use crate::value::date::UtcTime;

/// A plan option the spec cannot use (exit 2).
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum OptionError {
    #[error("{message}")]
    #[diagnostic(code(specc::usage::arguments), help("{help}"))]
    Arguments { message: String, help: String },
    #[error("`{value}` is not a valid version for `--set-version`")]
    #[diagnostic(
        code(specc::usage::version),
        help("tags need a version made of tag characters, e.g. `--set-version 1.2.3`")
    )]
    Version { value: String },
    #[error("`{value}` has no MAJOR.MINOR.PATCH parts, which the tag rule `{rule}` needs")]
    #[diagnostic(
        code(specc::usage::version),
        help("give a semantic version, e.g. `--set-version 1.4.0` (a leading `v` is fine)")
    )]
    VersionParts { value: String, rule: String },
    #[error("`SPECC_DATE={value}` is not a time specc can use: {reason}")]
    #[diagnostic(
        code(specc::usage::date),
        help(
            "set it as the workflow does, `date -u +%Y-%m-%dT%H:%M:%SZ` (e.g. `2024-01-02T03:04:05Z`), or unset it for now"
        )
    )]
    Date { value: String, reason: String },
}

/// `--event`, `--branch` and `--pr` fit together: a branch only where the run has one,
/// a pull request number exactly for a pull request.
pub fn check_event(options: &PlanOptions) -> Result<(), OptionError> {
    let event = options.event();
    let problem = if options.branch.is_some() && !event.has_branch() {
        Some((
            format!(
                "`--branch` names the branch of a branch push or scheduled run, not of {}",
                event.described()
            ),
            "leave `--branch` out, or plan `--event branch` or `--event schedule`".to_string(),
        ))
    } else if options.pr.is_some() && event != Event::Pr {
        Some((
            format!(
                "`--pr` is the number of a pull request, not of {}",
                event.described()
            ),
            "leave `--pr` out, or plan `--event pr`".to_string(),
        ))
    } else if event == Event::Pr && options.pr.is_none() {
        Some((
            "`--event pr` needs the pull request's number".to_string(),
            "add `--pr N`, e.g. `--pr 42`".to_string(),
        ))
    } else {
        None
    };
    match problem {
        Some((message, help)) => Err(OptionError::Arguments { message, help }),
        None => Ok(()),
    }
}

/// `--set-version VALUE` checked before the spec is read: it must be tag characters.
pub fn check_version(version: Option<&str>) -> Result<(), OptionError> {
    match version {
        Some(v) if crate::value::check_tag(v).is_err() => Err(OptionError::Version {
            value: v.to_string(),
        }),
        _ => Ok(()),
    }
}

/// The plan of `s` under `options` and the run-time variables of the process
/// environment (`VERSION`, the namespace variables, ...: the rule bake and CI follow,
/// see `plan::runtime`), or why they do not fit the spec.
pub fn plan(s: &Loaded, options: &PlanOptions) -> Result<Plan, OptionError> {
    let options = &resolve(s, options)?;
    let p = plan::plan(&s.checked, options);
    match bad_given_tag(&p, options) {
        Some(e) => Err(e),
        None => Ok(p),
    }
}

/// `options` with the run-time variables of the process environment that `s` reads,
/// checked: what [`plan`] plans with, and what `plan --changed` hashes inputs under.
pub fn resolve(s: &Loaded, options: &PlanOptions) -> Result<PlanOptions, OptionError> {
    let names = plan::runtime::names(&s.checked.spec);
    let mut options = PlanOptions {
        env: plan::RunEnv::from_process(names.iter().map(String::as_str)),
        ..options.clone()
    };
    if options.date.is_none() {
        let from_env = plan::runtime::date(&options.env).map_err(|reason| OptionError::Date {
            value: options
                .env
                .get(plan::runtime::DATE_VARIABLE)
                .unwrap_or_default()
                .to_string(),
            reason,
        })?;
        options.date = Some(from_env.unwrap_or_else(now));
    }
    let version = options.version.clone().or_else(|| {
        options
            .env
            .non_empty(plan::runtime::VERSION_VARIABLE)
            .map(str::to_string)
    });
    check_version(version.as_deref())?;
    if let Some(v) = &version
        && let Some(rule) = version_part_rule(&s.checked.spec, v)
    {
        return Err(OptionError::VersionParts {
            value: v.clone(),
            rule,
        });
    }
    Ok(options)
}

/// The current time, to the second.
fn now() -> UtcTime {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    UtcTime::from_unix(secs)
}

/// The first tag rule that needs version parts when `version` has none (the generated
/// workflow refuses such a version the same way).
fn version_part_rule(spec: &crate::spec::Spec, version: &str) -> Option<String> {
    if crate::value::parse_version(version).is_some() {
        return None;
    }
    plan::tags::rule_needing_version_parts(spec.images.iter().flat_map(|i| &i.tags))
}

/// A tag that `--branch` or `--sha` turned invalid (empty, too long, a bad first
/// character): the plan would show references no registry accepts.
fn bad_given_tag(p: &plan::Plan, options: &PlanOptions) -> Option<OptionError> {
    let given: Vec<(&str, &String)> = [("--branch", &options.branch), ("--sha", &options.sha)]
        .into_iter()
        .filter_map(|(o, v)| v.as_ref().map(|v| (o, v)))
        .collect();
    if let Some((option, _)) = given.iter().find(|(_, v)| v.trim().is_empty()) {
        return Some(OptionError::Arguments {
            message: format!("`{option}` is empty"),
            help: format!(
                "give {option} a value, e.g. `{}`, or leave the option out",
                if *option == "--sha" {
                    "--sha 0a1b2c3d"
                } else {
                    "--branch main"
                }
            ),
        });
    }
    for tag in p.targets.iter().flat_map(|t| &t.tags) {
        // `<sha>` and `<branch>` stand for values not given.
        if tag.contains('<') {
            continue;
        }
        if let Err(reason) = crate::value::check_tag(tag) {
            let options = given
                .iter()
                .map(|(o, v)| format!("`{o} {v}`"))
                .collect::<Vec<_>>()
                .join(" and ");
            return Some(OptionError::Arguments {
                message: format!(
                    "{options} {} the invalid tag `{tag}`: {reason}",
                    if given.len() > 1 { "give" } else { "gives" }
                ),
                help: "a branch or commit must leave a tag of 1 to 128 characters from `A-Za-z0-9_.-`, starting with a letter, digit or `_`; pass the real branch name and commit, e.g. `--branch main --sha 0a1b2c3d`".into(),
            });
        }
    }
    None
}
