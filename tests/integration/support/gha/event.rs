//! The event a simulated run is for: what GitHub puts in the `github` context, in the
//! `GITHUB_*` variables and in the event payload, and whether the workflow's `on:`
//! (event types and branch, tag and path filters) starts a run for it.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};
use serde_yaml_ng::Value as Yaml;

/// The default commit of a simulated event.
pub const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// A pull request: its number, head and base branches, and whether it comes from a fork
/// (which gets no secrets but `GITHUB_TOKEN`).
#[derive(Debug, Clone)]
pub struct PullRequest {
    pub number: u64,
    pub head: String,
    pub base: String,
    pub fork: bool,
}

/// One event that may start a workflow run.
#[derive(Debug, Clone)]
pub struct Event {
    /// `push`, `pull_request`, `release`, `workflow_dispatch` or `schedule`.
    pub name: String,
    /// The activity type (`published` for a release, `opened` for a pull request).
    pub action: Option<String>,
    /// The full ref: `refs/heads/main`, `refs/tags/v1.2.3`, `refs/pull/7/merge`.
    pub git_ref: String,
    pub sha: String,
    pub default_branch: String,
    /// `owner/name`, in the owner's spelling (`Octo-Org/app`).
    pub repository: String,
    pub actor: String,
    pub private: bool,
    /// A dispatch's inputs as given (the workflow's defaults fill in the rest).
    pub inputs: BTreeMap<String, Json>,
    pub release_tag: Option<String>,
    pub release_prerelease: bool,
    pub pull_request: Option<PullRequest>,
    /// The files the event changed, for `paths` filters (`None`: not known, and a
    /// workflow with `paths` filters is an error).
    pub changed_files: Option<Vec<String>>,
}

impl Event {
    fn new(name: &str, git_ref: String) -> Event {
        Event {
            name: name.into(),
            action: None,
            git_ref,
            sha: SHA.into(),
            default_branch: "main".into(),
            repository: "Octo-Org/app".into(),
            actor: "octocat".into(),
            private: false,
            inputs: BTreeMap::new(),
            release_tag: None,
            release_prerelease: false,
            pull_request: None,
            changed_files: None,
        }
    }

    /// `git push origin <tag>`.
    pub fn tag_push(tag: &str) -> Event {
        Event::new("push", format!("refs/tags/{tag}"))
    }

    /// A push to `branch`.
    pub fn branch_push(branch: &str) -> Event {
        Event::new("push", format!("refs/heads/{branch}"))
    }

    /// A release published for `tag`.
    pub fn release(tag: &str) -> Event {
        let mut e = Event::new("release", format!("refs/tags/{tag}"));
        e.action = Some("published".into());
        e.release_tag = Some(tag.into());
        e
    }

    /// Pull request `number` from `head` into `base` (same repository).
    pub fn pull_request(number: u64, head: &str, base: &str) -> Event {
        let mut e = Event::new("pull_request", format!("refs/pull/{number}/merge"));
        e.action = Some("opened".into());
        e.pull_request = Some(PullRequest {
            number,
            head: head.into(),
            base: base.into(),
            fork: false,
        });
        e
    }

    /// A manual run on `branch` with `inputs`.
    pub fn dispatch(branch: &str, inputs: &[(&str, &str)]) -> Event {
        let mut e = Event::new("workflow_dispatch", format!("refs/heads/{branch}"));
        e.inputs = inputs
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        e
    }

    /// A scheduled run (on the default branch).
    pub fn schedule() -> Event {
        Event::new("schedule", "refs/heads/main".into())
    }

    pub fn with_sha(mut self, sha: &str) -> Event {
        self.sha = sha.into();
        self
    }

    pub fn with_repository(mut self, repository: &str) -> Event {
        self.repository = repository.into();
        self
    }

    pub fn with_changed_files(mut self, files: &[&str]) -> Event {
        self.changed_files = Some(files.iter().map(|f| f.to_string()).collect());
        self
    }

    pub fn ref_type(&self) -> &'static str {
        if self.git_ref.starts_with("refs/tags/") {
            "tag"
        } else {
            "branch"
        }
    }

    /// `main`, `v1.2.3`, `7/merge`.
    pub fn ref_name(&self) -> &str {
        ["refs/heads/", "refs/tags/", "refs/pull/"]
            .iter()
            .find_map(|p| self.git_ref.strip_prefix(p))
            .unwrap_or(&self.git_ref)
    }

    pub fn owner(&self) -> &str {
        self.repository.split('/').next().unwrap_or_default()
    }

    /// A short description for messages: `push refs/tags/v1.2.3`.
    pub fn label(&self) -> String {
        format!("{} {}", self.name, self.git_ref)
    }

    fn repository_json(&self) -> Json {
        let name = self.repository.split('/').nth(1).unwrap_or_default();
        json!({
            "full_name": self.repository,
            "name": name,
            "owner": {"login": self.owner()},
            "default_branch": self.default_branch,
            "private": self.private,
            "html_url": format!("https://github.com/{}", self.repository),
        })
    }

    /// The webhook payload (`github.event`), with the fields workflows read.
    pub fn payload(&self) -> Json {
        let mut p = json!({
            "repository": self.repository_json(),
            "sender": {"login": self.actor},
        });
        match self.name.as_str() {
            "push" => {
                p["ref"] = json!(self.git_ref);
                p["after"] = json!(self.sha);
                p["head_commit"] = json!({"id": self.sha});
            }
            "release" => {
                p["action"] = json!(self.action);
                p["release"] = json!({
                    "tag_name": self.release_tag,
                    "name": self.release_tag,
                    "prerelease": self.release_prerelease,
                    "draft": false,
                });
            }
            "workflow_dispatch" => {
                p["ref"] = json!(self.git_ref);
                let inputs: serde_json::Map<String, Json> = self
                    .inputs
                    .iter()
                    .map(|(k, v)| (k.clone(), json!(super::expr::to_string(v))))
                    .collect();
                p["inputs"] = Json::Object(inputs);
            }
            "pull_request" => p = self.pull_request_payload(p),
            _ => {}
        }
        p
    }

    fn pull_request_payload(&self, mut p: Json) -> Json {
        let pr = self
            .pull_request
            .as_ref()
            .expect("a pull_request event has one");
        let head_repo = if pr.fork {
            format!(
                "fork-owner/{}",
                self.repository.split('/').nth(1).unwrap_or_default()
            )
        } else {
            self.repository.clone()
        };
        p["action"] = json!(self.action);
        p["number"] = json!(pr.number);
        p["pull_request"] = json!({
            "number": pr.number,
            "head": {"ref": pr.head, "sha": self.sha, "repo": {"full_name": head_repo}},
            "base": {"ref": pr.base, "repo": {"full_name": self.repository}},
        });
        p
    }

    /// The `github` context for job `job` of workflow `workflow`.
    pub fn github_context(
        &self,
        workflow: &str,
        job: &str,
        workspace: &str,
        event_path: &str,
    ) -> Json {
        let pr = self.pull_request.as_ref();
        json!({
            "event_name": self.name,
            "event": self.payload(),
            "event_path": event_path,
            "ref": self.git_ref,
            "ref_name": self.ref_name(),
            "ref_type": self.ref_type(),
            "ref_protected": false,
            "sha": self.sha,
            "repository": self.repository,
            "repository_owner": self.owner(),
            "repositoryUrl": format!("git://github.com/{}.git", self.repository),
            "actor": self.actor,
            "triggering_actor": self.actor,
            "workflow": workflow,
            "job": job,
            "run_id": RUN_ID,
            "run_number": "1",
            "run_attempt": "1",
            "server_url": "https://github.com",
            "api_url": "https://api.github.com",
            "graphql_url": "https://api.github.com/graphql",
            "workspace": workspace,
            "head_ref": pr.map_or("", |p| p.head.as_str()),
            "base_ref": pr.map_or("", |p| p.base.as_str()),
            "token": TOKEN,
            "retention_days": "90",
        })
    }

    /// The `GITHUB_*` variables of the `github` context `ctx`.
    pub fn github_env(ctx: &Json) -> BTreeMap<String, String> {
        let s = |k: &str| super::expr::to_string(&ctx[k]);
        [
            ("GITHUB_ACTIONS", "true".to_string()),
            ("CI", "true".to_string()),
            ("GITHUB_EVENT_NAME", s("event_name")),
            ("GITHUB_EVENT_PATH", s("event_path")),
            ("GITHUB_REF", s("ref")),
            ("GITHUB_REF_NAME", s("ref_name")),
            ("GITHUB_REF_TYPE", s("ref_type")),
            ("GITHUB_REF_PROTECTED", "false".into()),
            ("GITHUB_SHA", s("sha")),
            ("GITHUB_REPOSITORY", s("repository")),
            ("GITHUB_REPOSITORY_OWNER", s("repository_owner")),
            ("GITHUB_ACTOR", s("actor")),
            ("GITHUB_TRIGGERING_ACTOR", s("actor")),
            ("GITHUB_WORKFLOW", s("workflow")),
            ("GITHUB_JOB", s("job")),
            ("GITHUB_RUN_ID", s("run_id")),
            ("GITHUB_RUN_NUMBER", s("run_number")),
            ("GITHUB_RUN_ATTEMPT", s("run_attempt")),
            ("GITHUB_SERVER_URL", s("server_url")),
            ("GITHUB_API_URL", s("api_url")),
            ("GITHUB_GRAPHQL_URL", s("graphql_url")),
            ("GITHUB_WORKSPACE", s("workspace")),
            ("GITHUB_HEAD_REF", s("head_ref")),
            ("GITHUB_BASE_REF", s("base_ref")),
            ("GITHUB_RETENTION_DAYS", s("retention_days")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// The run's id and the token GitHub hands every job.
pub const RUN_ID: &str = "4242";
pub const TOKEN: &str = "ghs_simulated_github_token";

// ---------------------------------------------------------------------------------------
// Does `on:` start a run for the event?
// ---------------------------------------------------------------------------------------

/// Whether the workflow's `on:` starts a run for `event`; an error for a filter this
/// simulation cannot decide (`paths` without the event's changed files).
pub fn triggers(on: &Yaml, event: &Event) -> Result<bool, String> {
    let config = match on {
        Yaml::String(s) => return Ok(*s == event.name),
        Yaml::Sequence(list) => {
            return Ok(list.iter().any(|e| e.as_str() == Some(event.name.as_str())));
        }
        Yaml::Mapping(map) => match map.get(event.name.as_str()) {
            None => return Ok(false),
            Some(config) => config,
        },
        other => return Err(format!("`on:` is not a string, list or mapping: {other:?}")),
    };
    if !types_match(config, event) {
        return Ok(false);
    }
    match event.name.as_str() {
        "push" => push_filters(config, event),
        "pull_request" | "pull_request_target" => {
            let base = event.pull_request.as_ref().map_or("", |p| p.base.as_str());
            Ok(ref_filter(config, "branches", base)? && path_filter(config, event)?)
        }
        "schedule" => Ok(event.git_ref == format!("refs/heads/{}", event.default_branch)),
        _ => Ok(true),
    }
}

fn strings(v: Option<&Yaml>) -> Option<Vec<String>> {
    v.map(|v| match v {
        Yaml::Sequence(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(String::from))
            .collect(),
        Yaml::String(s) => vec![s.clone()],
        _ => Vec::new(),
    })
}

/// `types:` of the event (GitHub's defaults when absent).
fn types_match(config: &Yaml, event: &Event) -> bool {
    let Some(action) = &event.action else {
        return true;
    };
    match strings(config.get("types")) {
        Some(types) => types.contains(action),
        None if event.name == "pull_request" => {
            ["opened", "synchronize", "reopened"].contains(&action.as_str())
        }
        None => true,
    }
}

/// A push: tag pushes against `tags`/`tags-ignore`, branch pushes against
/// `branches`/`branches-ignore` and paths; naming only one kind leaves out the other.
fn push_filters(config: &Yaml, event: &Event) -> Result<bool, String> {
    let has = |k: &str| config.get(k).is_some();
    let (refs, other) = if event.ref_type() == "tag" {
        ("tags", ["branches", "branches-ignore"])
    } else {
        ("branches", ["tags", "tags-ignore"])
    };
    let names_this = has(refs) || has(&format!("{refs}-ignore"));
    if !names_this && other.iter().any(|k| has(k)) {
        return Ok(false);
    }
    if !ref_filter(config, refs, event.ref_name())? {
        return Ok(false);
    }
    // GitHub does not evaluate path filters for tag pushes.
    if event.ref_type() == "tag" {
        return Ok(true);
    }
    path_filter(config, event)
}

/// `key` (a list with `!` negations, last match wins) and `key-ignore` against `name`.
fn ref_filter(config: &Yaml, key: &str, name: &str) -> Result<bool, String> {
    if let Some(patterns) = strings(config.get(key)) {
        return matches_list(&patterns, name);
    }
    if let Some(patterns) = strings(config.get(format!("{key}-ignore").as_str())) {
        return Ok(!matches_list(&patterns, name)?);
    }
    Ok(true)
}

fn matches_list(patterns: &[String], name: &str) -> Result<bool, String> {
    let mut matched = false;
    for p in patterns {
        if let Some(negated) = p.strip_prefix('!') {
            if filter_pattern(negated)?.is_match(name) {
                matched = false;
            }
        } else if filter_pattern(p)?.is_match(name) {
            matched = true;
        }
    }
    Ok(matched)
}

fn path_filter(config: &Yaml, event: &Event) -> Result<bool, String> {
    let paths = strings(config.get("paths"));
    let ignore = strings(config.get("paths-ignore"));
    if paths.is_none() && ignore.is_none() {
        return Ok(true);
    }
    let files = event
        .changed_files
        .as_ref()
        .ok_or("the workflow filters by paths: give the event its changed files")?;
    if let Some(paths) = paths {
        for f in files {
            if matches_list(&paths, f)? {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    let ignore = ignore.unwrap_or_default();
    for f in files {
        if !matches_list(&ignore, f)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// GitHub's filter pattern syntax as a regex: `*` within a path segment, `**` across, `?`
/// and `+` quantify the character before, `[...]` a class.
pub fn filter_pattern(pattern: &str) -> Result<regex::Regex, String> {
    let mut re = String::from("^");
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                re.push_str(".*");
            }
            '*' => re.push_str("[^/]*"),
            '?' | '+' => re.push(c),
            '[' => {
                re.push('[');
                for d in chars.by_ref() {
                    re.push(d);
                    if d == ']' {
                        break;
                    }
                }
            }
            '\\' => re.push_str(&regex::escape(
                &chars.next().map(String::from).unwrap_or_default(),
            )),
            other => re.push_str(&regex::escape(&other.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).map_err(|e| format!("filter pattern `{pattern}`: {e}"))
}
