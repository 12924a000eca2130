//! Rules: ids, metadata, and the one registry.

use std::fmt;
use std::str::FromStr;

use crate::diagnostic::{Diagnostic, Severity};
use crate::graph::RevisionGraph;
use crate::model::deploy::DeployModel;
use crate::model::project::{FileIssue, Project};
use crate::model::script::Script;
use crate::source::FileDb;

pub mod compose;
pub mod cross;
pub mod graph;
pub mod meta;
pub mod migration;
pub mod workflow;

/// Every rule, by id. The kebab-case name is the only string form.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, strum::EnumIter, strum::IntoStaticStr,
)]
#[strum(serialize_all = "kebab-case")]
pub enum RuleId {
    MultipleHeads,
    DanglingDownRevision,
    DanglingDependsOn,
    DuplicateRevision,
    RevisionCycle,
    MultipleBases,
    NotARevision,
    UnresolvedIdentifier,
    RevisionIdMismatch,
    DuplicateBranchLabel,
    MergeRevisionHasOperations,
    AlembicConfigMistake,
    ParseError,
    NonIdempotentDdl,
    MissingExtension,
    ConcurrentIndexInTransaction,
    VersionTableEdit,
    MigrateServiceRollout,
    MigrateServiceReplicas,
    MigrateServiceRestart,
    JobWithUpdateConfig,
    ServiceUpdateConfigMissing,
    MigrationsInReplicatedService,
    AppNotGatedOnMigrations,
    ExtensionOnlyInInitScript,
    DeployWithoutConcurrency,
    CancelInProgressMigration,
    MigrationFailureIgnored,
    StampInDeploy,
    HardCodedUpgradeTarget,
    UpgradeHeadsInDeploy,
    AutogenerateInDeploy,
    MigrationInImageBuild,
    MigrationsAtAppStartup,
    CreateAllWithMigrations,
    UnusedIgnore,
}

impl RuleId {
    pub fn all() -> impl Iterator<Item = RuleId> {
        <RuleId as strum::IntoEnumIterator>::iter()
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn meta(self) -> &'static RuleMeta {
        registry(self).meta()
    }

    /// Whether the rule reads what revision bodies do (operations and SQL).
    pub fn reads_operations(self) -> bool {
        self.meta().category == Category::Migration
            || matches!(
                self,
                RuleId::ExtensionOnlyInInitScript | RuleId::UpgradeHeadsInDeploy
            )
    }

    /// Whether the rule reads deploy files (compose, workflows, Dockerfiles, scripts, app code).
    /// `non-idempotent-ddl` reads them for evidence: the database a compose file runs, a
    /// deploy script that stamps back.
    pub fn reads_deploy_files(self) -> bool {
        matches!(
            self.meta().category,
            Category::Compose | Category::Workflow | Category::Cross
        ) || self == RuleId::NonIdempotentDdl
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RuleId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RuleId::all()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| match RuleId::nearest(s) {
                Some(r) => format!("unknown rule `{s}` (did you mean `{r}`?)"),
                None => format!("unknown rule `{s}` (see `revlint rules`)"),
            })
    }
}

impl RuleId {
    /// The rule id closest to a misspelt `s`, when one is close.
    pub fn nearest(s: &str) -> Option<RuleId> {
        RuleId::all()
            .map(|r| (strsim::levenshtein(s, r.as_str()), r))
            .min()
            .filter(|(d, _)| *d <= 3)
            .map(|(_, r)| r)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Graph,
    Migration,
    /// Compose and stack files.
    Compose,
    /// Workflows, scripts and Dockerfiles.
    Workflow,
    /// Application code read together with the deploy files.
    Cross,
    /// revlint's own suppression comments.
    Meta,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Graph => "graph",
            Category::Migration => "migration",
            Category::Compose => "compose",
            Category::Workflow => "workflow",
            Category::Cross => "cross",
            Category::Meta => "meta",
        }
    }
}

/// Static description of a rule: the single source of `rules`, `explain` and the docs.
#[derive(Debug)]
pub struct RuleMeta {
    pub id: RuleId,
    pub category: Category,
    pub summary: &'static str,
    pub default_severity: Severity,
    /// Markdown with the headings: What it does, Why is this bad?, Example, How to fix.
    pub docs: &'static str,
}

/// Options rules read.
#[derive(Debug, Clone, Default)]
pub struct RuleOptions {
    /// Multiple heads are intentional in this repository.
    pub allow_multiple_heads: bool,
    /// Check `downgrade()` as well as `upgrade()`.
    pub include_downgrade: bool,
    /// Extensions created outside the repository (by the platform, an image, a DBA).
    pub provisioned_extensions: Vec<String>,
    /// The PostgreSQL major version the project runs, when configured.
    pub postgresql_version: Option<u32>,
    /// Compose service names that are migrate services whatever revlint sees them run.
    pub migrate_services: Option<globset::GlobSet>,
    /// The settings file that sets `require-idempotent-ddl = true`.
    pub require_idempotent_ddl: Option<std::path::PathBuf>,
    /// Which revisions `non-idempotent-ddl` judges.
    pub revision_scope: RevisionScope,
}

/// Which revisions are judged by the rules about revisions that have not run yet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RevisionScope {
    /// Decide from git: the revisions a branch adds, else the newest of each head.
    #[default]
    Auto,
    /// Every revision (`--all-revisions`).
    All,
    /// The newest revision of each head: what the next deploy applies.
    Heads,
    /// The revision files added since a merge base (absolute paths).
    Added(std::collections::BTreeSet<std::path::PathBuf>),
}

/// Everything a rule may read. Rules never do IO.
pub struct Context<'a> {
    pub db: &'a FileDb,
    pub projects: &'a [Project],
    pub graphs: &'a [RevisionGraph<'a>],
    pub walk_issues: &'a [FileIssue],
    /// Scripts outside the version locations that run SQL on a version table or create an
    /// extension.
    pub scripts: &'a [Script],
    /// Deploy files and what they run.
    pub deploy: &'a DeployModel,
    pub options: &'a RuleOptions,
    /// Working directory, for commands the help text suggests.
    pub cwd: &'a std::path::Path,
}

pub trait Rule: Sync {
    fn meta(&self) -> &'static RuleMeta;
    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>);
}

/// The one registry: the compiler checks that every id has a rule.
pub fn registry(id: RuleId) -> &'static dyn Rule {
    use graph::*;
    match id {
        RuleId::MultipleHeads => &multiple_heads::MultipleHeads,
        RuleId::DanglingDownRevision => &dangling_down_revision::DanglingDownRevision,
        RuleId::DanglingDependsOn => &dangling_depends_on::DanglingDependsOn,
        RuleId::DuplicateRevision => &duplicate_revision::DuplicateRevision,
        RuleId::RevisionCycle => &revision_cycle::RevisionCycle,
        RuleId::MultipleBases => &multiple_bases::MultipleBases,
        RuleId::NotARevision => &not_a_revision::NotARevision,
        RuleId::UnresolvedIdentifier => &unresolved_identifier::UnresolvedIdentifier,
        RuleId::RevisionIdMismatch => &revision_id_mismatch::RevisionIdMismatch,
        RuleId::DuplicateBranchLabel => &duplicate_branch_label::DuplicateBranchLabel,
        RuleId::MergeRevisionHasOperations => {
            &merge_revision_has_operations::MergeRevisionHasOperations
        }
        RuleId::AlembicConfigMistake => &alembic_config_mistake::AlembicConfigMistake,
        RuleId::ParseError => &parse_error::ParseError,
        RuleId::NonIdempotentDdl => &migration::non_idempotent_ddl::NonIdempotentDdl,
        RuleId::MissingExtension => &migration::missing_extension::MissingExtension,
        RuleId::ConcurrentIndexInTransaction => {
            &migration::concurrent_index_in_transaction::ConcurrentIndexInTransaction
        }
        RuleId::VersionTableEdit => &migration::version_table_edit::VersionTableEdit,
        RuleId::MigrateServiceRollout => &compose::migrate_service_rollout::MigrateServiceRollout,
        RuleId::MigrateServiceReplicas => {
            &compose::migrate_service_replicas::MigrateServiceReplicas
        }
        RuleId::MigrateServiceRestart => &compose::migrate_service_restart::MigrateServiceRestart,
        RuleId::JobWithUpdateConfig => &compose::job_with_update_config::JobWithUpdateConfig,
        RuleId::ServiceUpdateConfigMissing => {
            &compose::service_update_config_missing::ServiceUpdateConfigMissing
        }
        RuleId::MigrationsInReplicatedService => {
            &compose::migrations_in_replicated_service::MigrationsInReplicatedService
        }
        RuleId::AppNotGatedOnMigrations => {
            &compose::app_not_gated_on_migrations::AppNotGatedOnMigrations
        }
        RuleId::ExtensionOnlyInInitScript => {
            &compose::extension_only_in_init_script::ExtensionOnlyInInitScript
        }
        RuleId::DeployWithoutConcurrency => {
            &workflow::deploy_without_concurrency::DeployWithoutConcurrency
        }
        RuleId::CancelInProgressMigration => {
            &workflow::cancel_in_progress_migration::CancelInProgressMigration
        }
        RuleId::MigrationFailureIgnored => {
            &workflow::migration_failure_ignored::MigrationFailureIgnored
        }
        RuleId::StampInDeploy => &workflow::stamp_in_deploy::StampInDeploy,
        RuleId::HardCodedUpgradeTarget => {
            &workflow::hard_coded_upgrade_target::HardCodedUpgradeTarget
        }
        RuleId::UpgradeHeadsInDeploy => &workflow::upgrade_heads_in_deploy::UpgradeHeadsInDeploy,
        RuleId::AutogenerateInDeploy => &workflow::autogenerate_in_deploy::AutogenerateInDeploy,
        RuleId::MigrationInImageBuild => &workflow::migration_in_image_build::MigrationInImageBuild,
        RuleId::MigrationsAtAppStartup => &cross::migrations_at_app_startup::MigrationsAtAppStartup,
        RuleId::CreateAllWithMigrations => {
            &cross::create_all_with_migrations::CreateAllWithMigrations
        }
        RuleId::UnusedIgnore => &meta::UnusedIgnore,
    }
}

/// Run the selected rules.
pub fn run(cx: &Context, selected: &[RuleId]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for &id in selected {
        registry(id).check(cx, &mut out);
    }
    out
}
