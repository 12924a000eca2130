//! Rules: ids, metadata, and the one registry.

use std::fmt;
use std::str::FromStr;

use crate::diagnostic::{Diagnostic, Severity};
use crate::graph::RevisionGraph;
use crate::model::project::{FileIssue, Project};
use crate::model::script::Script;
use crate::source::FileDb;

pub mod graph;
pub mod migration;

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
            .ok_or_else(|| format!("unknown rule `{s}` (see `revlint rules`)"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Graph,
    Migration,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Graph => "graph",
            Category::Migration => "migration",
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
