use crate::diagnostic::{Diagnostic, Severity};
use crate::graph::{NodeIx, RevisionGraph};
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};
use crate::source::Span;

pub struct RevisionCycle;

static META: RuleMeta = RuleMeta {
    id: RuleId::RevisionCycle,
    category: Category::Graph,
    summary: "Revisions form a cycle through `down_revision` or `depends_on`",
    default_severity: Severity::Error,
    docs: r#"## What it does

Finds cycles in the revision graph: a revision that is, through `down_revision` (or through
`depends_on`), its own ancestor. Each cycle is reported once, starting from the member that
comes first by file path, with every member labelled.

## Why is this bad?

Usually Alembic refuses the whole history ("Cycle is detected in revisions", or
"Dependency cycle is detected"; a revision naming itself raises "Self-loop is detected"),
so no command works. Alembic's check only asks whether every revision lies between a head
and a base, so some cycles (a merge or `depends_on` that names one of its own
descendants) load silently, and then upgrades run a revision before its parent or never
finish. Cycles come from hand-edited ids, or from rebasing a revision onto one of its own
descendants.

## Example

```python
# versions/aaaa00000001_a.py
revision = "aaaa00000001"
down_revision = "bbbb00000002"
# versions/bbbb00000002_b.py
revision = "bbbb00000002"
down_revision = "aaaa00000001"
```

## How to fix

Decide which revision came first and point its `down_revision` at its real parent (or
`None` for the first revision).
"#,
};

impl Rule for RevisionCycle {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        for g in cx.graphs {
            for (cycle, via_deps) in g
                .cycles
                .iter()
                .map(|c| (c, false))
                .chain(g.dependency_cycles.iter().map(|c| (c, true)))
            {
                out.push(diagnose(cx, g, cycle, via_deps));
            }
        }
    }
}

fn diagnose(cx: &Context, g: &RevisionGraph, cycle: &[NodeIx], via_deps: bool) -> Diagnostic {
    // Start at the member first by (path, offset), then follow edges inside the cycle.
    let start = *cycle
        .iter()
        .min_by_key(|&&i| {
            let m = g.nodes[i].migration;
            (
                &cx.db.get(m.file).display,
                m.revision.as_ref().map(|r| r.span.start),
            )
        })
        .expect("non-empty cycle");
    let members: std::collections::HashSet<NodeIx> = cycle.iter().copied().collect();
    let mut visited = std::collections::HashSet::from([start]);
    let mut order = vec![start];
    let mut cur = start;
    loop {
        let n = &g.nodes[cur];
        let next = n
            .parents
            .iter()
            .chain(if via_deps { &n.dependencies[..] } else { &[] })
            .copied()
            .find(|p| members.contains(p) && (*p == start || !visited.contains(p)));
        match next {
            Some(p) if p != start => {
                visited.insert(p);
                order.push(p);
                cur = p;
            }
            _ => break,
        }
    }
    // Long cycles are shown by their first members; every member is still counted.
    const SHOWN: usize = 8;
    let mut path: Vec<&str> = order
        .iter()
        .take(SHOWN)
        .map(|&i| g.nodes[i].id.as_str())
        .collect();
    if order.len() > SHOWN {
        path.push("…");
    }
    path.push(g.nodes[start].id.as_str());
    let size = if order.len() > SHOWN {
        format!(" ({} revisions)", order.len())
    } else {
        String::new()
    };
    let kind = if via_deps {
        "`down_revision` and `depends_on`"
    } else {
        "`down_revision`"
    };
    let error = match (order.len(), via_deps) {
        (1, false) => "Self-loop is detected in revisions",
        (1, true) => "Dependency self-loop is detected in revisions",
        (_, false) => "Cycle is detected in revisions",
        (_, true) => "Dependency cycle is detected in revisions",
    };
    let detected = order.len() == 1
        || if via_deps {
            g.alembic_detects_dependency_cycle
        } else {
            g.alembic_detects_cycle
        };
    let consequence = if detected {
        format!("Alembic refuses every command (\"{error}\")")
    } else {
        "Alembic's own check does not notice it (every revision still lies between a head and a base), but it then plans upgrades in a wrong order or never finishes walking the history".to_string()
    };
    let message = format!(
        "revisions form a cycle through {kind}: {}{size}. {consequence}",
        path.join(" → ")
    );
    let mut d = Diagnostic::new(RuleId::RevisionCycle, message).help(
        "point the `down_revision` of the earliest of these revisions at its real parent, or at None if it is the first revision",
    );
    for (k, &i) in order.iter().enumerate().take(SHOWN) {
        let m = g.nodes[i].migration;
        let next = order.get(k + 1).copied().unwrap_or(start);
        let next_id = &g.nodes[next].id;
        let span = m
            .down_revisions
            .iter()
            .chain(&m.depends_on)
            .find(|r| &r.id == next_id)
            .map(|r| r.span)
            .or(m.down_span)
            .unwrap_or(Span::file_start(m.file));
        let note = format!("`{}` points at `{next_id}`", g.nodes[i].id);
        d = if k == 0 {
            d.primary(span, note)
        } else {
            d.secondary(span, note)
        };
    }
    d
}
