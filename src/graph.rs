//! The revision graph of one project, built exactly as Alembic builds its revision map.
//! Facts about topology only; rules turn them into findings.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use petgraph::algo::kosaraju_scc;
use petgraph::graph::DiGraph;

use crate::model::migration::{Migration, RevRef};
use crate::model::project::Project;

/// Index of a node: a migration with a known revision id, in load order.
pub type NodeIx = usize;

#[derive(Debug)]
pub struct Node<'p> {
    pub migration: &'p Migration,
    pub id: String,
    /// Parents through `down_revision` (resolved to the winning node of each id).
    pub parents: Vec<NodeIx>,
    /// Resolved `depends_on` targets.
    pub dependencies: Vec<NodeIx>,
    /// Children through `down_revision`.
    pub children: Vec<NodeIx>,
    /// Children through `down_revision` or `depends_on`.
    pub all_children: Vec<NodeIx>,
    /// Branch labels after Alembic's inheritance, sorted.
    pub labels: BTreeSet<String>,
}

/// A reference that names nothing.
#[derive(Debug, Clone)]
pub struct Dangling {
    pub node: NodeIx,
    pub reference: RevRef,
    /// The reference names a branch label (allowed in `depends_on`, not in `down_revision`).
    pub names_label: bool,
}

#[derive(Debug)]
pub struct LabelConflict {
    pub label: RevRef,
    pub node: NodeIx,
    /// The node that declared the label (or has it as revision id) first.
    pub first: NodeIx,
    pub first_is_revision: bool,
}

#[derive(Debug)]
pub struct RevisionGraph<'p> {
    pub nodes: Vec<Node<'p>>,
    /// `alembic heads` (down_revision only), in Alembic's order; a shadowed duplicate stays.
    pub heads: Vec<NodeIx>,
    /// Heads when `depends_on` also counts (the symbol `heads`).
    pub real_heads: Vec<NodeIx>,
    /// Revisions without `down_revision`.
    pub bases: Vec<NodeIx>,
    /// Bases that also have no `depends_on`.
    pub real_bases: Vec<NodeIx>,
    /// Id → the node Alembic keeps (the last loaded).
    pub by_id: HashMap<String, NodeIx>,
    /// Label → the node that declares it.
    pub label_owner: BTreeMap<String, NodeIx>,
    pub duplicates: Vec<Vec<NodeIx>>,
    pub dangling_down: Vec<Dangling>,
    pub dangling_depends: Vec<Dangling>,
    pub label_conflicts: Vec<LabelConflict>,
    /// Cycles through `down_revision`, each in load order.
    pub cycles: Vec<Vec<NodeIx>>,
    /// Cycles that need a `depends_on` edge.
    pub dependency_cycles: Vec<Vec<NodeIx>>,
    /// Whether Alembic's own check notices a cycle (`CycleDetected`, or
    /// `DependencyCycleDetected` for the second). Alembic only checks that every revision
    /// lies between a head and a base, so some cycles load without error.
    pub alembic_detects_cycle: bool,
    pub alembic_detects_dependency_cycle: bool,
}

impl<'p> RevisionGraph<'p> {
    pub fn build(project: &'p Project) -> RevisionGraph<'p> {
        let mut nodes: Vec<Node<'p>> = project
            .migrations()
            .filter_map(|m| {
                Some(Node {
                    migration: m,
                    id: m.id()?.to_string(),
                    parents: Vec::new(),
                    dependencies: Vec::new(),
                    children: Vec::new(),
                    all_children: Vec::new(),
                    labels: BTreeSet::new(),
                })
            })
            .collect();
        let mut by_id: HashMap<String, NodeIx> = HashMap::new();
        let mut groups: BTreeMap<&str, Vec<NodeIx>> = BTreeMap::new();
        for (i, n) in nodes.iter().enumerate() {
            by_id.insert(n.id.clone(), i);
            groups.entry(n.id.as_str()).or_default().push(i);
        }
        let duplicates: Vec<Vec<NodeIx>> = groups.into_values().filter(|g| g.len() > 1).collect();

        // Branch labels: a label may not repeat, nor equal a revision id.
        let mut label_owner: BTreeMap<String, NodeIx> = BTreeMap::new();
        let mut label_conflicts = Vec::new();
        for (i, n) in nodes.iter().enumerate() {
            for l in &n.migration.branch_labels {
                if let Some(&first) = by_id.get(&l.id) {
                    label_conflicts.push(LabelConflict {
                        label: l.clone(),
                        node: i,
                        first,
                        first_is_revision: true,
                    });
                } else if let Some(&first) = label_owner.get(&l.id) {
                    label_conflicts.push(LabelConflict {
                        label: l.clone(),
                        node: i,
                        first,
                        first_is_revision: false,
                    });
                } else {
                    label_owner.insert(l.id.clone(), i);
                }
            }
        }

        // Edges. Every file's references are resolved (Alembic reads a shadowed duplicate's
        // `depends_on` while resolving dependencies, and walks its `down_revision` when it
        // checks for cycles, so a dangling one fails there too). Only the file that won each
        // id attaches children and removes heads, as in Alembic's map building.
        let winners: BTreeSet<NodeIx> = by_id.values().copied().collect();
        let mut is_head = vec![true; nodes.len()];
        let mut is_real_head = vec![true; nodes.len()];
        let mut dangling_down = Vec::new();
        let mut dangling_depends = Vec::new();
        for (i, node) in nodes.iter_mut().enumerate() {
            let m = node.migration;
            let winner = winners.contains(&i);
            for r in &m.down_revisions {
                match by_id.get(&r.id) {
                    Some(&t) => {
                        if !node.parents.contains(&t) {
                            node.parents.push(t);
                        }
                        if winner {
                            is_head[t] = false;
                            is_real_head[t] = false;
                        }
                    }
                    None => dangling_down.push(Dangling {
                        node: i,
                        reference: r.clone(),
                        names_label: label_owner.contains_key(&r.id),
                    }),
                }
            }
            for r in &m.depends_on {
                match by_id.get(&r.id).or_else(|| label_owner.get(&r.id)) {
                    Some(&t) => {
                        if !node.dependencies.contains(&t) {
                            node.dependencies.push(t);
                        }
                        if winner {
                            is_real_head[t] = false;
                        }
                    }
                    None => dangling_depends.push(Dangling {
                        node: i,
                        reference: r.clone(),
                        names_label: false,
                    }),
                }
            }
        }
        for &i in &winners {
            let parents = nodes[i].parents.clone();
            for p in parents {
                nodes[p].children.push(i);
                nodes[p].all_children.push(i);
            }
            let deps = nodes[i].dependencies.clone();
            for d in deps {
                if !nodes[d].all_children.contains(&i) {
                    nodes[d].all_children.push(i);
                }
            }
        }
        let heads = (0..nodes.len()).filter(|&i| is_head[i]).collect();
        let real_heads = (0..nodes.len()).filter(|&i| is_real_head[i]).collect();
        let bases = (0..nodes.len())
            .filter(|&i| nodes[i].migration.down_revisions.is_empty())
            .collect();
        let real_bases = (0..nodes.len())
            .filter(|&i| {
                nodes[i].migration.down_revisions.is_empty()
                    && nodes[i].migration.depends_on.is_empty()
            })
            .collect();

        let (cycles, dependency_cycles) = find_cycles(&nodes);
        let mut g = RevisionGraph {
            nodes,
            heads,
            real_heads,
            bases,
            real_bases,
            by_id,
            label_owner,
            duplicates,
            dangling_down,
            dangling_depends,
            label_conflicts,
            cycles,
            dependency_cycles,
            alembic_detects_cycle: false,
            alembic_detects_dependency_cycle: false,
        };
        g.alembic_detects_cycle = g.alembic_cycle_check(false);
        g.alembic_detects_dependency_cycle = g.alembic_cycle_check(true);
        if g.cycles.is_empty() {
            g.spread_labels();
        }
        g
    }

    /// Alembic's `_detect_cycles`: with no heads or no bases, or with a revision that is not
    /// both below a head and above a base, the history is refused. `with_deps` repeats the
    /// test with `depends_on` edges, from the real heads and bases.
    fn alembic_cycle_check(&self, with_deps: bool) -> bool {
        if self.nodes.is_empty() {
            return false;
        }
        let (heads, bases) = if with_deps {
            (&self.real_heads, &self.real_bases)
        } else {
            (&self.heads, &self.bases)
        };
        if heads.is_empty() || bases.is_empty() {
            return true;
        }
        let reach = |starts: &[NodeIx], up: bool| -> Vec<bool> {
            let mut seen = vec![false; self.nodes.len()];
            let mut stack: Vec<NodeIx> = starts.to_vec();
            while let Some(i) = stack.pop() {
                if std::mem::replace(&mut seen[i], true) {
                    continue;
                }
                let n = &self.nodes[i];
                match (up, with_deps) {
                    (false, false) => stack.extend(&n.parents),
                    (false, true) => stack.extend(n.parents.iter().chain(&n.dependencies)),
                    (true, false) => stack.extend(&n.children),
                    (true, true) => stack.extend(&n.all_children),
                }
            }
            seen
        };
        let down = reach(heads, false);
        let up = reach(bases, true);
        // Alembic compares ids: an id is kept when some node carrying it is in both walks.
        let mut down_ids = vec![false; self.nodes.len()];
        let mut up_ids = vec![false; self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            let w = self.by_id[&n.id];
            down_ids[w] |= down[i];
            up_ids[w] |= up[i];
        }
        self.by_id.values().any(|&w| !(down_ids[w] && up_ids[w]))
    }

    pub fn ids(&self, ix: &[NodeIx]) -> Vec<&str> {
        ix.iter().map(|&i| self.nodes[i].id.as_str()).collect()
    }

    /// A revision's labels reach its descendants, and its ancestors down to the nearest
    /// branch point or merge point (Alembic's `_add_branches`).
    fn spread_labels(&mut self) {
        let owners: Vec<(NodeIx, Vec<String>)> = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.migration.branch_labels.is_empty())
            .map(|(i, n)| {
                (
                    i,
                    n.migration
                        .branch_labels
                        .iter()
                        .map(|l| l.id.clone())
                        .collect(),
                )
            })
            .collect();
        for (owner, labels) in owners {
            for d in self.descendants(owner) {
                self.nodes[d].labels.extend(labels.iter().cloned());
            }
            let mut cur = Some(owner);
            let mut steps = 0;
            while let Some(c) = cur {
                let n = &self.nodes[c];
                if n.all_children.len() > 1 || n.parents.len() > 1 || steps > self.nodes.len() {
                    break;
                }
                self.nodes[c].labels.extend(labels.iter().cloned());
                cur = self.nodes[c].parents.first().copied();
                steps += 1;
            }
        }
    }

    /// `ix` and everything that descends from it through `down_revision`.
    pub fn descendants(&self, ix: NodeIx) -> Vec<NodeIx> {
        self.walk(ix, |n| &n.children)
    }

    /// `ix` and everything it descends from through `down_revision`.
    pub fn ancestors(&self, ix: NodeIx) -> Vec<NodeIx> {
        self.walk(ix, |n| &n.parents)
    }

    fn walk(
        &self,
        ix: NodeIx,
        next: impl for<'a> Fn(&'a Node<'p>) -> &'a Vec<NodeIx>,
    ) -> Vec<NodeIx> {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack = vec![ix];
        let mut out = Vec::new();
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            out.push(i);
            stack.extend(next(&self.nodes[i]).iter().copied());
        }
        out
    }

    /// Whether every node in `set` carries labels that no other node in `set` shares: an
    /// intentional layout of independent, labelled branches.
    pub fn distinct_label_lineages(&self, set: &[NodeIx]) -> bool {
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        for &i in set {
            let labels = &self.nodes[i].labels;
            if labels.is_empty() || labels.iter().any(|l| seen.contains(l.as_str())) {
                return false;
            }
            seen.extend(labels.iter().map(String::as_str));
        }
        true
    }

    pub fn is_branch_point(&self, ix: NodeIx) -> bool {
        self.nodes[ix].children.len() > 1
    }

    pub fn is_merge_point(&self, ix: NodeIx) -> bool {
        self.nodes[ix].migration.down_revisions.len() > 1
    }
}

/// Strongly connected components with a cycle, without recursion (petgraph's Kosaraju walks
/// with an explicit stack; its Tarjan recurses), first through `down_revision` only, then through both kinds of edge.
fn find_cycles(nodes: &[Node<'_>]) -> (Vec<Vec<NodeIx>>, Vec<Vec<NodeIx>>) {
    let components = |with_deps: bool| -> Vec<Vec<NodeIx>> {
        let mut g: DiGraph<(), ()> = DiGraph::with_capacity(nodes.len(), nodes.len());
        let ix: Vec<_> = (0..nodes.len()).map(|_| g.add_node(())).collect();
        let mut self_loops = BTreeSet::new();
        for (i, n) in nodes.iter().enumerate() {
            let targets = n
                .parents
                .iter()
                .chain(if with_deps { &n.dependencies[..] } else { &[] });
            for &p in targets {
                if p == i {
                    self_loops.insert(i);
                }
                g.add_edge(ix[i], ix[p], ());
            }
        }
        kosaraju_scc(&g)
            .into_iter()
            .map(|c| {
                let mut c: Vec<NodeIx> = c.into_iter().map(|n| n.index()).collect();
                c.sort_unstable();
                c
            })
            .filter(|c| c.len() > 1 || self_loops.contains(&c[0]))
            .collect()
    };
    let mut plain = components(false);
    plain.sort();
    let plain_members: BTreeSet<NodeIx> = plain.iter().flatten().copied().collect();
    let mut deps: Vec<Vec<NodeIx>> = components(true)
        .into_iter()
        .filter(|c| !c.iter().all(|i| plain_members.contains(i)))
        .collect();
    deps.sort();
    (plain, deps)
}
