//! Rules on compose and stack files: how many copies of a migration run, and when.

pub mod app_not_gated_on_migrations;
pub mod extension_only_in_init_script;
pub mod job_with_update_config;
pub mod migrate_service_replicas;
pub mod migrate_service_restart;
pub mod migrate_service_rollout;
pub mod migrations_in_replicated_service;
pub mod service_update_config_missing;

use crate::diagnostic::Diagnostic;
use crate::model::compose::{ComposeFile, Service, Val};
use crate::model::deploy::{Run, ServiceRole, Surface};
use crate::rules::Context;
use crate::source::Span;

/// A compose service with the file it is in and what it runs.
pub struct Svc<'a> {
    pub file: &'a ComposeFile,
    pub svc: &'a Service,
    pub role: ServiceRole,
    pub surface: Option<&'a Surface>,
}

impl Svc<'_> {
    pub fn stack(&self) -> bool {
        self.file.stack.is_some()
    }

    pub fn migrate_run(&self) -> Option<&Run> {
        self.surface.and_then(Surface::migrate)
    }

    /// `mode: replicated-job` or `global-job`.
    pub fn job_mode(&self) -> bool {
        self.svc
            .mode
            .as_ref()
            .is_some_and(|m| m.lower().ends_with("-job"))
    }

    /// Show what makes the service a migrate service: the command that migrates, or, for a
    /// service named in `migrate-services`, its name.
    pub fn show_migration(&self, d: Diagnostic, what: &str) -> Diagnostic {
        match self.migrate_run() {
            Some(run) => with_run(d, run, what),
            None => d.secondary(
                self.svc.key,
                "a migrate service by name (`migrate-services` in the settings)",
            ),
        }
    }

    /// Where a finding about the service's rollout goes: its `deploy:` key, or the service key.
    pub fn deploy_key(&self) -> Span {
        self.svc.deploy.unwrap_or(self.svc.key)
    }
}

pub fn services<'a>(cx: &'a Context) -> impl Iterator<Item = Svc<'a>> {
    cx.deploy
        .compose
        .iter()
        .enumerate()
        .flat_map(move |(ci, f)| {
            f.services.iter().enumerate().map(move |(si, svc)| Svc {
                file: f,
                svc,
                role: role(cx, ci, si, svc),
                surface: cx.deploy.service_surface(ci, si),
            })
        })
}

/// What the service does with migrations; a name in `migrate-services` makes it a migrate
/// service even when its command is not visible (baked into the image).
fn role(cx: &Context, ci: usize, si: usize, svc: &Service) -> ServiceRole {
    let seen = cx.deploy.role(ci, si);
    match &cx.options.migrate_services {
        Some(names) if seen == ServiceRole::Other && names.is_match(&svc.name) => {
            ServiceRole::Migrate
        }
        _ => seen,
    }
}

/// Point at a value; when it is inherited from an anchor, also at the alias that brought it.
pub fn at_value(d: Diagnostic, v: &Val, message: impl Into<String>) -> Diagnostic {
    let d = d.primary(v.span, message);
    match v.via {
        Some((_, alias)) => d.secondary(alias, "inherited here, through this alias"),
        None => d,
    }
}

/// Show how the migration was reached: the command that runs a script, then the script line.
pub fn with_run(d: Diagnostic, run: &Run, what: &str) -> Diagnostic {
    let mut d = d;
    for v in &run.via {
        d = d.secondary(*v, "runs a script");
    }
    d.secondary(run.span, what.to_string())
}
