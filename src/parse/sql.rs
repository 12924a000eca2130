//! SQL classification. The only module that names `pg_query` types (PostgreSQL's own parser,
//! libpg_query); everything else sees [`SqlStatement`], plain data with byte ranges into the
//! analysed text.
//!
//! Each string is parsed whole; when that fails it is split with PostgreSQL's scanner and each
//! piece is parsed alone, so one MySQL-only statement does not hide its neighbours. A piece
//! the parser rejects is classified by a keyword scan that recognises only statements whose
//! meaning does not depend on the dialect (edits of a named table, `CREATE EXTENSION`), and
//! is otherwise left unknown: no finding rather than a wrong one.

use pg_query::protobuf::{
    AlterTableType, ObjectType, ReindexObjectType, ScanToken, Token as PgToken,
};
use pg_query::NodeEnum;

/// How a statement was classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Classified {
    /// PostgreSQL's parser accepted it.
    Parser,
    /// The parser rejected it; a keyword scan recognised it.
    Keywords,
    /// Neither: revlint draws no conclusion from it.
    Unknown,
}

/// What a statement (or one command of an `ALTER TABLE`) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    Create(Object),
    Drop(Object),
    AddColumn,
    DropColumn,
    DropConstraint,
    /// `ALTER TYPE … ADD VALUE`.
    AddEnumValue,
    /// `CREATE TYPE … AS ENUM`.
    CreateEnumType,
    CreateExtension,
    Reindex,
    Truncate,
    Delete,
    Update,
    Insert,
    /// `ALTER … RENAME TO`: `name` is the old name, `table` the new one.
    Rename(Object),
    /// `ALTER TABLE` commands other than the ones above, on the named table.
    Alter,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Object {
    Table,
    Index,
    Schema,
    Sequence,
    View,
    MaterializedView,
    Extension,
    Function,
    Procedure,
    Trigger,
    Type,
    Domain,
    Other,
}

impl Object {
    pub fn sql(self) -> &'static str {
        match self {
            Object::Table => "TABLE",
            Object::Index => "INDEX",
            Object::Schema => "SCHEMA",
            Object::Sequence => "SEQUENCE",
            Object::View => "VIEW",
            Object::MaterializedView => "MATERIALIZED VIEW",
            Object::Extension => "EXTENSION",
            Object::Function => "FUNCTION",
            Object::Procedure => "PROCEDURE",
            Object::Trigger => "TRIGGER",
            Object::Type => "TYPE",
            Object::Domain => "DOMAIN",
            Object::Other => "object",
        }
    }
}

/// One fact about a statement: what it does to which object, and whether it already has its
/// own existence guard (`IF [NOT] EXISTS`, `OR REPLACE`, an enclosing guarded `DO` block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlFact {
    pub action: Action,
    /// The object acted on, as written (schema-qualified when it was).
    pub name: String,
    /// The table an index, column or constraint belongs to.
    pub table: Option<String>,
    pub guarded: bool,
    pub concurrently: bool,
    /// The statement rewritten to be idempotent, when a rewrite exists.
    pub fix: Option<String>,
}

/// A name in a statement that an extension may provide.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum SqlUse {
    Type(String),
    Function(String),
    OpClass(String),
    IndexMethod(String),
}

#[derive(Debug, Clone)]
pub struct SqlStatement {
    /// Byte range in the analysed text.
    pub start: usize,
    pub end: usize,
    pub classified: Classified,
    pub facts: Vec<SqlFact>,
    /// Lower-cased type, function, operator class and index method names.
    pub uses: Vec<SqlUse>,
    /// Why the parser refused it, when it did.
    pub parse_error: Option<String>,
}

impl SqlStatement {
    pub fn text<'a>(&self, sql: &'a str) -> &'a str {
        &sql[self.start..self.end]
    }
}

/// Words whose presence makes a statement worth serialising to look for extension uses.
const USE_HINTS: [&str; 20] = [
    "geometry",
    "geography",
    "raster",
    "vector",
    "citext",
    "hstore",
    "ltree",
    "uuid_generate",
    "crypt",
    "gen_salt",
    "digest",
    "pgp_sym",
    "gen_random_uuid",
    "trgm",
    "similarity",
    "unaccent",
    "hypertable",
    "st_",
    "ivfflat",
    "hnsw",
];

/// Whether `sql` mentions a word some extension provides (a cheap test before parsing).
pub fn may_use_extension(sql: &str) -> bool {
    let lower = sql.to_ascii_lowercase();
    USE_HINTS.iter().any(|h| lower.contains(h))
}

/// Classify every statement in `sql`.
pub fn analyse(sql: &str) -> Vec<SqlStatement> {
    let normalized = normalize_placeholders(sql);
    let text = normalized.as_str();
    if text.trim().is_empty() {
        return Vec::new();
    }
    match pg_query::parse(text, 0) {
        Ok(parsed) => parsed
            .protobuf
            .stmts
            .iter()
            .filter_map(|raw| {
                let start = raw.stmt_location.max(0) as usize;
                let end = if raw.stmt_len > 0 {
                    start + raw.stmt_len as usize
                } else {
                    text.len()
                };
                let (start, end) = trim_range(text, start, end.min(text.len()));
                let node = raw.stmt.as_ref()?.node.as_ref()?;
                Some(classify(sql, text, start, end, node))
            })
            .collect(),
        Err(e) => {
            let message = error_text(&e);
            // Split with the scanner and try each piece alone.
            let pieces: Vec<(usize, usize)> = match pg_query::split_with_scanner(text) {
                Ok(parts) if parts.len() > 1 => parts
                    .iter()
                    .map(|p| {
                        let start = p.as_ptr() as usize - text.as_ptr() as usize;
                        trim_range(text, start, start + p.len())
                    })
                    .filter(|(s, e)| s < e)
                    .collect(),
                _ => vec![trim_range(text, 0, text.len())],
            };
            if pieces.len() == 1 {
                let (s, e) = pieces[0];
                return vec![fallback(text, s, e, message)];
            }
            pieces
                .into_iter()
                .flat_map(|(s, e)| {
                    let piece = &text[s..e];
                    match pg_query::parse(piece, 0) {
                        Ok(parsed) => parsed
                            .protobuf
                            .stmts
                            .iter()
                            .filter_map(|raw| {
                                let node = raw.stmt.as_ref()?.node.as_ref()?;
                                Some(classify(sql, text, s, e, node))
                            })
                            .collect::<Vec<_>>(),
                        Err(err) => vec![fallback(text, s, e, error_text(&err))],
                    }
                })
                .collect()
        }
    }
}

fn error_text(e: &pg_query::Error) -> String {
    match e {
        pg_query::Error::Parse(m) | pg_query::Error::Scan(m) | pg_query::Error::Split(m) => {
            m.clone()
        }
        other => other.to_string(),
    }
}

fn trim_range(text: &str, start: usize, end: usize) -> (usize, usize) {
    let slice = &text[start..end];
    let lead = slice.len() - slice.trim_start().len();
    let trail = slice.len() - slice.trim_end().len();
    let (s, e) = (start + lead, end - trail);
    // Drop a trailing `;` from the range: the statement is what comes before it.
    if e > s && text.as_bytes()[e - 1] == b';' {
        let t = text[s..e - 1].trim_end();
        (s, s + t.len())
    } else {
        (s, e)
    }
}

/// Rewrite DB-API and SQLAlchemy bind placeholders (`%(name)s`, `%s`, `:name`) to `$1` padded
/// with spaces, which PostgreSQL's grammar accepts, outside quotes and comments. Byte offsets
/// are preserved, so ranges found in the rewritten text hold in the original.
fn normalize_placeholders(sql: &str) -> String {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        match b[i] {
            b'\'' | b'"' => {
                let q = b[i];
                i += 1;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
                i += 1;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'$' => {
                // Dollar quote: $tag$ … $tag$
                let tag_end = b[i + 1..]
                    .iter()
                    .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                    .map(|p| i + 1 + p);
                match tag_end {
                    Some(t)
                        if b[t] == b'$' && !b[i + 1..t].first().is_some_and(u8::is_ascii_digit) =>
                    {
                        let tag = &sql[i..=t];
                        match sql[t + 1..].find(tag) {
                            Some(p) => i = t + 1 + p + tag.len(),
                            None => i = b.len(),
                        }
                    }
                    _ => i += 1,
                }
            }
            b'%' if b.get(i + 1) == Some(&b's') => {
                out.push_str(&sql[last..i]);
                out.push_str("$1");
                i += 2;
                last = i;
            }
            b'%' if b.get(i + 1) == Some(&b'(') => match sql[i..].find(")s") {
                Some(p)
                    if sql[i + 2..i + p]
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'_') =>
                {
                    out.push_str(&sql[last..i]);
                    out.push_str("$1");
                    out.push_str(&" ".repeat(p + 2 - 2));
                    i += p + 2;
                    last = i;
                }
                _ => i += 1,
            },
            b':' if b.get(i + 1) == Some(&b':') => i += 2,
            b':' if i == 0 || !b[i - 1].is_ascii_alphanumeric() => {
                let len = b[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                    .count();
                if len > 0 && (b[i + 1].is_ascii_alphabetic() || b[i + 1] == b'_') {
                    out.push_str(&sql[last..i]);
                    out.push('$');
                    out.push('1');
                    out.push_str(&" ".repeat(len - 1));
                    i += 1 + len;
                    last = i;
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    if last == 0 {
        return sql.to_string();
    }
    out.push_str(&sql[last.min(sql.len())..]);
    out
}

/// The scanner's tokens of `text[start..end]`, offsets relative to `start`; comments dropped.
fn tokens(stmt: &str) -> Vec<ScanToken> {
    pg_query::scan_tokens(stmt)
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t.token != PgToken::SqlComment as i32 && t.token != PgToken::CComment as i32)
        .collect()
}

fn word<'a>(stmt: &'a str, t: &ScanToken) -> &'a str {
    &stmt[t.start as usize..t.end as usize]
}

fn is_kw(stmt: &str, t: &ScanToken, kw: &str) -> bool {
    word(stmt, t).eq_ignore_ascii_case(kw)
}

/// Insert `what` before the token at index `at` of `stmt`.
fn insert_before(stmt: &str, toks: &[ScanToken], at: usize, what: &str) -> Option<String> {
    let t = toks.get(at)?;
    let pos = t.start as usize;
    Some(format!("{}{} {}", &stmt[..pos], what, &stmt[pos..]))
}

/// Index of the first token after `from` that is not one of `skip` (case-insensitive).
fn skip_words(stmt: &str, toks: &[ScanToken], from: usize, skip: &[&str]) -> usize {
    let mut i = from;
    while i < toks.len() && skip.iter().any(|k| is_kw(stmt, &toks[i], k)) {
        i += 1;
    }
    i
}

fn range_name(r: &Option<pg_query::protobuf::RangeVar>) -> String {
    match r {
        Some(r) if !r.schemaname.is_empty() => format!("{}.{}", r.schemaname, r.relname),
        Some(r) => r.relname.clone(),
        None => String::new(),
    }
}

fn strings(nodes: &[pg_query::protobuf::Node]) -> Vec<String> {
    nodes
        .iter()
        .filter_map(|n| match n.node.as_ref() {
            Some(NodeEnum::String(s)) => Some(s.sval.clone()),
            _ => None,
        })
        .collect()
}

fn dotted(nodes: &[pg_query::protobuf::Node]) -> String {
    strings(nodes).join(".")
}

fn object_of(t: i32) -> Object {
    match ObjectType::try_from(t).unwrap_or(ObjectType::Undefined) {
        ObjectType::ObjectTable => Object::Table,
        ObjectType::ObjectIndex => Object::Index,
        ObjectType::ObjectSchema => Object::Schema,
        ObjectType::ObjectSequence => Object::Sequence,
        ObjectType::ObjectView => Object::View,
        ObjectType::ObjectMatview => Object::MaterializedView,
        ObjectType::ObjectExtension => Object::Extension,
        ObjectType::ObjectFunction => Object::Function,
        ObjectType::ObjectProcedure => Object::Procedure,
        ObjectType::ObjectTrigger => Object::Trigger,
        ObjectType::ObjectType => Object::Type,
        ObjectType::ObjectDomain => Object::Domain,
        _ => Object::Other,
    }
}

/// The name(s) in a `DROP` statement's object list.
fn drop_names(objects: &[pg_query::protobuf::Node]) -> Vec<String> {
    objects
        .iter()
        .map(|o| match o.node.as_ref() {
            Some(NodeEnum::List(l)) => dotted(&l.items),
            Some(NodeEnum::String(s)) => s.sval.clone(),
            Some(NodeEnum::TypeName(t)) => dotted(&t.names),
            Some(NodeEnum::ObjectWithArgs(o)) => dotted(&o.objname),
            _ => String::new(),
        })
        .collect()
}

fn classify(orig: &str, text: &str, start: usize, end: usize, node: &NodeEnum) -> SqlStatement {
    let stmt = &text[start..end];
    // Fixes are written on the original text (same offsets, placeholders as the user wrote them).
    let ostmt = &orig[start..end];
    // Tokens are needed only to write a fix; most statements never ask.
    let cell = std::cell::OnceCell::new();
    let toks = || -> &[ScanToken] { cell.get_or_init(|| tokens(stmt)) };
    let mut facts = Vec::new();
    let mut fact = |action, name: String, table: Option<String>, guarded, concurrently, fix| {
        facts.push(SqlFact {
            action,
            name,
            table,
            guarded,
            concurrently,
            fix,
        })
    };
    let after_create = |skip: &[&str]| -> Option<usize> {
        // Index just past the object keywords following CREATE [OR REPLACE] [modifiers].
        let i = skip_words(stmt, toks(), 1, skip);
        Some(i)
    };
    match node {
        NodeEnum::CreateStmt(c) => {
            let at = after_create(&["GLOBAL", "LOCAL", "TEMP", "TEMPORARY", "UNLOGGED", "TABLE"]);
            // A temporary table lives in one session: no other run can collide with it.
            let temporary = c.relation.as_ref().is_some_and(|r| r.relpersistence == "t");
            let fix = (!c.if_not_exists)
                .then(|| at.and_then(|i| insert_before(ostmt, toks(), i, "IF NOT EXISTS")))
                .flatten();
            fact(
                Action::Create(Object::Table),
                range_name(&c.relation),
                None,
                c.if_not_exists || temporary,
                false,
                fix,
            );
        }
        NodeEnum::CreateTableAsStmt(c) => {
            let object = if c.objtype == ObjectType::ObjectMatview as i32 {
                Object::MaterializedView
            } else {
                Object::Table
            };
            let at = after_create(&[
                "GLOBAL",
                "LOCAL",
                "TEMP",
                "TEMPORARY",
                "UNLOGGED",
                "TABLE",
                "MATERIALIZED",
                "VIEW",
            ]);
            let name = c
                .into
                .as_ref()
                .map(|i| range_name(&i.rel))
                .unwrap_or_default();
            let fix = (!c.if_not_exists)
                .then(|| at.and_then(|i| insert_before(ostmt, toks(), i, "IF NOT EXISTS")))
                .flatten();
            fact(
                Action::Create(object),
                name,
                None,
                c.if_not_exists,
                false,
                fix,
            );
        }
        NodeEnum::IndexStmt(ix) => {
            let i = skip_words(stmt, toks(), 1, &["UNIQUE", "INDEX", "CONCURRENTLY"]);
            let named = !ix.idxname.is_empty();
            let fix = (!ix.if_not_exists && named)
                .then(|| insert_before(ostmt, toks(), i, "IF NOT EXISTS"))
                .flatten();
            fact(
                Action::Create(Object::Index),
                ix.idxname.clone(),
                Some(range_name(&ix.relation)),
                ix.if_not_exists,
                ix.concurrent,
                fix,
            );
        }
        NodeEnum::CreateSchemaStmt(s) => {
            let fix = (!s.if_not_exists)
                .then(|| insert_before(ostmt, toks(), 2, "IF NOT EXISTS"))
                .flatten();
            fact(
                Action::Create(Object::Schema),
                s.schemaname.clone(),
                None,
                s.if_not_exists,
                false,
                fix,
            );
        }
        NodeEnum::CreateSeqStmt(s) => {
            let i = skip_words(
                stmt,
                toks(),
                1,
                &["TEMP", "TEMPORARY", "UNLOGGED", "SEQUENCE"],
            );
            let fix = (!s.if_not_exists)
                .then(|| insert_before(ostmt, toks(), i, "IF NOT EXISTS"))
                .flatten();
            fact(
                Action::Create(Object::Sequence),
                range_name(&s.sequence),
                None,
                s.if_not_exists,
                false,
                fix,
            );
        }
        NodeEnum::CreateExtensionStmt(e) => {
            let fix = (!e.if_not_exists)
                .then(|| insert_before(ostmt, toks(), 2, "IF NOT EXISTS"))
                .flatten();
            fact(
                Action::CreateExtension,
                e.extname.clone(),
                None,
                e.if_not_exists,
                false,
                fix,
            );
        }
        NodeEnum::ViewStmt(v) => {
            let fix = (!v.replace)
                .then(|| insert_before(ostmt, toks(), 1, "OR REPLACE"))
                .flatten();
            fact(
                Action::Create(Object::View),
                range_name(&v.view),
                None,
                v.replace,
                false,
                fix,
            );
        }
        NodeEnum::CreateFunctionStmt(f) => {
            let object = if f.is_procedure {
                Object::Procedure
            } else {
                Object::Function
            };
            let fix = (!f.replace)
                .then(|| insert_before(ostmt, toks(), 1, "OR REPLACE"))
                .flatten();
            fact(
                Action::Create(object),
                dotted(&f.funcname),
                None,
                f.replace,
                false,
                fix,
            );
        }
        NodeEnum::CreateTrigStmt(t) => {
            // CREATE OR REPLACE is not allowed for constraint triggers.
            let fix = (!t.replace && !t.isconstraint)
                .then(|| insert_before(ostmt, toks(), 1, "OR REPLACE"))
                .flatten();
            fact(
                Action::Create(Object::Trigger),
                t.trigname.clone(),
                Some(range_name(&t.relation)),
                t.replace,
                false,
                fix,
            );
        }
        NodeEnum::CreateEnumStmt(e) => {
            let body = ostmt.trim_end_matches(';');
            let fix = Some(format!(
                "DO $$ BEGIN {body}; EXCEPTION WHEN duplicate_object THEN NULL; END $$"
            ));
            fact(
                Action::CreateEnumType,
                dotted(&e.type_name),
                None,
                false,
                false,
                fix,
            );
        }
        NodeEnum::AlterEnumStmt(e) if !e.new_val.is_empty() && e.old_val.is_empty() => {
            let i = toks()
                .iter()
                .position(|t| is_kw(stmt, t, "VALUE"))
                .map(|p| p + 1);
            let fix = (!e.skip_if_new_val_exists)
                .then(|| i.and_then(|i| insert_before(ostmt, toks(), i, "IF NOT EXISTS")))
                .flatten();
            fact(
                Action::AddEnumValue,
                e.new_val.clone(),
                Some(dotted(&e.type_name)),
                e.skip_if_new_val_exists,
                false,
                fix,
            );
        }
        NodeEnum::AlterTableStmt(a) if a.objtype == ObjectType::ObjectTable as i32 => {
            let table = range_name(&a.relation);
            // Insertions for every unguarded ADD COLUMN / DROP COLUMN / DROP CONSTRAINT, so one
            // rewrite fixes the whole statement.
            let mut inserts: Vec<(usize, &str)> = Vec::new();
            let mut adds = command_tokens(stmt, toks(), "ADD").into_iter();
            let mut drops = command_tokens(stmt, toks(), "DROP").into_iter();
            for cmd in &a.cmds {
                let Some(NodeEnum::AlterTableCmd(c)) = cmd.node.as_ref() else {
                    continue;
                };
                let sub = AlterTableType::try_from(c.subtype).unwrap_or(AlterTableType::Undefined);
                match sub {
                    AlterTableType::AtAddColumn => {
                        let at = adds.next();
                        let name = match c.def.as_deref().and_then(|d| d.node.as_ref()) {
                            Some(NodeEnum::ColumnDef(cd)) => cd.colname.clone(),
                            _ => String::new(),
                        };
                        if !c.missing_ok {
                            if let Some(i) =
                                at.map(|i| skip_words(stmt, toks(), i + 1, &["COLUMN"]))
                            {
                                inserts.push((i, "IF NOT EXISTS"));
                            }
                        }
                        fact(
                            Action::AddColumn,
                            name,
                            Some(table.clone()),
                            c.missing_ok,
                            false,
                            None,
                        );
                    }
                    AlterTableType::AtDropColumn | AlterTableType::AtDropConstraint => {
                        let at = drops.next();
                        let (action, skip) = if sub == AlterTableType::AtDropColumn {
                            (Action::DropColumn, "COLUMN")
                        } else {
                            (Action::DropConstraint, "CONSTRAINT")
                        };
                        if !c.missing_ok {
                            if let Some(i) = at.map(|i| skip_words(stmt, toks(), i + 1, &[skip])) {
                                inserts.push((i, "IF EXISTS"));
                            }
                        }
                        fact(
                            action,
                            c.name.clone(),
                            Some(table.clone()),
                            c.missing_ok,
                            false,
                            None,
                        );
                    }
                    _ => {
                        if sub == AlterTableType::AtAddConstraint {
                            adds.next();
                        }
                        fact(Action::Alter, table.clone(), None, false, false, None);
                    }
                }
            }
            if !inserts.is_empty() {
                inserts.sort();
                let mut fixed = String::with_capacity(ostmt.len() + 16 * inserts.len());
                let mut last = 0;
                for (i, what) in inserts {
                    let Some(t) = toks().get(i) else {
                        continue;
                    };
                    let pos = t.start as usize;
                    fixed.push_str(&ostmt[last..pos]);
                    fixed.push_str(what);
                    fixed.push(' ');
                    last = pos;
                }
                fixed.push_str(&ostmt[last..]);
                for f in facts.iter_mut().filter(|f| !f.guarded) {
                    f.fix = Some(fixed.clone());
                }
            }
        }
        NodeEnum::DropStmt(d) => {
            let object = object_of(d.remove_type);
            let kw = object.sql();
            let mut skip: Vec<&str> = kw.split(' ').collect();
            skip.extend(["CONCURRENTLY", "FOREIGN"]);
            let i = skip_words(stmt, toks(), 1, &skip);
            let fix = (!d.missing_ok)
                .then(|| insert_before(ostmt, toks(), i, "IF EXISTS"))
                .flatten();
            for name in drop_names(&d.objects) {
                fact(
                    Action::Drop(object),
                    name,
                    None,
                    d.missing_ok,
                    d.concurrent,
                    fix.clone(),
                );
            }
        }
        NodeEnum::RenameStmt(r) if !r.newname.is_empty() && r.subname.is_empty() => {
            let object = object_of(r.rename_type);
            let old = match (
                &r.relation,
                r.object.as_deref().and_then(|o| o.node.as_ref()),
            ) {
                (Some(_), _) => range_name(&r.relation),
                (None, Some(NodeEnum::List(l))) => dotted(&l.items),
                (None, Some(NodeEnum::String(s))) => s.sval.clone(),
                _ => String::new(),
            };
            fact(
                Action::Rename(object),
                old,
                Some(r.newname.clone()),
                true,
                false,
                None,
            );
        }
        NodeEnum::ReindexStmt(r) => {
            let concurrently = toks().iter().any(|t| is_kw(stmt, t, "CONCURRENTLY"));
            let name = if r.name.is_empty() {
                range_name(&r.relation)
            } else {
                r.name.clone()
            };
            let _ = ReindexObjectType::try_from(r.kind);
            fact(Action::Reindex, name, None, true, concurrently, None);
        }
        NodeEnum::TruncateStmt(t) => {
            for rel in &t.relations {
                if let Some(NodeEnum::RangeVar(r)) = rel.node.as_ref() {
                    fact(
                        Action::Truncate,
                        range_name(&Some(r.clone())),
                        None,
                        true,
                        false,
                        None,
                    );
                }
            }
        }
        NodeEnum::DeleteStmt(d) => {
            fact(
                Action::Delete,
                range_name(&d.relation),
                None,
                true,
                false,
                None,
            );
        }
        NodeEnum::UpdateStmt(u) => {
            fact(
                Action::Update,
                range_name(&u.relation),
                None,
                true,
                false,
                None,
            );
        }
        NodeEnum::InsertStmt(i) => {
            fact(
                Action::Insert,
                range_name(&i.relation),
                None,
                true,
                false,
                None,
            );
        }
        NodeEnum::DoStmt(_) => {
            return classify_do(text, start, end, toks());
        }
        _ => {}
    }
    let uses = uses_of(stmt, node);
    SqlStatement {
        start,
        end,
        classified: Classified::Parser,
        facts,
        uses,
        parse_error: None,
    }
}

/// Token indexes of `ADD`/`DROP` at parenthesis depth 0 that start a column or constraint
/// command (not `DROP DEFAULT`, `DROP NOT NULL`, …), in order.
fn command_tokens(stmt: &str, toks: &[ScanToken], kw: &str) -> Vec<usize> {
    let mut depth = 0i32;
    let mut out = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        match word(stmt, t) {
            "(" => depth += 1,
            ")" => depth -= 1,
            _ if depth == 0 && is_kw(stmt, t, kw) => {
                let next = toks.get(i + 1).map(|n| word(stmt, n).to_ascii_uppercase());
                let modifies_column = matches!(
                    next.as_deref(),
                    Some("DEFAULT" | "NOT" | "EXPRESSION" | "IDENTITY")
                );
                let previous_alter = toks[..i]
                    .iter()
                    .rev()
                    .take(3)
                    .any(|p| is_kw(stmt, p, "ALTER"));
                if !(modifies_column && previous_alter) {
                    out.push(i);
                }
            }
            _ => {}
        }
    }
    out
}

/// A `DO` block: guarded when its body tests existence or catches the duplicate error;
/// a body that is only `BEGIN stmt; … END` is classified statement by statement.
fn classify_do(text: &str, start: usize, end: usize, toks: &[ScanToken]) -> SqlStatement {
    let stmt = &text[start..end];
    let body_tok = toks.iter().find(|t| t.token == PgToken::Sconst as i32);
    let mut out = SqlStatement {
        start,
        end,
        classified: Classified::Parser,
        facts: Vec::new(),
        uses: Vec::new(),
        parse_error: None,
    };
    let Some(bt) = body_tok else {
        return out;
    };
    let raw = word(stmt, bt);
    // Strip the dollar-quote tags (or plain quotes).
    let (inner, inner_off) = if let Some(after) = raw.strip_prefix('$') {
        let tag_len = after.find('$').map(|p| p + 2).unwrap_or(1);
        (&raw[tag_len..raw.len().saturating_sub(tag_len)], tag_len)
    } else {
        (&raw[1..raw.len().saturating_sub(1)], 1)
    };
    let lower = inner.to_ascii_lowercase();
    let guarded = [
        "if not exists",
        "if exists",
        "not exists",
        "exception",
        "to_regclass",
        "to_regtype",
        "pg_type",
        "information_schema",
        "pg_catalog",
        "pg_class",
        "pg_indexes",
        "pg_enum",
        "pg_extension",
        "pg_constraint",
        "pg_namespace",
    ]
    .iter()
    .any(|w| lower.contains(w));
    let body_offset = start + bt.start as usize + inner_off;
    // Find the statements between BEGIN and END.
    let trimmed = inner.trim();
    let lower_trim = trimmed.to_ascii_lowercase();
    let simple = lower_trim.starts_with("begin")
        && lower_trim.trim_end_matches(';').trim_end().ends_with("end")
        && ![" if ", "loop", "declare", "exception", "perform", "execute"]
            .iter()
            .any(|w| lower_trim.contains(w));
    let inner_stmts = if simple {
        let lead = inner.len() - inner.trim_start().len();
        let body = &trimmed[5..];
        let body = body.trim_end().trim_end_matches(';').trim_end();
        let body = &body[..body.len() - 3];
        let offset = body_offset + lead + 5;
        analyse(body)
            .into_iter()
            .map(|mut s| {
                s.start += offset;
                s.end += offset;
                s
            })
            .collect::<Vec<_>>()
    } else {
        Vec::new()
    };
    for s in inner_stmts {
        for mut f in s.facts {
            f.guarded |= guarded;
            // A statement inside a DO body is rewritten in place by the outer fix.
            f.fix = f.fix.map(|inner_fix| {
                let rel_s = s.start - start;
                let rel_e = s.end - start;
                format!("{}{}{}", &stmt[..rel_s], inner_fix, &stmt[rel_e..])
            });
            out.facts.push(f);
        }
        out.uses.extend(s.uses);
    }
    if !simple && !guarded {
        // Control flow we do not follow: say nothing rather than guess.
        out.classified = Classified::Unknown;
    }
    if !simple {
        out.uses.extend(keyword_uses(inner));
    }
    out
}

/// Extension-relevant names used by a parsed statement.
fn uses_of(stmt: &str, node: &NodeEnum) -> Vec<SqlUse> {
    let lower = stmt.to_ascii_lowercase();
    if !USE_HINTS.iter().any(|h| lower.contains(h)) {
        return Vec::new();
    }
    let Ok(value) = serde_json::to_value(node) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    walk_uses(&value, &mut out);
    out.sort();
    out.dedup();
    out
}

fn svals(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| n.pointer("/node/String/sval")?.as_str())
                .map(str::to_ascii_lowercase)
                .collect()
        })
        .unwrap_or_default()
}

fn walk_uses(v: &serde_json::Value, out: &mut Vec<SqlUse>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, child) in map {
                match k.as_str() {
                    "TypeName" | "type_name" | "typeName" if child.get("names").is_some() => {
                        if let Some(last) = svals(&child["names"]).pop() {
                            out.push(SqlUse::Type(last));
                        }
                    }
                    "FuncCall" => {
                        if let Some(last) = svals(&child["funcname"]).pop() {
                            out.push(SqlUse::Function(last));
                        }
                    }
                    "IndexElem" => {
                        if let Some(last) = svals(&child["opclass"]).pop() {
                            out.push(SqlUse::OpClass(last));
                        }
                    }
                    "IndexStmt" => {
                        if let Some(m) = child.get("access_method").and_then(|m| m.as_str()) {
                            if !m.is_empty() {
                                out.push(SqlUse::IndexMethod(m.to_ascii_lowercase()));
                            }
                        }
                    }
                    _ => {}
                }
                walk_uses(child, out);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| walk_uses(i, out)),
        _ => {}
    }
}

/// Function calls (`name(`) in text the parser did not accept, found by the scanner.
fn keyword_uses(text: &str) -> Vec<SqlUse> {
    let lower = text.to_ascii_lowercase();
    if !USE_HINTS.iter().any(|h| lower.contains(h)) {
        return Vec::new();
    }
    let toks = tokens(text);
    let mut out = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        let w = word(text, t).to_ascii_lowercase();
        if toks.get(i + 1).is_some_and(|n| word(text, n) == "(")
            && (t.token == PgToken::Ident as i32 || t.keyword_kind != 0)
        {
            out.push(SqlUse::Function(w));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The keyword scan for text the parser rejected: recognises only edits of a named table and
/// `CREATE EXTENSION`, whose meaning is the same in every dialect.
fn fallback(text: &str, start: usize, end: usize, error: String) -> SqlStatement {
    let stmt = &text[start..end];
    let words: Vec<String> = stmt
        .split(|c: char| c.is_whitespace() || c == ';' || c == '(')
        .filter(|w| !w.is_empty())
        .take(8)
        .map(|w| {
            w.trim_matches(|c| c == '`' || c == '"')
                .to_ascii_uppercase()
        })
        .collect();
    let w = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    let table_at = |i: usize| words.get(i).map(|s| s.to_ascii_lowercase());
    let mut facts = Vec::new();
    let mut push = |action, name: Option<String>, guarded| {
        if let Some(name) = name {
            facts.push(SqlFact {
                action,
                name,
                table: None,
                guarded,
                concurrently: false,
                fix: None,
            })
        }
    };
    match (w(0), w(1)) {
        ("DROP", "TABLE") => {
            let guarded = w(2) == "IF" && w(3) == "EXISTS";
            push(
                Action::Drop(Object::Table),
                table_at(if guarded { 4 } else { 2 }),
                true,
            )
        }
        ("TRUNCATE", "TABLE") => push(Action::Truncate, table_at(2), true),
        ("TRUNCATE", _) => push(Action::Truncate, table_at(1), true),
        ("DELETE", "FROM") => push(Action::Delete, table_at(2), true),
        ("UPDATE", _) => push(Action::Update, table_at(1), true),
        ("CREATE", "EXTENSION") => {
            let guarded = w(2) == "IF" && w(3) == "NOT" && w(4) == "EXISTS";
            push(
                Action::CreateExtension,
                table_at(if guarded { 5 } else { 2 }),
                true,
            )
        }
        _ => {}
    }
    let classified = if facts.is_empty() {
        Classified::Unknown
    } else {
        Classified::Keywords
    };
    SqlStatement {
        start,
        end,
        classified,
        facts,
        uses: keyword_uses(stmt),
        parse_error: Some(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(sql: &str) -> Vec<SqlFact> {
        analyse(sql).into_iter().flat_map(|s| s.facts).collect()
    }

    fn one(sql: &str) -> SqlFact {
        let f = facts(sql);
        assert_eq!(f.len(), 1, "{sql}: {f:?}");
        f.into_iter().next().unwrap()
    }

    #[test]
    fn create_table_and_its_fix() {
        let f = one("CREATE TABLE public.users (id int)");
        assert_eq!(f.action, Action::Create(Object::Table));
        assert_eq!(f.name, "public.users");
        assert!(!f.guarded);
        assert_eq!(
            f.fix.as_deref(),
            Some("CREATE TABLE IF NOT EXISTS public.users (id int)")
        );
        assert!(one("create unlogged table if not exists t (id int)").guarded);
    }

    #[test]
    fn indexes_concurrently_and_unnamed() {
        let f = one("CREATE UNIQUE INDEX CONCURRENTLY ix_a ON t (a)");
        assert!(f.concurrently && !f.guarded);
        assert_eq!(
            f.fix.as_deref(),
            Some("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ix_a ON t (a)")
        );
        assert_eq!(f.table.as_deref(), Some("t"));
        // IF NOT EXISTS needs a name: no rewrite offered.
        assert!(one("CREATE INDEX ON t (a)").fix.is_none());
        let d = one("DROP INDEX CONCURRENTLY ix_a");
        assert!(d.concurrently && !d.guarded);
        assert_eq!(
            d.fix.as_deref(),
            Some("DROP INDEX CONCURRENTLY IF EXISTS ix_a")
        );
    }

    #[test]
    fn alter_table_commands_share_one_fix() {
        let f = facts("ALTER TABLE t ADD COLUMN a int, ALTER COLUMN b DROP DEFAULT, DROP COLUMN c, ADD CONSTRAINT k UNIQUE (a), DROP CONSTRAINT IF EXISTS x");
        let add = &f[0];
        assert_eq!(add.action, Action::AddColumn);
        // One rewrite fixes every command of the statement.
        let both = "ALTER TABLE t ADD COLUMN IF NOT EXISTS a int, ALTER COLUMN b DROP DEFAULT, DROP COLUMN IF EXISTS c, ADD CONSTRAINT k UNIQUE (a), DROP CONSTRAINT IF EXISTS x";
        assert_eq!(add.fix.as_deref(), Some(both));
        let drop = f.iter().find(|x| x.action == Action::DropColumn).unwrap();
        assert_eq!(drop.name, "c");
        assert_eq!(drop.fix.as_deref(), Some(both));
        let dc = f
            .iter()
            .find(|x| x.action == Action::DropConstraint)
            .unwrap();
        assert!(dc.guarded);
    }

    #[test]
    fn renames_and_temporary_tables() {
        let r = one("ALTER TABLE sources RENAME TO sources_tmp");
        assert_eq!(r.action, Action::Rename(Object::Table));
        assert_eq!(
            (r.name.as_str(), r.table.as_deref()),
            ("sources", Some("sources_tmp"))
        );
        let t = one("ALTER TYPE mood RENAME TO mood_old");
        assert_eq!(t.action, Action::Rename(Object::Type));
        assert_eq!(t.name, "mood");
        assert!(one("CREATE TEMP TABLE scratch (id int) ON COMMIT DROP").guarded);
    }

    #[test]
    fn enums_views_functions() {
        let e = one("CREATE TYPE mood AS ENUM ('a', 'b')");
        assert_eq!(e.action, Action::CreateEnumType);
        assert!(e.fix.unwrap().contains("EXCEPTION WHEN duplicate_object"));
        let v = one("ALTER TYPE mood ADD VALUE 'c'");
        assert_eq!(v.action, Action::AddEnumValue);
        assert_eq!(
            v.fix.as_deref(),
            Some("ALTER TYPE mood ADD VALUE IF NOT EXISTS 'c'")
        );
        assert!(one("ALTER TYPE mood ADD VALUE IF NOT EXISTS 'c'").guarded);
        assert_eq!(
            one("CREATE VIEW v AS SELECT 1").fix.as_deref(),
            Some("CREATE OR REPLACE VIEW v AS SELECT 1")
        );
        assert!(
            one("CREATE OR REPLACE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql")
                .guarded
        );
    }

    #[test]
    fn do_blocks() {
        let guarded = "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'mood') THEN CREATE TYPE mood AS ENUM ('a'); END IF; END $$;";
        let s = analyse(guarded);
        assert_eq!(s.len(), 1);
        assert!(s[0].facts.iter().all(|f| f.guarded));
        let caught = "DO $$ BEGIN CREATE TYPE mood AS ENUM ('a'); EXCEPTION WHEN duplicate_object THEN null; END $$;";
        assert!(analyse(caught)[0].facts.iter().all(|f| f.guarded));
        let bare = "DO $$ BEGIN CREATE TYPE mood AS ENUM ('a'); END $$";
        let f = facts(bare);
        assert_eq!(f.len(), 1);
        assert!(!f[0].guarded);
        assert_eq!(f[0].action, Action::CreateEnumType);
    }

    #[test]
    fn multi_statement_and_ranges() {
        let sql = "CREATE TABLE a (id int);\n  CREATE INDEX ix ON a (id);";
        let s = analyse(sql);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].text(sql), "CREATE TABLE a (id int)");
        assert_eq!(s[1].text(sql), "CREATE INDEX ix ON a (id)");
    }

    #[test]
    fn mysql_is_unknown_not_wrong() {
        let s = analyse("CREATE TABLE `t` (id INT AUTO_INCREMENT) ENGINE=InnoDB");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].classified, Classified::Unknown);
        assert!(s[0].facts.is_empty());
        // A MySQL statement next to a PostgreSQL one: the PostgreSQL one is still read.
        let s = analyse("DROP INDEX ix ON t; CREATE TABLE b (id int)");
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].facts[0].action, Action::Create(Object::Table));
    }

    #[test]
    fn keyword_fallback_sees_version_table_edits() {
        let s = analyse("DELETE FROM `alembic_version` LIMIT 1");
        assert_eq!(s[0].classified, Classified::Keywords);
        assert_eq!(s[0].facts[0].action, Action::Delete);
        assert_eq!(s[0].facts[0].name, "alembic_version");
    }

    #[test]
    fn bad_input_never_panics() {
        for sql in [
            "DO $$ BEGIN CREATE TABLE x (",
            "hello world, this is not SQL",
            "\0",
            "$$",
            "'",
            "SELECT 1; $a$ unterminated",
        ] {
            let _ = analyse(sql);
        }
        let big = format!("INSERT INTO t VALUES {}", vec!["(1)"; 200_000].join(","));
        assert_eq!(analyse(&big)[0].facts[0].action, Action::Insert);
    }

    #[test]
    fn placeholders_parse() {
        let f = one("UPDATE t SET a = %(a)s WHERE b = :b AND c = %s AND d::text = 'x:y'");
        assert_eq!(f.action, Action::Update);
    }

    #[test]
    fn extension_uses() {
        let s = analyse("CREATE TABLE t (g geometry(Point, 4326), id uuid DEFAULT uuid_generate_v4()); CREATE INDEX ix ON t USING gin (name gin_trgm_ops)");
        let uses: Vec<_> = s.iter().flat_map(|s| s.uses.clone()).collect();
        assert!(uses.contains(&SqlUse::Type("geometry".into())), "{uses:?}");
        assert!(uses.contains(&SqlUse::Function("uuid_generate_v4".into())));
        assert!(uses.contains(&SqlUse::OpClass("gin_trgm_ops".into())));
        assert!(uses.contains(&SqlUse::IndexMethod("gin".into())));
    }
}
