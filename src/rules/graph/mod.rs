//! Rules about the revision graph and the files that form it.

pub mod alembic_config_mistake;
pub mod dangling_depends_on;
pub mod dangling_down_revision;
pub mod duplicate_branch_label;
pub mod duplicate_revision;
pub mod merge_revision_has_operations;
pub mod multiple_bases;
pub mod multiple_heads;
pub mod not_a_revision;
pub mod parse_error;
pub mod revision_cycle;
pub mod revision_id_mismatch;
pub mod unresolved_identifier;

use crate::graph::{NodeIx, RevisionGraph};
use crate::source::{FileDb, Span};

/// `id (path)` for messages.
pub(crate) fn describe(db: &FileDb, g: &RevisionGraph, i: NodeIx) -> String {
    let n = &g.nodes[i];
    let path = &db.get(n.migration.file).path;
    let name = path
        .file_name()
        .map(|f| f.to_string_lossy())
        .unwrap_or_default();
    format!("`{}` ({name})", n.id)
}

/// Where a node's `revision = ...` value is (the file start for ids taken from file names).
pub(crate) fn revision_span(g: &RevisionGraph, i: NodeIx) -> Span {
    let m = g.nodes[i].migration;
    m.revision
        .as_ref()
        .map(|r| r.span)
        .unwrap_or(Span::file_start(m.file))
}

/// A note for graph findings when some files could not be evaluated statically.
pub(crate) fn unknowns_note(project: &crate::model::project::Project) -> &'static str {
    if project.has_unknowns() {
        " (some revision files could not be read statically; see the other findings)"
    } else {
        ""
    }
}

pub(crate) fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Whether an id no revision of project `pi` declares may still be declared where revlint
/// cannot see: a file it could not read, another project of the repository, or a version
/// location the repository's code adds at run time (unless the id is a near-identical copy
/// of one of this project's, a likely typo). The dangling rules then stay silent.
pub(crate) fn may_be_declared_elsewhere(
    cx: &crate::rules::Context,
    pi: usize,
    project: &crate::model::project::Project,
    g: &RevisionGraph,
    id: &str,
) -> bool {
    maybe_in_unreadable(cx.db, project, id)
        || declared_by_another_project(cx, pi, id)
        || (project.locations_in_code.is_some() && dangling_down_revision::closest(g, id).is_none())
}

/// Whether another Alembic project of the repository declares `id` (a revision or a branch
/// label): a plugin whose revisions build on the core's, run together through
/// `version_locations` the application assembles in code.
fn declared_by_another_project(cx: &crate::rules::Context, here: usize, id: &str) -> bool {
    cx.graphs
        .iter()
        .enumerate()
        .any(|(i, g)| i != here && (g.by_id.contains_key(id) || g.label_owner.contains_key(id)))
}

/// Whether `id` may be declared by a file revlint could not read (an unreadable file, or one
/// whose syntax error hid its `revision`) whose name starts with it. The parse-error finding
/// is then the one to fix; a dangling finding would be noise.
fn maybe_in_unreadable(db: &FileDb, project: &crate::model::project::Project, id: &str) -> bool {
    use crate::model::project::VersionFile;
    project.files.iter().any(|f| {
        let file = match f {
            VersionFile::Unreadable(file) => *file,
            VersionFile::Migration(m) if m.revision.is_none() && !m.syntax_errors.is_empty() => {
                m.file
            }
            VersionFile::Migration(_) => return false,
        };
        db.get(file)
            .path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(id))
    })
}
