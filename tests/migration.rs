//! Operation-rule behaviour across revisions that fixtures show less directly: a missing
//! extension is reported once per path, and not at all under a parent revlint cannot find.

mod common;

use std::fs;
use std::path::Path;

use revlint::rules::RuleId;

fn project(dir: &Path, revisions: &[(&str, Option<&str>, &str)]) {
    fs::create_dir_all(dir.join(".git")).unwrap();
    let v = common::alembic_skeleton(dir);
    for (id, down, body) in revisions {
        let down = down.map(|d| format!("'{d}'")).unwrap_or("None".into());
        fs::write(
            v.join(format!("{id}_r.py")),
            format!("from alembic import op\nimport sqlalchemy as sa\nfrom geoalchemy2 import Geometry\n\nrevision = '{id}'\ndown_revision = {down}\n\ndef upgrade():\n    {body}\n"),
        )
        .unwrap();
    }
}

const USES: &str = "op.add_column('t', sa.Column('g', Geometry('POINT')), if_not_exists=True)";

#[test]
fn missing_extension_is_reported_once_per_path() {
    let dir = tempfile::tempdir().unwrap();
    project(
        dir.path(),
        &[
            ("aaaa00000001", None, "pass"),
            ("bbbb00000002", Some("aaaa00000001"), USES),
            ("cccc00000003", Some("bbbb00000002"), USES),
        ],
    );
    let r = common::lint_dir_all_revisions(dir.path(), Some(&[RuleId::MissingExtension]));
    let lines = common::finding_lines(&r);
    assert_eq!(
        lines,
        vec!["missing-extension migrations/versions/bbbb00000002_r.py:9".to_string()]
    );
    // By default only the newest revision is judged: the first use is in an older one, which
    // already ran wherever the project is deployed, so the extension is there.
    let r = common::lint_dir(dir.path(), Some(&[RuleId::MissingExtension]));
    assert!(r.diagnostics.is_empty(), "{:?}", common::finding_lines(&r));
}

#[test]
fn missing_extension_is_quiet_under_an_unknown_parent() {
    let dir = tempfile::tempdir().unwrap();
    project(
        dir.path(),
        &[
            ("aaaa00000001", Some("ffff99999999"), "pass"),
            ("bbbb00000002", Some("aaaa00000001"), USES),
        ],
    );
    let r = common::lint_dir(dir.path(), Some(&[RuleId::MissingExtension]));
    assert!(r.diagnostics.is_empty(), "{:?}", common::finding_lines(&r));
    // The same graph with the parent present and creating nothing: reported.
    let dir = tempfile::tempdir().unwrap();
    project(
        dir.path(),
        &[
            ("ffff99999999", None, "pass"),
            ("aaaa00000001", Some("ffff99999999"), "pass"),
            ("bbbb00000002", Some("aaaa00000001"), USES),
        ],
    );
    let r = common::lint_dir(dir.path(), Some(&[RuleId::MissingExtension]));
    assert_eq!(r.diagnostics.len(), 1);
}

#[test]
fn commit_then_begin_restores_the_transaction() {
    let dir = tempfile::tempdir().unwrap();
    project(
        dir.path(),
        &[(
            "aaaa00000001",
            None,
            "op.execute('COMMIT')\n    op.execute('CREATE INDEX CONCURRENTLY IF NOT EXISTS a ON t (x)')\n    op.execute('BEGIN')\n    op.execute('CREATE INDEX CONCURRENTLY IF NOT EXISTS b ON t (y)')",
        )],
    );
    let r = common::lint_dir(dir.path(), Some(&[RuleId::ConcurrentIndexInTransaction]));
    assert_eq!(
        common::finding_lines(&r),
        vec![
            "concurrent-index-in-transaction migrations/versions/aaaa00000001_r.py:12".to_string()
        ]
    );
}

/// The team's setting that makes `non-idempotent-ddl` judge DDL on PostgreSQL too.
fn require_idempotent_ddl(dir: &Path) {
    fs::write(dir.join("revlint.toml"), "require-idempotent-ddl = true\n").unwrap();
}

#[test]
fn one_alter_table_with_several_commands_is_one_finding_with_one_fix() {
    let dir = tempfile::tempdir().unwrap();
    require_idempotent_ddl(dir.path());
    project(
        dir.path(),
        &[(
            "aaaa00000001",
            None,
            "op.execute('ALTER TABLE t ADD COLUMN a int, ADD COLUMN b int, DROP COLUMN c')",
        )],
    );
    let r = common::lint_dir(dir.path(), Some(&[RuleId::NonIdempotentDdl]));
    assert_eq!(r.diagnostics.len(), 1, "{:?}", common::finding_lines(&r));
    let d = &r.diagnostics[0];
    assert!(d.message.contains("(and 2 more)"), "{}", d.message);
    // The fix, then the evidence: the team's setting.
    assert_eq!(
        d.help.as_deref(),
        Some("use `ALTER TABLE t ADD COLUMN IF NOT EXISTS a int, ADD COLUMN IF NOT EXISTS b int, DROP COLUMN IF EXISTS c`\nnote: `require-idempotent-ddl = true` in revlint.toml asks for re-runnable migrations")
    );
}

#[test]
fn percent_formatted_sql_shows_its_holes() {
    let dir = tempfile::tempdir().unwrap();
    require_idempotent_ddl(dir.path());
    project(
        dir.path(),
        &[(
            "aaaa00000001",
            None,
            "op.execute('CREATE INDEX %s ON t (a)' % name)",
        )],
    );
    let r = common::lint_dir(dir.path(), Some(&[RuleId::NonIdempotentDdl]));
    let d = &r.diagnostics[0];
    assert!(
        d.message.starts_with("`CREATE INDEX {…} ON t (a)`"),
        "{}",
        d.message
    );
    assert!(
        d.help
            .as_deref()
            .is_some_and(|h| h.starts_with("use `CREATE INDEX IF NOT EXISTS {…} ON t (a)`\n")),
        "{:?}",
        d.help
    );
}
