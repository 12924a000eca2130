"""Parity oracle: random Alembic projects and what real Alembic makes of them.

Usage: python oracle.py OUT_DIR [--cases N] [--start S] [--summary]

For every seed in [S, S + N) a revision graph is generated with
``random.Random(seed)``, written as an Alembic project under
``OUT_DIR/case_<seed>/`` and loaded in-process with the installed Alembic.
The results (heads, bases, or the classified error) are written to
``OUT_DIR/expected.json``; ``tests/parity.rs`` compares revlint against them.

The generator only emits what can be known statically: literal revision
identifiers, literal ``down_revision``/``depends_on``/``branch_labels``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import sys
import traceback
import warnings
from pathlib import Path

sys.dont_write_bytecode = True
warnings.simplefilter("ignore")

import alembic  # noqa: E402
from alembic.config import Config  # noqa: E402
from alembic.script import ScriptDirectory  # noqa: E402
from alembic.script import revision as alembic_revision  # noqa: E402
from alembic.util import CommandError  # noqa: E402

PINNED_ALEMBIC = "1.20.1"

LABEL_POOL = [
    "core",
    "billing",
    "auth",
    "reports",
    "search",
    "audit",
    "tenant",
    "legacy",
    "analytics",
    "payments",
    "inventory",
    "shipping",
    "users",
    "orders",
    "notifications",
    "feature_x",
    "feature_y",
    "warehouse",
]

SLUG_WORDS = [
    "add",
    "drop",
    "user",
    "table",
    "index",
    "column",
    "orders",
    "rename",
    "email",
    "merge",
    "heads",
    "initial",
    "schema",
    "backfill",
    "status",
    "tenant",
    "invoice",
    "constraint",
]

FATAL_KINDS = [
    "dangling-down-revision",
    "dangling-depends-on",
    "revision-cycle",
    "duplicate-branch-label",
    "not-a-revision",
]


# --------------------------------------------------------------------------
# Graph model
# --------------------------------------------------------------------------


class Rev:
    """One migration file of a generated project."""

    def __init__(self, rid, down=None):
        # Revision id, as declared (or derived from the file name when
        # ``declare_revision`` is False).
        self.rid = rid
        # None, str, tuple or list: written verbatim.
        self.down = down
        # "omit" (attribute absent), None, str, tuple or list.
        self.depends_on = "omit"
        self.branch_labels = "omit"
        self.declare_revision = True
        self.filename = None
        # Non-revision helper file (no ``revision`` attribute at all).
        self.helper = False

    def down_members(self):
        return members(self.down)

    def dep_members(self):
        if self.depends_on == "omit":
            return []
        return members(self.depends_on)

    def label_members(self):
        if self.branch_labels == "omit":
            return []
        return members(self.branch_labels)


def members(value):
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def shape_value(rng, items, allow_none=True):
    """Render a list of identifiers as one of the forms Alembic accepts."""
    if not items:
        if allow_none:
            return rng.choice([None, None, None, (), []])
        return None
    if len(items) == 1:
        r = rng.random()
        if r < 0.7:
            return items[0]
        if r < 0.85:
            return (items[0],)
        return [items[0]]
    return tuple(items) if rng.random() < 0.6 else list(items)


def new_id(rng, used, style="hex12"):
    while True:
        if style == "hex12":
            rid = "%012x" % rng.getrandbits(48)
        elif style == "short":
            rid = "%0*x" % (rng.choice([4, 6, 8]), rng.getrandbits(32))
            rid = rid[-rng.choice([4, 6, 8]) :]
        else:
            rid = "%012x" % rng.getrandbits(48)
        if rid not in used and rid not in LABEL_POOL:
            used.add(rid)
            return rid


class Graph:
    def __init__(self, rng):
        self.rng = rng
        self.revs: list[Rev] = []
        self.used: set[str] = set()
        self.mutations: list[str] = []
        # Per-case rendering choices.
        self.id_style = "hex12" if rng.random() < 0.85 else "short"

    def fresh(self):
        return new_id(self.rng, self.used, self.id_style)

    def by_id(self, rid):
        for r in self.revs:
            if r.rid == rid and not r.helper:
                return r
        return None

    def real(self):
        return [r for r in self.revs if not r.helper]

    def labels(self):
        out = {}
        for r in self.real():
            for lab in r.label_members():
                out.setdefault(lab, r.rid)
        return out

    def descendants(self, rid):
        """Revisions reachable through down_revision edges towards heads."""
        children = collections.defaultdict(list)
        for r in self.real():
            for d in r.down_members():
                children[d].append(r.rid)
        seen = set()
        todo = [rid]
        while todo:
            cur = todo.pop()
            for c in children.get(cur, []):
                if c not in seen:
                    seen.add(c)
                    todo.append(c)
        return seen


# --------------------------------------------------------------------------
# Valid graph generation
# --------------------------------------------------------------------------


def gen_valid(g: Graph):
    rng = g.rng
    shape = rng.choice(
        ["linear", "linear", "branchy", "mergy", "multibase", "labelled", "mixed"]
    )
    n = rng.randint(1, 6) if rng.random() < 0.3 else rng.randint(4, 28)
    if shape == "linear" and rng.random() < 0.2:
        n = 1
    p_base = {"multibase": 0.25, "labelled": 0.2, "mixed": 0.1}.get(shape, 0.0)
    p_merge = {"mergy": 0.35, "mixed": 0.15, "branchy": 0.05}.get(shape, 0.0)
    p_branch = {"branchy": 0.5, "mergy": 0.3, "mixed": 0.3, "multibase": 0.2}.get(
        shape, 0.0
    )
    p_dep = {"labelled": 0.2, "mixed": 0.15, "multibase": 0.15}.get(shape, 0.03)

    order: list[Rev] = []
    for i in range(n):
        rid = g.fresh()
        if i == 0 or rng.random() < p_base:
            down_items = []
        elif len(order) >= 2 and rng.random() < p_merge:
            k = min(len(order), rng.choice([2, 2, 2, 3]))
            down_items = rng.sample([r.rid for r in order], k)
        elif rng.random() < p_branch:
            down_items = [rng.choice(order).rid]
        else:
            down_items = [order[-1].rid]
        rev = Rev(rid, shape_value(rng, down_items))
        if not down_items and shape == "labelled":
            rev.branch_labels = "label"  # filled below
        order.append(rev)

    # Branch labels: unique names from the pool.
    pool = LABEL_POOL[:]
    rng.shuffle(pool)
    for rev in order:
        want = rev.branch_labels == "label" or rng.random() < 0.06
        if want and pool:
            k = 1 if rng.random() < 0.8 or len(pool) < 2 else 2
            labs = [pool.pop() for _ in range(k)]
            r = rng.random()
            if k == 1 and r < 0.5:
                rev.branch_labels = labs[0]
            elif r < 0.8:
                rev.branch_labels = tuple(labs)
            else:
                rev.branch_labels = list(labs)
        elif rev.branch_labels == "label":
            rev.branch_labels = "omit"
        elif rng.random() < 0.05:
            rev.branch_labels = rng.choice([None, (), []])

    # depends_on: only on earlier revisions (or their labels) so the graph
    # stays acyclic.
    for i, rev in enumerate(order):
        if i > 0 and rng.random() < p_dep:
            k = rng.choice([1, 1, 2])
            targets = rng.sample(order[:i], min(k, i))
            names = []
            for t in targets:
                labs = t.label_members()
                if labs and rng.random() < 0.5:
                    names.append(rng.choice(labs))
                else:
                    names.append(t.rid)
            rev.depends_on = shape_value(rng, names)
        elif rng.random() < 0.05:
            rev.depends_on = rng.choice([None, (), []])

    # A legacy revision whose id comes from its (all-hex) file name.
    if rng.random() < 0.06:
        rev = rng.choice(order)
        if all(c in "0123456789abcdef" for c in rev.rid):
            rev.declare_revision = False

    g.revs = order
    g.mutations.append("shape:%s" % shape)


# --------------------------------------------------------------------------
# Mutations
# --------------------------------------------------------------------------


def non_base(g):
    return [r for r in g.real() if r.down_members()]


def set_down(g, rev, items):
    rev.down = shape_value(g.rng, items)


def m_dangling_down(g: Graph):
    rng = g.rng
    rev = rng.choice(g.real())
    missing = g.fresh()
    g.used.discard(missing)  # stays unknown
    items = rev.down_members()
    if items and rng.random() < 0.6:
        items[rng.randrange(len(items))] = missing
    else:
        items = items + [missing]
    set_down(g, rev, items)
    g.mutations.append("dangling-down:%s->%s" % (rev.rid, missing))


def m_down_label(g: Graph):
    rng = g.rng
    real = g.real()
    labelled = [r for r in real if r.label_members()]
    if not labelled:
        target = rng.choice(real)
        lab = rng.choice(LABEL_POOL)
        if lab in g.labels():
            return m_dangling_down(g)
        target.branch_labels = lab
    else:
        target = rng.choice(labelled)
        lab = rng.choice(target.label_members())
    # Neither a descendant nor an ancestor of the labelled revision: the
    # label must be the only thing wrong (no cycle, a base stays a base).
    desc = g.descendants(target.rid)
    choices = [
        r
        for r in real
        if r is not target
        and r.rid not in desc
        and target.rid not in g.descendants(r.rid)
    ]
    if not choices:
        # A new revision on top of the labelled one.
        rev = Rev(g.fresh(), lab)
        g.revs.append(rev)
    else:
        rev = rng.choice(choices)
        set_down(g, rev, [lab])
    g.mutations.append("down-is-label:%s->%s" % (rev.rid, lab))


def m_dangling_dep(g: Graph):
    rng = g.rng
    rev = rng.choice(g.real())
    if rng.random() < 0.5:
        missing = g.fresh()
        g.used.discard(missing)
    else:
        taken = g.labels()
        free = [lab for lab in LABEL_POOL if lab not in taken]
        missing = rng.choice(free) if free else "no_such_label"
    items = rev.dep_members() + [missing]
    rng.shuffle(items)
    rev.depends_on = shape_value(rng, items)
    g.mutations.append("dangling-dep:%s->%s" % (rev.rid, missing))


def m_duplicate_id(g: Graph):
    rng = g.rng
    src = rng.choice(g.real())
    dup = Rev(src.rid)
    r = rng.random()
    if r < 0.4:
        dup.down = src.down  # copy-paste of the same file
    else:
        others = [x.rid for x in g.real() if x is not src]
        if others and r < 0.8:
            dup.down = shape_value(rng, [rng.choice(others)])
        else:
            dup.down = shape_value(rng, [])
    if rng.random() < 0.2:
        dup.depends_on = src.depends_on
    g.revs.append(dup)
    g.mutations.append("duplicate-id:%s" % src.rid)


def m_duplicate_dangling(g: Graph, field: str):
    """A second file with an existing id whose own reference dangles.

    Depending on the file names, the broken copy is the one Alembic keeps or
    the one it shadows; Alembic fails either way.
    """
    rng = g.rng
    src = rng.choice(g.real())
    dup = Rev(src.rid, src.down)
    missing = g.fresh()
    g.used.discard(missing)
    if field == "down":
        dup.down = shape_value(rng, dup.down_members()[:1] + [missing])
    else:
        dup.depends_on = shape_value(rng, [missing])
    g.revs.append(dup)
    g.mutations.append("duplicate-id-dangling-%s:%s->%s" % (field, src.rid, missing))


def m_duplicate_dangling_down(g: Graph):
    m_duplicate_dangling(g, "down")


def m_duplicate_dangling_dep(g: Graph):
    m_duplicate_dangling(g, "dep")


def m_cycle_component(g: Graph):
    """A separate ring of 2-4 revisions (with optional descendants)."""
    rng = g.rng
    k = rng.randint(2, 4)
    ring = [Rev(g.fresh()) for _ in range(k)]
    for i, rev in enumerate(ring):
        set_down(g, rev, [ring[i - 1].rid])
    g.revs.extend(ring)
    if rng.random() < 0.4:
        tail = Rev(g.fresh())
        set_down(g, tail, [rng.choice(ring).rid])
        g.revs.append(tail)
    g.mutations.append("cycle-ring:%s" % ",".join(r.rid for r in ring))


def m_cycle_rewire(g: Graph):
    """Point a revision's down_revision at one of its own descendants."""
    rng = g.rng
    cands = []
    for r in g.real():
        desc = g.descendants(r.rid)
        if desc:
            cands.append((r, sorted(desc)))
    if not cands:
        return m_cycle_component(g)
    rev, desc = rng.choice(cands)
    target = rng.choice(desc)
    if rev.down_members() and rng.random() < 0.25:
        # A merge of the old parent and a descendant: the ring stays on a
        # path from a base, which Alembic's loader does not notice.
        set_down(g, rev, rev.down_members() + [target])
        g.mutations.append("cycle-merge-rewire:%s->%s" % (rev.rid, target))
        return
    set_down(g, rev, [target])
    g.mutations.append("cycle-rewire:%s->%s" % (rev.rid, target))


def m_self_loop(g: Graph):
    rng = g.rng
    rev = rng.choice(g.real())
    if rng.random() < 0.6:
        items = rev.down_members()
        items.insert(rng.randint(0, len(items)), rev.rid)
        set_down(g, rev, items)
        g.mutations.append("self-loop-down:%s" % rev.rid)
    elif rev.label_members() and rng.random() < 0.5:
        lab = rng.choice(rev.label_members())
        rev.depends_on = shape_value(rng, rev.dep_members() + [lab])
        g.mutations.append("self-loop-dep-label:%s via %s" % (rev.rid, lab))
    else:
        items = rev.dep_members() + [rev.rid]
        rev.depends_on = shape_value(rng, items)
        g.mutations.append("self-loop-dep:%s" % rev.rid)


def m_dep_cycle(g: Graph):
    """depends_on naming a descendant of the revision."""
    rng = g.rng
    cands = []
    for r in g.real():
        desc = g.descendants(r.rid)
        if desc:
            cands.append((r, sorted(desc)))
    if not cands:
        return m_self_loop(g)
    rev, desc = rng.choice(cands)
    target = rng.choice(desc)
    items = rev.dep_members() + [target]
    rev.depends_on = shape_value(rng, items)
    g.mutations.append("dep-on-descendant:%s->%s" % (rev.rid, target))


def m_duplicate_label(g: Graph):
    rng = g.rng
    real = g.real()
    if len(real) < 2:
        real.append(Rev(g.fresh(), real[0].rid))
        g.revs.append(real[-1])
    a, b = rng.sample(real, 2)
    taken = g.labels()
    if a.label_members():
        lab = rng.choice(a.label_members())
    else:
        free = [x for x in LABEL_POOL if x not in taken]
        lab = rng.choice(free) if free else "dup_label"
        a.branch_labels = lab if rng.random() < 0.5 else (lab,)
    b.branch_labels = shape_value(rng, b.label_members() + [lab], allow_none=False)
    g.mutations.append("duplicate-label:%s:%s,%s" % (lab, a.rid, b.rid))


def m_label_is_revision(g: Graph):
    rng = g.rng
    real = g.real()
    rev = rng.choice(real)
    other = rng.choice(real)  # may be the revision itself
    rev.branch_labels = shape_value(
        rng, rev.label_members() + [other.rid], allow_none=False
    )
    g.mutations.append("label-is-revision:%s on %s" % (other.rid, rev.rid))


HELPER_STEMS = ["helpers", "utils", "0001_Initial", "common_ops", "abcx", "Deadbeef"]


def m_not_a_revision(g: Graph):
    rng = g.rng
    helper = Rev(None)
    helper.helper = True
    helper.filename = rng.choice(HELPER_STEMS) + ".py"
    g.revs.append(helper)
    g.mutations.append("not-a-revision:%s" % helper.filename)


MUTATIONS = {
    "dangling-down-revision": [
        m_dangling_down,
        m_dangling_down,
        m_dangling_down,
        m_down_label,
        m_down_label,
        m_duplicate_dangling_down,
    ],
    "dangling-depends-on": [
        m_dangling_dep,
        m_dangling_dep,
        m_dangling_dep,
        m_duplicate_dangling_dep,
    ],
    "revision-cycle": [
        m_cycle_component,
        m_cycle_rewire,
        m_self_loop,
        m_dep_cycle,
    ],
    "duplicate-branch-label": [m_duplicate_label, m_label_is_revision],
    "not-a-revision": [m_not_a_revision],
}


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------


def q(rng, s):
    """A string literal, sometimes single-quoted or implicitly concatenated."""
    quote = '"' if rng.random() < 0.7 else "'"
    if len(s) >= 2 and rng.random() < 0.08:
        cut = rng.randint(1, len(s) - 1)
        return "%s%s%s %s%s%s" % (quote, s[:cut], quote, quote, s[cut:], quote)
    return "%s%s%s" % (quote, s, quote)


def lit(rng, value):
    if value is None:
        return "None"
    if isinstance(value, str):
        return q(rng, value)
    items = [q(rng, v) for v in value]
    if isinstance(value, tuple):
        if len(items) == 1:
            return "(%s,)" % items[0]
        trail = "," if items and rng.random() < 0.2 else ""
        return "(%s%s)" % (", ".join(items), trail)
    trail = "," if items and rng.random() < 0.2 else ""
    return "[%s%s]" % (", ".join(items), trail)


def render(rng, rev: Rev, annotated: bool) -> str:
    lines = []
    slug = " ".join(rng.sample(SLUG_WORDS, 2))
    if rev.helper:
        lines.append('"""Shared helpers for migrations."""')
        lines.append("from alembic import op")
        lines.append("import sqlalchemy as sa")
        lines.append("")
        lines.append("")
        lines.append("def add_timestamps(table):")
        lines.append('    op.add_column(table, sa.Column("created_at", sa.DateTime()))')
        lines.append("")
        return "\n".join(lines)
    lines.append('"""%s' % slug)
    lines.append("")
    lines.append("Revision ID: %s" % rev.rid)
    lines.append("Revises: %s" % ", ".join(rev.down_members()))
    lines.append("Create Date: 2024-01-01 00:00:00")
    lines.append("")
    lines.append('"""')
    if annotated:
        lines.append("from typing import Sequence, Union")
        lines.append("")
    lines.append("from alembic import op")
    lines.append("import sqlalchemy as sa")
    lines.append("")
    lines.append("")
    lines.append("# revision identifiers, used by Alembic.")
    ann_rev = ": str" if annotated else ""
    ann_multi = ": Union[str, Sequence[str], None]" if annotated else ""
    if rev.declare_revision:
        lines.append("revision%s = %s" % (ann_rev, lit(rng, rev.rid)))
    lines.append("down_revision%s = %s" % (ann_multi, lit(rng, rev.down)))
    if rev.branch_labels != "omit":
        lines.append("branch_labels%s = %s" % (ann_multi, lit(rng, rev.branch_labels)))
    elif annotated and rng.random() < 0.5:
        lines.append("branch_labels%s = None" % ann_multi)
    if rev.depends_on != "omit":
        lines.append("depends_on%s = %s" % (ann_multi, lit(rng, rev.depends_on)))
    elif annotated and rng.random() < 0.5:
        lines.append("depends_on%s = None" % ann_multi)
    lines.append("")
    lines.append("")
    lines.append("def upgrade() -> None:" if annotated else "def upgrade():")
    if rng.random() < 0.5:
        lines.append("    pass")
    else:
        col = rng.choice(["email", "status", "note", "score"])
        lines.append(
            '    op.add_column("t_%s", sa.Column("%s", sa.String(50)))'
            % (rev.rid[:4], col)
        )
    lines.append("")
    lines.append("")
    lines.append("def downgrade() -> None:" if annotated else "def downgrade():")
    lines.append("    pass")
    lines.append("")
    return "\n".join(lines)


def assign_filenames(g: Graph):
    rng = g.rng
    real = g.real()
    numbered = rng.random() < 0.15
    used = set()
    for idx, rev in enumerate(g.revs):
        if rev.helper:
            name = rev.filename
        elif not rev.declare_revision:
            name = "%s.py" % rev.rid
        else:
            slug = "_".join(rng.sample(SLUG_WORDS, rng.randint(1, 3)))
            if numbered:
                prefix = "%04d" % (idx + 1)
            elif rng.random() < 0.06 and len(real) > 1:
                # copy-paste: the prefix of some other revision
                prefix = rng.choice(real).rid
            elif rng.random() < 0.03:
                prefix = "%012x" % rng.getrandbits(48)
            else:
                prefix = rev.rid
            name = "%s_%s.py" % (prefix, slug)
        while name in used:
            name = name[:-3] + "_b.py"
        used.add(name)
        rev.filename = name


def write_project(root: Path, g: Graph):
    rng = g.rng
    versions = root / "migrations" / "versions"
    versions.mkdir(parents=True)
    (root / "alembic.ini").write_text(
        "[alembic]\nscript_location = %(here)s/migrations\n"
    )
    (root / "migrations" / "env.py").write_text(
        "from alembic import context\n\n"
        "target_metadata = None\n\n\n"
        "def run_migrations_online():\n"
        "    pass\n\n\n"
        "run_migrations_online()\n"
    )
    if rng.random() < 0.2:
        (versions / "__init__.py").write_text("")
    annotated = rng.random() < 0.35
    for rev in g.revs:
        per_file = annotated if rng.random() < 0.9 else not annotated
        (versions / rev.filename).write_text(render(rng, rev, per_file))


def describe(g: Graph):
    out = []
    for rev in sorted(g.revs, key=lambda r: r.filename):
        out.append(
            {
                "file": rev.filename,
                "revision": None if rev.helper else rev.rid,
                "revision_declared": rev.declare_revision and not rev.helper,
                "down_revision": None if rev.helper else jsonable(rev.down),
                "depends_on": None
                if rev.depends_on == "omit"
                else jsonable(rev.depends_on),
                "branch_labels": None
                if rev.branch_labels == "omit"
                else jsonable(rev.branch_labels),
            }
        )
    return out


def jsonable(value):
    if isinstance(value, (tuple, list)):
        return list(value)
    return value


def generate(seed: int) -> Graph:
    rng = random.Random(seed)
    g = Graph(rng)
    gen_valid(g)
    if rng.random() < 0.35:
        kind = rng.choice(FATAL_KINDS)
        rng.choice(MUTATIONS[kind])(g)
        if rng.random() < 0.15:
            kind2 = rng.choice(FATAL_KINDS)
            rng.choice(MUTATIONS[kind2])(g)
    elif rng.random() < 0.1:
        # Alembic only warns about duplicated revision ids.
        m_duplicate_id(g)
    assign_filenames(g)
    return g


# --------------------------------------------------------------------------
# Running Alembic
# --------------------------------------------------------------------------

CYCLE_ERRORS = (
    alembic_revision.LoopDetected,
    alembic_revision.CycleDetected,
    alembic_revision.DependencyLoopDetected,
    alembic_revision.DependencyCycleDetected,
)


def classify(exc: BaseException, g: Graph) -> str:
    if isinstance(exc, CYCLE_ERRORS):
        return "revision-cycle"
    if isinstance(exc, KeyError):
        key = exc.args[0] if exc.args else None
        for rev in g.real():
            if key in rev.down_members():
                return "dangling-down-revision"
        return "dangling-depends-on"
    if isinstance(exc, alembic_revision.RevisionError):
        msg = str(exc)
        if msg.startswith("Branch name"):
            return "duplicate-branch-label"
        if msg.startswith("Dependency resolution failed"):
            return "dangling-down-revision"
        return "unknown"
    if isinstance(exc, CommandError) and str(exc).startswith(
        "Could not determine revision id from filename"
    ):
        return "not-a-revision"
    return "unknown"


def true_cycle(g: Graph) -> bool:
    """Whether down_revision + depends_on (labels resolved) has a cycle.

    Alembic's own check only rejects revisions that are not on some path
    between a head and a base, so it accepts some cyclic graphs; this flag
    lets a report point those out.
    """
    ids = {}
    for r in sorted(g.real(), key=lambda r: r.filename):
        ids[r.rid] = r  # the last file loaded wins, as in Alembic
    names = dict(ids)
    for lab, rid in g.labels().items():
        names.setdefault(lab, ids[rid])
    edges = collections.defaultdict(set)
    for r in ids.values():
        for d in r.down_members() + r.dep_members():
            if d in names:
                edges[r.rid].add(names[d].rid)
    state = {}
    for start in ids:
        if start in state:
            continue
        stack = [(start, iter(sorted(edges[start])))]
        state[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return True
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(sorted(edges[nxt]))))
    return False


def run_alembic(case_dir: Path, g: Graph) -> dict:
    result = {
        "outcome": "ok",
        "error_kind": None,
        "alembic_error": None,
        "heads": [],
        "bases": [],
        "real_heads": [],
        "real_bases": [],
    }
    try:
        cfg = Config(str(case_dir / "alembic.ini"))
        script = ScriptDirectory.from_config(cfg)
        rmap = script.revision_map
        result["heads"] = list(rmap.heads)
        result["bases"] = list(rmap.bases)
        result["real_heads"] = list(rmap._real_heads)
        result["real_bases"] = list(rmap._real_bases)
    except Exception as exc:  # noqa: BLE001 - every failure is classified
        result["outcome"] = "error"
        result["error_kind"] = classify(exc, g)
        result["alembic_error"] = "%s: %s" % (type(exc).__name__, exc)
        if result["error_kind"] == "unknown":
            result["alembic_error"] += "\n" + traceback.format_exc()
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument(
        "--cases", type=int, default=int(os.environ.get("REVLINT_PARITY_CASES", 600))
    )
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--summary", action="store_true", help="print a distribution")
    args = ap.parse_args(argv)

    if alembic.__version__ != PINNED_ALEMBIC:
        print(
            "parity oracle needs alembic==%s, found %s"
            % (PINNED_ALEMBIC, alembic.__version__),
            file=sys.stderr,
        )
        return 2

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cases = []
    for seed in range(args.start, args.start + args.cases):
        g = generate(seed)
        name = "case_%d" % seed
        case_dir = out / name
        write_project(case_dir, g)
        res = run_alembic(case_dir, g)
        case = {"seed": seed, "dir": name}
        case["graph"] = {
            "mutations": g.mutations,
            "has_true_cycle": true_cycle(g),
            "files": describe(g),
        }
        case.update(res)
        cases.append(case)

    doc = {"alembic_version": alembic.__version__, "cases": cases}
    (out / "expected.json").write_text(json.dumps(doc, indent=1))

    if args.summary:
        dist = collections.Counter(c["error_kind"] or "ok" for c in cases)
        for k, v in sorted(dist.items()):
            print("%-26s %d" % (k, v))
        silent = [
            c["seed"]
            for c in cases
            if c["outcome"] == "ok" and c["graph"]["has_true_cycle"]
        ]
        print("ok but cyclic (Alembic does not notice):", silent)
        for c in cases:
            if c["error_kind"] == "unknown":
                print("seed", c["seed"], c["alembic_error"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
