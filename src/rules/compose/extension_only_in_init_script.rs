use std::collections::BTreeSet;
use std::path::Path;

use super::services;
use crate::diagnostic::{Diagnostic, Severity};
use crate::parse::sql::Action;
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};

pub struct ExtensionOnlyInInitScript;

static META: RuleMeta = RuleMeta {
    id: RuleId::ExtensionOnlyInInitScript,
    category: Category::Compose,
    summary: "A PostgreSQL extension is created only by a `/docker-entrypoint-initdb.d` script",
    default_severity: Severity::Error,
    docs: r#"## What it does

Finds `postgres`, `postgis/postgis`, `pgvector/pgvector` and `timescale/*` services that mount
a file (or a folder) into `/docker-entrypoint-initdb.d/` whose SQL runs
`CREATE EXTENSION X`, when no revision of the project creates `X` (and `X` is not listed in
`provisioned-extensions`). Development compose files, init scripts kept with the local
development setup, and database services only a test or development profile starts
(`profiles: [test]`) or named for tests (`db-test`) are not the deployed database and are
not reported. Nor is `pgcrypto` on PostgreSQL 13 or later (the image tag, or
`postgresql-version` in the settings) when all the revisions use of it is
`gen_random_uuid()`, which the server has built in.

## Why is this bad?

The image runs init scripts only when it initialises an empty data directory. A database
whose volume already existed, a restored dump, a managed instance and a staging server never
run them, and the first revision that needs the extension fails there: `type "geometry" does
not exist`. The requirement lives beside the schema only in development.

## Example

```yaml
services:
  db:
    image: postgis/postgis:15-3.4
    volumes:
      - pgdata:/var/lib/postgresql/data
      - ./docker/init-postgis.sh:/docker-entrypoint-initdb.d/init-postgis.sh
```

## How to fix

Create the extension in a revision, before its first use:
`op.execute("CREATE EXTENSION IF NOT EXISTS postgis")`. Keep the init script for development
if you like; if the platform provisions the extension, list it in `provisioned-extensions`.
"#,
};

impl Rule for ExtensionOnlyInInitScript {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        let mut created: BTreeSet<String> = cx
            .options
            .provisioned_extensions
            .iter()
            .map(|e| e.to_ascii_lowercase())
            .collect();
        for p in cx.projects {
            for m in p.migrations() {
                for op in &m.upgrade_ops {
                    created.extend(op.creates_extensions().map(|(n, _)| n));
                }
            }
        }
        // "No revision creates it" needs revisions to look at.
        if !cx
            .projects
            .iter()
            .any(|p| p.migrations().any(|m| m.id().is_some()))
        {
            return;
        }
        // What the revisions use of pgcrypto: `gen_random_uuid()` alone is core PostgreSQL
        // from 13, and an init script that creates pgcrypto for it on such a server gives
        // nothing a revision needs.
        let pgcrypto_uses: Vec<bool> = cx
            .projects
            .iter()
            .flat_map(|p| p.migrations())
            .flat_map(|m| m.upgrade_ops.iter())
            .flat_map(|op| op.uses.iter())
            .filter(|u| u.extension == "pgcrypto")
            .map(|u| u.core_since_pg13)
            .collect();
        let only_core_uuid = !pgcrypto_uses.is_empty() && pgcrypto_uses.iter().all(|&c| c);
        let mut reported: BTreeSet<(crate::source::Span, String)> = BTreeSet::new();
        for s in services(cx) {
            // A development compose file's database is a developer's: the deploy provisions
            // its own.
            // So is a database service only a test or development profile starts.
            if !s.svc.is_postgres_image() || s.file.dev || s.svc.test_or_dev_only() {
                continue;
            }
            let compose_dir = cx
                .db
                .get(s.file.file)
                .path
                .parent()
                .unwrap_or(Path::new("/"))
                .to_path_buf();
            for v in &s.svc.volumes {
                // An init script kept with the local development setup (`./local-dev/...`).
                let dev_source = v
                    .source
                    .split(['/', '-', '_', '.'])
                    .any(|w| matches!(w, "dev" | "development"));
                if !v.target.starts_with("/docker-entrypoint-initdb.d") || dev_source {
                    continue;
                }
                if !(v.source.starts_with('.') || v.source.starts_with('/')) {
                    continue; // a named volume
                }
                let source = crate::discover::normalize(&compose_dir.join(&v.source));
                for script in cx.scripts {
                    if !cx.db.get(script.file).path.starts_with(&source) {
                        continue;
                    }
                    for t in &script.sql {
                        for st in &t.statements {
                            for f in &st.facts {
                                if f.action != Action::CreateExtension {
                                    continue;
                                }
                                let name = f.name.to_ascii_lowercase();
                                let server =
                                    cx.options.postgresql_version.or(s.svc.postgres_major());
                                if name == "pgcrypto"
                                    && only_core_uuid
                                    && server.is_some_and(|v| v >= 13)
                                {
                                    continue;
                                }
                                if created.contains(&name)
                                    || !reported.insert((v.span, name.clone()))
                                {
                                    continue;
                                }
                                out.push(
                                    Diagnostic::new(
                                        RuleId::ExtensionOnlyInInitScript,
                                        format!(
                                            "extension `{name}` comes only from an init script of `{}`, which runs on an empty data directory only",
                                            s.svc.name
                                        ),
                                    )
                                    .primary(v.span, "init scripts run once, on a new volume")
                                    .secondary(t.statement_span(st), "the only `CREATE EXTENSION`")
                                    .help(format!(
                                        "create it in a revision before its first use: `op.execute(\"CREATE EXTENSION IF NOT EXISTS {name}\")`; if the platform provides it, list it in `provisioned-extensions`"
                                    )),
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}
