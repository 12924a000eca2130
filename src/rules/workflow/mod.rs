//! Rules on workflows, scripts and Dockerfiles: the commands that run migrations on deploy.

pub mod autogenerate_in_deploy;
pub mod cancel_in_progress_migration;
pub mod deploy_without_concurrency;
pub mod hard_coded_upgrade_target;
pub mod migration_failure_ignored;
pub mod migration_in_image_build;
pub mod stamp_in_deploy;
pub mod upgrade_heads_in_deploy;

use crate::diagnostic::Diagnostic;
use crate::model::deploy::Run;

/// The finding at a run, with the references that led to it as secondary labels.
pub fn at_run(d: Diagnostic, run: &Run, message: impl Into<String>) -> Diagnostic {
    let mut d = d.primary(run.target.unwrap_or(run.span), message);
    if run.target.is_some() {
        d = d.secondary(run.span, "in this command");
    }
    for v in &run.via {
        d = d.secondary(*v, "runs the script this is in");
    }
    d
}

/// The finding at the whole command (not its target), with the references that led to it.
pub fn at_command(d: Diagnostic, run: &Run, message: impl Into<String>) -> Diagnostic {
    let mut d = d.primary(run.span, message);
    for v in &run.via {
        d = d.secondary(*v, "runs the script this is in");
    }
    d
}
