//! Which PostgreSQL extension provides a type, function, operator class or index method, and
//! where a revision uses one.

use crate::parse::python::{ExprKind, Import, PyExpr};
use crate::parse::sql::{self, SqlStatement, SqlUse};
use crate::source::{FileId, Span};

/// A use of something an extension provides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionUse {
    /// The extension's name as `CREATE EXTENSION` takes it.
    pub extension: &'static str,
    /// What was used, for the message (`` geoalchemy2 `Geometry` ``, `` `uuid_generate_v4()` ``).
    pub what: String,
    pub span: Span,
    /// Core PostgreSQL has it from version 13 (`gen_random_uuid()`); an extension is needed
    /// only on older servers.
    pub core_since_pg13: bool,
}

/// Extensions that cannot exist without another: creating the first means the second is there.
const REQUIRES: [(&str, &str); 4] = [
    ("postgis_raster", "postgis"),
    ("postgis_topology", "postgis"),
    ("postgis_tiger_geocoder", "postgis"),
    ("postgis_sfcgal", "postgis"),
];

/// The extensions present once `name` has been created.
pub fn provided_by(name: &str) -> Vec<String> {
    let name = name.trim_matches('"').to_ascii_lowercase();
    let mut out = vec![name.clone()];
    for (ext, dep) in REQUIRES {
        if ext == name {
            out.push(dep.to_string());
        }
    }
    out
}

fn for_type(name: &str) -> Option<&'static str> {
    Some(match name {
        "geometry" | "geography" | "box2d" | "box3d" => "postgis",
        "raster" => "postgis_raster",
        "vector" | "halfvec" | "sparsevec" => "vector",
        "citext" => "citext",
        "hstore" => "hstore",
        "ltree" | "lquery" | "ltxtquery" => "ltree",
        _ => return None,
    })
}

fn for_function(name: &str) -> Option<(&'static str, bool)> {
    Some(match name {
        n if n.starts_with("st_") => ("postgis", false),
        "uuid_generate_v1" | "uuid_generate_v1mc" | "uuid_generate_v3" | "uuid_generate_v4"
        | "uuid_generate_v5" => ("uuid-ossp", false),
        "crypt" | "gen_salt" | "digest" | "hmac" | "armor" | "dearmor" => ("pgcrypto", false),
        n if n.starts_with("pgp_sym_") || n.starts_with("pgp_pub_") => ("pgcrypto", false),
        "gen_random_uuid" => ("pgcrypto", true),
        "similarity" | "word_similarity" | "strict_word_similarity" | "show_trgm" => {
            ("pg_trgm", false)
        }
        "unaccent" => ("unaccent", false),
        "create_hypertable" => ("timescaledb", false),
        _ => return None,
    })
}

fn for_opclass(name: &str) -> Option<&'static str> {
    match name {
        "gin_trgm_ops" | "gist_trgm_ops" => Some("pg_trgm"),
        n if (n.starts_with("vector_")
            || n.starts_with("halfvec_")
            || n.starts_with("sparsevec_"))
            && n.ends_with("_ops") =>
        {
            Some("vector")
        }
        n if n.starts_with("gist_geometry_ops") || n.starts_with("gist_geography_ops") => {
            Some("postgis")
        }
        _ => None,
    }
}

fn for_index_method(name: &str) -> Option<&'static str> {
    match name {
        "ivfflat" | "hnsw" => Some("vector"),
        _ => None,
    }
}

/// Extension uses in one classified SQL statement.
pub fn uses_in_sql(span: Span, st: &SqlStatement) -> Vec<ExtensionUse> {
    st.uses
        .iter()
        .filter_map(|u| {
            let (ext, what, core) = match u {
                SqlUse::Type(t) => (for_type(t)?, format!("the `{t}` type"), false),
                SqlUse::Function(f) => {
                    let (e, core) = for_function(f)?;
                    (e, format!("`{f}()`"), core)
                }
                SqlUse::OpClass(o) => (for_opclass(o)?, format!("the `{o}` operator class"), false),
                SqlUse::IndexMethod(m) => (
                    for_index_method(m)?,
                    format!("the `{m}` index method"),
                    false,
                ),
            };
            Some(ExtensionUse {
                extension: ext,
                what,
                span,
                core_since_pg13: core,
            })
        })
        .collect()
}

/// The dotted path a callee or name stands for, through the module's imports.
pub fn resolve(path: &[String], imports: &[Import]) -> String {
    let Some(first) = path.first() else {
        return String::new();
    };
    let head = imports
        .iter()
        .rev()
        .find(|i| &i.local == first)
        .map(|i| i.path.clone())
        .unwrap_or_else(|| first.clone());
    let mut out = head;
    for p in &path[1..] {
        out.push('.');
        out.push_str(p.trim_end_matches("()"));
    }
    out
}

/// The extension a Python type or function path needs.
fn for_python(resolved: &str, last: &str) -> Option<(&'static str, bool)> {
    let from = |prefix: &str| resolved.starts_with(prefix);
    Some(match last {
        "Geometry" | "Geography" if from("geoalchemy2") => ("postgis", false),
        "Raster" if from("geoalchemy2") => ("postgis_raster", false),
        "Vector" | "VECTOR" | "HALFVEC" | "SPARSEVEC" | "HalfVector" | "SparseVector"
            if from("pgvector") =>
        {
            ("vector", false)
        }
        "CITEXT" if from("sqlalchemy.dialects.postgresql") || from("citext") => ("citext", false),
        "CIText" if from("citext") || from("sqlalchemy_citext") => ("citext", false),
        "HSTORE" if from("sqlalchemy.dialects.postgresql") => ("hstore", false),
        "LtreeType" if from("sqlalchemy_utils") => ("ltree", false),
        "LTREE" if from("sqlalchemy_utils") || from("sqlalchemy.dialects.postgresql") => {
            ("ltree", false)
        }
        _ => {
            // `sa.func.uuid_generate_v4()` and friends.
            if resolved.contains(".func.") || resolved.starts_with("func.") {
                for_function(&last.to_ascii_lowercase())?
            } else {
                return None;
            }
        }
    })
}

/// Names that may stand for an extension's type (checked before resolving imports).
const TYPE_NAMES: [&str; 14] = [
    "Geometry",
    "Geography",
    "Raster",
    "Vector",
    "VECTOR",
    "HALFVEC",
    "SPARSEVEC",
    "HalfVector",
    "SparseVector",
    "CITEXT",
    "CIText",
    "HSTORE",
    "LtreeType",
    "LTREE",
];

/// Extension uses in a call's arguments: types from imported packages, `func.*` calls,
/// `text(...)` SQL expressions, `postgresql_using` / `postgresql_ops`.
pub fn uses_in_call(file: FileId, call: &PyExpr, imports: &[Import]) -> Vec<ExtensionUse> {
    let mut out = Vec::new();
    call.walk(&mut |e| {
        let span = Span::new(file, e.start, e.end);
        match &e.kind {
            ExprKind::Name(path) | ExprKind::Call { callee: path, .. } if !path.is_empty() => {
                let last = path.last().map(|l| l.trim_end_matches("()")).unwrap_or("");
                let interesting = TYPE_NAMES.contains(&last) || path.iter().any(|p| p == "func");
                let found = if interesting {
                    let resolved = resolve(path, imports);
                    for_python(&resolved, last).map(|f| (f, resolved))
                } else {
                    None
                };
                if let Some(((ext, core), resolved)) = found {
                    let what =
                        if matches!(e.kind, ExprKind::Call { .. }) && resolved.contains("func.") {
                            format!("`{last}()`")
                        } else {
                            let pkg = resolved.split('.').next().unwrap_or_default();
                            format!("{pkg} `{last}`")
                        };
                    out.push(ExtensionUse {
                        extension: ext,
                        what,
                        span,
                        core_since_pg13: core,
                    });
                }
                // text("uuid_generate_v4()") in a server_default, index expression, …
                if let ExprKind::Call { callee, .. } = &e.kind {
                    if callee.last().is_some_and(|l| l == "text") {
                        if let Some(s) = e
                            .positional(0)
                            .and_then(|a| a.as_str())
                            .filter(|s| sql::may_use_extension(s))
                        {
                            let wrapped = format!("SELECT {s}");
                            for st in sql::analyse(&wrapped) {
                                out.extend(uses_in_sql(span, &st));
                            }
                        }
                    }
                }
                if let ExprKind::Call { args, .. } = &e.kind {
                    for a in args {
                        match (a.keyword.as_deref(), &a.value.kind) {
                            (Some("postgresql_using"), ExprKind::Str { value, .. }) => {
                                if let Some(ext) = for_index_method(&value.to_ascii_lowercase()) {
                                    out.push(ExtensionUse {
                                        extension: ext,
                                        what: format!("the `{value}` index method"),
                                        span: Span::new(file, a.value.start, a.value.end),
                                        core_since_pg13: false,
                                    });
                                }
                            }
                            (Some("postgresql_ops"), ExprKind::Dict(items)) => {
                                for (_, v) in items {
                                    if let ExprKind::Str { value, .. } = &v.kind {
                                        if let Some(ext) = for_opclass(&value.to_ascii_lowercase())
                                        {
                                            out.push(ExtensionUse {
                                                extension: ext,
                                                what: format!("the `{value}` operator class"),
                                                span: Span::new(file, v.start, v.end),
                                                core_since_pg13: false,
                                            });
                                        }
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
    });
    out
}
