//! Compose and stack files: services with what they run and how swarm rolls them out.
//! Values inherited through anchors and `<<` merge keys are read in the merged result and
//! keep where they came from.

use std::path::{Path, PathBuf};

use crate::parse::yaml::{Loc, NodeKind, ScalarStyle, YamlNode};
use crate::source::{FileId, Span};

use super::command::{CommandKind, CommandList};

/// A scalar setting, where it is written, and the anchor it was inherited from.
#[derive(Debug, Clone)]
pub struct Val {
    pub text: String,
    pub span: Span,
    /// Quoted in the file (`restart: "no"`).
    pub quoted: bool,
    /// Inherited: (the anchor's span, the alias or merge key's span).
    pub via: Option<(Span, Span)>,
}

impl Val {
    fn from(file: FileId, node: &YamlNode, inherited: Option<(Span, Span)>) -> Option<Val> {
        let text = match &node.kind {
            NodeKind::Scalar { value, .. } => value.clone(),
            NodeKind::Null => String::new(),
            _ => return None,
        };
        let via = node
            .via
            .first()
            .map(|v| (span(file, v.anchor), span(file, v.alias)))
            .or(inherited);
        Some(Val {
            text,
            span: span(file, node.loc),
            quoted: matches!(
                node.style(),
                Some(ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted)
            ),
            via,
        })
    }

    pub fn lower(&self) -> String {
        self.text.trim().to_ascii_lowercase()
    }

    /// An integer value, if it is one (not `${REPLICAS}`).
    pub fn int(&self) -> Option<i64> {
        self.text.trim().parse().ok()
    }
}

pub fn span(file: FileId, loc: Loc) -> Span {
    Span::new(file, loc.start as usize, loc.end as usize)
}

/// A `deploy.update_config` or `deploy.rollback_config` block.
#[derive(Debug, Clone)]
pub struct UpdateConfig {
    pub key: Span,
    pub parallelism: Option<Val>,
    pub order: Option<Val>,
}

#[derive(Debug, Clone)]
pub struct DependsOn {
    pub service: String,
    pub span: Span,
    /// Long form's `condition`; `None` in the short form.
    pub condition: Option<Val>,
}

#[derive(Debug, Clone)]
pub struct Volume {
    pub source: String,
    pub target: String,
    pub span: Span,
}

/// What a service runs: the text as written and its commands.
#[derive(Debug, Clone)]
pub struct Cmd {
    pub span: Span,
    pub list: CommandList,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub key: Span,
    pub image: Option<Val>,
    /// `build:` context and Dockerfile, relative to the compose file's folder.
    pub build: Option<(String, Option<String>)>,
    /// `build.target`: the Dockerfile stage the service's image is.
    pub build_target: Option<String>,
    pub command: Option<Cmd>,
    pub entrypoint: Option<Cmd>,
    /// The `deploy:` key.
    pub deploy: Option<Span>,
    pub mode: Option<Val>,
    pub replicas: Option<Val>,
    pub update_config: Option<UpdateConfig>,
    pub rollback_config: Option<UpdateConfig>,
    /// `deploy.restart_policy` key and its `condition`.
    pub restart_policy: Option<(Span, Option<Val>)>,
    pub restart: Option<Val>,
    pub depends_on: Vec<DependsOn>,
    pub depends_on_key: Option<Span>,
    pub volumes: Vec<Volume>,
    pub environment: Vec<(String, String)>,
    /// Uses `deploy.placement` (swarm only).
    pub placement: Option<Span>,
    /// The `ports:` (or else `expose:`) key, when it lists any port: the service serves.
    pub ports: Option<Span>,
    /// `profiles:`: the service starts only when one of them is asked for.
    pub profiles: Vec<String>,
    /// `env_file:` paths, as written.
    pub env_files: Vec<String>,
}

impl Service {
    pub fn env(&self, name: &str) -> Option<&str> {
        self.environment
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The folder `build:` builds from (its context), given the compose file's folder.
    pub fn build_context(&self, compose_dir: &Path) -> Option<PathBuf> {
        let (ctx, _) = self.build.as_ref()?;
        Some(crate::discover::normalize(&compose_dir.join(ctx)))
    }

    /// The Dockerfile `build:` builds (`Dockerfile` in the context unless it names another).
    pub fn dockerfile_path(&self, compose_dir: &Path) -> Option<PathBuf> {
        let (_, name) = self.build.as_ref()?;
        let df = self
            .build_context(compose_dir)?
            .join(name.as_deref().unwrap_or("Dockerfile"));
        Some(crate::discover::normalize(&df))
    }

    /// A service for tests or development only: every one of its `profiles` is named so
    /// (`test`, `dev`, `ci`, `e2e`, `local`), or its name says so (`db-test`, `test_db`).
    pub fn test_or_dev_only(&self) -> bool {
        const WORDS: [&str; 8] = [
            "test",
            "tests",
            "testing",
            "dev",
            "development",
            "ci",
            "e2e",
            "local",
        ];
        let marked = |text: &str| {
            text.to_ascii_lowercase()
                .split(['-', '_', '.'])
                .any(|w| WORDS.contains(&w))
        };
        let name_says = self
            .name
            .to_ascii_lowercase()
            .split(['-', '_', '.'])
            .any(|w| matches!(w, "test" | "tests" | "testing"));
        name_says || (!self.profiles.is_empty() && self.profiles.iter().all(|p| marked(p)))
    }

    /// The image's name without registry and tag: `postgis/postgis:15-3.4` → `postgis/postgis`.
    pub fn image_name(&self) -> Option<String> {
        let i = self.image.as_ref()?.text.to_ascii_lowercase();
        let no_tag = match i.rfind(':') {
            Some(c) if !i[c..].contains('/') => &i[..c],
            _ => &i[..],
        };
        let no_digest = no_tag.split('@').next().unwrap_or(no_tag);
        let no_registry = match no_digest.split_once('/') {
            Some((first, rest)) if first.contains('.') || first.contains(':') => rest,
            _ => no_digest,
        };
        Some(no_registry.trim_start_matches("library/").to_string())
    }

    /// A database or cache server image, never an application.
    pub fn is_database_image(&self) -> bool {
        let Some(name) = self.image_name() else {
            return false;
        };
        let last = name.rsplit('/').next().unwrap_or(&name);
        [
            "postgres",
            "postgis",
            "pgvector",
            "timescaledb",
            "timescaledb-ha",
            "mysql",
            "mariadb",
            "redis",
            "valkey",
            "memcached",
            "mongo",
            "rabbitmq",
            "pgbouncer",
        ]
        .contains(&last)
            || name.starts_with("timescale/")
            || name.starts_with("bitnami/postgresql")
    }

    /// The PostgreSQL major version an image's tag names: 15 for `postgres:15-alpine`,
    /// 14 for `postgis/postgis:14-3.2`, 16 for `pgvector/pgvector:pg16`.
    pub fn postgres_major(&self) -> Option<u32> {
        let i = self.image.as_ref()?.text.as_str();
        let tag = i
            .rsplit_once(':')
            .map(|(_, t)| t)
            .filter(|t| !t.contains('/'))?;
        let tag = tag.strip_prefix("pg").unwrap_or(tag);
        let digits: String = tag.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    }

    /// A PostgreSQL server image that runs `/docker-entrypoint-initdb.d` scripts.
    pub fn is_postgres_image(&self) -> bool {
        let Some(name) = self.image_name() else {
            return false;
        };
        name == "postgres"
            || name == "postgis/postgis"
            || name == "pgvector/pgvector"
            || name.starts_with("timescale/")
            || name.ends_with("/postgres")
    }
}

/// [`dev_file_name`] of the last component of a path (`docker/Dockerfile.dev`).
pub fn dev_path(path: &std::path::Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(dev_file_name)
}

/// Whether a file's name says it is for development or tests (`docker-compose.dev.yml`,
/// `compose.local.yaml`, `Dockerfile.test`, `local.dockerfile`): not how the project deploys.
pub fn dev_file_name(name: &str) -> bool {
    name.to_ascii_lowercase().split(['.', '-', '_']).any(|w| {
        matches!(
            w,
            "dev" | "develop" | "development" | "local" | "test" | "tests" | "ci" | "override"
        )
    })
}

/// Why a file is rolled out by `docker stack deploy`.
#[derive(Debug, Clone)]
pub enum StackReason {
    /// A workflow or script runs `docker stack deploy -c` with it.
    DeployedBy(Span),
    /// Its name says so (`*stack*.yml`).
    Name,
    /// It uses a key only swarm reads.
    SwarmKey(Span),
}

#[derive(Debug, Clone)]
pub struct ComposeFile {
    pub file: FileId,
    /// Its name says it is for development or tests (`docker-compose-dev.yml`,
    /// `compose.local.yaml`, `docker-compose.test.yml`): not how the project deploys.
    pub dev: bool,
    pub services: Vec<Service>,
    pub stack: Option<StackReason>,
}

impl ComposeFile {
    pub fn read(file: FileId, name: &str, doc: &YamlNode) -> ComposeFile {
        let mut services = Vec::new();
        if let Some(map) = doc.get("services").and_then(YamlNode::as_map) {
            for e in map {
                let Some(name) = e.key.as_str() else { continue };
                if e.value.as_map().is_none() {
                    continue;
                }
                services.push(service(file, name, &e.key, &e.value));
            }
        }
        let lower = name.to_ascii_lowercase();
        // A name like `docker-compose.stack.dev.yml` is a local variant of a stack file, run
        // with `docker compose`.
        let local = dev_file_name(&lower);
        // `deploy.placement` alone is no sign: the Compose specification has it too.
        // `stack` as a word of the name (`docker-stack.yml`, `app.stack.yml`), not the
        // "full stack" of a whole application (`full-stack.yml`, `fullstack.yml`).
        let words: Vec<&str> = lower.split(['-', '_', '.', '/']).collect();
        let named_stack = words
            .iter()
            .enumerate()
            .any(|(i, w)| *w == "stack" && (i == 0 || words[i - 1] != "full"));
        let stack = if named_stack && !local {
            Some(StackReason::Name)
        } else {
            services.iter().find_map(|s| {
                s.update_config
                    .as_ref()
                    .map(|u| u.key)
                    .or_else(|| {
                        s.mode
                            .as_ref()
                            .filter(|m| {
                                matches!(
                                    m.lower().as_str(),
                                    "global" | "replicated-job" | "global-job"
                                )
                            })
                            .map(|m| m.span)
                    })
                    .map(StackReason::SwarmKey)
            })
        };
        // A server started with `--reload` (uvicorn, gunicorn, `flask run`) or `fastapi dev`
        // watches the source for edits: a developer's stack, whatever the file is called.
        let reloads = services.iter().any(|s| {
            s.command.iter().chain(&s.entrypoint).any(|c| {
                c.list.commands.iter().any(|cmd| {
                    matches!(cmd.kind, CommandKind::Serve { .. })
                        && cmd.argv.iter().any(|w| w.text == "--reload")
                        || matches!(
                            cmd.argv
                                .iter()
                                .map(|w| w.text.as_str())
                                .collect::<Vec<_>>()
                                .as_slice(),
                            ["fastapi", "dev", ..]
                        )
                })
            })
        });
        // A service that reads `.env.dev` or `.env.local` runs with a developer's settings.
        let dev_env = services.iter().any(|s| {
            s.env_files.iter().any(|f| {
                let name = f.rsplit(['/', '\\']).next().unwrap_or(f);
                dev_file_name(name)
            })
        });
        ComposeFile {
            file,
            dev: local || reloads || dev_env,
            services,
            stack,
        }
    }

    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }
}

fn inherited(file: FileId, node: &YamlNode) -> Option<(Span, Span)> {
    node.via
        .first()
        .map(|v| (span(file, v.anchor), span(file, v.alias)))
}

fn update_config(file: FileId, key: &YamlNode, node: &YamlNode) -> UpdateConfig {
    let via = inherited(file, node);
    UpdateConfig {
        key: span(file, key.loc),
        parallelism: node
            .get("parallelism")
            .and_then(|n| Val::from(file, n, via)),
        order: node.get("order").and_then(|n| Val::from(file, n, via)),
    }
}

fn cmd(file: FileId, node: &YamlNode) -> Option<Cmd> {
    let list = match &node.kind {
        NodeKind::Scalar { value, .. } => {
            let mut l = CommandList::from_shell(value);
            l.map_offsets(|o| node.source_offset(o as usize));
            l
        }
        NodeKind::Seq(items) => {
            let args: Vec<(String, u32, u32)> = items
                .iter()
                .filter_map(|i| {
                    let v = i.as_str()?;
                    Some((v.to_string(), i.source_offset(0), i.loc.end))
                })
                .collect();
            CommandList::from_exec(&args)
        }
        _ => return None,
    };
    Some(Cmd {
        span: span(file, node.loc),
        list,
    })
}

/// `environment:` in map or `KEY=value` list form.
pub fn environment(node: Option<&YamlNode>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    match node.map(|n| &n.kind) {
        Some(NodeKind::Map(entries)) => {
            for e in entries {
                if let Some(k) = e.key.as_str() {
                    out.push((k.to_string(), e.value.as_str().unwrap_or("").to_string()));
                }
            }
        }
        Some(NodeKind::Seq(items)) => {
            for i in items {
                if let Some(s) = i.as_str() {
                    let (k, v) = s.split_once('=').unwrap_or((s, ""));
                    out.push((k.trim().to_string(), v.to_string()));
                }
            }
        }
        _ => {}
    }
    out
}

fn service(file: FileId, name: &str, key: &YamlNode, node: &YamlNode) -> Service {
    let deploy = node.entry("deploy");
    let d = deploy.map(|e| &e.value);
    let dget = |k: &str| d.and_then(|d| d.entry(k));
    let dvia = d.and_then(|d| inherited(file, d));
    let val = |k: &str| dget(k).and_then(|e| Val::from(file, &e.value, dvia));
    let restart_policy = dget("restart_policy").map(|e| {
        let via = inherited(file, &e.value).or(dvia);
        (
            span(file, e.key.loc),
            e.value
                .get("condition")
                .and_then(|c| Val::from(file, c, via)),
        )
    });
    let mut depends_on = Vec::new();
    let dep_entry = node.entry("depends_on");
    if let Some(e) = dep_entry {
        match &e.value.kind {
            NodeKind::Seq(items) => {
                for i in items {
                    if let Some(s) = i.as_str() {
                        depends_on.push(DependsOn {
                            service: s.to_string(),
                            span: span(file, i.loc),
                            condition: None,
                        });
                    }
                }
            }
            NodeKind::Map(entries) => {
                for d in entries {
                    if let Some(s) = d.key.as_str() {
                        depends_on.push(DependsOn {
                            service: s.to_string(),
                            span: span(file, d.key.loc),
                            condition: d
                                .value
                                .get("condition")
                                .and_then(|c| Val::from(file, c, None)),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    let mut volumes = Vec::new();
    for v in node
        .get("volumes")
        .and_then(YamlNode::as_seq)
        .unwrap_or(&[])
    {
        let (source, target) = match &v.kind {
            NodeKind::Scalar { value, .. } => {
                let mut parts = value.splitn(3, ':');
                let a = parts.next().unwrap_or("").to_string();
                match parts.next() {
                    Some(b) => (a, b.to_string()),
                    None => (String::new(), a),
                }
            }
            NodeKind::Map(_) => (
                v.get("source")
                    .and_then(YamlNode::as_str)
                    .unwrap_or("")
                    .to_string(),
                v.get("target")
                    .and_then(YamlNode::as_str)
                    .unwrap_or("")
                    .to_string(),
            ),
            _ => continue,
        };
        volumes.push(Volume {
            source,
            target,
            span: span(file, v.loc),
        });
    }
    let build = node.get("build").and_then(|b| match &b.kind {
        NodeKind::Scalar { value, .. } => Some((value.clone(), None)),
        NodeKind::Map(_) => Some((
            b.get("context")
                .and_then(YamlNode::as_str)
                .unwrap_or(".")
                .to_string(),
            b.get("dockerfile")
                .and_then(YamlNode::as_str)
                .map(str::to_string),
        )),
        _ => None,
    });
    let build_target = node
        .get("build")
        .and_then(|b| b.get("target"))
        .and_then(YamlNode::as_str)
        .map(str::to_string);
    Service {
        name: name.to_string(),
        key: span(file, key.loc),
        image: node.get("image").and_then(|n| Val::from(file, n, None)),
        build,
        build_target,
        command: node.get("command").and_then(|n| cmd(file, n)),
        entrypoint: node.get("entrypoint").and_then(|n| cmd(file, n)),
        deploy: deploy.map(|e| span(file, e.key.loc)),
        mode: val("mode"),
        replicas: val("replicas"),
        update_config: dget("update_config")
            .filter(|e| !e.value.is_null())
            .map(|e| update_config(file, &e.key, &e.value)),
        rollback_config: dget("rollback_config")
            .filter(|e| !e.value.is_null())
            .map(|e| update_config(file, &e.key, &e.value)),
        restart_policy,
        restart: node.get("restart").and_then(|n| Val::from(file, n, None)),
        depends_on,
        depends_on_key: dep_entry.map(|e| span(file, e.key.loc)),
        volumes,
        environment: environment(node.get("environment")),
        placement: dget("placement").map(|e| span(file, e.key.loc)),
        ports: ["ports", "expose"]
            .iter()
            .filter_map(|k| node.entry(k))
            .find(|e| matches!(&e.value.kind, NodeKind::Seq(items) if !items.is_empty()))
            .map(|e| span(file, e.key.loc)),
        profiles: node
            .get("profiles")
            .and_then(YamlNode::as_seq)
            .map(|items| {
                items
                    .iter()
                    .filter_map(YamlNode::as_str)
                    .map(str::to_ascii_lowercase)
                    .collect()
            })
            .unwrap_or_default(),
        env_files: env_files(node.get("env_file")),
    }
}

/// `env_file:` as a string, a list of strings, or a list of `{path: …}` maps.
fn env_files(node: Option<&YamlNode>) -> Vec<String> {
    let Some(node) = node else {
        return Vec::new();
    };
    if let Some(s) = node.as_str() {
        return vec![s.to_string()];
    }
    node.as_seq()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| {
                    i.as_str()
                        .or_else(|| i.get("path").and_then(YamlNode::as_str))
                })
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}
