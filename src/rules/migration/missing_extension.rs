use std::collections::BTreeMap;

use super::postgresql_applies;
use crate::diagnostic::{Diagnostic, Severity};
use crate::graph::RevisionGraph;
use crate::model::extension::provided_by;
use crate::model::migration::Migration;
use crate::parse::sql::Action;
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};
use crate::source::Span;

pub struct MissingExtension;

static META: RuleMeta = RuleMeta {
    id: RuleId::MissingExtension,
    category: Category::Migration,
    summary: "A revision uses an extension's type or function that no earlier revision creates",
    default_severity: Severity::Error,
    docs: r#"## What it does

Finds revisions that use something a PostgreSQL extension provides when neither the revision
itself (before the first use) nor any of its ancestors, following `down_revision` and
`depends_on`, runs `CREATE EXTENSION` for it (in SQL, or alembic_utils'
`op.create_entity(PGExtension(..., signature="citext"))`). Recognised: geoalchemy2 `Geometry`/`Geography`,
`ST_*` functions and `spatial_index` (postgis); `Raster` (postgis_raster); pgvector
`Vector`/`VECTOR`, `vector_*_ops`, `ivfflat`/`hnsw` (vector); `CITEXT` (citext); `HSTORE`
(hstore); `LtreeType`/`LTREE` (ltree); `uuid_generate_v4()`/`v1()` (uuid-ossp); `crypt()`,
`gen_salt()`, `digest()`, `pgp_sym_*()` (pgcrypto, and `gen_random_uuid()` when the configured
PostgreSQL is older than 13); `gin_trgm_ops`/`gist_trgm_ops`/`similarity()` (pg_trgm);
`unaccent()` (unaccent); `create_hypertable()` (timescaledb).

Only a first use in a revision the next deploy applies is reported, chosen as
`non-idempotent-ddl` chooses them (the revisions a branch or `--diff-base` adds, else the
newest revision of each head). A revision that already ran in production proved the extension
is there; `--all-revisions` judges every revision, for an audit of a new environment.

`CREATE EXTENSION` run by `env.py` before the migrations counts for every revision. A missing
extension is reported at its first use on each path, not again in every descendant; a
revision whose ancestry revlint cannot resolve (a `down_revision` that names no file) is not
judged, since the missing parent may create the extension. Extensions
the platform provides are listed in the configuration:
`provisioned-extensions = ["postgis"]` in `revlint.toml` or `[tool.revlint]`.

## Why is this bad?

An extension created only by a database init script (`/docker-entrypoint-initdb.d`), by hand,
or by a revision on another branch exists on some databases and not others. Init scripts run
only when the data directory is empty, so a persisted volume, a restored backup or a managed
database never gets it, and the migration fails with `type "geometry" does not exist`.

## Example

```python
from geoalchemy2 import Geometry

def upgrade() -> None:
    op.add_column("regions", sa.Column("boundary", Geometry("MULTIPOLYGON", srid=4326)))
```

## How to fix

Create the extension in this revision before first use, or in an earlier one:

```python
def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.add_column("regions", sa.Column("boundary", Geometry("MULTIPOLYGON", srid=4326)))
```
"#,
};

/// Extensions available at each node after its own upgrade, as a set of names, and whether
/// the node's ancestry is uncertain (a parent revlint cannot resolve, here or above).
fn availability(
    g: &RevisionGraph,
    created: &[Vec<String>],
    unresolved: &[bool],
) -> (Vec<Vec<String>>, Vec<bool>) {
    let n = g.nodes.len();
    let mut avail: Vec<Option<Vec<String>>> = vec![None; n];
    let mut uncertain: Vec<bool> = unresolved.to_vec();
    let mut on_stack = vec![false; n];
    for start in 0..n {
        if avail[start].is_some() {
            continue;
        }
        // Iterative post-order over parents and dependencies.
        let mut stack: Vec<(usize, bool)> = vec![(start, false)];
        while let Some((i, expanded)) = stack.pop() {
            if avail[i].is_some() {
                continue;
            }
            let preds = g.nodes[i]
                .parents
                .iter()
                .chain(&g.nodes[i].dependencies)
                .copied();
            if !expanded {
                on_stack[i] = true;
                stack.push((i, true));
                for p in preds {
                    if avail[p].is_none() && !on_stack[p] {
                        stack.push((p, false));
                    }
                }
                continue;
            }
            let mut set: Vec<String> = created[i].clone();
            for p in preds {
                if let Some(s) = &avail[p] {
                    set.extend(s.iter().cloned());
                }
                uncertain[i] |= uncertain[p];
            }
            set.sort();
            set.dedup();
            on_stack[i] = false;
            avail[i] = Some(set);
        }
    }
    (
        avail.into_iter().map(Option::unwrap_or_default).collect(),
        uncertain,
    )
}

/// Extensions a revision's upgrade creates, each with the operation index that creates it:
/// `CREATE EXTENSION` in SQL, and alembic_utils' `op.create_entity(...)` of a
/// `PGExtension(schema=..., signature="citext")` declared in the file.
fn creations(m: &Migration, text: &str) -> Vec<(String, usize, Span)> {
    let mut out = Vec::new();
    let declared = pg_extension_entities(text);
    for (i, op) in m.upgrade_ops.iter().enumerate() {
        for (name, span) in op.creates_extensions() {
            for p in provided_by(&name) {
                out.push((p, i, span));
            }
        }
        if matches!(op.method.as_str(), "create_entity" | "replace_entity") {
            for name in &declared {
                for p in provided_by(name) {
                    out.push((p, i, op.span));
                }
            }
        }
    }
    out
}

/// The `signature` of each `PGExtension(...)` in a file, lower-cased.
fn pg_extension_entities(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices("PGExtension(") {
        let rest = &text[at..];
        let call = &rest[..rest.find(')').unwrap_or(rest.len()).min(400)];
        let Some(k) = call.find("signature") else {
            continue;
        };
        let after = call[k + "signature".len()..].trim_start();
        let Some(v) = after.strip_prefix('=').map(str::trim_start) else {
            continue;
        };
        let Some(q) = v.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            continue;
        };
        if let Some(end) = v[1..].find(q) {
            out.push(v[1..1 + end].to_ascii_lowercase());
        }
    }
    out
}

impl Rule for MissingExtension {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        let pg_version = cx.options.postgresql_version;
        for (project, g) in cx.projects.iter().zip(cx.graphs) {
            if !project.maybe_postgresql() {
                continue;
            }
            let mut provisioned: Vec<String> = cx
                .options
                .provisioned_extensions
                .iter()
                .flat_map(|e| provided_by(e))
                .collect();
            for op in &project.env_ops {
                for (name, _) in op.creates_extensions() {
                    provisioned.extend(provided_by(&name));
                }
            }
            let per_node: Vec<Vec<(String, usize, Span)>> = g
                .nodes
                .iter()
                .map(|n| creations(n.migration, &cx.db.get(n.migration.file).text))
                .collect();
            if !g
                .nodes
                .iter()
                .any(|n| n.migration.upgrade_ops.iter().any(|o| !o.uses.is_empty()))
            {
                continue;
            }
            // What descendants may take as present: created here, or used here (a missing one
            // is reported once, at its first use on each path, not again below it).
            let created: Vec<Vec<String>> = per_node
                .iter()
                .zip(&g.nodes)
                .map(|(c, n)| {
                    c.iter()
                        .map(|(e, _, _)| e.clone())
                        .chain(
                            n.migration
                                .upgrade_ops
                                .iter()
                                .flat_map(|o| o.uses.iter().map(|u| u.extension.to_string())),
                        )
                        .collect()
                })
                .collect();
            let mut unresolved: Vec<bool> = g
                .nodes
                .iter()
                .map(|n| n.migration.parents_unknown())
                .collect();
            for d in g.dangling_down.iter().chain(&g.dangling_depends) {
                unresolved[d.node] = true;
            }
            let (avail, uncertain) = availability(g, &created, &unresolved);
            // A revision that already ran in production proved the extension is there; the
            // first use worth reporting is in a revision the next deploy applies.
            let pending = super::pending_revisions(cx, project, Some(g));
            // Extensions created by scripts outside the migrations (init scripts), for the note.
            let mut by_script: BTreeMap<String, Span> = BTreeMap::new();
            for script in cx.scripts {
                for t in &script.sql {
                    for st in &t.statements {
                        for f in &st.facts {
                            if f.action == Action::CreateExtension {
                                for e in provided_by(&f.name) {
                                    by_script.entry(e).or_insert(t.statement_span(st));
                                }
                            }
                        }
                    }
                }
            }
            // Where each extension is created anywhere in the project, for the note.
            let mut anywhere: BTreeMap<&str, usize> = BTreeMap::new();
            for (i, c) in per_node.iter().enumerate() {
                for (e, _, _) in c {
                    anywhere.entry(e.as_str()).or_insert(i);
                }
            }
            for (ix, node) in g.nodes.iter().enumerate() {
                let m = node.migration;
                // A parent revlint cannot find may create the extension: say nothing.
                if uncertain[ix] || !pending.contains(&m.file) {
                    continue;
                }
                let mut inherited: Vec<String> = Vec::new();
                for &p in node.parents.iter().chain(&node.dependencies) {
                    inherited.extend(avail[p].iter().cloned());
                }
                let mut reported: Vec<&str> = Vec::new();
                for (op_ix, op) in m.upgrade_ops.iter().enumerate() {
                    if !postgresql_applies(project, m, op) {
                        continue;
                    }
                    for u in &op.uses {
                        if u.core_since_pg13 && pg_version.is_none_or(|v| v >= 13) {
                            continue;
                        }
                        let ext = u.extension;
                        if reported.contains(&ext)
                            || provisioned.iter().any(|p| p == ext)
                            || inherited.iter().any(|p| p == ext)
                        {
                            continue;
                        }
                        let here_before = per_node[ix]
                            .iter()
                            .any(|(e, at, _)| e == ext && *at <= op_ix);
                        if here_before {
                            continue;
                        }
                        reported.push(ext);
                        let id = m.id().unwrap_or("?");
                        let quoted = if ext.contains('-') {
                            format!("\"{ext}\"")
                        } else {
                            ext.to_string()
                        };
                        let mut d = Diagnostic::new(
                            RuleId::MissingExtension,
                            format!(
                                "{} needs the `{ext}` extension, and no revision up to `{id}` runs `CREATE EXTENSION {quoted}`",
                                u.what
                            ),
                        )
                        .primary(u.span, format!("needs the {ext} extension"))
                        .help(format!(
                            "add `op.execute('CREATE EXTENSION IF NOT EXISTS {quoted}')` at the start of this revision's upgrade() or in an earlier revision; if the platform provides it, list it in `provisioned-extensions`"
                        ));
                        if let Some((_, _, later)) = per_node[ix].iter().find(|(e, _, _)| e == ext)
                        {
                            d = d.secondary(*later, "created here, after its first use");
                        } else if let Some(&other) = anywhere.get(ext) {
                            let o = g.nodes[other].migration;
                            let span = per_node[other]
                                .iter()
                                .find(|(e, _, _)| e == ext)
                                .map(|(_, _, s)| *s)
                                .unwrap_or(Span::file_start(o.file));
                            d = d.secondary(
                                span,
                                format!(
                                    "created in revision `{}`, which `{id}` does not descend from",
                                    o.id().unwrap_or("?")
                                ),
                            );
                        } else if let Some(span) = by_script.get(ext) {
                            d = d.secondary(
                                *span,
                                "created only here, outside the migrations: a database init script runs only when the data volume is empty",
                            );
                        } else {
                            d = d.note("no revision in this project creates it: an extension created by hand or by a /docker-entrypoint-initdb.d script exists only on some databases, because init scripts run only when the data volume is empty");
                        }
                        out.push(d);
                    }
                }
            }
        }
    }
}
