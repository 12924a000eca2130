//! GitHub Actions workflows: triggers, concurrency, jobs and the shell their steps run.

use crate::parse::yaml::{NodeKind, YamlNode};
use crate::source::{FileId, Span};

use super::command::{CommandList, ShellOptions};
use super::compose::{environment, span, Val};

#[derive(Debug, Clone)]
pub struct Concurrency {
    pub key: Span,
    /// `cancel-in-progress`, if set.
    pub cancel: Option<Val>,
    /// The group as written (`concurrency: deploy` or `group: deploy-${{ github.ref }}`).
    pub group: Option<String>,
}

impl Concurrency {
    /// Whether, for runs started by `event`, the group names the run itself
    /// (`${{ github.event.pull_request.number || github.run_id }}` outside pull requests):
    /// every run has a group of its own, and none cancels another.
    pub fn unique_per_run(&self, event: &str) -> bool {
        let Some(group) = &self.group else {
            return false;
        };
        let pull_request = event.starts_with("pull_request");
        group.split("${{").skip(1).any(|rest| {
            let expr = rest.split("}}").next().unwrap_or("");
            // The first alternative that has a value for this event decides.
            let decisive = expr.split("||").map(str::trim).find(|alt| {
                pull_request
                    || !(alt.starts_with("github.event.pull_request") || *alt == "github.head_ref")
            });
            decisive.is_some_and(|alt| matches!(alt, "github.run_id" | "github.run_number"))
        })
    }
}

#[derive(Debug, Clone)]
pub struct Step {
    pub span: Span,
    pub name: Option<String>,
    /// The `run:` script (or an SSH action's `script:` input), with its commands.
    pub run: Option<(Span, CommandList)>,
    pub uses: Option<Val>,
    pub continue_on_error: Option<Val>,
    pub env: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub key: Span,
    pub concurrency: Option<Concurrency>,
    pub environment: Option<Span>,
    /// Database containers under `services:` (a test database on the runner).
    pub db_services: Vec<String>,
    pub continue_on_error: Option<Val>,
    pub env: Vec<(String, String)>,
    pub steps: Vec<Step>,
    /// Jobs this one waits for (`needs:`, string or list).
    pub needs: Vec<String>,
    /// `strategy.matrix`: its entries run at the same time unless `max-parallel: 1`.
    pub matrix: Option<Span>,
    /// `runs-on` names `self-hosted`: the runner may be the production host itself, so a
    /// stack the job starts there is not known to be throwaway.
    pub self_hosted: bool,
    /// The job's own `if:` condition, as written.
    pub condition: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Workflow {
    pub file: FileId,
    /// Event names, with the span of each.
    pub triggers: Vec<(String, Span)>,
    pub on: Option<Span>,
    pub concurrency: Option<Concurrency>,
    pub env: Vec<(String, String)>,
    pub jobs: Vec<Job>,
    /// `on.push` filters tags and no branches: a push run's `github.ref` is a tag.
    pub push_tags_only: bool,
    /// `on.schedule` fires at most once a day (one minute and hour in every `cron`).
    pub schedule_daily: bool,
}

/// Triggers under which several runs of one workflow overlap on a shared target.
pub const SHARED_TRIGGERS: [&str; 6] = [
    "push",
    "release",
    "schedule",
    "workflow_run",
    "repository_dispatch",
    "merge_group",
];

impl Workflow {
    pub fn read(file: FileId, doc: &YamlNode) -> Workflow {
        // `on` may be read as a boolean key by YAML 1.1 loaders; ours keeps it a string.
        let on = doc.entry("on").or_else(|| doc.entry("true"));
        let mut triggers = Vec::new();
        if let Some(e) = on {
            match &e.value.kind {
                NodeKind::Scalar { value, .. } => {
                    triggers.push((value.clone(), span(file, e.value.loc)))
                }
                NodeKind::Seq(items) => {
                    for i in items {
                        if let Some(s) = i.as_str() {
                            triggers.push((s.to_string(), span(file, i.loc)));
                        }
                    }
                }
                NodeKind::Map(entries) => {
                    for t in entries {
                        if let Some(s) = t.key.as_str() {
                            triggers.push((s.to_string(), span(file, t.key.loc)));
                        }
                    }
                }
                NodeKind::Null => {}
            }
        }
        let mut jobs = Vec::new();
        if let Some(map) = doc.get("jobs").and_then(YamlNode::as_map) {
            for e in map {
                let Some(id) = e.key.as_str() else { continue };
                if e.value.as_map().is_none() {
                    continue;
                }
                jobs.push(job(file, id, &e.key, &e.value));
            }
        }
        let push_tags_only = on.and_then(|e| e.value.get("push")).is_some_and(|p| {
            (p.get("tags").is_some() || p.get("tags-ignore").is_some())
                && p.get("branches").is_none()
                && p.get("branches-ignore").is_none()
        });
        let schedule_daily = on
            .and_then(|e| e.value.get("schedule"))
            .is_some_and(at_most_daily);
        Workflow {
            file,
            triggers,
            push_tags_only,
            schedule_daily,
            on: on.map(|e| span(file, e.key.loc)),
            concurrency: concurrency(file, doc),
            env: environment(doc.get("env")),
            jobs,
        }
    }

    /// Whether job `j` can run when `event` starts the workflow: its `if:` (and that of each
    /// job it `needs`, unless it runs whatever they did) is not known to be false. A job for
    /// manual runs only (`if: github.event_name == 'workflow_dispatch'`, or a comparison of
    /// a dispatch input) does not run on a push.
    pub fn job_runs_on(&self, j: usize, event: &str) -> bool {
        self.job_runs_on_depth(j, event, 0)
    }

    fn job_runs_on_depth(&self, j: usize, event: &str, depth: usize) -> bool {
        let job = &self.jobs[j];
        let cond = job.condition.as_deref().unwrap_or("");
        if !cond.is_empty() && eval_in(cond, event, self.push_tags_only) == Some(false) {
            return false;
        }
        // A job runs only when the jobs it needs succeeded, unless its `if:` says otherwise.
        let regardless = ["always()", "failure()", "cancelled()"]
            .iter()
            .any(|f| cond.contains(f));
        if regardless || depth > 8 {
            return true;
        }
        job.needs.iter().all(|n| {
            self.jobs
                .iter()
                .position(|o| &o.id == n)
                .is_none_or(|o| self.job_runs_on_depth(o, event, depth + 1))
        })
    }

    pub fn has_trigger(&self, name: &str) -> bool {
        self.triggers.iter().any(|(t, _)| t == name)
    }

    /// Whether two runs can overlap: a trigger that fires per push/event, not per pull request.
    pub fn shared_trigger(&self) -> Option<&(String, Span)> {
        self.triggers
            .iter()
            .find(|(t, _)| SHARED_TRIGGERS.contains(&t.as_str()))
    }
}

/// Whether `on.schedule` fires at most once a day: every `cron` names one minute and one
/// hour, the same in all of them (`30 2 * * 1`, `0 2 1 */3 *`), so two runs are a day or
/// more apart.
fn at_most_daily(schedule: &YamlNode) -> bool {
    let Some(items) = schedule.as_seq() else {
        return false;
    };
    let mut at: Option<(u32, u32)> = None;
    for item in items {
        let Some(cron) = item.get("cron").and_then(YamlNode::as_str) else {
            return false;
        };
        let fields: Vec<&str> = cron.split_whitespace().collect();
        let (Some(minute), Some(hour)) = (
            fields.first().and_then(|m| m.parse::<u32>().ok()),
            fields.get(1).and_then(|h| h.parse::<u32>().ok()),
        ) else {
            return false;
        };
        if fields.len() != 5 || at.is_some_and(|a| a != (minute, hour)) {
            return false;
        }
        at = Some((minute, hour));
    }
    at.is_some()
}

fn concurrency(file: FileId, node: &YamlNode) -> Option<Concurrency> {
    let e = node.entry("concurrency")?;
    if e.value.is_null() {
        return None;
    }
    Some(Concurrency {
        key: span(file, e.key.loc),
        cancel: e
            .value
            .get("cancel-in-progress")
            .and_then(|c| Val::from_node(file, c)),
        group: e
            .value
            .as_str()
            .or_else(|| e.value.get("group").and_then(YamlNode::as_str))
            .map(str::to_string),
    })
}

impl Val {
    pub fn from_node(file: FileId, node: &YamlNode) -> Option<Val> {
        let text = node.as_str()?.to_string();
        Some(Val {
            text,
            span: span(file, node.loc),
            quoted: false,
            via: None,
        })
    }
}

/// A service container that is a database server whatever its image is called
/// (`myorg/app-database`): it sets the official images' initialisation variables
/// (`MYSQL_ROOT_PASSWORD`, `POSTGRES_DB`, …) or publishes the PostgreSQL or MySQL port
/// (`8100:3306`).
fn db_server_container(service: &YamlNode) -> bool {
    let env = service
        .get("env")
        .and_then(YamlNode::as_map)
        .is_some_and(|m| {
            m.iter().filter_map(|e| e.key.as_str()).any(|k| {
                ["POSTGRES_", "MYSQL_", "MARIADB_"]
                    .iter()
                    .any(|p| k.starts_with(p))
            })
        });
    let port = service
        .get("ports")
        .and_then(YamlNode::as_seq)
        .is_some_and(|ports| {
            ports.iter().any(|p| {
                let text = p.as_str().unwrap_or("");
                let container = text.rsplit(':').next().unwrap_or("");
                let container = container.split('/').next().unwrap_or("");
                matches!(container, "5432" | "3306")
            })
        });
    env || port
}

fn job(file: FileId, id: &str, key: &YamlNode, node: &YamlNode) -> Job {
    let mut db_services = Vec::new();
    if let Some(services) = node.get("services").and_then(YamlNode::as_map) {
        for s in services {
            let image = s
                .value
                .get("image")
                .and_then(YamlNode::as_str)
                .unwrap_or("")
                .to_ascii_lowercase();
            if [
                "postgres",
                "postgis",
                "mysql",
                "mariadb",
                "timescale",
                "pgvector",
            ]
            .iter()
            .any(|d| image.contains(d))
                || db_server_container(&s.value)
            {
                if let Some(n) = s.key.as_str() {
                    db_services.push(n.to_string());
                }
            }
        }
    }
    let mut steps = Vec::new();
    for s in node.get("steps").and_then(YamlNode::as_seq).unwrap_or(&[]) {
        let uses = s.get("uses").and_then(|u| Val::from_node(file, u));
        let script = s.get("run").or_else(|| {
            // Deploy over SSH: the action's `script`/`command` input is a shell script.
            let u = uses.as_ref()?.lower();
            if u.contains("ssh") || u.contains("remote") || u.contains("command") {
                let with = s.get("with")?;
                with.get("script")
                    .or_else(|| with.get("command"))
                    .or_else(|| with.get("run"))
            } else {
                None
            }
        });
        let run = script.and_then(|r| {
            let text = r.as_str()?;
            // GitHub runs `run:` with `bash -e {0}` (`-eo pipefail` when `shell: bash`).
            let mut l = CommandList::from_shell_with(
                text,
                ShellOptions {
                    errexit: true,
                    pipefail: s.get("shell").and_then(YamlNode::as_str) == Some("bash"),
                },
            );
            l.map_offsets(|o| r.source_offset(o as usize));
            Some((span(file, r.loc), l))
        });
        steps.push(Step {
            span: span(file, s.loc),
            name: s.get("name").and_then(YamlNode::as_str).map(str::to_string),
            run,
            uses,
            continue_on_error: s
                .get("continue-on-error")
                .and_then(|c| Val::from_node(file, c)),
            env: environment(s.get("env")),
        });
    }
    // `runs-on: self-hosted`, `[self-hosted, linux]`, or `{group: …, labels: …}`.
    let names_self_hosted = |n: &YamlNode| match &n.kind {
        NodeKind::Scalar { value, .. } => value.trim() == "self-hosted",
        NodeKind::Seq(items) => items.iter().any(|i| i.as_str() == Some("self-hosted")),
        _ => false,
    };
    let self_hosted = node
        .get("runs-on")
        .is_some_and(|r| names_self_hosted(r) || r.get("labels").is_some_and(names_self_hosted));
    Job {
        id: id.to_string(),
        key: span(file, key.loc),
        self_hosted,
        concurrency: concurrency(file, node),
        environment: node.entry("environment").map(|e| span(file, e.key.loc)),
        db_services,
        continue_on_error: node
            .get("continue-on-error")
            .and_then(|c| Val::from_node(file, c)),
        env: environment(node.get("env")),
        steps,
        needs: match node.get("needs").map(|n| &n.kind) {
            Some(NodeKind::Scalar { value, .. }) => vec![value.clone()],
            Some(NodeKind::Seq(items)) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        },
        condition: node
            .get("if")
            .and_then(YamlNode::as_str)
            .map(str::to_string),
        matrix: node.get("strategy").and_then(|st| {
            let serial = st.get("max-parallel").and_then(YamlNode::as_str) == Some("1");
            let m = st.entry("matrix")?;
            (!serial).then(|| span(file, m.key.loc))
        }),
    }
}

/// The value of a GitHub expression (`true`, `${{ github.event_name == 'pull_request' }}`)
/// for a run started by `event`: `None` when it depends on something else.
pub fn eval_on(expr: &str, event: &str) -> Option<bool> {
    eval_in(expr, event, false)
}

/// [`eval_on`], knowing whether a push run's `github.ref` is always a tag (the workflow's
/// `on.push` filters tags and no branches).
pub fn eval_in(expr: &str, event: &str, push_tags_only: bool) -> Option<bool> {
    let t = expr.trim();
    let inner = t
        .strip_prefix("${{")
        .and_then(|r| r.strip_suffix("}}"))
        .unwrap_or(t)
        .trim();
    let cx = Cx {
        event,
        tag_ref: push_tags_only && event == "push",
    };
    eval_or(inner, &cx)
}

/// What an expression is evaluated for: the event, and whether `github.ref` is a tag.
struct Cx<'a> {
    event: &'a str,
    tag_ref: bool,
}

fn eval_or(s: &str, event: &Cx) -> Option<bool> {
    let parts = split_top(s, "||");
    if parts.len() > 1 {
        let vals: Vec<Option<bool>> = parts.iter().map(|p| eval_and(p, event)).collect();
        if vals.contains(&Some(true)) {
            return Some(true);
        }
        return vals.iter().all(|v| *v == Some(false)).then_some(false);
    }
    eval_and(s, event)
}

fn eval_and(s: &str, event: &Cx) -> Option<bool> {
    let parts = split_top(s, "&&");
    if parts.len() > 1 {
        let vals: Vec<Option<bool>> = parts.iter().map(|p| eval_atom(p, event)).collect();
        if vals.contains(&Some(false)) {
            return Some(false);
        }
        return vals.iter().all(|v| *v == Some(true)).then_some(true);
    }
    eval_atom(s, event)
}

fn split_top<'a>(s: &'a str, op: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut quote = false;
    let mut last = 0;
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\'' => quote = !quote,
            b'(' if !quote => depth += 1,
            b')' if !quote => depth -= 1,
            _ if !quote && depth == 0 && s[i..].starts_with(op) => {
                out.push(&s[last..i]);
                i += op.len();
                last = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&s[last..]);
    out
}

fn eval_atom(s: &str, event: &Cx) -> Option<bool> {
    let s = s.trim();
    if let Some(inner) = s.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        return eval_or(inner, event);
    }
    if let Some(rest) = s.strip_prefix('!') {
        if !rest.starts_with('=') {
            return eval_atom(rest, event).map(|v| !v);
        }
    }
    match s {
        "true" => return Some(true),
        "false" => return Some(false),
        _ => {}
    }
    let unquote = |x: &str| {
        let x = x.trim();
        x.strip_prefix('\'')
            .and_then(|r| r.strip_suffix('\''))
            .map(str::to_string)
    };
    for (op, eq) in [("==", true), ("!=", false)] {
        if let Some((l, r)) = s.split_once(op) {
            let (l, r) = (l.trim(), r.trim());
            let (name, lit) = if unquote(r).is_some() || matches!(r, "true" | "false") {
                (l, r)
            } else {
                (r, l)
            };
            if name == "github.event_name" {
                return Some((unquote(lit)? == event.event) == eq);
            }
            // A dispatch input is empty on other events: equal to no non-empty literal.
            if is_input(name) && !dispatched(event.event) {
                let empty = unquote(lit).is_some_and(|v| v.is_empty()) || lit == "false";
                return Some(empty == eq);
            }
            // On a tag push, `github.ref` is `refs/tags/…`.
            if name == "github.ref" && event.tag_ref {
                let v = unquote(lit)?;
                if v.starts_with("refs/tags/") {
                    return None;
                }
                return Some(!eq);
            }
            return None;
        }
    }
    if is_input(s) && !dispatched(event.event) {
        return Some(false);
    }
    if event.tag_ref {
        let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.starts_with("startsWith(github.ref,'refs/heads/") {
            return Some(false);
        }
        if compact.starts_with("startsWith(github.ref,'refs/tags/") {
            return Some(true);
        }
    }
    let event = event.event;
    // Pull-request-only values are empty on other events.
    if event != "pull_request"
        && (s.starts_with("github.head_ref")
            || s.starts_with("github.event.pull_request")
            || s == "github.event.number")
    {
        return Some(false);
    }
    None
}

/// `inputs.env`, `github.event.inputs.env`: a value only a dispatch (or a caller) gives.
fn is_input(name: &str) -> bool {
    let rest = name
        .strip_prefix("github.event.inputs.")
        .or_else(|| name.strip_prefix("inputs."));
    rest.is_some_and(|r| {
        !r.is_empty()
            && r.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    })
}

/// Events whose runs carry inputs.
fn dispatched(event: &str) -> bool {
    matches!(event, "workflow_dispatch" | "workflow_call")
}

#[cfg(test)]
mod tests {
    use super::{eval_in, eval_on, Workflow};
    use crate::source::FileId;

    #[test]
    fn dispatch_inputs_and_tag_refs() {
        let push = |e: &str| eval_in(e, "push", false);
        assert_eq!(
            push("${{ github.event.inputs.environment == 'staging' }}"),
            Some(false)
        );
        assert_eq!(push("${{ inputs.env != 'prod' }}"), Some(true));
        assert_eq!(push("inputs.deploy_latest == true"), Some(false));
        assert_eq!(push("${{ inputs.deploy_latest }}"), Some(false));
        assert_eq!(
            eval_in(
                "github.event.inputs.environment == 'staging'",
                "workflow_dispatch",
                false
            ),
            None
        );
        assert_eq!(
            push("github.event_name == 'workflow_dispatch' && inputs.deploy_latest == true"),
            Some(false)
        );
        // A branch ref on a tag-only push is false; a tag ref is not known.
        let tag = |e: &str| eval_in(e, "push", true);
        assert_eq!(
            tag("github.event.inputs.environment == 'dev' || github.ref == 'refs/heads/main'"),
            Some(false)
        );
        assert_eq!(tag("github.ref == 'refs/tags/v1'"), None);
        assert_eq!(tag("startsWith(github.ref, 'refs/tags/v')"), Some(true));
        assert_eq!(push("github.ref == 'refs/heads/main'"), None);
    }

    #[test]
    fn schedules_that_fire_at_most_once_a_day() {
        let daily = |crons: &[&str]| {
            let list: String = crons
                .iter()
                .map(|c| format!("    - cron: \"{c}\"\n"))
                .collect();
            let src = format!("on:\n  schedule:\n{list}jobs: {{}}\n");
            let doc = &crate::parse::yaml::load(&src).documents[0];
            Workflow::read(FileId(0), doc).schedule_daily
        };
        assert!(daily(&["0 2 1 */3 *"]));
        assert!(daily(&["30 3 * * 1-5", "30 3 1 * *"]));
        assert!(!daily(&["30 3 * * 1-5", "30 5 * * 1-5"]));
        assert!(!daily(&["0 */6 * * *"]));
        assert!(!daily(&["0 2,14 * * *"]));
        assert!(!daily(&["*/15 * * * *"]));
        assert!(!daily(&["0 2 * *"]));
        assert!(!daily(&[]));
    }

    #[test]
    fn jobs_needs_matrix_and_ssh_scripts() {
        let src = "on: [push, workflow_dispatch]\njobs:\n  deploy:\n    needs: [build, test]\n    strategy:\n      matrix:\n        env: [a, b]\n    steps:\n      - uses: appleboy/ssh-action@v1\n        with:\n          script: |\n            cd /srv\n            alembic upgrade head\n  serial:\n    needs: deploy\n    strategy:\n      max-parallel: 1\n      matrix:\n        env: [a, b]\n    steps: []\n";
        let doc = &crate::parse::yaml::load(src).documents[0];
        let wf = Workflow::read(FileId(0), doc);
        assert_eq!(wf.triggers.len(), 2);
        let deploy = &wf.jobs[0];
        assert_eq!(deploy.needs, vec!["build", "test"]);
        assert!(deploy.matrix.is_some());
        let (_, list) = deploy.steps[0]
            .run
            .as_ref()
            .expect("the SSH action's script");
        let m = list.migrates().expect("a migration");
        assert_eq!(
            &src[m.start as usize..m.end as usize],
            "alembic upgrade head"
        );
        assert_eq!(wf.jobs[1].needs, vec!["deploy"]);
        assert!(
            wf.jobs[1].matrix.is_none(),
            "max-parallel: 1 runs one at a time"
        );
    }

    #[test]
    fn expressions_on_push() {
        assert_eq!(eval_on("true", "push"), Some(true));
        assert_eq!(
            eval_on("${{ github.event_name == 'pull_request' }}", "push"),
            Some(false)
        );
        assert_eq!(
            eval_on("${{ github.event_name != 'pull_request' }}", "push"),
            Some(true)
        );
        assert_eq!(
            eval_on("${{ github.event_name == 'pull_request' }}", "pull_request"),
            Some(true)
        );
        assert_eq!(
            eval_on("${{ !contains(github.ref, 'main') }}", "push"),
            None
        );
        assert_eq!(
            eval_on(
                "${{ github.event_name == 'pull_request' || github.event_name == 'push' }}",
                "push"
            ),
            Some(true)
        );
        assert_eq!(eval_on("${{ github.head_ref != '' }}", "push"), None);
        assert_eq!(eval_on("${{ github.head_ref }}", "push"), Some(false));
    }
}
