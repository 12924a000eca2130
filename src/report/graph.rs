//! Views of the revision graph: text (lanes, like `git log --graph`), Mermaid, Graphviz dot,
//! JSON, and the `alembic heads` shape.

use std::io::{self, Write};

use serde_json::{json, Value};

use crate::graph::{NodeIx, RevisionGraph};
use crate::model::project::Project;
use crate::source::FileDb;

/// Markers Alembic would print, plus the graph roles revlint marks.
fn markers(g: &RevisionGraph, i: NodeIx) -> Vec<String> {
    let mut m = Vec::new();
    if !g.nodes[i].labels.is_empty() {
        m.push(format!(
            "({})",
            g.nodes[i]
                .labels
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if g.real_heads.contains(&i) {
        m.push("(head)".into());
    } else if g.heads.contains(&i) {
        m.push("(effective head)".into());
    }
    if g.bases.contains(&i) {
        m.push("(base)".into());
    }
    if g.is_merge_point(i) {
        m.push("(merge)".into());
    }
    if g.is_branch_point(i) {
        m.push("(branch point)".into());
    }
    m
}

/// Nodes with every node after all of its children: heads first, each branch contiguous.
/// Nodes in cycles come last.
fn display_order(g: &RevisionGraph) -> Vec<NodeIx> {
    let n = g.nodes.len();
    let mut pending: Vec<usize> = g.nodes.iter().map(|x| x.children.len()).collect();
    let mut stack: Vec<NodeIx> = (0..n).filter(|&i| pending[i] == 0).rev().collect();
    let mut out = Vec::with_capacity(n);
    let mut done = vec![false; n];
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut done[i], true) {
            continue;
        }
        out.push(i);
        for &p in g.nodes[i].parents.iter().rev() {
            pending[p] = pending[p].saturating_sub(1);
            if pending[p] == 0 {
                stack.push(p);
            }
        }
    }
    out.extend((0..n).filter(|&i| !done[i]));
    out
}

fn lane_row(lanes: &[Option<NodeIx>], f: impl Fn(usize, Option<NodeIx>) -> char) -> String {
    let mut s: String = lanes
        .iter()
        .enumerate()
        .flat_map(|(k, l)| [f(k, *l), ' '])
        .collect();
    s.truncate(s.trim_end().len());
    s
}

pub fn write_text(
    out: &mut impl Write,
    db: &FileDb,
    project: &Project,
    g: &RevisionGraph,
) -> io::Result<()> {
    writeln!(out, "# {}", db.get(project.config.file()).display)?;
    if g.nodes.is_empty() {
        return writeln!(out, "(no revisions)");
    }
    let mut lanes: Vec<Option<NodeIx>> = Vec::new();
    let mut cyclic = vec![false; g.nodes.len()];
    for &i in g.cycles.iter().flatten() {
        cyclic[i] = true;
    }
    let in_cycle = |i: NodeIx| cyclic[i];
    for i in display_order(g) {
        let col = match lanes.iter().position(|l| *l == Some(i)) {
            Some(c) => c,
            None => match lanes.iter().position(Option::is_none) {
                Some(c) => {
                    lanes[c] = Some(i);
                    c
                }
                None => {
                    lanes.push(Some(i));
                    lanes.len() - 1
                }
            },
        };
        let others: Vec<usize> = (0..lanes.len())
            .filter(|&k| k != col && lanes[k] == Some(i))
            .collect();
        if !others.is_empty() {
            writeln!(
                out,
                "{}",
                lane_row(&lanes, |k, l| if others.contains(&k) {
                    '/'
                } else if l.is_some() {
                    '|'
                } else {
                    ' '
                })
            )?;
            for k in &others {
                lanes[*k] = None;
            }
        }
        let mut mk = markers(g, i);
        if in_cycle(i) {
            mk.push("(in a cycle)".into());
        }
        let row = lane_row(&lanes, |k, l| {
            if k == col {
                '*'
            } else if l.is_some() {
                '|'
            } else {
                ' '
            }
        });
        let mk = if mk.is_empty() {
            String::new()
        } else {
            format!(" {}", mk.join(" "))
        };
        let path = &db.get(g.nodes[i].migration.file).path;
        let name = path
            .file_name()
            .map(|f| f.to_string_lossy())
            .unwrap_or_default();
        writeln!(out, "{row}  {}{mk}  {name}", g.nodes[i].id)?;
        let parents = &g.nodes[i].parents;
        lanes[col] = parents.first().copied().filter(|_| !in_cycle(i));
        let mut opened = Vec::new();
        for &p in parents.iter().skip(1) {
            if lanes.contains(&Some(p)) {
                continue;
            }
            let k = match lanes.iter().position(Option::is_none) {
                Some(k) => {
                    lanes[k] = Some(p);
                    k
                }
                None => {
                    lanes.push(Some(p));
                    lanes.len() - 1
                }
            };
            opened.push(k);
        }
        if !opened.is_empty() {
            writeln!(
                out,
                "{}",
                lane_row(&lanes, |k, l| if opened.contains(&k) {
                    '\\'
                } else if l.is_some() {
                    '|'
                } else {
                    ' '
                })
            )?;
        }
        while lanes.last() == Some(&None) {
            lanes.pop();
        }
    }
    Ok(())
}

pub fn write_mermaid(out: &mut impl Write, g: &RevisionGraph) -> io::Result<()> {
    writeln!(out, "flowchart BT")?;
    for (i, n) in g.nodes.iter().enumerate() {
        let mk = markers(g, i);
        let label = if mk.is_empty() {
            n.id.clone()
        } else {
            format!("{}<br/>{}", n.id, mk.join(" "))
        };
        writeln!(out, "  n{i}[\"{}\"]", label.replace('"', "#quot;"))?;
    }
    for (i, n) in g.nodes.iter().enumerate() {
        for &p in &n.parents {
            writeln!(out, "  n{p} --> n{i}")?;
        }
        for &d in &n.dependencies {
            writeln!(out, "  n{d} -. depends_on .-> n{i}")?;
        }
    }
    writeln!(out, "  classDef head stroke:#d33,stroke-width:3px")?;
    writeln!(out, "  classDef base stroke:#36c,stroke-width:2px")?;
    for &h in &g.heads {
        writeln!(out, "  class n{h} head")?;
    }
    for &b in &g.bases {
        if !g.heads.contains(&b) {
            writeln!(out, "  class n{b} base")?;
        }
    }
    Ok(())
}

pub fn write_dot(out: &mut impl Write, g: &RevisionGraph) -> io::Result<()> {
    writeln!(out, "digraph revisions {{")?;
    writeln!(out, "  rankdir=BT;")?;
    writeln!(out, "  node [shape=box, fontname=\"monospace\"];")?;
    for (i, n) in g.nodes.iter().enumerate() {
        let mk = markers(g, i);
        let label = if mk.is_empty() {
            n.id.clone()
        } else {
            format!("{}\\n{}", n.id, mk.join(" "))
        };
        let style = if g.heads.contains(&i) {
            ", color=red, penwidth=2"
        } else if g.bases.contains(&i) {
            ", color=blue"
        } else {
            ""
        };
        writeln!(
            out,
            "  n{i} [label=\"{}\"{style}];",
            label.replace('"', "\\\"")
        )?;
    }
    for (i, n) in g.nodes.iter().enumerate() {
        for &p in &n.parents {
            writeln!(out, "  n{i} -> n{p};")?;
        }
        for &d in &n.dependencies {
            writeln!(out, "  n{i} -> n{d} [style=dashed, label=\"depends_on\"];")?;
        }
    }
    writeln!(out, "}}")
}

pub fn project_value(
    db: &FileDb,
    cwd: &std::path::Path,
    project: &Project,
    g: &RevisionGraph,
) -> Value {
    let ids = |v: &[NodeIx]| -> Vec<&str> { g.ids(v) };
    let revisions: Vec<Value> = g
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let m = n.migration;
            let f = db.get(m.file);
            let line = m.revision.as_ref().map(|r| f.line_col(r.span.start).line).unwrap_or(1);
            json!({
                "id": n.id,
                "path": f.display,
                "line": line,
                "down_revisions": m.down_revisions.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
                "depends_on": m.depends_on.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
                "branch_labels": m.branch_labels.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
                "labels": n.labels,
                "head": g.heads.contains(&i),
                "base": g.bases.contains(&i),
                "merge": g.is_merge_point(i),
                "branch_point": g.is_branch_point(i),
            })
        })
        .collect();
    json!({
        "root": crate::discover::display(cwd, &project.here),
        "config": db.get(project.config.file()).display,
        "heads": ids(&g.heads),
        "bases": ids(&g.bases),
        "real_heads": ids(&g.real_heads),
        "real_bases": ids(&g.real_bases),
        "revisions": revisions,
    })
}

/// `alembic heads` output: `<id> (<labels>) (head)`, or `(effective head)` for a head that
/// is only a `depends_on` target.
pub fn write_heads(out: &mut impl Write, g: &RevisionGraph) -> io::Result<()> {
    for &h in &g.heads {
        let n = &g.nodes[h];
        let mut line = n.id.clone();
        if !n.labels.is_empty() {
            line.push_str(&format!(
                " ({})",
                n.labels.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        if g.real_heads.contains(&h) {
            line.push_str(" (head)");
        } else {
            line.push_str(" (effective head)");
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}
