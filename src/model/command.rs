//! The shared command vocabulary: what a shell script, a compose `command:`, a Dockerfile
//! `RUN`/`CMD` or a workflow `run:` block actually runs, as a flat list of classified simple
//! commands (migrate, stamp, serve, deploy, ...) with the context the rules need: wrappers
//! peeled off (`sh -c`, `uv run`, `docker compose run`), whether a failure is swallowed, the
//! enclosing `if` conditions, `set +e`, and byte spans into the source.
//!
//! Structure comes from a small recursive-descent parser over `shell::tokenize`'s tokens
//! (nesting depth capped, so hostile input cannot exhaust the stack), then one walk that keeps
//! the shell state (`set -e`, `set -o pipefail`, literal variables, the Docker host).
//!
//! Inner scripts are walked too, their offsets mapped back into the outer input: `sh -c '...'`,
//! `$( )`/backticks/`<( )`, `ssh host '...'`, `fly ssh console -C '...'`, `heroku run '...'`,
//! `eval '...'`, and a heredoc fed to `ssh host`/`sh`/`bash -s`. Other heredoc bodies are
//! data and never classified. Commands in shell functions are listed where they are defined
//! (`in_function` names the function). Approximations: the walk is linear (both branches of an
//! `if` are walked in order; a variable assigned under a condition counts as unknown), `case`
//! patterns inside `$( )` can end the substitution early. Flask-Script's
//! `python manage.py db <cmd>` is read as `flask db <cmd>`; other `manage.py` commands stay a
//! `RunScript`.

use std::collections::HashMap;

use crate::parse::shell::{self, Keyword, Op, ShellWord, TokenKind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// Unquoted text (expansions kept verbatim).
    pub text: String,
    /// Byte offsets into the input.
    pub start: u32,
    pub end: u32,
}

#[derive(Debug, Clone, Default)]
pub struct CommandList {
    pub commands: Vec<Command>,
    pub issues: Vec<(u32, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub kind: CommandKind,
    /// The command after unwrapping: `argv[0]` is the program that was classified. Never
    /// empty; for an assignment-only command (`X=1`) it holds the assignment words.
    pub argv: Vec<Word>,
    /// Span of the whole simple command as written (wrappers and redirections included); for
    /// a command inside `sh -c '...'`, the span of that inner command.
    pub start: u32,
    pub end: u32,
    /// Peeled wrappers, outermost first. Names are normalised: `"<shell> -c"` (`bash -lc` ->
    /// `"bash -c"`), `"<shell>"` for a heredoc fed to a shell, `"python -m"`, `"uv run"`,
    /// `"poetry run"` (and pipenv/pdm/hatch/rye/pixi/conda), `"uvx"`, `"exec"`, `"env"`,
    /// `"sudo"`, `"timeout"`, `"nohup"`, `"time"`, `"nice"`, `"gosu"`, `"su-exec"`, `"tini"`,
    /// `"dumb-init"`, `"command"`, `"eval"`, `"docker compose run"` (also for
    /// `docker-compose run`), `"docker compose exec"`, `"docker exec"`, `"docker run"`,
    /// `"kubectl exec"`, `"kubectl run"`, `"heroku run"`, `"railway run"`,
    /// `"fly ssh console"`, `"ssh"`, `"sshpass"`, `"wait-for-it"`, `"dockerize"`,
    /// `"doppler"`/`"infisical"`/`"op"`/..., `"dotenv run"`, `"newrelic-admin run-program"`,
    /// `"ddtrace-run"`, `"opentelemetry-instrument"`. Leading `X=1` assignments are not
    /// wrappers (see `env`).
    pub wrappers: Vec<String>,
    /// `env X=1 cmd`, `X=1 cmd`, including those of enclosing wrappers.
    pub env: Vec<(String, String)>,
    /// This command's failure is swallowed (`|| true`, `|| :`, `|| echo ...`, `|| exit 0`,
    /// a non-final pipeline element without `pipefail`, `&`).
    pub failure_ignored: Option<Ignored>,
    /// Part of an `if`/`while`/`until` condition, or of a `! cmd` pipeline.
    pub in_condition: bool,
    /// Conditions this command runs under, outermost first: enclosing `if`/`elif` conditions
    /// (`negated` in `else` branches), `while`/`until` conditions, `case` arms, and the left
    /// side of `&&` (or, negated, `||`).
    pub guards: Vec<Guard>,
    /// Runs after `set +e` (and before a later `set -e`).
    pub errexit_off: bool,
    /// The exit status decides what happens next: `$?` read by the next command, `|| exit 1`
    /// (any handler other than the ignoring ones), `&& next`, or the end of an `if`/`while`
    /// condition.
    pub status_checked: bool,
    /// Came from inside `$( )`, backticks or `( )`.
    pub subshell_or_substitution: bool,
    /// `set -e` is in effect (`set -e`, `set -euo pipefail`, `bash -e -c`, a `#!... -e`
    /// shebang, or `ShellOptions::errexit`).
    pub errexit: bool,
    /// Started in the background (`cmd &`).
    pub background: bool,
    /// Defined inside this shell function (`name() { ... }`), so it runs only if called.
    pub in_function: Option<String>,
    /// The compose service, container, image or pod a docker/kubectl wrapper runs it in.
    pub container: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    /// The source text that swallows the failure: `"|| true"`, `"|| echo failed"`,
    /// `"| tee log"`, `"&"`.
    pub how: String,
    pub start: u32,
    pub end: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guard {
    /// The condition's source text (without a leading `!`).
    pub text: String,
    pub start: u32,
    pub end: u32,
    /// The command runs when the condition fails.
    pub negated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandKind {
    Migrate { tool: Tool, target: Target },
    Stamp { target: Target },
    Downgrade { target: Target },
    Autogenerate,
    Merge,
    FlaskDbInit,
    Serve { server: String, workers: Workers },
    Deploy(Deploy),
    RunScript { path: String, lang: Lang },
    Source { path: String },
    Other,
}

impl CommandKind {
    /// An Alembic or Flask-Migrate command: one that reads or writes the revisions or the
    /// version table (`upgrade`, `stamp`, `downgrade`, `revision --autogenerate`, `merge`,
    /// `flask db init`).
    pub fn is_alembic(&self) -> bool {
        matches!(
            self,
            CommandKind::Migrate { .. }
                | CommandKind::Stamp { .. }
                | CommandKind::Downgrade { .. }
                | CommandKind::Autogenerate
                | CommandKind::Merge
                | CommandKind::FlaskDbInit
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Alembic,
    FlaskDb,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Head,
    Heads,
    /// `branch@head`
    BranchHead(String),
    /// `+1`, `-1`, `head-1`, `x@+2`
    Relative(String),
    /// A revision id, `base`, or a branch label.
    Revision(String),
    /// `$VAR` and other expansions; `""` when the target is missing.
    Unknown(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Workers {
    Count(u32),
    /// The variable it comes from (`$WORKERS`, `WEB_CONCURRENCY`), or the expression text.
    Env(String),
    Default,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Shell,
    Python,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deploy {
    StackDeploy {
        files: Vec<Word>,
        stack: Option<Word>,
    },
    ServiceUpdate,
    ComposeUp {
        files: Vec<Word>,
        remote: bool,
    },
    ComposeRun {
        service: String,
        /// Against another Docker host (`-H`, `--context`, `DOCKER_HOST`).
        remote: bool,
    },
    Kubectl,
    Helm,
    Fly,
    Railway,
    Heroku,
    GcloudRun,
    EcsUpdate,
}

/// Shell options in effect when a script starts (a workflow `run:` step runs under
/// `bash -e {0}`; `shell: bash` adds `-o pipefail`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShellOptions {
    pub errexit: bool,
    pub pipefail: bool,
}

impl CommandList {
    /// Tokenise and classify a shell script; offsets are relative to `src`.
    pub fn from_shell(src: &str) -> CommandList {
        Self::from_shell_with(src, ShellOptions::default())
    }

    /// Like `from_shell`, with `set -e`/`-o pipefail` already in effect.
    pub fn from_shell_with(src: &str, opts: ShellOptions) -> CommandList {
        let mut st = ShState {
            errexit: opts.errexit || shebang_errexit(src),
            pipefail: opts.pipefail,
            ..Default::default()
        };
        let mut w = Walker::default();
        w.script(src, OffMap::Shift(0), &Ctx::default(), &mut st);
        w.finish()
    }

    /// Exec/list form (`["sh", "-c", "alembic upgrade head && gunicorn app"]`): each element
    /// with the span of its text. An inner `sh -c` script is tokenised with its offsets
    /// counted from the element's `start`.
    pub fn from_exec(args: &[(String, u32, u32)]) -> CommandList {
        let mut w = Walker::default();
        let argv: Vec<Aw> = args
            .iter()
            .map(|(t, s, e)| Aw {
                text: t.clone(),
                start: *s,
                end: *e,
                exp: false,
                table: None,
            })
            .collect();
        if let (Some(first), Some(last)) = (argv.first(), argv.last()) {
            let span = (first.start, last.end);
            let mut st = ShState::default();
            w.command(argv, span, &Ctx::default(), &mut st, None);
        }
        w.finish()
    }

    /// A Dockerfile instruction's command (`RUN`, `CMD`, `ENTRYPOINT`, `HEALTHCHECK CMD`),
    /// with offsets in the Dockerfile.
    pub fn from_instr(instr: &shell::Instr) -> CommandList {
        match &instr.form {
            shell::Form::Exec(args) => Self::from_exec(args),
            shell::Form::Shell(text) => {
                let mut cl = Self::from_shell(text);
                let offs = &instr.offsets;
                cl.map_offsets(|o| offs.get(o as usize).or(offs.last()).copied().unwrap_or(o));
                cl
            }
        }
    }

    /// Remap every offset (commands, words, guards, ignored spans, issues).
    pub fn map_offsets(&mut self, f: impl Fn(u32) -> u32) {
        let word = |w: &mut Word| {
            w.start = f(w.start);
            w.end = f(w.end);
        };
        for c in &mut self.commands {
            c.start = f(c.start);
            c.end = f(c.end);
            c.argv.iter_mut().for_each(word);
            if let Some(i) = &mut c.failure_ignored {
                i.start = f(i.start);
                i.end = f(i.end);
            }
            for g in &mut c.guards {
                g.start = f(g.start);
                g.end = f(g.end);
            }
            if let CommandKind::Deploy(d) = &mut c.kind {
                match d {
                    Deploy::StackDeploy { files, stack } => {
                        files.iter_mut().for_each(word);
                        stack.iter_mut().for_each(word);
                    }
                    Deploy::ComposeUp { files, .. } => files.iter_mut().for_each(word),
                    _ => {}
                }
            }
        }
        for i in &mut self.issues {
            i.0 = f(i.0);
        }
    }

    /// The first `Migrate` command.
    pub fn migrates(&self) -> Option<&Command> {
        self.commands
            .iter()
            .find(|c| matches!(c.kind, CommandKind::Migrate { .. }))
    }

    /// The first `Serve` command.
    pub fn serves(&self) -> Option<&Command> {
        self.commands
            .iter()
            .find(|c| matches!(c.kind, CommandKind::Serve { .. }))
    }
}

fn shebang_errexit(src: &str) -> bool {
    let Some(line) = src.strip_prefix("#!") else {
        return false;
    };
    let line = line.lines().next().unwrap_or("");
    line.split_whitespace()
        .skip(1)
        .any(|a| a.starts_with('-') && !a.starts_with("--") && a.contains('e'))
}

// ---------------------------------------------------------------------------------------------
// Parser: tokens -> a small AST.

/// Compound commands nested deeper than this are flattened (their keywords skipped).
const MAX_NEST: u32 = 64;
/// `sh -c` scripts and `$( )` substitutions nested deeper than this are not looked into.
const MAX_SCRIPT_DEPTH: u32 = 8;

#[derive(Debug, Default)]
struct List {
    items: Vec<AndOr>,
}

#[derive(Debug)]
struct AndOr {
    first: Pipeline,
    rest: Vec<Link>,
    /// Offset of a trailing `&`.
    background: Option<u32>,
    start: u32,
    end: u32,
}

#[derive(Debug)]
struct Link {
    or: bool,
    op_start: u32,
    pipe: Pipeline,
}

#[derive(Debug)]
struct Pipeline {
    bang: bool,
    cmds: Vec<Node>,
    /// Offset of each `|`.
    pipes: Vec<u32>,
    /// Start after any `!`.
    body_start: u32,
    end: u32,
}

#[derive(Debug)]
struct Node {
    kind: NodeKind,
    start: u32,
    end: u32,
    /// Body span of the first heredoc fed to a simple command (`ssh host <<EOF`).
    stdin: Option<(u32, u32)>,
}

#[derive(Debug)]
enum NodeKind {
    Simple(Vec<ShellWord>),
    If {
        branches: Vec<(List, List)>,
        else_body: Option<List>,
    },
    Loop {
        until: bool,
        cond: List,
        body: List,
    },
    For {
        words: Vec<ShellWord>,
        body: List,
    },
    Case {
        word: Option<ShellWord>,
        arms: Vec<Arm>,
    },
    Group {
        subshell: bool,
        body: List,
    },
    Func {
        name: String,
        body: Box<Node>,
    },
}

#[derive(Debug)]
struct Arm {
    start: u32,
    end: u32,
    body: List,
}

impl List {
    fn span(&self) -> Option<(u32, u32)> {
        Some((self.items.first()?.start, self.items.last()?.end))
    }
}

struct Parser<'t> {
    toks: &'t [shell::Token],
    i: usize,
    nest: u32,
    issues: Vec<(u32, String)>,
    last_end: u32,
    /// Set by `simple`: the first heredoc body of the command just parsed.
    heredoc: Option<(u32, u32)>,
}

impl<'t> Parser<'t> {
    fn peek(&self) -> Option<&'t shell::Token> {
        self.toks.get(self.i)
    }

    fn kind(&self) -> Option<&'t TokenKind> {
        self.peek().map(|t| &t.kind)
    }

    fn bump(&mut self) -> Option<&'t shell::Token> {
        let t = self.toks.get(self.i)?;
        self.i += 1;
        self.last_end = t.end;
        Some(t)
    }

    fn at_kw(&self, k: Keyword) -> bool {
        matches!(self.kind(), Some(TokenKind::Keyword(x)) if *x == k)
    }

    fn at_op(&self, o: Op) -> bool {
        matches!(self.kind(), Some(TokenKind::Op(x)) if *x == o)
    }

    fn skip_newlines(&mut self) {
        while self.at_op(Op::Newline) {
            self.bump();
        }
    }

    fn skip_seps(&mut self) {
        while self.at_op(Op::Newline) || self.at_op(Op::Semi) {
            self.bump();
        }
    }

    fn here(&self) -> u32 {
        self.peek().map_or(self.last_end, |t| t.start)
    }

    fn expect(&mut self, k: Keyword, what: &str, at: u32) -> bool {
        if self.at_kw(k) {
            self.bump();
            true
        } else {
            self.issues.push((at, format!("unterminated {what}")));
            false
        }
    }

    fn program(&mut self) -> List {
        let mut items = Vec::new();
        loop {
            let l = self.list();
            items.extend(l.items);
            match self.bump() {
                None => break,
                Some(t) => self.issues.push((t.start, "unexpected token".to_string())),
            }
        }
        List { items }
    }

    fn is_terminator(&self) -> bool {
        matches!(
            self.kind(),
            Some(TokenKind::Keyword(
                Keyword::Then
                    | Keyword::Else
                    | Keyword::Elif
                    | Keyword::Fi
                    | Keyword::Do
                    | Keyword::Done
                    | Keyword::Esac
                    | Keyword::RBrace
                    | Keyword::RParen
            )) | Some(TokenKind::Op(Op::DSemi))
        )
    }

    fn list(&mut self) -> List {
        let mut items = Vec::new();
        loop {
            self.skip_seps();
            if self.peek().is_none() || self.is_terminator() {
                break;
            }
            let before = self.i;
            if let Some(mut ao) = self.and_or() {
                if self.at_op(Op::Amp) {
                    ao.background = self.bump().map(|t| t.start);
                }
                items.push(ao);
            }
            if self.i == before {
                // A token that cannot start a command (`in`, a stray operator): skip it.
                if let Some(t) = self.bump() {
                    self.issues.push((t.start, "unexpected token".to_string()));
                }
            }
        }
        List { items }
    }

    fn and_or(&mut self) -> Option<AndOr> {
        let start = self.here();
        let first = self.pipeline()?;
        let mut rest = Vec::new();
        loop {
            let or = match self.kind() {
                Some(TokenKind::Op(Op::AndIf)) => false,
                Some(TokenKind::Op(Op::OrIf)) => true,
                _ => break,
            };
            let op_start = self.bump().map_or(0, |t| t.start);
            self.skip_newlines();
            match self.pipeline() {
                Some(pipe) => rest.push(Link { or, op_start, pipe }),
                None => {
                    self.issues
                        .push((op_start, "missing command after && or ||".to_string()));
                    break;
                }
            }
        }
        Some(AndOr {
            first,
            rest,
            background: None,
            start,
            end: self.last_end,
        })
    }

    fn pipeline(&mut self) -> Option<Pipeline> {
        let mut bang = false;
        while self.at_kw(Keyword::Bang) {
            self.bump();
            bang = !bang;
        }
        let body_start = self.here();
        let first = self.command()?;
        let mut cmds = vec![first];
        let mut pipes = Vec::new();
        while self.at_op(Op::Pipe) {
            let ps = self.bump().map_or(0, |t| t.start);
            self.skip_newlines();
            match self.command() {
                Some(c) => {
                    pipes.push(ps);
                    cmds.push(c);
                }
                None => {
                    self.issues
                        .push((ps, "missing command after |".to_string()));
                    break;
                }
            }
        }
        Some(Pipeline {
            bang,
            cmds,
            pipes,
            body_start,
            end: self.last_end,
        })
    }

    fn command(&mut self) -> Option<Node> {
        let t = self.peek()?;
        let start = t.start;
        let kind = match &t.kind {
            TokenKind::Keyword(k) => {
                let compound = matches!(
                    k,
                    Keyword::If
                        | Keyword::While
                        | Keyword::Until
                        | Keyword::For
                        | Keyword::Case
                        | Keyword::LBrace
                        | Keyword::LParen
                        | Keyword::Function
                );
                if !compound {
                    return None;
                }
                if self.nest >= MAX_NEST {
                    self.bump();
                    return None;
                }
                self.nest += 1;
                let k = *k;
                let node = match k {
                    Keyword::If => self.if_(),
                    Keyword::While => self.loop_(false),
                    Keyword::Until => self.loop_(true),
                    Keyword::For => self.for_(),
                    Keyword::Case => self.case_(),
                    Keyword::LBrace => self.group(false),
                    Keyword::LParen => self.group(true),
                    _ => self.func(),
                };
                self.nest -= 1;
                node
            }
            TokenKind::Word(_) | TokenKind::Redirect(_) => self.simple(),
            TokenKind::Op(_) => return None,
        };
        while matches!(self.kind(), Some(TokenKind::Redirect(_))) {
            self.bump();
        }
        Some(Node {
            kind,
            start,
            end: self.last_end,
            stdin: self.heredoc.take(),
        })
    }

    fn simple(&mut self) -> NodeKind {
        let mut words = Vec::new();
        let mut heredoc = None;
        loop {
            match self.kind() {
                Some(TokenKind::Word(w)) => {
                    words.push(w.clone());
                    self.bump();
                }
                Some(TokenKind::Redirect(r)) => {
                    if let (None, Some(d)) = (heredoc, &r.heredoc) {
                        heredoc = Some((d.body_start, d.body_end));
                    }
                    self.bump();
                }
                _ => break,
            }
        }
        let is_def = words.len() == 1
            && self.at_kw(Keyword::LParen)
            && matches!(
                self.toks.get(self.i + 1).map(|t| &t.kind),
                Some(TokenKind::Keyword(Keyword::RParen))
            );
        if is_def && self.nest < MAX_NEST {
            self.bump();
            self.bump();
            self.skip_newlines();
            let name = words.pop().map(|w| w.text).unwrap_or_default();
            self.nest += 1;
            let body = self.command();
            self.nest -= 1;
            return NodeKind::Func {
                name,
                body: Box::new(body.unwrap_or(Node {
                    kind: NodeKind::Simple(Vec::new()),
                    start: self.last_end,
                    end: self.last_end,
                    stdin: None,
                })),
            };
        }
        self.heredoc = heredoc;
        NodeKind::Simple(words)
    }

    fn if_(&mut self) -> NodeKind {
        let at = self.bump().map_or(0, |t| t.start);
        let mut branches = Vec::new();
        let mut else_body = None;
        let cond = self.list();
        if !self.expect(Keyword::Then, "if (no then)", at) {
            branches.push((cond, List::default()));
            return NodeKind::If {
                branches,
                else_body,
            };
        }
        let body = self.list();
        branches.push((cond, body));
        loop {
            if self.at_kw(Keyword::Elif) {
                self.bump();
                let c = self.list();
                if !self.expect(Keyword::Then, "elif (no then)", at) {
                    branches.push((c, List::default()));
                    break;
                }
                let b = self.list();
                branches.push((c, b));
            } else if self.at_kw(Keyword::Else) {
                self.bump();
                else_body = Some(self.list());
            } else {
                self.expect(Keyword::Fi, "if (no fi)", at);
                break;
            }
        }
        NodeKind::If {
            branches,
            else_body,
        }
    }

    fn loop_(&mut self, until: bool) -> NodeKind {
        let at = self.bump().map_or(0, |t| t.start);
        let cond = self.list();
        let mut body = List::default();
        if self.expect(Keyword::Do, "loop (no do)", at) {
            body = self.list();
            self.expect(Keyword::Done, "loop (no done)", at);
        }
        NodeKind::Loop { until, cond, body }
    }

    fn for_(&mut self) -> NodeKind {
        let at = self.bump().map_or(0, |t| t.start);
        let mut words = Vec::new();
        if let Some(TokenKind::Word(_)) = self.kind() {
            self.bump();
        }
        self.skip_newlines();
        if self.at_kw(Keyword::In) {
            self.bump();
            while let Some(TokenKind::Word(w)) = self.kind() {
                words.push(w.clone());
                self.bump();
            }
        }
        self.skip_seps();
        let mut body = List::default();
        if self.expect(Keyword::Do, "for (no do)", at) {
            body = self.list();
            self.expect(Keyword::Done, "for (no done)", at);
        }
        NodeKind::For { words, body }
    }

    fn case_(&mut self) -> NodeKind {
        let at = self.bump().map_or(0, |t| t.start);
        let mut word = None;
        if let Some(TokenKind::Word(w)) = self.kind() {
            word = Some(w.clone());
            self.bump();
        }
        self.skip_newlines();
        let mut arms = Vec::new();
        if !self.expect(Keyword::In, "case (no in)", at) {
            return NodeKind::Case { word, arms };
        }
        loop {
            self.skip_seps();
            if self.peek().is_none() {
                self.issues.push((at, "unterminated case".to_string()));
                break;
            }
            if self.at_kw(Keyword::Esac) {
                self.bump();
                break;
            }
            let before = self.i;
            if self.at_kw(Keyword::LParen) {
                self.bump();
            }
            let start = self.here();
            loop {
                match self.kind() {
                    Some(TokenKind::Word(_)) | Some(TokenKind::Op(Op::Pipe)) => {
                        self.bump();
                    }
                    Some(TokenKind::Keyword(Keyword::RParen)) => {
                        self.bump();
                        break;
                    }
                    Some(TokenKind::Keyword(Keyword::Esac)) | None => break,
                    Some(TokenKind::Keyword(_)) => {
                        self.bump();
                    }
                    Some(_) => {
                        self.issues
                            .push((self.here(), "bad case pattern".to_string()));
                        break;
                    }
                }
            }
            let end = self.last_end.max(start);
            let body = self.list();
            if self.at_op(Op::DSemi) {
                self.bump();
            }
            arms.push(Arm { start, end, body });
            if self.i == before {
                self.bump();
            }
        }
        NodeKind::Case { word, arms }
    }

    fn group(&mut self, subshell: bool) -> NodeKind {
        let at = self.bump().map_or(0, |t| t.start);
        let body = self.list();
        if subshell {
            self.expect(Keyword::RParen, "( subshell", at);
        } else {
            self.expect(Keyword::RBrace, "{ group", at);
        }
        NodeKind::Group { subshell, body }
    }

    fn func(&mut self) -> NodeKind {
        let at = self.bump().map_or(0, |t| t.start);
        let mut name = String::new();
        if let Some(TokenKind::Word(w)) = self.kind() {
            name = w.text.clone();
            self.bump();
        }
        if self.at_kw(Keyword::LParen)
            && matches!(
                self.toks.get(self.i + 1).map(|t| &t.kind),
                Some(TokenKind::Keyword(Keyword::RParen))
            )
        {
            self.bump();
            self.bump();
        }
        self.skip_newlines();
        let body = self.command().unwrap_or(Node {
            kind: NodeKind::Simple(Vec::new()),
            start: at,
            end: at,
            stdin: None,
        });
        NodeKind::Func {
            name,
            body: Box::new(body),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Walker: AST -> classified commands.

/// Maps offsets of the text being walked to offsets of the original input.
#[derive(Clone, Copy)]
enum OffMap<'a> {
    Shift(u32),
    /// One entry per byte of the text, plus one for its end.
    Table(&'a [u32]),
}

impl<'a> OffMap<'a> {
    fn at(&self, i: u32) -> u32 {
        match self {
            OffMap::Shift(b) => b.saturating_add(i),
            OffMap::Table(t) => t.get(i as usize).or(t.last()).copied().unwrap_or_default(),
        }
    }

    /// Map an exclusive end offset: one past the last included byte.
    fn end(&self, e: u32) -> u32 {
        match self {
            OffMap::Shift(b) => b.saturating_add(e),
            OffMap::Table(_) if e == 0 => self.at(0),
            OffMap::Table(_) => self.at(e - 1).saturating_add(1),
        }
    }

    fn sub(&self, from: u32) -> OffMap<'a> {
        match self {
            OffMap::Shift(b) => OffMap::Shift(b.saturating_add(from)),
            OffMap::Table(t) => OffMap::Table(t.get(from as usize..).unwrap_or(&[])),
        }
    }
}

struct Frame<'a> {
    text: &'a str,
    map: OffMap<'a>,
}

impl Frame<'_> {
    fn slice(&self, s: u32, e: u32) -> String {
        clip(self.text.get(s as usize..e as usize).unwrap_or(""))
    }
}

#[derive(Clone, Default)]
struct Ctx {
    in_condition: bool,
    guards: Vec<Guard>,
    subshell: bool,
    function: Option<String>,
    wrappers: Vec<String>,
    env: Vec<(String, String)>,
    ignored: Option<Ignored>,
    container: Option<String>,
    background: bool,
    depth: u32,
}

#[derive(Clone, Debug)]
struct Var {
    value: String,
    exported: bool,
}

#[derive(Clone, Default)]
struct ShState {
    errexit: bool,
    errexit_off: bool,
    pipefail: bool,
    vars: HashMap<String, Var>,
    /// `export DOCKER_HOST=...` or `docker context use X` seen.
    remote: bool,
}

impl ShState {
    fn exported(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .filter(|v| v.exported)
            .map(|v| v.value.as_str())
    }
}

/// A word with absolute offsets.
#[derive(Clone, Debug)]
struct Aw {
    text: String,
    start: u32,
    end: u32,
    exp: bool,
    /// Absolute offset of each byte of `text` plus its end; `None` means `start + i`.
    table: Option<Vec<u32>>,
}

impl Aw {
    fn from_shell(w: &ShellWord, map: OffMap) -> Aw {
        let table = match (map, &w.offsets) {
            (OffMap::Shift(_), None) => None,
            _ => {
                let mut t: Vec<u32> = (0..w.text.len()).map(|i| map.at(w.offset_of(i))).collect();
                let last = t.last().map_or(map.at(w.start), |l| l.saturating_add(1));
                t.push(last);
                Some(t)
            }
        };
        Aw {
            text: w.text.clone(),
            start: map.at(w.start),
            end: map.end(w.end),
            exp: w.has_expansion,
            table,
        }
    }

    fn abs(&self, i: usize) -> u32 {
        match &self.table {
            Some(t) => t.get(i).or(t.last()).copied().unwrap_or(self.start),
            None => self
                .start
                .saturating_add(u32::try_from(i).unwrap_or(u32::MAX)),
        }
    }

    fn table_vec(&self) -> Vec<u32> {
        (0..=self.text.len()).map(|i| self.abs(i)).collect()
    }

    /// The word from byte `from` on (`--file=x.yml` -> `x.yml`).
    fn slice(&self, from: usize) -> Aw {
        let Some(text) = self.text.get(from..) else {
            return self.clone();
        };
        Aw {
            text: text.to_string(),
            start: self.abs(from),
            end: self.end,
            exp: self.exp,
            table: self
                .table
                .as_ref()
                .map(|t| t.get(from..).unwrap_or(&[]).to_vec()),
        }
    }

    fn word(&self) -> Word {
        Word {
            text: self.text.clone(),
            start: self.start,
            end: self.end,
        }
    }

    fn dynamic(&self) -> bool {
        self.exp || self.text.contains('$') || self.text.contains('`')
    }
}

#[derive(Default)]
struct Walker {
    out: Vec<Command>,
    issues: Vec<(u32, String)>,
    /// Compound commands being walked (across nested scripts), bounded by `MAX_NEST`.
    nest: u32,
}

impl Walker {
    fn finish(self) -> CommandList {
        CommandList {
            commands: self.out,
            issues: self.issues,
        }
    }

    fn script(&mut self, text: &str, map: OffMap, ctx: &Ctx, st: &mut ShState) {
        let toks = shell::tokenize(text);
        for (o, m) in toks.issues {
            self.issues.push((map.at(o), m));
        }
        let mut p = Parser {
            toks: &toks.tokens,
            i: 0,
            nest: self.nest,
            issues: Vec::new(),
            last_end: 0,
            heredoc: None,
        };
        let list = p.program();
        for (o, m) in p.issues {
            self.issues.push((map.at(o), m));
        }
        let fr = Frame { text, map };
        self.list(&list, &fr, ctx, st);
    }

    fn mark_checked(&mut self, from: usize) {
        for c in self.out.iter_mut().skip(from) {
            c.status_checked = true;
        }
    }

    /// Returns the index of the first command of the last item's last pipeline.
    fn list(&mut self, l: &List, fr: &Frame, ctx: &Ctx, st: &mut ShState) -> Option<usize> {
        let mut last = None;
        for (k, ao) in l.items.iter().enumerate() {
            let lp = self.and_or(ao, fr, ctx, st);
            if let Some(next) = l.items.get(k + 1) {
                if reads_status(next) {
                    self.mark_checked(lp);
                }
            }
            last = Some(lp);
        }
        last
    }

    fn and_or(&mut self, ao: &AndOr, fr: &Frame, ctx: &Ctx, st: &mut ShState) -> usize {
        let n = ao.rest.len() + 1;
        let handler_benign = ao
            .rest
            .last()
            .is_some_and(|l| l.or && benign_pipeline(&l.pipe));
        let ignored = if handler_benign {
            ao.rest.last().map(|l| Ignored {
                how: fr.slice(l.op_start, ao.end),
                start: fr.map.at(l.op_start),
                end: fr.map.end(ao.end),
            })
        } else {
            None
        };
        let mut last_start = self.out.len();
        let mut prev_end = ao.start;
        for k in 0..n {
            let (pipe, link) = if k == 0 {
                (&ao.first, None)
            } else {
                (&ao.rest[k - 1].pipe, Some(&ao.rest[k - 1]))
            };
            let mut pctx = ctx.clone();
            if let Some(link) = link {
                pctx.guards.push(Guard {
                    text: fr.slice(ao.start, prev_end),
                    start: fr.map.at(ao.start),
                    end: fr.map.end(prev_end),
                    negated: link.or,
                });
            }
            if k + 1 < n && handler_benign {
                pctx.ignored.clone_from(&ignored);
            }
            if let Some(bg) = ao.background {
                pctx.background = true;
                if pctx.ignored.is_none() {
                    pctx.ignored = Some(Ignored {
                        how: "&".to_string(),
                        start: fr.map.at(bg),
                        end: fr.map.end(bg + 1),
                    });
                }
            }
            let start = self.out.len();
            self.pipeline(pipe, fr, &pctx, st);
            let checks = k + 2 < n || (k + 1 < n && !handler_benign);
            if checks {
                self.mark_checked(start);
            }
            last_start = start;
            prev_end = pipe.end;
        }
        last_start
    }

    fn pipeline(&mut self, p: &Pipeline, fr: &Frame, ctx: &Ctx, st: &mut ShState) {
        let mut c = ctx.clone();
        if p.bang {
            c.in_condition = true;
        }
        let n = p.cmds.len();
        for (j, node) in p.cmds.iter().enumerate() {
            let mut nc = c.clone();
            if j + 1 < n && !st.pipefail && nc.ignored.is_none() {
                let ps = p.pipes.get(j).copied().unwrap_or(node.end);
                nc.ignored = Some(Ignored {
                    how: fr.slice(ps, p.end),
                    start: fr.map.at(ps),
                    end: fr.map.end(p.end),
                });
            }
            self.node(node, fr, &nc, st);
        }
    }

    fn guard_of(&self, l: &List, fr: &Frame, negate: bool) -> Option<Guard> {
        let (mut s, e) = l.span()?;
        let mut negated = negate;
        if let [ao] = l.items.as_slice() {
            if ao.rest.is_empty() && ao.first.bang {
                negated = !negated;
                s = ao.first.body_start;
            }
        }
        Some(Guard {
            text: fr.slice(s, e),
            start: fr.map.at(s),
            end: fr.map.end(e),
            negated,
        })
    }

    fn node(&mut self, node: &Node, fr: &Frame, ctx: &Ctx, st: &mut ShState) {
        if let NodeKind::Simple(words) = &node.kind {
            self.simple(words, node, fr, ctx, st);
            return;
        }
        if self.nest >= MAX_NEST {
            return;
        }
        self.nest += 1;
        self.compound(node, fr, ctx, st);
        self.nest -= 1;
    }

    fn compound(&mut self, node: &Node, fr: &Frame, ctx: &Ctx, st: &mut ShState) {
        match &node.kind {
            NodeKind::Simple(words) => self.simple(words, node, fr, ctx, st),
            NodeKind::If {
                branches,
                else_body,
            } => {
                let mut prior: Vec<Guard> = Vec::new();
                for (cond, body) in branches {
                    let mut cctx = ctx.clone();
                    cctx.guards.extend(prior.iter().cloned());
                    cctx.in_condition = true;
                    if let Some(ls) = self.list(cond, fr, &cctx, st) {
                        self.mark_checked(ls);
                    }
                    let g = self.guard_of(cond, fr, false);
                    let mut bctx = ctx.clone();
                    bctx.guards.extend(prior.iter().cloned());
                    bctx.guards.extend(g.iter().cloned());
                    self.list(body, fr, &bctx, st);
                    if let Some(g) = g {
                        prior.push(Guard {
                            negated: !g.negated,
                            ..g
                        });
                    }
                }
                if let Some(e) = else_body {
                    let mut ectx = ctx.clone();
                    ectx.guards.extend(prior);
                    self.list(e, fr, &ectx, st);
                }
            }
            NodeKind::Loop { until, cond, body } => {
                let mut cctx = ctx.clone();
                cctx.in_condition = true;
                if let Some(ls) = self.list(cond, fr, &cctx, st) {
                    self.mark_checked(ls);
                }
                let mut bctx = ctx.clone();
                bctx.guards.extend(self.guard_of(cond, fr, *until));
                self.list(body, fr, &bctx, st);
            }
            NodeKind::For { words, body } => {
                self.substitutions(words, fr, ctx, st);
                self.list(body, fr, ctx, st);
            }
            NodeKind::Case { word, arms } => {
                if let Some(w) = word {
                    self.substitutions(std::slice::from_ref(w), fr, ctx, st);
                }
                let subject = word
                    .as_ref()
                    .map(|w| fr.slice(w.start, w.end))
                    .unwrap_or_default();
                for arm in arms {
                    let mut actx = ctx.clone();
                    actx.guards.push(Guard {
                        text: clip(&format!(
                            "case {subject} in {}",
                            fr.slice(arm.start, arm.end)
                        )),
                        start: fr.map.at(arm.start),
                        end: fr.map.end(arm.end),
                        negated: false,
                    });
                    self.list(&arm.body, fr, &actx, st);
                }
            }
            NodeKind::Group { subshell, body } => {
                if *subshell {
                    let mut sctx = ctx.clone();
                    sctx.subshell = true;
                    let mut sst = st.clone();
                    self.list(body, fr, &sctx, &mut sst);
                } else {
                    self.list(body, fr, ctx, st);
                }
            }
            NodeKind::Func { name, body } => {
                let mut fctx = ctx.clone();
                fctx.function = Some(name.clone());
                self.node(body, fr, &fctx, st);
            }
        }
    }

    fn substitutions(&mut self, words: &[ShellWord], fr: &Frame, ctx: &Ctx, st: &ShState) {
        if ctx.depth >= MAX_SCRIPT_DEPTH {
            return;
        }
        for w in words {
            for &(s, e) in &w.substitutions {
                let Some(text) = fr.text.get(s as usize..e as usize) else {
                    continue;
                };
                let mut sctx = ctx.clone();
                sctx.subshell = true;
                sctx.depth += 1;
                let mut sst = st.clone();
                self.script(text, fr.map.sub(s), &sctx, &mut sst);
            }
        }
    }

    fn simple(
        &mut self,
        words: &[ShellWord],
        node: &Node,
        fr: &Frame,
        ctx: &Ctx,
        st: &mut ShState,
    ) {
        self.substitutions(words, fr, ctx, st);
        if words.is_empty() {
            return;
        }
        let argv: Vec<Aw> = words.iter().map(|w| Aw::from_shell(w, fr.map)).collect();
        let span = (fr.map.at(node.start), fr.map.end(node.end));
        let stdin = node.stdin.and_then(|(s, e)| {
            let text = fr.text.get(s as usize..e as usize)?;
            Some((text, fr.map.sub(s)))
        });
        self.command(argv, span, ctx, st, stdin);
    }

    /// Walk a script run by a wrapper (`sh -c`, `ssh host`); false if it yielded nothing.
    #[allow(clippy::too_many_arguments)]
    fn nested(
        &mut self,
        text: &str,
        map: OffMap,
        wrapper: String,
        opts: ShellOptions,
        acc: &Acc,
        ctx: &Ctx,
        st: &ShState,
    ) -> bool {
        if ctx.depth >= MAX_SCRIPT_DEPTH {
            return false;
        }
        let mut nctx = ctx.clone();
        nctx.wrappers.extend(acc.wrappers.iter().cloned());
        nctx.wrappers.push(wrapper);
        nctx.env.extend(acc.env.iter().cloned());
        if acc.container.is_some() {
            nctx.container.clone_from(&acc.container);
        }
        nctx.depth += 1;
        let mut nst = ShState {
            errexit: opts.errexit,
            errexit_off: false,
            pipefail: opts.pipefail,
            vars: st.vars.clone(),
            remote: st.remote || acc.remote,
        };
        let before = self.out.len();
        self.script(text, map, &nctx, &mut nst);
        self.out.len() > before
    }

    fn command(
        &mut self,
        argv: Vec<Aw>,
        span: (u32, u32),
        ctx: &Ctx,
        st: &mut ShState,
        stdin: Option<(&str, OffMap)>,
    ) {
        let all = argv.clone();
        let mut acc = Acc::default();
        let res = resolve(argv, &mut acc, st, &ctx.env);
        let (kind, final_argv, assign_only) = match res {
            Resolved::Nested {
                script,
                wrapper,
                errexit,
                pipefail,
            } => {
                let mut table = script.table_vec();
                // `bash -c "$START_COMMAND"`: the script is a variable the script set.
                let text = match var_script(&script.text, st) {
                    Some(value) => {
                        let at = table.first().copied().unwrap_or_default();
                        table = vec![at; value.len() + 1];
                        value
                    }
                    None => script.text.clone(),
                };
                let opts = ShellOptions { errexit, pipefail };
                let map = OffMap::Table(&table);
                if self.nested(&text, map, wrapper, opts, &acc, ctx, st) {
                    return;
                }
                (CommandKind::Other, all, false)
            }
            Resolved::Stdin { wrapper, errexit } => {
                if let Some((text, map)) = stdin {
                    let opts = ShellOptions {
                        errexit,
                        pipefail: false,
                    };
                    if self.nested(text, map, wrapper, opts, &acc, ctx, st) {
                        return;
                    }
                }
                (CommandKind::Other, all, false)
            }
            Resolved::Cmd(kind, argv) => {
                let argv = if argv.is_empty() { all } else { argv };
                (kind, argv, false)
            }
            Resolved::Assign => (CommandKind::Other, all, true),
        };
        let mut env = ctx.env.clone();
        env.extend(acc.env.iter().cloned());
        let mut wrappers = ctx.wrappers.clone();
        wrappers.extend(acc.wrappers.iter().cloned());
        self.out.push(Command {
            kind,
            argv: final_argv.iter().map(Aw::word).collect(),
            start: span.0,
            end: span.1,
            wrappers,
            env,
            failure_ignored: ctx.ignored.clone(),
            in_condition: ctx.in_condition,
            guards: ctx.guards.clone(),
            errexit_off: st.errexit_off,
            status_checked: false,
            subshell_or_substitution: ctx.subshell,
            errexit: st.errexit,
            background: ctx.background,
            in_function: ctx.function.clone(),
            container: acc.container.clone().or_else(|| ctx.container.clone()),
        });
        let certain = ctx.guards.is_empty() && !ctx.in_condition && ctx.function.is_none();
        update_state(st, &final_argv, &acc, assign_only, certain);
    }
}

/// Does this list item start by reading `$?` (`if [ $? -ne 0 ]`, `rc=$?`, `case $? in`)?
fn reads_status(ao: &AndOr) -> bool {
    fn node(n: &Node) -> bool {
        match &n.kind {
            NodeKind::Simple(words) => words.iter().any(|w| w.text.contains("$?")),
            NodeKind::If { branches, .. } => branches
                .first()
                .and_then(|(c, _)| c.items.first())
                .is_some_and(reads_status),
            NodeKind::Case { word, .. } => word.as_ref().is_some_and(|w| w.text.contains("$?")),
            NodeKind::Loop { cond, .. } => cond.items.first().is_some_and(reads_status),
            _ => false,
        }
    }
    ao.first.cmds.first().is_some_and(node)
}

/// A `||` handler that makes the list succeed: `true`, `:`, `echo ...`, `exit 0`, or a group
/// made only of such commands.
fn benign_pipeline(p: &Pipeline) -> bool {
    fn simple(words: &[ShellWord]) -> bool {
        let mut it = words
            .iter()
            .skip_while(|w| shell::assignment_name(&w.text).is_some());
        let Some(w0) = it.next() else {
            return true;
        };
        let prog = basename(&w0.text);
        match prog {
            "true" | ":" | "echo" | "printf" | "logger" => true,
            "exit" | "return" => it.next().is_some_and(|a| a.text == "0"),
            _ => false,
        }
    }
    fn node(n: &Node) -> bool {
        match &n.kind {
            NodeKind::Simple(words) => simple(words),
            NodeKind::Group { body, .. } => {
                !body.items.is_empty()
                    && body.items.iter().all(|ao| {
                        ao.rest.is_empty() && !ao.first.bang && ao.first.cmds.iter().all(node)
                    })
            }
            _ => false,
        }
    }
    !p.bang && p.cmds.len() == 1 && p.cmds.iter().all(node)
}

/// Longest guard or `how` text kept, in bytes.
const MAX_TEXT: usize = 400;

/// `s` trimmed and cut to `MAX_TEXT` bytes (at a char boundary), without copying the rest.
fn clip(s: &str) -> String {
    let s = s.trim();
    if s.len() <= MAX_TEXT {
        return s.to_string();
    }
    let mut end = MAX_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

fn basename(t: &str) -> &str {
    t.rsplit('/').next().unwrap_or(t)
}

/// Track `set`, variables and the Docker context. An assignment that only runs under a
/// condition (`certain == false`) is recorded as unknown: its value becomes `$NAME`.
fn update_state(st: &mut ShState, argv: &[Aw], acc: &Acc, assign_only: bool, certain: bool) {
    let val = |name: &str, v: &str| {
        if certain {
            v.to_string()
        } else {
            format!("${name}")
        }
    };
    if assign_only {
        for (k, v) in &acc.env {
            let exported = st.vars.get(k).is_some_and(|x| x.exported);
            let v = val(k, v);
            st.vars.insert(
                k.clone(),
                Var {
                    value: v.clone(),
                    exported,
                },
            );
            if exported && (k == "DOCKER_HOST" || k == "DOCKER_CONTEXT") {
                st.remote = elsewhere(&v);
            }
        }
        return;
    }
    let Some(first) = argv.first() else {
        return;
    };
    let prog = basename(&first.text);
    match prog {
        "set" => {
            let mut i = 1;
            while let Some(a) = argv.get(i) {
                let t = a.text.as_str();
                let on = t.starts_with('-');
                if (on || t.starts_with('+')) && t.len() > 1 && !t.starts_with("--") {
                    let mut names = 0;
                    for ch in t[1..].chars() {
                        match ch {
                            'e' => set_errexit(st, on),
                            'o' => names += 1,
                            _ => {}
                        }
                    }
                    for _ in 0..names {
                        i += 1;
                        match argv.get(i).map(|a| a.text.as_str()) {
                            Some("errexit") => set_errexit(st, on),
                            Some("pipefail") => st.pipefail = on,
                            _ => {}
                        }
                    }
                }
                i += 1;
            }
        }
        "export" | "declare" | "typeset" | "local" | "readonly" => {
            let exported = prog == "export"
                || argv
                    .iter()
                    .skip(1)
                    .any(|a| a.text.starts_with('-') && a.text.contains('x'));
            for a in argv.iter().skip(1) {
                if let Some(n) = shell::assignment_name(&a.text) {
                    let name = a.text[..n].to_string();
                    let value = val(&a.text[..n], a.text[n..].trim_start_matches(['+', '=']));
                    if exported && (name == "DOCKER_HOST" || name == "DOCKER_CONTEXT") {
                        st.remote = elsewhere(&value);
                    }
                    st.vars.insert(name, Var { value, exported });
                } else if exported && !a.text.starts_with('-') {
                    // Not set by the script: its value comes from the environment.
                    let v = st.vars.entry(a.text.clone()).or_insert_with(|| Var {
                        value: format!("${}", a.text),
                        exported: true,
                    });
                    v.exported = true;
                    if a.text == "DOCKER_HOST" || a.text == "DOCKER_CONTEXT" {
                        st.remote = elsewhere(&v.value);
                    }
                }
            }
        }
        "unset" => {
            for a in argv.iter().skip(1) {
                st.vars.remove(&a.text);
            }
        }
        "docker" => {
            let t: Vec<&str> = argv.iter().map(|a| a.text.as_str()).collect();
            if t.get(1) == Some(&"context") && t.get(2) == Some(&"use") {
                st.remote = t.get(3).is_some_and(|c| *c != "default");
            }
        }
        _ => {}
    }
}

fn set_errexit(st: &mut ShState, on: bool) {
    st.errexit = on;
    st.errexit_off = !on;
}

// ---------------------------------------------------------------------------------------------
// Unwrapping and classification.

#[derive(Default)]
struct Acc {
    wrappers: Vec<String>,
    env: Vec<(String, String)>,
    container: Option<String>,
    remote: bool,
}

enum Resolved {
    /// The classified command and its argv from the program word on.
    Cmd(CommandKind, Vec<Aw>),
    /// An inner script to tokenise (`sh -c '...'`, `fly ssh console -C '...'`).
    Nested {
        script: Aw,
        wrapper: String,
        errexit: bool,
        pipefail: bool,
    },
    /// A shell that reads its script from stdin (`ssh host`, `bash -s`, `sh`): a heredoc fed
    /// to it is walked as a script.
    Stdin { wrapper: String, errexit: bool },
    /// Only assignments.
    Assign,
}

/// The script a `sh -c "$NAME"` runs, when `NAME` is a variable the script set for certain:
/// its value, or for `NAME="${NAME:-default}"` (a setting the environment may override) the
/// default. Every byte of it maps to the `$NAME` word.
fn var_script(text: &str, st: &ShState) -> Option<String> {
    let name = text
        .strip_prefix("${")
        .and_then(|t| t.strip_suffix('}'))
        .or_else(|| text.strip_prefix('$'))?;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let value = &st.vars.get(name)?.value;
    if let Some(body) = value.strip_prefix("${").and_then(|b| b.strip_suffix('}')) {
        let (n, default) = body.split_once(":-").or_else(|| body.split_once('-'))?;
        return (n == name && !default.trim().is_empty()).then(|| default.to_string());
    }
    // An unknown value (a conditional assignment records `$NAME`) runs nothing known.
    (!value.starts_with('$') && !value.trim().is_empty()).then(|| value.clone())
}

fn is_python(p: &str) -> bool {
    let rest = p.strip_prefix("python").or_else(|| p.strip_prefix("pypy"));
    rest.is_some_and(|r| r.bytes().all(|c| c.is_ascii_digit() || c == b'.'))
}

fn is_shell(p: &str) -> bool {
    matches!(p, "sh" | "bash" | "dash" | "zsh" | "ash" | "ksh" | "mksh")
}

/// Options parsed from an argument list.
struct Opts {
    /// Index of the first non-option argument.
    end: usize,
    values: Vec<(String, Aw)>,
}

impl Opts {
    fn last(&self, names: &[&str]) -> Option<&Aw> {
        self.values
            .iter()
            .rev()
            .find(|(n, _)| names.contains(&n.as_str()))
            .map(|(_, v)| v)
    }

    fn all(&self, names: &[&str]) -> Vec<&Aw> {
        self.values
            .iter()
            .filter(|(n, _)| names.contains(&n.as_str()))
            .map(|(_, v)| v)
            .collect()
    }

    fn has(&self, names: &[&str]) -> bool {
        self.values.iter().any(|(n, _)| names.contains(&n.as_str()))
    }
}

/// Skip options from `j`: `--x=v`, `--x v` / `-x v` when `x` takes a value, `-xv` attached
/// short values, flags (recorded with an empty value), and a terminating `--`.
fn scan_opts(argv: &[Aw], mut j: usize, with_value: &[&str]) -> Opts {
    let mut values = Vec::new();
    while let Some(w) = argv.get(j) {
        let t = w.text.as_str();
        if t == "--" {
            j += 1;
            break;
        }
        if !t.starts_with('-') || t == "-" {
            break;
        }
        if let Some(eq) = t.find('=') {
            let name = &t[..eq];
            if t.starts_with("--") || with_value.contains(&name) {
                values.push((name.to_string(), w.slice(eq + 1)));
                j += 1;
                continue;
            }
        }
        if with_value.contains(&t) {
            if let Some(v) = argv.get(j + 1) {
                values.push((t.to_string(), v.clone()));
            }
            j += 2;
            continue;
        }
        if !t.starts_with("--") && t.len() > 2 {
            if let Some(short) = t.get(..2) {
                if with_value.contains(&short) {
                    values.push((short.to_string(), w.slice(2)));
                    j += 1;
                    continue;
                }
            }
        }
        values.push((t.to_string(), w.slice(w.text.len())));
        j += 1;
    }
    Opts {
        end: j.min(argv.len()),
        values,
    }
}

/// Positional arguments after `from`, skipping options (and the values of `with_value`).
/// `-1` style relative targets count as positional.
fn positionals<'a>(argv: &'a [Aw], from: usize, with_value: &[&str]) -> Vec<&'a Aw> {
    let mut out = Vec::new();
    let mut j = from;
    let mut only_pos = false;
    while let Some(w) = argv.get(j) {
        let t = w.text.as_str();
        if only_pos {
            out.push(w);
            j += 1;
            continue;
        }
        if t == "--" {
            only_pos = true;
            j += 1;
            continue;
        }
        let neg_num = t
            .strip_prefix('-')
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()));
        if t.starts_with('-') && t != "-" && !neg_num {
            j += if with_value.contains(&t) { 2 } else { 1 };
            continue;
        }
        out.push(w);
        j += 1;
    }
    out
}

fn word_of(a: &Aw) -> Word {
    a.word()
}

fn lookup_env<'a>(
    name: &str,
    outer: &'a [(String, String)],
    acc: &'a Acc,
    st: &'a ShState,
) -> Option<&'a str> {
    acc.env
        .iter()
        .rev()
        .chain(outer.iter().rev())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .or_else(|| st.exported(name))
}

/// `$X`, `${X}`, `${X:-4}` -> `X`.
fn var_name(t: &str) -> Option<&str> {
    let inner = if let Some(r) = t.strip_prefix("${") {
        r.strip_suffix('}')?
    } else {
        t.strip_prefix('$')?
    };
    let end = inner
        .find(|c: char| !(c == '_' || c.is_ascii_alphanumeric()))
        .unwrap_or(inner.len());
    let name = &inner[..end];
    (!name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit())).then_some(name)
}

fn workers_of(text: &str, st: &ShState) -> Workers {
    let t = text.trim();
    if let Ok(n) = t.parse::<u32>() {
        return Workers::Count(n);
    }
    if let Some(v) = var_name(t) {
        if let Some(n) = st
            .vars
            .get(v)
            .and_then(|x| x.value.trim().parse::<u32>().ok())
        {
            return Workers::Count(n);
        }
        return Workers::Env(v.to_string());
    }
    Workers::Env(t.to_string())
}

/// Workers from an environment variable the server reads (`WEB_CONCURRENCY`).
fn workers_from_env(
    names: &[&str],
    outer: &[(String, String)],
    acc: &Acc,
    st: &ShState,
) -> Option<Workers> {
    for name in names {
        if let Some(v) = lookup_env(name, outer, acc, st) {
            return Some(match workers_of(v, st) {
                Workers::Count(n) => Workers::Count(n),
                _ => Workers::Env((*name).to_string()),
            });
        }
    }
    None
}

impl Target {
    /// A target as written in a command or an API call (`head`, `heads`, `x@head`, `+1`, an id).
    pub fn parse(s: &str) -> Target {
        let t = s.trim();
        if t.is_empty() || t.contains('$') {
            return Target::Unknown(t.to_string());
        }
        let rel = |s: &str| {
            (s.starts_with('+') || s.starts_with('-'))
                && s.len() > 1
                && s[1..].bytes().all(|c| c.is_ascii_digit())
        };
        match t {
            "head" => Target::Head,
            "heads" => Target::Heads,
            _ => {
                if let Some((branch, rest)) = t.split_once('@') {
                    if rest == "head" {
                        return Target::BranchHead(branch.to_string());
                    }
                    if rel(rest) {
                        return Target::Relative(t.to_string());
                    }
                }
                if rel(t) {
                    return Target::Relative(t.to_string());
                }
                if let Some(i) = t.rfind(['+', '-']) {
                    if i > 0 && rel(&t[i..]) {
                        return Target::Relative(t.to_string());
                    }
                }
                Target::Revision(t.to_string())
            }
        }
    }

    /// The target's text as written, when there is one.
    pub fn text(&self) -> Option<&str> {
        match self {
            Target::Head => Some("head"),
            Target::Heads => Some("heads"),
            Target::BranchHead(s) | Target::Relative(s) | Target::Revision(s) => Some(s),
            Target::Unknown(s) if !s.is_empty() => Some(s),
            Target::Unknown(_) => None,
        }
    }
}

fn parse_target(w: Option<&Aw>) -> Target {
    let Some(w) = w else {
        return Target::Unknown(String::new());
    };
    let t = w.text.as_str();
    if w.dynamic() {
        return Target::Unknown(t.to_string());
    }
    let rel = |s: &str| {
        (s.starts_with('+') || s.starts_with('-'))
            && s.len() > 1
            && s[1..].bytes().all(|c| c.is_ascii_digit())
    };
    match t {
        "" => Target::Unknown(String::new()),
        "head" => Target::Head,
        "heads" => Target::Heads,
        _ => {
            if let Some((branch, rest)) = t.split_once('@') {
                if rest == "head" {
                    return Target::BranchHead(branch.to_string());
                }
                if rel(rest) {
                    return Target::Relative(t.to_string());
                }
            }
            if rel(t) {
                return Target::Relative(t.to_string());
            }
            if let Some(i) = t.rfind(['+', '-']) {
                if i > 0 && rel(&t[i..]) {
                    return Target::Relative(t.to_string());
                }
            }
            Target::Revision(t.to_string())
        }
    }
}

const ALEMBIC_GLOBAL_VALUE: &[&str] = &["-c", "--config", "-n", "--name", "-x"];
const ALEMBIC_SUB_VALUE: &[&str] = &[
    "--tag",
    "-m",
    "--message",
    "--head",
    "--branch-label",
    "--version-path",
    "--rev-id",
    "--depends-on",
    "-c",
    "--config",
    "-n",
    "--name",
    "-x",
];

fn classify_alembic(argv: &[Aw]) -> CommandKind {
    let o = scan_opts(argv, 1, ALEMBIC_GLOBAL_VALUE);
    let Some(sub) = argv.get(o.end) else {
        return CommandKind::Other;
    };
    let rest_from = o.end + 1;
    let sql = argv[rest_from..].iter().any(|a| a.text == "--sql");
    let target = || {
        parse_target(
            positionals(argv, rest_from, ALEMBIC_SUB_VALUE)
                .first()
                .copied(),
        )
    };
    match sub.text.as_str() {
        "upgrade" if !sql => CommandKind::Migrate {
            tool: Tool::Alembic,
            target: target(),
        },
        "downgrade" if !sql => CommandKind::Downgrade { target: target() },
        "stamp" if !sql => CommandKind::Stamp { target: target() },
        "revision" if argv[rest_from..].iter().any(|a| a.text == "--autogenerate") => {
            CommandKind::Autogenerate
        }
        "merge" => CommandKind::Merge,
        _ => CommandKind::Other,
    }
}

const FLASK_GLOBAL_VALUE: &[&str] = &["--app", "-A", "--env-file", "-e"];
const FLASK_DB_VALUE: &[&str] = &[
    "-d",
    "--directory",
    "-x",
    "--x-arg",
    "--tag",
    "-m",
    "--message",
    "--rev-id",
    "--head",
    "--branch-label",
    "--version-path",
];

fn classify_flask(argv: &[Aw]) -> CommandKind {
    let o = scan_opts(argv, 1, FLASK_GLOBAL_VALUE);
    match argv.get(o.end).map(|a| a.text.as_str()) {
        Some("run") => CommandKind::Serve {
            server: "flask".to_string(),
            workers: Workers::Default,
        },
        Some("db") => {
            let d = scan_opts(argv, o.end + 1, FLASK_DB_VALUE);
            let Some(sub) = argv.get(d.end) else {
                return CommandKind::Other;
            };
            let rest = d.end + 1;
            let has = |f: &str| argv[rest..].iter().any(|a| a.text == f);
            let pos = positionals(argv, rest, FLASK_DB_VALUE);
            let target = |default: Target| match pos.first() {
                Some(w) => parse_target(Some(w)),
                None => default,
            };
            match sub.text.as_str() {
                "upgrade" if !has("--sql") => CommandKind::Migrate {
                    tool: Tool::FlaskDb,
                    target: target(Target::Head),
                },
                "downgrade" if !has("--sql") => CommandKind::Downgrade {
                    target: target(Target::Relative("-1".to_string())),
                },
                "stamp" if !has("--sql") => CommandKind::Stamp {
                    target: target(Target::Head),
                },
                "migrate" => CommandKind::Autogenerate,
                "revision" if has("--autogenerate") => CommandKind::Autogenerate,
                "merge" => CommandKind::Merge,
                "init" => CommandKind::FlaskDbInit,
                _ => CommandKind::Other,
            }
        }
        _ => CommandKind::Other,
    }
}

fn serve(
    prog: &str,
    argv: &[Aw],
    outer: &[(String, String)],
    acc: &Acc,
    st: &ShState,
) -> Option<CommandKind> {
    // (server name, option names carrying the worker count, env vars read when absent)
    let (server, flags, envs): (&str, &[&str], &[&str]) = match prog {
        "gunicorn" => ("gunicorn", &["-w", "--workers"], &["WEB_CONCURRENCY"]),
        "uvicorn" => (
            "uvicorn",
            &["--workers"],
            &["UVICORN_WORKERS", "WEB_CONCURRENCY"],
        ),
        "hypercorn" => ("hypercorn", &["-w", "--workers"], &[]),
        "granian" => ("granian", &["--workers"], &["GRANIAN_WORKERS"]),
        "daphne" => ("daphne", &[], &[]),
        "waitress-serve" => ("waitress", &[], &[]),
        // A process manager that keeps the application's servers running: the container's
        // long-running main process, as a server is.
        "supervisord" => ("supervisord", &[], &[]),
        "uwsgi" => (
            "uwsgi",
            &["--processes", "-p", "--workers"],
            &["UWSGI_PROCESSES", "UWSGI_WORKERS"],
        ),
        "fastapi" => {
            let sub = argv.iter().skip(1).find(|a| !a.text.starts_with('-'))?;
            if sub.text != "run" && sub.text != "dev" {
                return None;
            }
            ("fastapi", &["--workers"], &[])
        }
        "celery" => {
            let o = scan_opts(
                argv,
                1,
                &[
                    "-A",
                    "--app",
                    "-b",
                    "--broker",
                    "--result-backend",
                    "--loader",
                    "--config",
                    "--workdir",
                ],
            );
            if argv.get(o.end).map(|a| a.text.as_str()) != Some("worker") {
                return None;
            }
            ("celery", &["-c", "--concurrency"], &[])
        }
        _ => return None,
    };
    let mut found: Option<&Aw> = None;
    let mut j = 1;
    while let Some(w) = argv.get(j) {
        let t = w.text.as_str();
        if flags.contains(&t) {
            found = argv.get(j + 1);
            j += 2;
            continue;
        }
        if let Some((name, _)) = t.split_once('=') {
            if flags.contains(&name) && name.starts_with("--") {
                found = Some(w);
            }
        } else if !t.starts_with("--") && t.len() > 2 {
            if let Some(short) = t.get(..2) {
                if flags.contains(&short) {
                    found = Some(w);
                }
            }
        }
        j += 1;
    }
    let workers = match found {
        Some(w) => {
            let t = w.text.as_str();
            let v = match t.split_once('=') {
                Some((n, v)) if n.starts_with("--") => v,
                _ if t.starts_with('-') && !t.starts_with("--") => t.get(2..).unwrap_or(""),
                _ => t,
            };
            workers_of(v, st)
        }
        None => {
            let from_cmd_args = if prog == "gunicorn" {
                lookup_env("GUNICORN_CMD_ARGS", outer, acc, st).and_then(|v| {
                    let parts: Vec<&str> = v.split_whitespace().collect();
                    parts.iter().enumerate().find_map(|(i, p)| {
                        if *p == "-w" || *p == "--workers" {
                            parts.get(i + 1).map(|x| workers_of(x, st))
                        } else {
                            p.strip_prefix("--workers=").map(|x| workers_of(x, st))
                        }
                    })
                })
            } else {
                None
            };
            from_cmd_args
                .or_else(|| workers_from_env(envs, outer, acc, st))
                .unwrap_or(Workers::Default)
        }
    };
    Some(CommandKind::Serve {
        server: server.to_string(),
        workers,
    })
}

const DOCKER_RUN_VALUE: &[&str] = &[
    "-e",
    "--env",
    "--env-file",
    "-v",
    "--volume",
    "-p",
    "--publish",
    "--name",
    "--network",
    "--net",
    "-w",
    "--workdir",
    "-u",
    "--user",
    "--entrypoint",
    "-l",
    "--label",
    "--label-file",
    "--mount",
    "-h",
    "--hostname",
    "--add-host",
    "--cpus",
    "-m",
    "--memory",
    "--restart",
    "--log-driver",
    "--log-opt",
    "--platform",
    "--pull",
    "--cap-add",
    "--cap-drop",
    "--device",
    "--dns",
    "--link",
    "--ulimit",
    "--security-opt",
    "--tmpfs",
    "--gpus",
    "--shm-size",
    "--expose",
    "--volumes-from",
    "--cidfile",
    "--ipc",
    "--pid",
    "--runtime",
    "--stop-signal",
    "--stop-timeout",
    "--health-cmd",
    "--health-interval",
    "--health-retries",
    "--health-timeout",
    "--health-start-period",
    "--group-add",
    "--memory-swap",
    "-c",
    "--cpu-shares",
    "--cpuset-cpus",
    "--userns",
    "--uts",
    "--sysctl",
    "--network-alias",
    "-a",
    "--attach",
    "--ip",
    "--ip6",
    "--cgroupns",
    "--pids-limit",
];

const COMPOSE_GLOBAL_VALUE: &[&str] = &[
    "-f",
    "--file",
    "-p",
    "--project-name",
    "--profile",
    "--env-file",
    "--project-directory",
    "--ansi",
    "--progress",
    "--parallel",
    "-H",
    "--host",
    "-c",
    "--context",
];

const COMPOSE_RUN_VALUE: &[&str] = &[
    "-e",
    "--env",
    "--entrypoint",
    "-l",
    "--label",
    "--name",
    "-p",
    "--publish",
    "-u",
    "--user",
    "-v",
    "--volume",
    "-w",
    "--workdir",
    "--cap-add",
    "--cap-drop",
    "--pull",
    "--env-from-file",
];

const COMPOSE_EXEC_VALUE: &[&str] = &["-e", "--env", "-u", "--user", "-w", "--workdir", "--index"];

const SSH_VALUE: &[&str] = &[
    "-b", "-c", "-D", "-E", "-e", "-F", "-I", "-i", "-J", "-L", "-l", "-m", "-O", "-o", "-p", "-Q",
    "-R", "-S", "-W", "-w", "-B",
];

const DOCKER_EXEC_VALUE: &[&str] = &[
    "-e",
    "--env",
    "--env-file",
    "-u",
    "--user",
    "-w",
    "--workdir",
    "--detach-keys",
];

/// What the unwrap loop does next.
enum Step {
    /// Continue classifying from this argv index (a wrapper was peeled).
    At(usize),
    /// Continue with a replaced argv (`--entrypoint`).
    Replace(Vec<Aw>),
    Done(Resolved),
}

fn push_env(acc: &mut Acc, a: &Aw) {
    if let Some(n) = shell::assignment_name(&a.text) {
        let v = a.text[n..].trim_start_matches('+');
        let v = v.strip_prefix('=').unwrap_or(v);
        acc.env.push((a.text[..n].to_string(), v.to_string()));
    }
}

fn resolve(mut argv: Vec<Aw>, acc: &mut Acc, st: &ShState, outer: &[(String, String)]) -> Resolved {
    let mut i = 0;
    for _ in 0..64 {
        while i < argv.len() && shell::assignment_name(&argv[i].text).is_some() {
            push_env(acc, &argv[i]);
            i += 1;
        }
        if i >= argv.len() {
            return if acc.wrappers.is_empty() {
                Resolved::Assign
            } else {
                Resolved::Cmd(CommandKind::Other, Vec::new())
            };
        }
        match step(&argv, i, acc, st, outer) {
            Step::At(j) => {
                if j <= i || j > argv.len() {
                    return Resolved::Cmd(CommandKind::Other, argv.split_off(i.min(argv.len())));
                }
                i = j;
            }
            Step::Replace(v) => {
                argv = v;
                i = 0;
            }
            Step::Done(r) => return r,
        }
    }
    Resolved::Cmd(CommandKind::Other, argv.split_off(i.min(argv.len())))
}

fn wrap(acc: &mut Acc, name: &str, next: usize, argv: &[Aw]) -> Step {
    acc.wrappers.push(name.to_string());
    if next >= argv.len() {
        // A wrapper with nothing to run.
        return Step::Done(Resolved::Cmd(CommandKind::Other, argv.to_vec()));
    }
    Step::At(next)
}

fn step(argv: &[Aw], i: usize, acc: &mut Acc, st: &ShState, outer: &[(String, String)]) -> Step {
    let t = |k: usize| argv.get(k).map_or("", |a| a.text.as_str());
    let prog = basename(t(i)).to_string();
    let rest = || argv[i..].to_vec();
    let done = |k: CommandKind| Step::Done(Resolved::Cmd(k, argv[i..].to_vec()));
    match prog.as_str() {
        "exec" => {
            let o = scan_opts(argv, i + 1, &["-a"]);
            wrap(acc, "exec", o.end, argv)
        }
        "command" | "builtin" if !t(i + 1).starts_with('-') => wrap(acc, &prog, i + 1, argv),
        "env" => {
            let mut j = i + 1;
            while let Some(a) = argv.get(j) {
                let s = a.text.as_str();
                if s == "--" {
                    j += 1;
                    break;
                } else if matches!(s, "-u" | "--unset" | "-C" | "--chdir") {
                    j += 2;
                } else if s.starts_with('-') {
                    j += 1;
                } else if shell::assignment_name(s).is_some() {
                    push_env(acc, a);
                    j += 1;
                } else {
                    break;
                }
            }
            wrap(acc, "env", j, argv)
        }
        "sudo" | "doas" => {
            let o = scan_opts(
                argv,
                i + 1,
                &["-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-U", "-T"],
            );
            wrap(acc, &prog, o.end, argv)
        }
        "timeout" => {
            let o = scan_opts(argv, i + 1, &["-s", "--signal", "-k", "--kill-after"]);
            wrap(acc, "timeout", o.end + 1, argv)
        }
        "nohup" => wrap(acc, "nohup", i + 1, argv),
        "time" => {
            let o = scan_opts(argv, i + 1, &["-f", "--format", "-o", "--output"]);
            wrap(acc, "time", o.end, argv)
        }
        "nice" => {
            let o = scan_opts(argv, i + 1, &["-n", "--adjustment"]);
            wrap(acc, "nice", o.end, argv)
        }
        "gosu" | "su-exec" => wrap(acc, &prog, i + 2, argv),
        "tini" | "dumb-init" => {
            let o = scan_opts(argv, i + 1, &["-p", "-e", "--rewrite"]);
            wrap(acc, &prog, o.end, argv)
        }
        "uv" if t(i + 1) == "run" => {
            let o = scan_opts(
                argv,
                i + 2,
                &[
                    "--with",
                    "--with-editable",
                    "--with-requirements",
                    "--env-file",
                    "--project",
                    "--directory",
                    "--python",
                    "-p",
                    "--package",
                    "--extra",
                    "--group",
                    "--only-group",
                    "--no-group",
                    "--index",
                    "--index-url",
                    "--extra-index-url",
                    "--config-file",
                    "--cache-dir",
                ],
            );
            if o.has(&["-m", "--module"]) {
                // `uv run -m alembic ...`: the module follows.
                acc.wrappers.push("uv run".to_string());
                return module(argv, o.end, acc);
            }
            wrap(acc, "uv run", o.end, argv)
        }
        "uvx" => {
            let o = scan_opts(argv, i + 1, &["--from", "--with", "-p", "--python"]);
            wrap(acc, "uvx", o.end, argv)
        }
        "poetry" => {
            let o = scan_opts(argv, i + 1, &["-C", "--directory", "-P", "--project"]);
            if t(o.end) != "run" {
                return done(CommandKind::Other);
            }
            let o2 = scan_opts(argv, o.end + 1, &[]);
            wrap(acc, "poetry run", o2.end, argv)
        }
        "pipenv" | "pdm" | "rye" | "pixi" | "hatch" => {
            let o = scan_opts(
                argv,
                i + 1,
                &["-p", "--project", "-e", "--env", "--environment"],
            );
            if t(o.end) != "run" {
                return done(CommandKind::Other);
            }
            let o2 = scan_opts(
                argv,
                o.end + 1,
                &["-p", "--project", "-e", "--environment", "--manifest-path"],
            );
            wrap(acc, &format!("{prog} run"), o2.end, argv)
        }
        "conda" | "mamba" | "micromamba" if t(i + 1) == "run" => {
            let o = scan_opts(argv, i + 2, &["-n", "--name", "-p", "--prefix", "--cwd"]);
            wrap(acc, &format!("{prog} run"), o.end, argv)
        }
        "newrelic-admin" if t(i + 1) == "run-program" => {
            wrap(acc, "newrelic-admin run-program", i + 2, argv)
        }
        "ddtrace-run" | "opentelemetry-instrument" => {
            let mut j = i + 1;
            while t(j).starts_with("--") {
                j += if t(j).contains('=') { 1 } else { 2 };
            }
            while t(j).starts_with('-') {
                j += 1;
            }
            wrap(acc, &prog, j, argv)
        }
        "doppler" | "infisical" | "op" | "chamber" | "aws-vault" | "envconsul" | "summon"
        | "with-contenv" => match argv[i..].iter().position(|a| a.text == "--") {
            Some(p) => wrap(acc, &prog, i + p + 1, argv),
            None => done(CommandKind::Other),
        },
        "dotenv" => {
            let o = scan_opts(argv, i + 1, &["-f", "--file", "-e", "--export"]);
            if t(o.end) != "run" {
                return done(CommandKind::Other);
            }
            let o2 = scan_opts(argv, o.end + 1, &[]);
            wrap(acc, "dotenv run", o2.end, argv)
        }
        p if p.starts_with("wait-for") || p.starts_with("wait_for") => {
            match argv[i..].iter().position(|a| a.text == "--") {
                Some(k) => wrap(acc, "wait-for-it", i + k + 1, argv),
                None => done(script_kind(&prog, t(i))),
            }
        }
        "dockerize" => {
            let mut j = i + 1;
            while let Some(a) = argv.get(j) {
                let s = a.text.trim_start_matches('-');
                if !a.text.starts_with('-') {
                    break;
                }
                j += if s.contains('=') || matches!(s, "poll" | "no-overwrite" | "version") {
                    1
                } else {
                    2
                };
            }
            wrap(acc, "dockerize", j, argv)
        }
        "eval" => {
            if argv.len() == i + 2 {
                return Step::Done(Resolved::Nested {
                    script: argv[i + 1].clone(),
                    wrapper: String::new(),
                    errexit: st.errexit,
                    pipefail: st.pipefail,
                })
                .fix_eval();
            }
            wrap(acc, "eval", i + 1, argv)
        }
        "busybox" if is_shell(t(i + 1)) => Step::At(i + 1),
        "sshpass" => {
            let o = scan_opts(argv, i + 1, &["-p", "-f", "-d", "-P"]);
            wrap(acc, "sshpass", o.end, argv)
        }
        "ssh" => {
            let o = scan_opts(argv, i + 1, SSH_VALUE);
            if argv.get(o.end).is_none() {
                return done(CommandKind::Other);
            }
            let cmd = o.end + 1;
            match argv.len() - cmd {
                0 => Step::Done(Resolved::Stdin {
                    wrapper: "ssh".to_string(),
                    errexit: false,
                }),
                1 => Step::Done(Resolved::Nested {
                    script: argv[cmd].clone(),
                    wrapper: "ssh".to_string(),
                    errexit: false,
                    pipefail: false,
                }),
                _ => wrap(acc, "ssh", cmd, argv),
            }
        }
        p if is_shell(p) => shell_wrapper(argv, i, &prog, acc),
        p if is_python(p) => python(argv, i, acc),
        "docker" => docker(argv, i, acc, st, outer),
        "docker-compose" => compose(argv, i + 1, acc, st, outer, false, "docker-compose"),
        "kubectl" | "oc" => kubectl(argv, i, acc),
        "helm" => {
            let o = scan_opts(
                argv,
                i + 1,
                &["-n", "--namespace", "--kube-context", "--kubeconfig"],
            );
            // `helm install --dry-run` renders and validates; it changes no cluster.
            let dry_run = argv[o.end..]
                .iter()
                .any(|a| a.text == "--dry-run" || a.text.starts_with("--dry-run="));
            match t(o.end) {
                "upgrade" | "install" if !dry_run => done(CommandKind::Deploy(Deploy::Helm)),
                _ => done(CommandKind::Other),
            }
        }
        "fly" | "flyctl" => {
            if t(i + 1) == "deploy" {
                return done(CommandKind::Deploy(Deploy::Fly));
            }
            if t(i + 1) == "ssh" && t(i + 2) == "console" {
                let o = scan_opts(
                    argv,
                    i + 3,
                    &[
                        "-C",
                        "--command",
                        "-a",
                        "--app",
                        "-r",
                        "--region",
                        "-u",
                        "--user",
                        "-s",
                        "--select",
                        "-c",
                        "--config",
                    ],
                );
                if let Some(cmd) = o.last(&["-C", "--command"]) {
                    return Step::Done(Resolved::Nested {
                        script: cmd.clone(),
                        wrapper: "fly ssh console".to_string(),
                        errexit: false,
                        pipefail: false,
                    });
                }
            }
            done(CommandKind::Other)
        }
        "railway" => match t(i + 1) {
            "run" => {
                let o = scan_opts(argv, i + 2, &["-s", "--service", "-e", "--environment"]);
                wrap(acc, "railway run", o.end, argv)
            }
            "up" | "deploy" | "redeploy" => done(CommandKind::Deploy(Deploy::Railway)),
            _ => done(CommandKind::Other),
        },
        "heroku" => {
            let sub = t(i + 1);
            if sub == "run" || sub == "run:detached" {
                let o = scan_opts(
                    argv,
                    i + 2,
                    &[
                        "-a", "--app", "-r", "--remote", "-s", "--size", "-e", "--env", "--type",
                    ],
                );
                acc.wrappers.push("heroku run".to_string());
                if argv.get(o.end).is_some_and(|a| a.text.contains(' ')) {
                    acc.wrappers.pop();
                    return Step::Done(Resolved::Nested {
                        script: argv[o.end].clone(),
                        wrapper: "heroku run".to_string(),
                        errexit: false,
                        pipefail: false,
                    });
                }
                if o.end >= argv.len() {
                    return done(CommandKind::Other);
                }
                return Step::At(o.end);
            }
            if sub.starts_with("container:release") || sub.starts_with("container:push") {
                return done(CommandKind::Deploy(Deploy::Heroku));
            }
            done(CommandKind::Other)
        }
        "git" => {
            let push = argv[i + 1..].iter().any(|a| a.text == "push");
            let heroku = argv[i + 1..]
                .iter()
                .any(|a| a.text == "heroku" || a.text.contains("heroku.com"));
            if push && heroku {
                done(CommandKind::Deploy(Deploy::Heroku))
            } else {
                done(CommandKind::Other)
            }
        }
        "gcloud" => {
            let mut j = i + 1;
            while matches!(t(j), "beta" | "alpha") || t(j).starts_with('-') {
                j += 1;
            }
            if t(j) == "run" {
                let ok = match t(j + 1) {
                    "deploy" => true,
                    "services" => matches!(t(j + 2), "update" | "replace" | "update-traffic"),
                    "jobs" => matches!(t(j + 2), "deploy" | "execute" | "update" | "replace"),
                    _ => false,
                };
                if ok {
                    return done(CommandKind::Deploy(Deploy::GcloudRun));
                }
            }
            done(CommandKind::Other)
        }
        "aws" => {
            let o = scan_opts(
                argv,
                i + 1,
                &[
                    "--region",
                    "--profile",
                    "--output",
                    "--endpoint-url",
                    "--query",
                ],
            );
            if t(o.end) == "ecs" && t(o.end + 1) == "update-service" {
                done(CommandKind::Deploy(Deploy::EcsUpdate))
            } else {
                done(CommandKind::Other)
            }
        }
        "ecs-deploy" => done(CommandKind::Deploy(Deploy::EcsUpdate)),
        "ecs" if t(i + 1) == "deploy" => done(CommandKind::Deploy(Deploy::EcsUpdate)),
        "source" | "." => match argv.get(i + 1) {
            Some(p) => done(CommandKind::Source {
                path: p.text.clone(),
            }),
            None => done(CommandKind::Other),
        },
        "alembic" => done(classify_alembic(&rest())),
        "flask" => done(classify_flask(&rest())),
        p => {
            if let Some(k) = serve(p, &argv[i..], outer, acc, st) {
                return done(k);
            }
            done(script_kind(p, t(i)))
        }
    }
}

impl Step {
    /// `eval 'script'`: record the wrapper name on the nested script.
    fn fix_eval(self) -> Step {
        match self {
            Step::Done(Resolved::Nested {
                script,
                errexit,
                pipefail,
                ..
            }) => Step::Done(Resolved::Nested {
                script,
                wrapper: "eval".to_string(),
                errexit,
                pipefail,
            }),
            s => s,
        }
    }
}

/// A program that is a project script by its name or path.
fn script_kind(base: &str, path: &str) -> CommandKind {
    let lower = base.to_ascii_lowercase();
    if lower.ends_with(".sh") || lower.ends_with(".bash") {
        return CommandKind::RunScript {
            path: path.to_string(),
            lang: Lang::Shell,
        };
    }
    if lower.ends_with(".py") {
        return CommandKind::RunScript {
            path: path.to_string(),
            lang: Lang::Python,
        };
    }
    let system = [
        "/bin/",
        "/usr/bin/",
        "/usr/local/bin/",
        "/sbin/",
        "/usr/sbin/",
        "/usr/local/sbin/",
    ];
    // `./x`, `../x`, and `bin/release` (a Procfile's `release: bin/release`): a repo file.
    let relative = path.starts_with("./")
        || path.starts_with("../")
        || (path.contains('/') && !path.starts_with('/') && !path.contains("://"));
    let absolute = path.starts_with('/') && !system.iter().any(|s| path.starts_with(s));
    if (relative || absolute) && !base.is_empty() && !path.contains('$') {
        return CommandKind::RunScript {
            path: path.to_string(),
            lang: Lang::Shell,
        };
    }
    CommandKind::Other
}

fn shell_wrapper(argv: &[Aw], i: usize, prog: &str, acc: &mut Acc) -> Step {
    let mut j = i + 1;
    let mut errexit = false;
    let mut pipefail = false;
    let mut cmd_mode = false;
    let mut stdin_mode = false;
    while let Some(a) = argv.get(j) {
        let s = a.text.as_str();
        if s == "--" || s == "-" {
            j += 1;
            break;
        }
        let on = s.starts_with('-');
        if !(on || s.starts_with('+')) || s.len() < 2 {
            break;
        }
        if s.starts_with("--") {
            j += if matches!(s, "--rcfile" | "--init-file") {
                2
            } else {
                1
            };
            continue;
        }
        let mut names = 0;
        for ch in s[1..].chars() {
            match ch {
                'c' => cmd_mode = true,
                's' => stdin_mode = true,
                'e' => errexit = on,
                'o' | 'O' => names += 1,
                _ => {}
            }
        }
        j += 1;
        for _ in 0..names {
            match argv.get(j).map(|a| a.text.as_str()) {
                Some("errexit") => errexit = on,
                Some("pipefail") => pipefail = on,
                _ => {}
            }
            j += 1;
        }
    }
    if cmd_mode {
        return match argv.get(j) {
            Some(script) => Step::Done(Resolved::Nested {
                script: script.clone(),
                wrapper: format!("{prog} -c"),
                errexit,
                pipefail,
            }),
            None => Step::Done(Resolved::Cmd(CommandKind::Other, argv[i..].to_vec())),
        };
    }
    let _ = acc;
    match argv.get(j) {
        Some(p) if !stdin_mode => Step::Done(Resolved::Cmd(
            CommandKind::RunScript {
                path: p.text.clone(),
                lang: Lang::Shell,
            },
            argv[i..].to_vec(),
        )),
        _ => Step::Done(Resolved::Stdin {
            wrapper: prog.to_string(),
            errexit,
        }),
    }
}

/// Modules that `python -m` unwraps to the same-named program.
const PY_MODULES: &[&str] = &[
    "alembic",
    "flask",
    "gunicorn",
    "uvicorn",
    "hypercorn",
    "granian",
    "daphne",
    "celery",
    "fastapi",
    "uwsgi",
];

/// The module word is at `m`.
fn module(argv: &[Aw], m: usize, acc: &mut Acc) -> Step {
    let Some(w) = argv.get(m) else {
        return Step::Done(Resolved::Cmd(CommandKind::Other, argv.to_vec()));
    };
    let name = w.text.as_str();
    if PY_MODULES.contains(&name) {
        acc.wrappers.push("python -m".to_string());
        return Step::At(m);
    }
    Step::Done(Resolved::Cmd(
        CommandKind::RunScript {
            path: name.to_string(),
            lang: Lang::Python,
        },
        argv[m..].to_vec(),
    ))
}

fn python(argv: &[Aw], i: usize, acc: &mut Acc) -> Step {
    let mut j = i + 1;
    while let Some(a) = argv.get(j) {
        let s = a.text.as_str();
        match s {
            "-m" => return module(argv, j + 1, acc),
            "-c" | "-" => break,
            "-W" | "-X" | "--check-hash-based-pycs" => j += 2,
            _ if s.starts_with("-m") && s.len() > 2 => {
                // `-malembic`: treat the attached module like a separate word.
                let mut v = argv.to_vec();
                v[j] = a.slice(2);
                return match module(&v, j, acc) {
                    Step::At(_) => Step::Replace(v[j..].to_vec()),
                    other => other,
                };
            }
            _ if s.starts_with('-') => j += 1,
            _ => {
                // Flask-Script's `python manage.py db upgrade` is Flask-Migrate's `flask db`.
                let manage = s.rsplit('/').next() == Some("manage.py");
                if manage && argv.get(j + 1).is_some_and(|a| a.text == "db") {
                    let kind = classify_flask(&argv[j..]);
                    if !matches!(kind, CommandKind::Other) {
                        return Step::Done(Resolved::Cmd(kind, argv[j..].to_vec()));
                    }
                }
                return Step::Done(Resolved::Cmd(
                    CommandKind::RunScript {
                        path: s.to_string(),
                        lang: Lang::Python,
                    },
                    argv[i..].to_vec(),
                ));
            }
        }
    }
    Step::Done(Resolved::Cmd(CommandKind::Other, argv[i..].to_vec()))
}

/// Whether a `DOCKER_HOST` / `DOCKER_CONTEXT` / `-H` / `--context` value points Docker at
/// another machine: not empty, not the `default` context, not a local `unix:` socket.
pub fn elsewhere(v: &str) -> bool {
    !v.is_empty() && v != "default" && !v.starts_with("unix:")
}

/// The wrapper recorded before `docker exec` / `docker compose exec` when Docker is pointed at
/// another machine (`-H`, `--context`, `DOCKER_HOST`): the container is not on this one.
pub const REMOTE_DOCKER: &str = "remote docker";

fn docker(argv: &[Aw], i: usize, acc: &mut Acc, st: &ShState, outer: &[(String, String)]) -> Step {
    let o = scan_opts(
        argv,
        i + 1,
        &[
            "-H",
            "--host",
            "-c",
            "--context",
            "--config",
            "-l",
            "--log-level",
            "--tlscacert",
            "--tlscert",
            "--tlskey",
        ],
    );
    let remote = o
        .last(&["-H", "--host", "-c", "--context"])
        .is_some_and(|v| elsewhere(&v.text));
    let t = |k: usize| argv.get(k).map_or("", |a| a.text.as_str());
    let j = o.end;
    let done = |k: CommandKind| Step::Done(Resolved::Cmd(k, argv[i..].to_vec()));
    match t(j) {
        "compose" => compose(argv, j + 1, acc, st, outer, remote, "docker compose"),
        "stack" if matches!(t(j + 1), "deploy" | "up") => {
            let so = scan_opts(
                argv,
                j + 2,
                &["-c", "--compose-file", "--resolve-image", "--orchestrator"],
            );
            let files = so
                .all(&["-c", "--compose-file"])
                .into_iter()
                .map(word_of)
                .collect();
            let stack = argv.get(so.end).map(word_of);
            done(CommandKind::Deploy(Deploy::StackDeploy { files, stack }))
        }
        "service" if t(j + 1) == "update" => done(CommandKind::Deploy(Deploy::ServiceUpdate)),
        "exec" => {
            let eo = scan_opts(argv, j + 1, DOCKER_EXEC_VALUE);
            let Some(c) = argv.get(eo.end) else {
                return done(CommandKind::Other);
            };
            acc.container = Some(c.text.clone());
            let remote = remote
                || ["DOCKER_HOST", "DOCKER_CONTEXT"]
                    .iter()
                    .any(|n| lookup_env(n, outer, acc, st).is_some_and(elsewhere))
                || st.remote;
            if remote {
                acc.wrappers.push(REMOTE_DOCKER.to_string());
            }
            wrap(acc, "docker exec", eo.end + 1, argv)
        }
        "run" | "container" if t(j) == "run" || t(j + 1) == "run" => {
            let from = if t(j) == "run" { j + 1 } else { j + 2 };
            let ro = scan_opts(argv, from, DOCKER_RUN_VALUE);
            let Some(image) = argv.get(ro.end) else {
                return done(CommandKind::Other);
            };
            acc.container = Some(image.text.clone());
            acc.wrappers.push("docker run".to_string());
            if let Some(ep) = ro.last(&["--entrypoint"]) {
                let mut v = vec![ep.clone()];
                v.extend(argv[ro.end + 1..].iter().cloned());
                return Step::Replace(v);
            }
            if ro.end + 1 >= argv.len() {
                return done(CommandKind::Other);
            }
            Step::At(ro.end + 1)
        }
        _ => done(CommandKind::Other),
    }
}

fn compose(
    argv: &[Aw],
    j: usize,
    acc: &mut Acc,
    st: &ShState,
    outer: &[(String, String)],
    remote: bool,
    name: &str,
) -> Step {
    let start = j.saturating_sub(if name == "docker compose" { 2 } else { 1 });
    let done =
        |k: CommandKind| Step::Done(Resolved::Cmd(k, argv[start.min(argv.len())..].to_vec()));
    let o = scan_opts(argv, j, COMPOSE_GLOBAL_VALUE);
    let t = |k: usize| argv.get(k).map_or("", |a| a.text.as_str());
    let remote = remote
        || o.last(&["-H", "--host", "-c", "--context"])
            .is_some_and(|v| elsewhere(&v.text))
        || ["DOCKER_HOST", "DOCKER_CONTEXT"]
            .iter()
            .any(|n| lookup_env(n, outer, acc, st).is_some_and(elsewhere))
        || st.remote;
    let k = o.end;
    match t(k) {
        "up" => {
            let files = o.all(&["-f", "--file"]).into_iter().map(word_of).collect();
            done(CommandKind::Deploy(Deploy::ComposeUp { files, remote }))
        }
        "run" => {
            let ro = scan_opts(argv, k + 1, COMPOSE_RUN_VALUE);
            let Some(svc) = argv.get(ro.end) else {
                return done(CommandKind::Other);
            };
            acc.container = Some(svc.text.clone());
            for e in ro.all(&["-e", "--env"]) {
                push_env(acc, e);
            }
            if let Some(ep) = ro.last(&["--entrypoint"]) {
                acc.wrappers.push("docker compose run".to_string());
                let mut v = vec![ep.clone()];
                v.extend(argv[ro.end + 1..].iter().cloned());
                return Step::Replace(v);
            }
            if ro.end + 1 >= argv.len() {
                return done(CommandKind::Deploy(Deploy::ComposeRun {
                    service: svc.text.clone(),
                    remote,
                }));
            }
            acc.wrappers.push("docker compose run".to_string());
            Step::At(ro.end + 1)
        }
        "exec" => {
            let eo = scan_opts(argv, k + 1, COMPOSE_EXEC_VALUE);
            let Some(svc) = argv.get(eo.end) else {
                return done(CommandKind::Other);
            };
            acc.container = Some(svc.text.clone());
            for e in eo.all(&["-e", "--env"]) {
                push_env(acc, e);
            }
            if remote {
                acc.wrappers.push(REMOTE_DOCKER.to_string());
            }
            wrap(acc, "docker compose exec", eo.end + 1, argv)
        }
        _ => done(CommandKind::Other),
    }
}

fn kubectl(argv: &[Aw], i: usize, acc: &mut Acc) -> Step {
    let o = scan_opts(
        argv,
        i + 1,
        &[
            "-n",
            "--namespace",
            "--context",
            "--kubeconfig",
            "-s",
            "--server",
            "--cluster",
            "--user",
            "--token",
        ],
    );
    let t = |k: usize| argv.get(k).map_or("", |a| a.text.as_str());
    let done = |k: CommandKind| Step::Done(Resolved::Cmd(k, argv[i..].to_vec()));
    let j = o.end;
    match t(j) {
        "exec" => {
            let eo = scan_opts(
                argv,
                j + 1,
                &["-c", "--container", "-n", "--namespace", "-f", "--filename"],
            );
            // scan_opts stops after `--` too: find the pod as the first positional.
            let mut k = j + 1;
            let mut pod = None;
            while k < argv.len() {
                let s = t(k);
                if s == "--" {
                    k += 1;
                    break;
                }
                if s.starts_with('-') {
                    k += if matches!(s, "-c" | "--container" | "-n" | "--namespace" | "-f") {
                        2
                    } else {
                        1
                    };
                    continue;
                }
                if pod.is_none() {
                    pod = Some(k);
                    k += 1;
                    if !argv[k.min(argv.len())..].iter().any(|a| a.text == "--") {
                        break; // old form: `kubectl exec POD cmd`
                    }
                    continue;
                }
                break;
            }
            let _ = eo;
            let Some(p) = pod else {
                return done(CommandKind::Other);
            };
            acc.container = Some(argv[p].text.clone());
            wrap(acc, "kubectl exec", k, argv)
        }
        "run" => match argv[j..].iter().position(|a| a.text == "--") {
            Some(p) => {
                if let Some(name) = argv.get(j + 1) {
                    acc.container = Some(name.text.clone());
                }
                wrap(acc, "kubectl run", j + p + 1, argv)
            }
            None => done(CommandKind::Other),
        },
        // `rollout status` and `rollout history` only read: waiting for a rollout is no
        // deploy.
        "rollout" if matches!(t(j + 1), "status" | "history") => done(CommandKind::Other),
        // `--dry-run=client|server` validates without changing the cluster.
        "apply" | "set" | "rollout" | "replace" | "patch" | "create"
            if !argv[j..]
                .iter()
                .any(|a| a.text == "--dry-run" || a.text.starts_with("--dry-run=")) =>
        {
            done(CommandKind::Deploy(Deploy::Kubectl))
        }
        _ => done(CommandKind::Other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_rollout_status_reads_only() {
        assert!(matches!(
            last("kubectl rollout status deployment/api -n prod --timeout=5m").kind,
            CommandKind::Other
        ));
        assert!(matches!(
            last("kubectl rollout restart deployment/api -n prod").kind,
            CommandKind::Deploy(Deploy::Kubectl)
        ));
    }

    fn cmds(src: &str) -> Vec<Command> {
        CommandList::from_shell(src).commands
    }

    fn last(src: &str) -> Command {
        cmds(src)
            .pop()
            .unwrap_or_else(|| panic!("no command in {src:?}"))
    }

    fn first(src: &str) -> Command {
        cmds(src)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no command in {src:?}"))
    }

    fn at<'a>(src: &'a str, w: &Word) -> &'a str {
        &src[w.start as usize..w.end as usize]
    }

    fn mig(t: Target) -> CommandKind {
        CommandKind::Migrate {
            tool: Tool::Alembic,
            target: t,
        }
    }

    fn flask(t: Target) -> CommandKind {
        CommandKind::Migrate {
            tool: Tool::FlaskDb,
            target: t,
        }
    }

    fn serve(s: &str, w: Workers) -> CommandKind {
        CommandKind::Serve {
            server: s.to_string(),
            workers: w,
        }
    }

    fn rev(s: &str) -> Target {
        Target::Revision(s.to_string())
    }

    fn rel(s: &str) -> Target {
        Target::Relative(s.to_string())
    }

    #[test]
    fn wrappers() {
        let head = mig(Target::Head);
        let cases: &[(&str, &[&str])] = &[
            ("alembic upgrade head", &[]),
            ("exec alembic upgrade head", &["exec"]),
            ("env alembic upgrade head", &["env"]),
            ("env -i PATH=/x alembic upgrade head", &["env"]),
            ("sudo -u app alembic upgrade head", &["sudo"]),
            ("sudo -E -H alembic upgrade head", &["sudo"]),
            ("timeout 30 alembic upgrade head", &["timeout"]),
            (
                "timeout -k 5 --signal=TERM 30s alembic upgrade head",
                &["timeout"],
            ),
            ("nohup alembic upgrade head", &["nohup"]),
            ("time alembic upgrade head", &["time"]),
            ("gosu app alembic upgrade head", &["gosu"]),
            ("su-exec app alembic upgrade head", &["su-exec"]),
            ("tini -- alembic upgrade head", &["tini"]),
            ("dumb-init alembic upgrade head", &["dumb-init"]),
            ("uv run alembic upgrade head", &["uv run"]),
            (
                "uv run --frozen --with psycopg alembic upgrade head",
                &["uv run"],
            ),
            ("uv run -- alembic upgrade head", &["uv run"]),
            ("uv run -m alembic upgrade head", &["uv run", "python -m"]),
            ("uvx --from alembic alembic upgrade head", &["uvx"]),
            ("poetry run alembic upgrade head", &["poetry run"]),
            ("poetry -C api run alembic upgrade head", &["poetry run"]),
            ("pipenv run alembic upgrade head", &["pipenv run"]),
            ("pdm run alembic upgrade head", &["pdm run"]),
            ("hatch run alembic upgrade head", &["hatch run"]),
            ("rye run alembic upgrade head", &["rye run"]),
            ("conda run -n app alembic upgrade head", &["conda run"]),
            ("python -m alembic upgrade head", &["python -m"]),
            ("python3 -m alembic upgrade head", &["python -m"]),
            ("python3.11 -u -m alembic upgrade head", &["python -m"]),
            (
                "/opt/venv/bin/python -m alembic upgrade head",
                &["python -m"],
            ),
            ("python -malembic upgrade head", &["python -m"]),
            (
                "uv run python -m alembic upgrade head",
                &["uv run", "python -m"],
            ),
            ("sh -c 'alembic upgrade head'", &["sh -c"]),
            ("bash -c 'alembic upgrade head'", &["bash -c"]),
            ("bash -lc 'alembic upgrade head'", &["bash -c"]),
            ("bash -ec 'alembic upgrade head'", &["bash -c"]),
            (
                "bash -euxo pipefail -c 'alembic upgrade head'",
                &["bash -c"],
            ),
            ("/bin/sh -c \"alembic upgrade head\"", &["sh -c"]),
            ("eval 'alembic upgrade head'", &["eval"]),
            (
                "docker compose run --rm api alembic upgrade head",
                &["docker compose run"],
            ),
            (
                "docker compose run --rm -e X=1 -T api alembic upgrade head",
                &["docker compose run"],
            ),
            (
                "docker compose -f a.yml -p proj run api alembic upgrade head",
                &["docker compose run"],
            ),
            (
                "docker-compose run --rm api alembic upgrade head",
                &["docker compose run"],
            ),
            (
                "docker compose exec api alembic upgrade head",
                &["docker compose exec"],
            ),
            (
                "docker compose exec -T api alembic upgrade head",
                &["docker compose exec"],
            ),
            ("docker exec -it web alembic upgrade head", &["docker exec"]),
            (
                "docker -H ssh://deploy@prod exec web alembic upgrade head",
                &["remote docker", "docker exec"],
            ),
            (
                "docker --context prod compose exec -T api alembic upgrade head",
                &["remote docker", "docker compose exec"],
            ),
            (
                "DOCKER_HOST=ssh://deploy@prod docker compose exec api alembic upgrade head",
                &["remote docker", "docker compose exec"],
            ),
            (
                "docker exec -e X=1 -u app web alembic upgrade head",
                &["docker exec"],
            ),
            (
                "docker run --rm -e X=1 -v a:/b img:1 alembic upgrade head",
                &["docker run"],
            ),
            (
                "docker run --rm --network=host img alembic upgrade head",
                &["docker run"],
            ),
            (
                "docker run --rm --entrypoint alembic img upgrade head",
                &["docker run"],
            ),
            (
                "docker container run img alembic upgrade head",
                &["docker run"],
            ),
            ("heroku run alembic upgrade head", &["heroku run"]),
            ("heroku run -a app alembic upgrade head", &["heroku run"]),
            (
                "heroku run \"alembic upgrade head\" --app app",
                &["heroku run"],
            ),
            ("railway run alembic upgrade head", &["railway run"]),
            (
                "kubectl exec deploy/api -- alembic upgrade head",
                &["kubectl exec"],
            ),
            (
                "kubectl exec -it -n prod -c app pod-1 -- alembic upgrade head",
                &["kubectl exec"],
            ),
            (
                "kubectl -n prod exec pod-1 -- alembic upgrade head",
                &["kubectl exec"],
            ),
            (
                "kubectl run mig --image=x --restart=Never -- alembic upgrade head",
                &["kubectl run"],
            ),
            (
                "fly ssh console -C \"alembic upgrade head\"",
                &["fly ssh console"],
            ),
            (
                "flyctl ssh console --command 'alembic upgrade head'",
                &["fly ssh console"],
            ),
            (
                "./wait-for-it.sh db:5432 -- alembic upgrade head",
                &["wait-for-it"],
            ),
            (
                "wait-for-it db:5432 -t 30 -- alembic upgrade head",
                &["wait-for-it"],
            ),
            (
                "dockerize -wait tcp://db:5432 -timeout 60s alembic upgrade head",
                &["dockerize"],
            ),
            ("doppler run -- alembic upgrade head", &["doppler"]),
            ("dotenv -f .env run alembic upgrade head", &["dotenv run"]),
            (
                "newrelic-admin run-program alembic upgrade head",
                &["newrelic-admin run-program"],
            ),
            ("ddtrace-run alembic upgrade head", &["ddtrace-run"]),
            ("command alembic upgrade head", &["command"]),
            ("X=1 alembic upgrade head", &[]),
            (
                "exec sudo -u app env X=1 timeout 60 uv run python -m alembic upgrade head",
                &["exec", "sudo", "env", "timeout", "uv run", "python -m"],
            ),
            (
                "docker compose exec api sh -c 'uv run alembic upgrade head'",
                &["docker compose exec", "sh -c", "uv run"],
            ),
            ("busybox sh -c 'alembic upgrade head'", &["sh -c"]),
        ];
        for (src, wr) in cases {
            let c = last(src);
            assert_eq!(c.kind, head, "{src}");
            assert_eq!(c.wrappers, *wr, "{src}");
            assert_eq!(c.argv[0].text, "alembic", "{src}");
            assert_eq!(
                at(src, c.argv.last().unwrap()).trim_matches(['\'', '"']),
                "head",
                "{src}"
            );
        }
    }

    #[test]
    fn containers_and_env() {
        let c = last("docker compose run --rm -e DB=x api alembic upgrade head");
        assert_eq!(c.container.as_deref(), Some("api"));
        assert_eq!(c.env, vec![("DB".to_string(), "x".to_string())]);
        let c = last("docker exec web alembic upgrade head");
        assert_eq!(c.container.as_deref(), Some("web"));
        let c = last("docker run --rm registry/app:1.2 alembic upgrade head");
        assert_eq!(c.container.as_deref(), Some("registry/app:1.2"));
        let c = last("kubectl exec -n x deploy/api -- alembic upgrade head");
        assert_eq!(c.container.as_deref(), Some("deploy/api"));
        let c = last("FLASK_APP=app.py flask db upgrade");
        assert_eq!(c.kind, flask(Target::Head));
        assert_eq!(c.env, vec![("FLASK_APP".to_string(), "app.py".to_string())]);
        let c = last("env -u X A=1 B='two words' alembic upgrade head");
        assert_eq!(c.env.len(), 2);
        assert_eq!(c.env[1].1, "two words");
        // Env of an outer wrapper reaches the inner script's commands.
        let c = last("X=1 sh -c 'alembic upgrade head'");
        assert_eq!(c.env, vec![("X".to_string(), "1".to_string())]);
        let c = first("X=1 Y=2");
        assert_eq!(c.kind, CommandKind::Other);
        assert_eq!(c.argv.len(), 2);
        assert_eq!(c.env.len(), 2);
    }

    #[test]
    fn alembic_vocabulary() {
        let cases: &[(&str, CommandKind)] = &[
            ("alembic upgrade head", mig(Target::Head)),
            ("alembic upgrade heads", mig(Target::Heads)),
            (
                "alembic upgrade mybranch@head",
                mig(Target::BranchHead("mybranch".into())),
            ),
            ("alembic upgrade +1", mig(rel("+1"))),
            ("alembic upgrade head-1", mig(rel("head-1"))),
            ("alembic upgrade x@+2", mig(rel("x@+2"))),
            ("alembic upgrade ae1027a6acf+2", mig(rel("ae1027a6acf+2"))),
            ("alembic upgrade ae1027a6acf", mig(rev("ae1027a6acf"))),
            ("alembic upgrade 1975ea83b712", mig(rev("1975ea83b712"))),
            (
                "alembic upgrade \"$REV\"",
                mig(Target::Unknown("$REV".into())),
            ),
            (
                "alembic upgrade ${TARGET:-head}",
                mig(Target::Unknown("${TARGET:-head}".into())),
            ),
            (
                "alembic upgrade $(cat rev)",
                mig(Target::Unknown("$(cat rev)".into())),
            ),
            ("alembic upgrade", mig(Target::Unknown(String::new()))),
            ("alembic -c alembic.ini upgrade head", mig(Target::Head)),
            (
                "alembic --config=db/alembic.ini upgrade head",
                mig(Target::Head),
            ),
            (
                "alembic -c alembic.ini -n name -x data=1 upgrade head",
                mig(Target::Head),
            ),
            ("alembic --raiseerr upgrade head", mig(Target::Head)),
            (
                "alembic -x tenant=a -x b=c --raiseerr upgrade heads",
                mig(Target::Heads),
            ),
            ("alembic upgrade --tag t1 head", mig(Target::Head)),
            ("alembic upgrade head --sql", CommandKind::Other),
            ("alembic upgrade --sql base:head", CommandKind::Other),
            (
                "alembic downgrade -1",
                CommandKind::Downgrade { target: rel("-1") },
            ),
            (
                "alembic downgrade base",
                CommandKind::Downgrade {
                    target: rev("base"),
                },
            ),
            (
                "alembic downgrade head-2",
                CommandKind::Downgrade {
                    target: rel("head-2"),
                },
            ),
            (
                "alembic stamp head",
                CommandKind::Stamp {
                    target: Target::Head,
                },
            ),
            (
                "alembic stamp --purge heads",
                CommandKind::Stamp {
                    target: Target::Heads,
                },
            ),
            (
                "alembic stamp abc123",
                CommandKind::Stamp {
                    target: rev("abc123"),
                },
            ),
            ("alembic stamp head --sql", CommandKind::Other),
            (
                "alembic revision --autogenerate -m 'add x'",
                CommandKind::Autogenerate,
            ),
            (
                "alembic revision -m x --autogenerate",
                CommandKind::Autogenerate,
            ),
            ("alembic revision -m 'empty'", CommandKind::Other),
            ("alembic merge heads -m merge", CommandKind::Merge),
            ("alembic merge -m m a b", CommandKind::Merge),
            ("alembic current", CommandKind::Other),
            ("alembic check", CommandKind::Other),
            ("alembic history --verbose", CommandKind::Other),
            ("alembic", CommandKind::Other),
            ("/usr/local/bin/alembic upgrade head", mig(Target::Head)),
            (".venv/bin/alembic upgrade head", mig(Target::Head)),
            ("\"$VENV\"/bin/alembic upgrade head", mig(Target::Head)),
        ];
        for (src, k) in cases {
            assert_eq!(&last(src).kind, k, "{src}");
        }
    }

    #[test]
    fn flask_vocabulary() {
        let cases: &[(&str, CommandKind)] = &[
            ("flask db upgrade", flask(Target::Head)),
            ("flask db upgrade head", flask(Target::Head)),
            ("flask db upgrade abc", flask(rev("abc"))),
            ("flask --app app db upgrade", flask(Target::Head)),
            (
                "flask -A app:create_app db upgrade -d migrations",
                flask(Target::Head),
            ),
            ("flask db upgrade --sql", CommandKind::Other),
            (
                "flask db downgrade",
                CommandKind::Downgrade { target: rel("-1") },
            ),
            (
                "flask db downgrade base",
                CommandKind::Downgrade {
                    target: rev("base"),
                },
            ),
            (
                "flask db stamp",
                CommandKind::Stamp {
                    target: Target::Head,
                },
            ),
            (
                "flask db stamp heads",
                CommandKind::Stamp {
                    target: Target::Heads,
                },
            ),
            ("flask db migrate -m 'x'", CommandKind::Autogenerate),
            (
                "flask db revision --autogenerate",
                CommandKind::Autogenerate,
            ),
            ("flask db revision", CommandKind::Other),
            ("flask db merge heads", CommandKind::Merge),
            ("flask db init", CommandKind::FlaskDbInit),
            ("flask db current", CommandKind::Other),
            ("python -m flask db upgrade", flask(Target::Head)),
            ("flask shell", CommandKind::Other),
        ];
        for (src, k) in cases {
            assert_eq!(&last(src).kind, k, "{src}");
        }
    }

    #[test]
    fn servers_and_workers() {
        use Workers::{Count, Default as Dflt, Env};
        let cases: &[(&str, CommandKind)] = &[
            ("gunicorn app:app", serve("gunicorn", Dflt)),
            (
                "exec /usr/bin/supervisord -c /app/supervisord.conf",
                serve("supervisord", Dflt),
            ),
            ("gunicorn -w 4 app:app", serve("gunicorn", Count(4))),
            ("gunicorn --workers 3 app:app", serve("gunicorn", Count(3))),
            ("gunicorn --workers=5 app:app", serve("gunicorn", Count(5))),
            ("gunicorn -w2 app:app", serve("gunicorn", Count(2))),
            (
                "gunicorn -k uvicorn.workers.UvicornWorker -w $WORKERS app:app",
                serve("gunicorn", Env("WORKERS".into())),
            ),
            (
                "gunicorn --workers ${GUNICORN_WORKERS:-2} app:app",
                serve("gunicorn", Env("GUNICORN_WORKERS".into())),
            ),
            (
                "WEB_CONCURRENCY=3 gunicorn app:app",
                serve("gunicorn", Count(3)),
            ),
            (
                "WEB_CONCURRENCY=$N gunicorn app:app",
                serve("gunicorn", Env("WEB_CONCURRENCY".into())),
            ),
            (
                "export WEB_CONCURRENCY=6\ngunicorn app:app",
                serve("gunicorn", Count(6)),
            ),
            (
                "WEB_CONCURRENCY=6\ngunicorn app:app",
                serve("gunicorn", Dflt),
            ),
            (
                "GUNICORN_CMD_ARGS='--workers 7' gunicorn app:app",
                serve("gunicorn", Count(7)),
            ),
            (
                "W=3\ngunicorn -w \"$W\" app:app",
                serve("gunicorn", Count(3)),
            ),
            (
                "gunicorn -c gunicorn.conf.py app:app",
                serve("gunicorn", Dflt),
            ),
            (
                "python -m gunicorn -w 2 app:app",
                serve("gunicorn", Count(2)),
            ),
            ("uvicorn main:app", serve("uvicorn", Dflt)),
            (
                "uvicorn main:app --host 0.0.0.0 --workers 4",
                serve("uvicorn", Count(4)),
            ),
            ("uvicorn main:app --workers=2", serve("uvicorn", Count(2))),
            (
                "WEB_CONCURRENCY=2 uvicorn main:app",
                serve("uvicorn", Count(2)),
            ),
            (
                "UVICORN_WORKERS=3 uvicorn main:app",
                serve("uvicorn", Count(3)),
            ),
            (
                "python -m uvicorn main:app --workers 3",
                serve("uvicorn", Count(3)),
            ),
            ("hypercorn -w 3 app:app", serve("hypercorn", Count(3))),
            (
                "hypercorn --workers 2 app:app",
                serve("hypercorn", Count(2)),
            ),
            ("hypercorn app:app", serve("hypercorn", Dflt)),
            (
                "granian --interface asgi --workers 2 app:app",
                serve("granian", Count(2)),
            ),
            ("granian app:app", serve("granian", Dflt)),
            (
                "daphne -b 0.0.0.0 app.asgi:application",
                serve("daphne", Dflt),
            ),
            ("fastapi run main.py", serve("fastapi", Dflt)),
            (
                "fastapi run --workers 4 main.py",
                serve("fastapi", Count(4)),
            ),
            ("fastapi dev main.py", serve("fastapi", Dflt)),
            ("flask run --host=0.0.0.0", serve("flask", Dflt)),
            ("flask --app x run", serve("flask", Dflt)),
            ("uwsgi --ini uwsgi.ini", serve("uwsgi", Dflt)),
            (
                "uwsgi --http :8000 --processes 4 --module app",
                serve("uwsgi", Count(4)),
            ),
            ("uwsgi -p 2 --module app", serve("uwsgi", Count(2))),
            ("uwsgi --workers=3 --module app", serve("uwsgi", Count(3))),
            ("celery -A proj worker -l info", serve("celery", Dflt)),
            ("celery -A proj worker -c 4", serve("celery", Count(4))),
            (
                "celery --app=proj worker --concurrency=8",
                serve("celery", Count(8)),
            ),
            ("celery -A proj beat", CommandKind::Other),
            (
                "waitress-serve --port=8000 app:app",
                serve("waitress", Dflt),
            ),
            ("fastapi --version", CommandKind::Other),
        ];
        for (src, k) in cases {
            assert_eq!(&last(src).kind, k, "{src}");
        }
    }

    #[test]
    fn scripts_and_sources() {
        let sh = |p: &str| CommandKind::RunScript {
            path: p.to_string(),
            lang: Lang::Shell,
        };
        let py = |p: &str| CommandKind::RunScript {
            path: p.to_string(),
            lang: Lang::Python,
        };
        let cases: &[(&str, CommandKind)] = &[
            ("./entrypoint.sh", sh("./entrypoint.sh")),
            ("/docker-entrypoint.sh", sh("/docker-entrypoint.sh")),
            (
                "/usr/local/bin/docker-entrypoint.sh postgres",
                sh("/usr/local/bin/docker-entrypoint.sh"),
            ),
            ("sh scripts/x.sh", sh("scripts/x.sh")),
            ("bash -e scripts/migrate.sh arg", sh("scripts/migrate.sh")),
            ("bash x.sh", sh("x.sh")),
            ("scripts/migrate.sh", sh("scripts/migrate.sh")),
            ("/start", sh("/start")),
            ("./bin/migrate", sh("./bin/migrate")),
            ("python run_db_migrations.py", py("run_db_migrations.py")),
            (
                "python3 -u scripts/migrate.py --all",
                py("scripts/migrate.py"),
            ),
            (
                "python manage.py db upgrade",
                CommandKind::Migrate {
                    tool: Tool::FlaskDb,
                    target: Target::Head,
                },
            ),
            ("python manage.py db migrate", CommandKind::Autogenerate),
            ("python manage.py runserver", py("manage.py")),
            ("./manage.py migrate", py("./manage.py")),
            ("python -m app.migrations", py("app.migrations")),
            ("uv run python -m app.seed", py("app.seed")),
            (
                "source ./env.sh",
                CommandKind::Source {
                    path: "./env.sh".into(),
                },
            ),
            (
                ". venv/bin/activate",
                CommandKind::Source {
                    path: "venv/bin/activate".into(),
                },
            ),
            ("python -c 'import app'", CommandKind::Other),
            ("/usr/bin/env", CommandKind::Other),
            ("/bin/echo hi", CommandKind::Other),
            ("bash", CommandKind::Other),
            ("echo alembic upgrade head", CommandKind::Other),
            ("exec \"$@\"", CommandKind::Other),
        ];
        for (src, k) in cases {
            assert_eq!(&last(src).kind, k, "{src}");
        }
    }

    #[test]
    fn deploys() {
        let c = last("docker stack deploy -c a.yml -c b.yml --with-registry-auth mystack");
        let src = "docker stack deploy -c a.yml --compose-file=b.yml --prune name";
        let d = last(src);
        match d.kind {
            CommandKind::Deploy(Deploy::StackDeploy { files, stack }) => {
                assert_eq!(
                    files.iter().map(|f| at(src, f)).collect::<Vec<_>>(),
                    ["a.yml", "b.yml"]
                );
                assert_eq!(at(src, stack.as_ref().unwrap()), "name");
            }
            k => panic!("{k:?}"),
        }
        assert!(matches!(
            c.kind,
            CommandKind::Deploy(Deploy::StackDeploy { ref files, stack: Some(ref s) }) if files.len() == 2 && s.text == "mystack"
        ));
        let up = |src: &str| match last(src).kind {
            CommandKind::Deploy(Deploy::ComposeUp { files, remote }) => (
                files.into_iter().map(|f| f.text).collect::<Vec<_>>(),
                remote,
            ),
            k => panic!("{src}: {k:?}"),
        };
        assert_eq!(up("docker compose up -d"), (vec![], false));
        assert_eq!(
            up("docker compose -f a.yml -f b.yml up -d"),
            (vec!["a.yml".into(), "b.yml".into()], false)
        );
        assert_eq!(
            up("docker-compose --file=prod.yml up -d --build"),
            (vec!["prod.yml".into()], false)
        );
        assert!(up("DOCKER_HOST=ssh://u@h docker compose up -d").1);
        assert!(up("docker --context prod compose up -d").1);
        assert!(up("docker -H ssh://h compose up -d").1);
        assert!(up("export DOCKER_HOST=ssh://h\ndocker compose up -d").1);
        assert!(up("docker context use prod\ndocker compose up -d").1);
        assert!(!up("docker context use default\ndocker compose up -d").1);
        let cases: &[(&str, CommandKind)] = &[
            (
                "docker -H ssh://deploy@prod compose run --rm migrate",
                CommandKind::Deploy(Deploy::ComposeRun {
                    service: "migrate".into(),
                    remote: true,
                }),
            ),
            (
                "docker compose run --rm migrate",
                CommandKind::Deploy(Deploy::ComposeRun {
                    service: "migrate".into(),
                    remote: false,
                }),
            ),
            (
                "docker-compose run migrate",
                CommandKind::Deploy(Deploy::ComposeRun {
                    service: "migrate".into(),
                    remote: false,
                }),
            ),
            (
                "docker service update --image x:2 web",
                CommandKind::Deploy(Deploy::ServiceUpdate),
            ),
            (
                "kubectl apply -f k8s/",
                CommandKind::Deploy(Deploy::Kubectl),
            ),
            (
                "kubectl set image deploy/api api=x:2",
                CommandKind::Deploy(Deploy::Kubectl),
            ),
            (
                "kubectl rollout restart deploy/api",
                CommandKind::Deploy(Deploy::Kubectl),
            ),
            ("kubectl get pods", CommandKind::Other),
            (
                "helm upgrade --install api ./chart",
                CommandKind::Deploy(Deploy::Helm),
            ),
            (
                "helm install api ./chart",
                CommandKind::Deploy(Deploy::Helm),
            ),
            ("helm repo add x y", CommandKind::Other),
            ("fly deploy --remote-only", CommandKind::Deploy(Deploy::Fly)),
            ("flyctl deploy", CommandKind::Deploy(Deploy::Fly)),
            (
                "helm upgrade --install app ./chart",
                CommandKind::Deploy(Deploy::Helm),
            ),
            ("helm install test ./chart --dry-run", CommandKind::Other),
            ("kubectl apply --dry-run=client -f k8s/", CommandKind::Other),
            (
                "helm upgrade --install app ./chart --dry-run=server",
                CommandKind::Other,
            ),
            ("railway up", CommandKind::Deploy(Deploy::Railway)),
            ("git push heroku main", CommandKind::Deploy(Deploy::Heroku)),
            (
                "git push https://git.heroku.com/app.git HEAD:main",
                CommandKind::Deploy(Deploy::Heroku),
            ),
            (
                "heroku container:release web -a app",
                CommandKind::Deploy(Deploy::Heroku),
            ),
            ("git push origin main", CommandKind::Other),
            (
                "gcloud run deploy api --image x",
                CommandKind::Deploy(Deploy::GcloudRun),
            ),
            (
                "gcloud beta run services update api",
                CommandKind::Deploy(Deploy::GcloudRun),
            ),
            (
                "gcloud run jobs execute migrate --wait",
                CommandKind::Deploy(Deploy::GcloudRun),
            ),
            ("gcloud auth login", CommandKind::Other),
            (
                "aws ecs update-service --cluster c --service s --force-new-deployment",
                CommandKind::Deploy(Deploy::EcsUpdate),
            ),
            (
                "aws --region eu-west-1 ecs update-service --cluster c",
                CommandKind::Deploy(Deploy::EcsUpdate),
            ),
            ("aws s3 cp a b", CommandKind::Other),
            ("docker compose ps", CommandKind::Other),
            ("docker build -t x .", CommandKind::Other),
        ];
        for (src, k) in cases {
            assert_eq!(&last(src).kind, k, "{src}");
        }
    }

    #[test]
    fn docker_run_entrypoint_and_compose_entrypoint() {
        let src = "docker compose run --rm --entrypoint alembic api upgrade head";
        let c = last(src);
        assert_eq!(c.kind, mig(Target::Head));
        assert_eq!(c.wrappers, ["docker compose run"]);
        assert_eq!(at(src, &c.argv[0]), "alembic");
        assert_eq!(c.container.as_deref(), Some("api"));
    }

    #[test]
    fn failure_ignored_variants() {
        let cases: &[(&str, Option<&str>)] = &[
            ("alembic upgrade head || true", Some("|| true")),
            ("alembic upgrade head || :", Some("|| :")),
            (
                "alembic upgrade head || echo \"migration failed\"",
                Some("|| echo \"migration failed\""),
            ),
            (
                "alembic upgrade head || printf 'x\\n'",
                Some("|| printf 'x\\n'"),
            ),
            ("alembic upgrade head || exit 0", Some("|| exit 0")),
            ("alembic upgrade head || /bin/true", Some("|| /bin/true")),
            (
                "alembic upgrade head || { echo warn; }",
                Some("|| { echo warn; }"),
            ),
            (
                "alembic upgrade head || { echo warn; true; }",
                Some("|| { echo warn; true; }"),
            ),
            ("alembic upgrade head 2>&1 | tee log", Some("| tee log")),
            ("alembic upgrade head &", Some("&")),
            ("cd app && alembic upgrade head || true", Some("|| true")),
            // Near misses.
            ("alembic upgrade head || exit 1", None),
            ("alembic upgrade head || exit", None),
            ("alembic upgrade head || { echo failed; exit 1; }", None),
            ("alembic upgrade head || (echo failed; exit 1)", None),
            ("alembic upgrade head || false", None),
            ("alembic upgrade head || return 1", None),
            ("alembic upgrade head; true", None),
            ("alembic upgrade head && true", None),
            ("alembic upgrade head || alembic stamp head", None),
            ("set -o pipefail; alembic upgrade head | tee log", None),
            ("alembic upgrade head", None),
        ];
        for (src, how) in cases {
            let c = cmds(src)
                .into_iter()
                .find(|c| matches!(c.kind, CommandKind::Migrate { .. }))
                .unwrap();
            assert_eq!(
                c.failure_ignored.as_ref().map(|i| i.how.as_str()),
                *how,
                "{src}"
            );
            if let Some(i) = &c.failure_ignored {
                assert_eq!(&src[i.start as usize..i.end as usize], i.how, "{src}");
            }
        }
        // The handler itself is not ignored.
        let all = cmds("alembic upgrade head || true");
        assert!(all[1].failure_ignored.is_none());
        // A group's `|| true` reaches the commands inside it.
        let c = first("{ alembic upgrade head; alembic stamp head; } || true");
        assert!(c.failure_ignored.is_some());
        // And an outer `sh -c ... || true` reaches the inner commands.
        let c = first("sh -c 'alembic upgrade head' || true");
        assert_eq!(c.failure_ignored.unwrap().how, "|| true");
    }

    #[test]
    fn errexit_tracking() {
        let src = "alembic upgrade head\nset +e\nalembic upgrade head\nset -e\nalembic upgrade head\nset +o errexit\nalembic upgrade head\nset -euo pipefail\nalembic upgrade head\nset +ex\nalembic upgrade head";
        let off: Vec<(bool, bool)> = cmds(src)
            .into_iter()
            .filter(|c| matches!(c.kind, CommandKind::Migrate { .. }))
            .map(|c| (c.errexit_off, c.errexit))
            .collect();
        assert_eq!(
            off,
            [
                (false, false),
                (true, false),
                (false, true),
                (true, false),
                (false, true),
                (true, false)
            ]
        );
        assert!(first("#!/bin/bash -e\nalembic upgrade head").errexit);
        assert!(first("#!/bin/sh -ex\nalembic upgrade head").errexit);
        assert!(!first("#!/usr/bin/env bash\nalembic upgrade head").errexit);
        let c = CommandList::from_shell_with(
            "alembic upgrade head | tee x",
            ShellOptions {
                errexit: true,
                pipefail: true,
            },
        );
        assert!(c.commands[0].errexit);
        assert!(c.commands[0].failure_ignored.is_none());
        // `bash -e -c` turns it on inside; an outer `set -e` does not reach `sh -c`.
        assert!(first("bash -ec 'alembic upgrade head'").errexit);
        assert!(!last("set -e\nsh -c 'alembic upgrade head'").errexit);
        // A subshell's `set +e` does not leak out.
        let all = cmds("set -e\n(set +e; alembic upgrade head)\nalembic upgrade head");
        assert!(all[2].errexit_off);
        assert!(!all[3].errexit_off);
    }

    #[test]
    fn status_checked() {
        let checked = |src: &str| {
            cmds(src)
                .into_iter()
                .find(|c| matches!(c.kind, CommandKind::Migrate { .. }))
                .unwrap()
                .status_checked
        };
        assert!(checked(
            "alembic upgrade head\nif [ $? -ne 0 ]; then exit 1; fi"
        ));
        assert!(checked("alembic upgrade head; rc=$?"));
        assert!(checked("alembic upgrade head\nstatus=$?\n"));
        assert!(checked(
            "alembic upgrade head\ncase $? in 0) ;; *) exit 1;; esac"
        ));
        assert!(checked("alembic upgrade head || exit 1"));
        assert!(checked(
            "alembic upgrade head || { echo failed >&2; exit 1; }"
        ));
        assert!(checked("alembic upgrade head && gunicorn app:app"));
        assert!(checked("if alembic upgrade head; then echo ok; fi"));
        assert!(checked("if ! alembic upgrade head; then exit 1; fi"));
        assert!(checked("until alembic upgrade head; do sleep 1; done"));
        assert!(!checked("alembic upgrade head"));
        assert!(!checked("alembic upgrade head\necho done"));
        assert!(!checked("alembic upgrade head || true"));
        // Any read of `$?` by the next command counts.
        assert!(checked("alembic upgrade head\necho $?\n"));
        // Only the last command of a condition decides it.
        let all = cmds("if alembic upgrade head; true; then :; fi");
        assert!(!all[0].status_checked);
        assert!(all[0].in_condition);
    }

    #[test]
    fn guards_redash_shape() {
        let src = "if ! psql $DATABASE_URL -c 'select 1 from alembic_version' > /dev/null 2>&1; then\n  python manage.py create_tables && alembic stamp head\nfi\nalembic upgrade head\n";
        let all = cmds(src);
        let stamp = all
            .iter()
            .find(|c| matches!(c.kind, CommandKind::Stamp { .. }))
            .unwrap();
        let g = &stamp.guards[0];
        assert!(g.negated);
        assert!(g.text.starts_with("psql $DATABASE_URL"));
        assert!(g.text.contains("alembic_version"));
        assert_eq!(&src[g.start as usize..g.end as usize], g.text);
        assert_eq!(stamp.guards[1].text, "python manage.py create_tables");
        assert!(!stamp.guards[1].negated);
        assert!(all[0].in_condition);
        assert!(!stamp.in_condition);
        let up = all.last().unwrap();
        assert!(up.guards.is_empty());
        assert_eq!(up.kind, mig(Target::Head));
    }

    #[test]
    fn guards_else_elif_and_short_circuit() {
        let src = "if [ -z \"$(alembic current)\" ]; then alembic stamp head; elif [ -f x ]; then alembic upgrade head; else alembic downgrade base; fi";
        let all = cmds(src);
        let stamp = all
            .iter()
            .find(|c| matches!(c.kind, CommandKind::Stamp { .. }))
            .unwrap();
        assert_eq!(stamp.guards.len(), 1);
        assert_eq!(stamp.guards[0].text, "[ -z \"$(alembic current)\" ]");
        assert!(!stamp.guards[0].negated);
        let up = all
            .iter()
            .find(|c| matches!(c.kind, CommandKind::Migrate { .. }))
            .unwrap();
        assert_eq!(up.guards.len(), 2);
        assert!(up.guards[0].negated);
        assert!(!up.guards[1].negated);
        let down = all
            .iter()
            .find(|c| matches!(c.kind, CommandKind::Downgrade { .. }))
            .unwrap();
        assert_eq!(
            down.guards.iter().map(|g| g.negated).collect::<Vec<_>>(),
            [true, true]
        );
        // `alembic current` from inside the test's $( ) is a substitution in the condition.
        let cur = &all[0];
        assert!(cur.subshell_or_substitution && cur.in_condition);
        // `||` negated guard, `&&` plain guard.
        let all = cmds("psql -c 'select 1 from alembic_version' || alembic stamp head");
        assert!(all[1].guards[0].negated);
        assert!(all[1].guards[0].text.contains("alembic_version"));
        let all = cmds("[ \"$FRESH\" = 1 ] && alembic stamp head");
        assert!(!all[1].guards[0].negated);
        // while/until bodies and case arms.
        let c = last("until pg_isready; do alembic upgrade head; done");
        assert!(c.guards[0].negated);
        let c = last("case \"$1\" in\n  migrate|upgrade) alembic upgrade head ;;\nesac");
        assert_eq!(c.guards[0].text, "case \"$1\" in migrate|upgrade)");
        assert_eq!(c.kind, mig(Target::Head));
    }

    #[test]
    fn substitutions_subshells_functions_background() {
        let all = cmds("REV=$(alembic heads | head -1)\nalembic upgrade \"$REV\"");
        assert!(all[0].subshell_or_substitution);
        assert_eq!(all[0].argv[0].text, "alembic");
        let last_c = all.last().unwrap();
        assert_eq!(last_c.kind, mig(Target::Unknown("$REV".into())));
        assert!(!last_c.subshell_or_substitution);
        let c = first("echo `alembic upgrade head`");
        assert!(c.subshell_or_substitution);
        assert_eq!(c.kind, mig(Target::Head));
        let c = first("(cd app && alembic upgrade head)");
        assert!(c.subshell_or_substitution);
        let c = cmds("(cd app && alembic upgrade head)").remove(1);
        assert_eq!(c.kind, mig(Target::Head));
        let c = first("echo \"$(echo \"$(alembic upgrade head)\")\"");
        assert_eq!(c.kind, mig(Target::Head));
        let src = "migrate() {\n  alembic upgrade head\n}\nfunction serve {\n  exec gunicorn app:app\n}\nmigrate\nserve";
        let all = cmds(src);
        assert_eq!(all[0].in_function.as_deref(), Some("migrate"));
        assert_eq!(all[1].in_function.as_deref(), Some("serve"));
        assert_eq!(all[2].in_function, None);
        assert_eq!(all.len(), 4);
        let all = cmds("alembic upgrade head &\nexec gunicorn app:app");
        assert!(all[0].background);
        assert!(!all[1].background);
        // Process substitution.
        let c = first("diff <(alembic heads) x");
        assert!(c.subshell_or_substitution);
    }

    #[test]
    fn chains_and_loops_in_order() {
        let src = "set -e\ncd /app; alembic upgrade head && exec gunicorn -w 2 app:app\nfor f in a b; do python \"$f\".py; done\nwhile read -r l; do echo \"$l\"; done < f";
        let names: Vec<String> = cmds(src)
            .into_iter()
            .map(|c| c.argv[0].text.clone())
            .collect();
        assert_eq!(
            names,
            ["set", "cd", "alembic", "gunicorn", "python", "read", "echo"]
        );
        let cl = CommandList::from_shell(src);
        assert_eq!(cl.migrates().unwrap().argv[0].text, "alembic");
        assert_eq!(cl.serves().unwrap().argv[0].text, "gunicorn");
        assert!(CommandList::from_shell("echo hi").migrates().is_none());
    }

    #[test]
    fn heredoc_bodies_not_classified() {
        let src = "cat <<EOF > /tmp/x.sh\nalembic upgrade head\nEOF\npython - <<'PY'\nimport os\nos.system('alembic stamp head')\nPY\ncat <<-EOF\n\talembic stamp head\n\tEOF\ngunicorn app:app\n";
        let all = cmds(src);
        assert!(all.iter().all(|c| !matches!(
            c.kind,
            CommandKind::Migrate { .. } | CommandKind::Stamp { .. }
        )));
        assert_eq!(
            all.last().unwrap().kind,
            serve("gunicorn", Workers::Default)
        );
        let cl = CommandList::from_shell("cat <<EOF\nalembic upgrade head\n");
        assert!(cl.migrates().is_none());
        assert!(!cl.issues.is_empty());
        // A heredoc inside $( ) does not end the substitution early.
        let all = cmds("X=$(cat <<'EOF'\ndon't ( stop\nEOF\n)\nalembic upgrade head");
        assert_eq!(all.last().unwrap().kind, mig(Target::Head));
    }

    #[test]
    fn sh_c_offsets_shell() {
        let src = "sh -c 'alembic upgrade head'";
        let c = first(src);
        assert_eq!(at(src, &c.argv[2]), "head");
        assert_eq!(
            &src[c.start as usize..c.end as usize],
            "alembic upgrade head"
        );
        let src = "bash -c \"echo \\\"hi\\\" && alembic -x \\\"a=b\\\" upgrade \\\"\\$REV\\\"\"";
        let c = cmds(src)
            .into_iter()
            .find(|c| matches!(c.kind, CommandKind::Migrate { .. }))
            .unwrap();
        assert_eq!(c.kind, mig(Target::Unknown("$REV".into())));
        assert_eq!(at(src, &c.argv[0]), "alembic");
        // An escaped quote maps to the quote character itself.
        assert_eq!(at(src, c.argv.last().unwrap()), "\"\\$REV\\\"");
        // Nested: docker compose exec -> sh -c -> uv run.
        let src = "docker compose exec api sh -c 'cd /app && uv run alembic upgrade head'";
        let c = last(src);
        assert_eq!(c.wrappers, ["docker compose exec", "sh -c", "uv run"]);
        assert_eq!(c.container.as_deref(), Some("api"));
        assert_eq!(at(src, &c.argv[2]), "head");
        assert_eq!(
            &src[c.start as usize..c.end as usize],
            "uv run alembic upgrade head"
        );
        // fly ssh console -C.
        let src = "fly ssh console -C \"alembic upgrade head\" -a app";
        let c = last(src);
        assert_eq!(at(src, &c.argv[2]), "head");
    }

    #[test]
    fn sh_c_offsets_exec() {
        let json = r#"["sh", "-c", "alembic upgrade head && exec gunicorn -w 4 app:app"]"#;
        let mut args = Vec::new();
        let mut i = 0;
        for part in [
            "sh",
            "-c",
            "alembic upgrade head && exec gunicorn -w 4 app:app",
        ] {
            let q = json[i..].find(&format!("\"{part}\"")).unwrap() + i + 1;
            args.push((part.to_string(), q as u32, (q + part.len()) as u32));
            i = q + part.len();
        }
        let cl = CommandList::from_exec(&args);
        let m = cl.migrates().unwrap();
        assert_eq!(m.wrappers, ["sh -c"]);
        assert_eq!(at(json, &m.argv[2]), "head");
        let s = cl.serves().unwrap();
        assert_eq!(s.kind, serve("gunicorn", Workers::Count(4)));
        assert_eq!(at(json, &s.argv[0]), "gunicorn");
        assert_eq!(s.wrappers, ["sh -c", "exec"]);
        // Plain exec form.
        let cl = CommandList::from_exec(&[
            ("alembic".into(), 2, 9),
            ("upgrade".into(), 13, 20),
            ("$REV".into(), 24, 28),
        ]);
        assert_eq!(cl.commands[0].kind, mig(Target::Unknown("$REV".into())));
        assert_eq!(cl.commands[0].start, 2);
        assert_eq!(cl.commands[0].end, 28);
        assert!(CommandList::from_exec(&[]).commands.is_empty());
        // map_offsets shifts everything.
        let mut cl = CommandList::from_shell("alembic upgrade head || true");
        cl.map_offsets(|o| o + 100);
        let c = &cl.commands[0];
        assert_eq!((c.start, c.argv[2].start), (100, 116));
        assert_eq!(c.failure_ignored.as_ref().unwrap().start, 121);
        assert_eq!(cl.commands[1].guards[0].start, 100);
    }

    #[test]
    fn dockerfile_integration() {
        let df = "FROM python:3.12\nRUN pip install x && \\\n    alembic upgrade head\nCMD [\"sh\", \"-c\", \"alembic upgrade head && gunicorn -w 3 app:app\"]\n";
        let instrs = shell::dockerfile_instructions(df);
        let run = CommandList::from_instr(&instrs[1]);
        let m = run.migrates().unwrap();
        assert_eq!(at(df, &m.argv[0]), "alembic");
        assert_eq!(at(df, &m.argv[2]), "head");
        let cmd = CommandList::from_instr(&instrs[2]);
        let m = cmd.migrates().unwrap();
        assert_eq!(at(df, &m.argv[2]), "head");
        assert_eq!(
            cmd.serves().unwrap().kind,
            serve("gunicorn", Workers::Count(3))
        );
    }

    #[test]
    fn real_entrypoint_shapes() {
        // Shapes seen in public entrypoint.sh files.
        let src = r#"#!/usr/bin/env bash
set -euo pipefail

echo "Waiting for postgres..."
while ! nc -z "$DB_HOST" "$DB_PORT"; do
  sleep 0.1
done

if [ "${RUN_MIGRATIONS:-true}" = "true" ]; then
  echo "Running migrations"
  alembic upgrade head
fi

if [[ "$1" == "worker" ]]; then
  exec celery -A app.worker worker --loglevel=info --concurrency="${CELERY_CONCURRENCY:-2}"
fi

exec gunicorn app.main:app -k uvicorn.workers.UvicornWorker --bind 0.0.0.0:${PORT:-8000} --workers ${WORKERS:-4}
"#;
        let cl = CommandList::from_shell(src);
        assert!(cl.issues.is_empty(), "{:?}", cl.issues);
        let m = cl.migrates().unwrap();
        assert!(m.errexit);
        assert_eq!(
            m.guards[0].text,
            "[ \"${RUN_MIGRATIONS:-true}\" = \"true\" ]"
        );
        let serves: Vec<&Command> = cl
            .commands
            .iter()
            .filter(|c| matches!(c.kind, CommandKind::Serve { .. }))
            .collect();
        assert_eq!(
            serves[0].kind,
            serve("celery", Workers::Env("CELERY_CONCURRENCY".into()))
        );
        assert_eq!(
            serves[1].kind,
            serve("gunicorn", Workers::Env("WORKERS".into()))
        );
        assert_eq!(serves[1].wrappers, ["exec"]);

        let src = "#!/bin/sh\nset -e\n\n# Run migrations\nflask db upgrade\n\nexec \"$@\"\n";
        let cl = CommandList::from_shell(src);
        assert_eq!(cl.migrates().unwrap().kind, flask(Target::Head));

        let src = "#!/bin/bash\n\nalembic upgrade head\nretVal=$?\nif [ $retVal -ne 0 ]; then\n    echo \"Error\"\n    exit $retVal\nfi\nuvicorn app.main:app --host 0.0.0.0 --port 80 --reload\n";
        let cl = CommandList::from_shell(src);
        assert!(cl.migrates().unwrap().status_checked);
        assert_eq!(
            cl.serves().unwrap().kind,
            serve("uvicorn", Workers::Default)
        );

        let src = "#! /usr/bin/env bash\nset -e\n# Let the DB start\npython /app/app/backend_pre_start.py\n# Run migrations\nalembic upgrade head\n# Create initial data in DB\npython /app/app/initial_data.py\n";
        let kinds: Vec<CommandKind> = cmds(src).into_iter().map(|c| c.kind).collect();
        assert_eq!(kinds[2], mig(Target::Head));
        assert!(matches!(
            kinds[1],
            CommandKind::RunScript {
                lang: Lang::Python,
                ..
            }
        ));
    }

    #[test]
    fn compose_command_strings() {
        let src = "sh -c \"sleep 5 && alembic upgrade head && uvicorn app.main:app --host 0.0.0.0 --workers 2\"";
        let cl = CommandList::from_shell(src);
        assert_eq!(cl.migrates().unwrap().wrappers, ["sh -c"]);
        assert_eq!(
            cl.serves().unwrap().kind,
            serve("uvicorn", Workers::Count(2))
        );
        let src = "bash -c 'while !</dev/tcp/db/5432; do sleep 1; done; alembic upgrade head'";
        assert!(CommandList::from_shell(src).migrates().is_some());
    }

    fn rng(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    fn check_spans(src: &str, cl: &CommandList) {
        let n = src.len() as u32;
        for c in &cl.commands {
            assert!(c.start <= c.end && c.end <= n, "{src:?} {c:?}");
            assert!(!c.argv.is_empty());
            for w in &c.argv {
                assert!(w.start <= w.end && w.end <= n, "{src:?} {w:?}");
            }
            for g in &c.guards {
                assert!(g.start <= g.end && g.end <= n, "{src:?} {g:?}");
            }
        }
        for (o, _) in &cl.issues {
            assert!(*o <= n, "{src:?}");
        }
    }

    #[test]
    fn fuzz_random_bytes_and_token_soup() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..3000 {
            let len = (rng(&mut seed) % 200) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| rng(&mut seed) as u8).collect();
            let s = String::from_utf8_lossy(&bytes);
            let cl = CommandList::from_shell(&s);
            check_spans(&s, &cl);
            let _ = shell::dockerfile_instructions(&s);
        }
        const SOUP: &[&str] = &[
            "alembic", "upgrade", "head", "sh", "-c", "'", "\"", "\\", "\n", " ", ";", "&&", "||",
            "|", "&", "(", ")", "{", "}", "$(", "`", "${", "}", "if", "then", "fi", "else", "elif",
            "while", "do", "done", "for", "in", "case", "esac", ";;", "!", "<<EOF", "EOF", "<<-",
            "\t", ">", "2>&1", "<", "#", "$", "x=", "((", "))", "[[", "]]", "function", "f()",
            "docker", "compose", "run", "exec", "uv", "python", "-m", "gunicorn", "-w", "$'",
            "\\\n", "=(", "<(", "set", "+e", "-e", "$?", "é", "\r\n", "bash", "-lc", "kubectl",
            "--", "eval", "heroku", "fly", "ssh", "console", "-C",
        ];
        for _ in 0..6000 {
            let k = (rng(&mut seed) % 40) as usize;
            let mut s = String::new();
            for _ in 0..k {
                s.push_str(SOUP[(rng(&mut seed) % SOUP.len() as u64) as usize]);
                if rng(&mut seed).is_multiple_of(3) {
                    s.push(' ');
                }
            }
            let cl = CommandList::from_shell(&s);
            check_spans(&s, &cl);
            let args: Vec<(String, u32, u32)> = s
                .split(' ')
                .map(|p| (p.to_string(), 0, p.len() as u32))
                .collect();
            let _ = CommandList::from_exec(&args);
            for i in shell::dockerfile_instructions(&format!("RUN {s}\nCMD {s}")) {
                let _ = CommandList::from_instr(&i);
            }
        }
    }

    #[test]
    fn deep_nesting_terminates() {
        for unit in [
            "(",
            "{ ",
            "if ",
            "$(",
            "`",
            "\"$(",
            "sh -c '",
            "while ",
            "case x in ",
            "f() { ",
            "[[ ",
            "((",
            "a=(",
        ] {
            let s = unit.repeat(20_000);
            let cl = CommandList::from_shell(&s);
            check_spans(&s, &cl);
        }
        let mut s = String::from("alembic upgrade head");
        for _ in 0..12 {
            s = format!("sh -c {}", shell_quote(&s));
        }
        let c = last(&s);
        // Past the depth limit the outer wrapper is kept as Other; never panics.
        assert!(matches!(
            c.kind,
            CommandKind::Other | CommandKind::Migrate { .. }
        ));
        let mut s = String::from("alembic upgrade head");
        for _ in 0..5 {
            s = format!("sh -c {}", shell_quote(&s));
        }
        let c = last(&s);
        assert_eq!(c.kind, mig(Target::Head));
        assert_eq!(c.wrappers.len(), 5);
        assert_eq!(at(&s, &c.argv[0]), "alembic");
    }

    fn shell_quote(s: &str) -> String {
        format!("'{}'", s.replace('\'', "'\\''"))
    }

    #[test]
    fn one_megabyte_script_is_fast() {
        let chunk = "#!/bin/bash\nset -e\nif ! psql \"$DATABASE_URL\" -c 'select 1 from alembic_version' >/dev/null 2>&1; then\n  alembic stamp head || true\nfi\nfor i in $(seq 1 30); do pg_isready -h db && break; sleep 1; done\nREV=$(alembic heads | head -1)\ncase \"$1\" in\n  migrate) uv run alembic -c alembic.ini upgrade \"${REV:-head}\" ;;\n  *) exec gunicorn -w ${WORKERS:-4} app:app ;;\nesac\nsh -c \"alembic upgrade head && exec uvicorn main:app --workers 2\"\ncat <<EOF\nbody alembic upgrade head\nEOF\n";
        let script = |bytes: usize| {
            let mut s = String::new();
            while s.len() < bytes {
                s.push_str(chunk);
            }
            s
        };
        // The best of three runs, so that a loaded machine slows both sizes alike.
        let best = |s: &str| {
            (0..3)
                .map(|_| {
                    let t = std::time::Instant::now();
                    let cl = CommandList::from_shell(s);
                    let el = t.elapsed().as_secs_f64();
                    assert!(cl.commands.len() > s.len() / 50);
                    el
                })
                .fold(f64::INFINITY, f64::min)
        };
        let (small, large) = (script(250_000), script(1_000_000));
        let (t_small, t_large) = (best(&small), best(&large));
        // Four times the input: about four times the time when the tokenizer is linear,
        // sixteen when quadratic. A ratio, not a wall-clock bound, so that the machine's
        // speed and load do not decide the result.
        assert!(
            t_large < 10.0 * t_small.max(1e-4),
            "1 MB took {t_large:.3}s, 250 KB {t_small:.3}s: not linear"
        );
    }

    #[test]
    fn ssh_and_stdin_scripts() {
        let src = "ssh -o StrictHostKeyChecking=no -i key u@h \"cd /app && docker compose up -d && docker compose exec -T api alembic upgrade head\"";
        let all = cmds(src);
        let m = all.last().unwrap();
        assert_eq!(m.kind, mig(Target::Head));
        assert_eq!(m.wrappers, ["ssh", "docker compose exec"]);
        assert_eq!(m.container.as_deref(), Some("api"));
        assert_eq!(at(src, &m.argv[2]), "head");
        assert!(matches!(
            all[1].kind,
            CommandKind::Deploy(Deploy::ComposeUp { .. })
        ));
        let c = last("ssh u@h docker compose run --rm api alembic upgrade head");
        assert_eq!(c.wrappers, ["ssh", "docker compose run"]);
        assert_eq!(c.kind, mig(Target::Head));
        let c = last("sshpass -p \"$PW\" ssh -p 2222 u@h 'alembic upgrade head'");
        assert_eq!(c.wrappers, ["sshpass", "ssh"]);
        // A heredoc fed to ssh or a shell is the script it runs.
        let src =
            "ssh -T u@h <<'EOF'\n  set -e\n  docker compose exec -T web flask db upgrade\nEOF\n";
        let c = last(src);
        assert_eq!(c.kind, flask(Target::Head));
        assert_eq!(c.wrappers, ["ssh", "docker compose exec"]);
        assert!(c.errexit);
        assert_eq!(at(src, &c.argv[0]), "flask");
        let c = last("docker compose exec -T api sh <<EOF\nalembic upgrade head\nEOF\n");
        assert_eq!(c.wrappers, ["docker compose exec", "sh"]);
        assert_eq!(c.kind, mig(Target::Head));
        let c = last("bash -s <<EOF\ngunicorn -w 3 app:app\nEOF");
        assert_eq!(c.kind, serve("gunicorn", Workers::Count(3)));
        // Other programs' heredocs stay data.
        assert!(
            CommandList::from_shell("psql <<EOF\nalembic upgrade head\nEOF\n")
                .migrates()
                .is_none()
        );
        assert_eq!(last("ssh u@h").kind, CommandKind::Other);
        assert_eq!(last("bash").kind, CommandKind::Other);
    }

    #[test]
    fn redash_entrypoint() {
        let src = "#!/bin/bash\nset -e\n\nserver() {\n  echo \"Upgrading database...\"\n\n  /app/manage.py db upgrade\n  BIND_ADDRESS=${REDASH_GUNICORN_BIND:-[::]:5000}\n  exec /usr/local/bin/gunicorn -b \"$BIND_ADDRESS\" --name redash -w${REDASH_WEB_WORKERS:-4} redash.wsgi:app --max-requests $MAX_REQUESTS\n}\n\ncreate_db() {\n  exec /app/manage.py database create_tables\n}\n\ncase \"$1\" in\n  server)\n    shift\n    server\n    ;;\n  create_db)\n    create_db\n    ;;\n  *)\n    exec \"$@\"\n    ;;\nesac\n";
        let cl = CommandList::from_shell(src);
        assert!(cl.issues.is_empty(), "{:?}", cl.issues);
        let s = cl.serves().unwrap();
        assert_eq!(
            s.kind,
            serve("gunicorn", Workers::Env("REDASH_WEB_WORKERS".into()))
        );
        assert_eq!(s.in_function.as_deref(), Some("server"));
        assert!(s.errexit);
        // `manage.py db upgrade` stays a script run (not unwrapped, by design).
        assert!(cl.commands.iter().any(|c| c.kind
            == CommandKind::RunScript {
                path: "/app/manage.py".into(),
                lang: Lang::Python
            }));
        let arm = cl
            .commands
            .iter()
            .find(|c| c.argv[0].text == "server")
            .unwrap();
        assert_eq!(arm.guards[0].text, "case \"$1\" in server)");
    }

    #[test]
    fn conditional_assignments_are_unknown() {
        let c = last("W=2\nif [ -n \"$BIG\" ]; then W=8; fi\ngunicorn -w $W app:app");
        assert_eq!(c.kind, serve("gunicorn", Workers::Env("W".into())));
        let c = last("W=2\ngunicorn -w $W app:app");
        assert_eq!(c.kind, serve("gunicorn", Workers::Count(2)));
        let c = last("[ -n \"$X\" ] && export WEB_CONCURRENCY=4\ngunicorn app:app");
        assert_eq!(
            c.kind,
            serve("gunicorn", Workers::Env("WEB_CONCURRENCY".into()))
        );
        let c = last("export WEB_CONCURRENCY\nWEB_CONCURRENCY=3\nuvicorn app:app");
        assert_eq!(c.kind, serve("uvicorn", Workers::Count(3)));
    }

    #[test]
    fn issues_are_reported_with_offsets() {
        let cl = CommandList::from_shell("alembic upgrade 'head");
        assert_eq!(cl.issues.len(), 1);
        assert_eq!(cl.issues[0].0, 16);
        let cl = CommandList::from_shell("if true; then alembic upgrade head");
        assert!(!cl.issues.is_empty());
        assert!(cl.migrates().is_some());
        let cl = CommandList::from_shell("sh -c 'echo \"x'");
        assert_eq!(cl.issues.len(), 1);
        assert_eq!(cl.issues[0].0, 12);
        let cl = CommandList::from_shell("fi; alembic upgrade head; done");
        assert_eq!(cl.issues.len(), 2);
        assert!(cl.migrates().is_some());
    }

    #[test]
    fn non_ascii_options_do_not_panic() {
        for src in [
            "alembic upgrade -é",
            "alembic -é upgrade é",
            "gunicorn -é app",
            "gunicorn -wé app",
            "uwsgi -pé",
            "docker run -é img alembic upgrade head",
            "sh -é -c 'x'",
            "set -é",
            "python -é x.py",
            "kubectl exec -é p -- é",
        ] {
            let cl = CommandList::from_shell(src);
            assert!(!cl.commands.is_empty(), "{src}");
        }
        assert_eq!(last("alembic upgrade é").kind, mig(rev("é")));
    }
}
