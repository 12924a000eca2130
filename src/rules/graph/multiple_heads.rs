use std::collections::BTreeSet;

use super::{describe, join_and, revision_span, unknowns_note};
use crate::diagnostic::{Diagnostic, Severity};
use crate::graph::{NodeIx, RevisionGraph};
use crate::model::project::ConfigSource;
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};

pub struct MultipleHeads;

static META: RuleMeta = RuleMeta {
    id: RuleId::MultipleHeads,
    category: Category::Graph,
    summary: "More than one head revision: `alembic upgrade head` refuses to run",
    default_severity: Severity::Error,
    docs: r#"## What it does

Finds projects whose revision graph has more than one head: a revision that no other
revision names as its `down_revision`. It names every head and its file, the revision where
the branches diverged, how many revisions each branch adds, and the exact merge command.

It stays quiet when every head carries its own `branch_labels` lineage (an intentional
multi-branch layout), when `--allow-multiple-heads` is given, and when some revision's
`down_revision` cannot be evaluated statically or names a missing revision (that revision
may be the one meant to join the heads; `unresolved-identifier` and
`dangling-down-revision` report it).

## Why is this bad?

Two pull requests that each add a revision on the same parent merge cleanly in git, but
leave Alembic with two heads. The deploy's `alembic upgrade head` then stops with
"Multiple head revisions are present for given argument 'head'", and a container that
migrates at start-up never starts: production is blocked until someone writes a merge
revision.

## Example

```python
# versions/850df83abd23_rename_team_name.py
revision = "850df83abd23"
down_revision = "db8a923de76e"

# versions/a1b2c3d4e5f6_platform_config.py
revision = "a1b2c3d4e5f6"
down_revision = "71521c6321dc"   # an ancestor of 850df83abd23: a second head
```

## How to fix

Write a merge revision whose `down_revision` is the tuple of heads:

```sh
alembic merge -m "merge heads" 850df83abd23 a1b2c3d4e5f6
```

or let `revlint fix` write it. Then rebase one branch's revision onto the other in future
pull requests to keep history linear.
"#,
};

impl Rule for MultipleHeads {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        if cx.options.allow_multiple_heads {
            return;
        }
        for (project, g) in cx.projects.iter().zip(cx.graphs) {
            // A revision whose `down_revision` is unknown or names nothing may be the one
            // meant to join these heads: report nothing rather than guess (the
            // unresolved-identifier or dangling-down-revision finding says why).
            let unknown = !g.dangling_down.is_empty()
                || g.nodes.iter().any(|n| n.migration.parents_unknown());
            if g.heads.len() < 2
                || unknown
                || !g.cycles.is_empty()
                || g.distinct_label_lineages(&g.heads)
            {
                continue;
            }
            out.push(diagnose(cx, project, g));
        }
    }
}

fn diagnose(
    cx: &Context,
    project: &crate::model::project::Project,
    g: &RevisionGraph,
) -> Diagnostic {
    let heads = &g.heads;
    // Each head's ancestors in walk order (head first), and as sets for the intersection.
    let ancestors: Vec<Vec<NodeIx>> = heads.iter().map(|&h| g.ancestors(h)).collect();
    let ancestor_sets: Vec<BTreeSet<NodeIx>> = ancestors
        .iter()
        .map(|a| a.iter().copied().collect())
        .collect();
    let mut common = ancestor_sets[0].clone();
    for a in &ancestor_sets[1..] {
        common.retain(|i| a.contains(i));
    }
    // Divergence points: common ancestors none of whose children is also common.
    let mut forks: Vec<NodeIx> = common
        .iter()
        .copied()
        .filter(|&c| !g.nodes[c].children.iter().any(|ch| common.contains(ch)))
        .collect();
    forks.sort();
    let head_list: Vec<String> = heads.iter().map(|&h| describe(cx.db, g, h)).collect();
    // What each branch adds since the fork, oldest first: named when short, counted when long.
    let adds: Vec<String> = heads
        .iter()
        .zip(&ancestors)
        .map(|(&h, a)| {
            let mut own: Vec<NodeIx> = a.iter().copied().filter(|i| !common.contains(i)).collect();
            own.reverse();
            match own.len() {
                1 => format!("1 revision (`{}`)", g.nodes[h].id),
                2..=4 => {
                    let ids: Vec<&str> = own.iter().map(|&i| g.nodes[i].id.as_str()).collect();
                    format!("{} revisions ({})", ids.len(), ids.join(" → "))
                }
                n => format!("{n} revisions up to `{}`", g.nodes[h].id),
            }
        })
        .collect();
    let diverged = if forks.is_empty() {
        "the heads share no common ancestor (separate bases)".to_string()
    } else {
        let f: Vec<String> = forks
            .iter()
            .map(|&f| format!("`{}`", g.nodes[f].id))
            .collect();
        format!("the branches diverged at {}", join_and(&f))
    };
    let duplicated: BTreeSet<&str> = heads
        .iter()
        .map(|&h| g.nodes[h].id.as_str())
        .filter(|id| heads.iter().filter(|&&o| g.nodes[o].id == *id).count() > 1)
        .collect();
    // The fact in the message; how the branches came apart in a note.
    let ids: Vec<String> = heads
        .iter()
        .map(|&h| format!("`{}`", g.nodes[h].id))
        .collect();
    let message = format!(
        "{} heads, {}: `alembic upgrade head` fails with \"Multiple head revisions are present\"{}",
        heads.len(),
        join_and(&ids),
        unknowns_note(project),
    );
    let history = format!(
        "{}; {}, and they add {} since",
        join_and(&head_list),
        diverged,
        join_and(&adds)
    );
    let help = if duplicated.is_empty() {
        let ids: Vec<&str> = g.ids(heads);
        format!(
            "merge the heads in a reviewed revision: `{}merge -m \"merge heads\" {}`",
            alembic_prefix(cx, project),
            ids.join(" ")
        )
    } else {
        let d: Vec<String> = duplicated.iter().map(|d| format!("`{d}`")).collect();
        format!(
            "{} is declared by more than one file, which `alembic merge` cannot fix: give one copy a new revision id first (see duplicate-revision), then merge the heads",
            join_and(&d)
        )
    };
    let mut d = Diagnostic::new(RuleId::MultipleHeads, message)
        .help(help)
        .note(history);
    for (n, &h) in heads.iter().enumerate() {
        d = d.primary(
            revision_span(g, h),
            format!("head {} of {}", n + 1, heads.len()),
        );
    }
    for &f in &forks {
        d = d.secondary(revision_span(g, f), "the branches diverge here");
    }
    d
}

/// `alembic ` or `alembic -c path/alembic.ini ` when the config is not in the working dir.
pub(crate) fn alembic_prefix(cx: &Context, project: &crate::model::project::Project) -> String {
    match &project.config {
        ConfigSource::Ini(f) => {
            let shown = &cx.db.get(*f).display;
            if shown == "alembic.ini" {
                "alembic ".into()
            } else {
                format!("alembic -c {shown} ")
            }
        }
        _ => "alembic ".into(),
    }
}
