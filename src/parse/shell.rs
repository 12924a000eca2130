//! A small POSIX-sh tokenizer, enough for deploy scripts (`run:` blocks, compose `command:`
//! strings, Dockerfile `RUN`/`CMD` lines, `*.sh` files), and a Dockerfile instruction
//! splitter. Syntax only: words keep byte offsets into the input, nothing is expanded.
//!
//! Not a full shell: no alias or parameter expansion, `case` patterns inside `$( )` can end
//! the substitution early, heredocs inside `$( )` are skipped but not reported. Never panics,
//! and every loop advances, so any input terminates in linear time.

/// A problem found while tokenizing: byte offset into the input and a message.
pub type Issue = (u32, String);

/// Saturating conversion of a byte offset.
fn off(x: usize) -> u32 {
    u32::try_from(x).unwrap_or(u32::MAX)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    If,
    Then,
    Else,
    Elif,
    Fi,
    While,
    Until,
    Do,
    Done,
    /// `for` (and `select`).
    For,
    In,
    Case,
    Esac,
    Function,
    LBrace,
    RBrace,
    /// `(` is always an operator (outside `[[ ]]`), not only in command position.
    LParen,
    RParen,
    Bang,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `&&`
    AndIf,
    /// `||`
    OrIf,
    /// `;`
    Semi,
    /// `;;`, `;&`, `;;&`
    DSemi,
    /// `|` and `|&`
    Pipe,
    /// `&`
    Amp,
    /// An unquoted, unescaped newline (a command separator).
    Newline,
}

/// One shell word. `text` has quotes removed and backslash escapes resolved; expansions
/// (`$VAR`, `${VAR:-x}`, `$(...)`, backticks, `$((...))`) are kept verbatim inside it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShellWord {
    pub text: String,
    /// Byte span of the word as written (quotes included).
    pub start: u32,
    pub end: u32,
    /// Some part was quoted or backslash-escaped.
    pub quoted: bool,
    /// Contains a parameter, command or arithmetic expansion (outside single quotes).
    pub has_expansion: bool,
    /// Inner text ranges (input offsets) of each `$( ... )` and `` `...` `` in the word.
    pub substitutions: Vec<(u32, u32)>,
    /// Input offset of each byte of `text`, plus one entry for its end. `None` when `text` is
    /// the input slice `start..end` verbatim.
    pub offsets: Option<Vec<u32>>,
}

impl ShellWord {
    /// Input offset of byte `i` of `text` (`i == text.len()` gives the end).
    pub fn offset_of(&self, i: usize) -> u32 {
        match &self.offsets {
            Some(o) => o
                .get(i)
                .copied()
                .unwrap_or_else(|| o.last().copied().unwrap_or(self.end)),
            None => self.start.saturating_add(off(i)).min(self.end),
        }
    }

    /// No quoting, escaping or expansion: the text is exactly what was written.
    pub fn is_plain(&self) -> bool {
        !self.quoted && !self.has_expansion && self.offsets.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter with quotes removed.
    pub delimiter: String,
    /// The delimiter was quoted, so the body is not expanded.
    pub quoted: bool,
    /// `<<-`: leading tabs are stripped.
    pub strip_tabs: bool,
    /// Body span: from the line after the redirection to the start of the delimiter line.
    pub body_start: u32,
    pub body_end: u32,
    pub terminated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// Explicit file descriptor (`2>`).
    pub fd: Option<u32>,
    /// The operator: `>`, `>>`, `<`, `<<`, `<<-`, `<<<`, `>&`, `<&`, `<>`, `>|`, `&>`, `&>>`.
    pub op: String,
    /// The target word (for heredocs, the delimiter word).
    pub target: Option<ShellWord>,
    pub heredoc: Option<Heredoc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    Word(ShellWord),
    Keyword(Keyword),
    Op(Op),
    Redirect(Redirect),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub start: u32,
    pub end: u32,
}

#[derive(Debug, Clone, Default)]
pub struct Tokens {
    pub tokens: Vec<Token>,
    pub issues: Vec<Issue>,
}

/// Tokenize a shell script.
pub fn tokenize(src: &str) -> Tokens {
    let mut lx = Lexer {
        src,
        b: src.as_bytes(),
        pos: 0,
        toks: Vec::new(),
        issues: Vec::new(),
        cmd_pos: true,
        kw: KwState::None,
        dbracket: false,
        pending: Vec::new(),
        nest_failed: false,
    };
    lx.run();
    Tokens {
        tokens: lx.toks,
        issues: lx.issues,
    }
}

/// `NAME=` or `NAME+=` at the start of `s`: the length of NAME.
pub fn assignment_name(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let first = *b.first()?;
    if !(first == b'_' || first.is_ascii_alphabetic()) {
        return None;
    }
    let mut i = 1;
    while i < b.len() && (b[i] == b'_' || b[i].is_ascii_alphanumeric()) {
        i += 1;
    }
    match b.get(i) {
        Some(b'=') => Some(i),
        Some(b'+') if b.get(i + 1) == Some(&b'=') => Some(i),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KwState {
    None,
    /// After `for`: the next word is the loop variable.
    ForName,
    /// After `case`: the next word is the subject.
    CaseWord,
    /// After `function`: the next word is the name.
    FuncName,
    /// After `for NAME` (false) or `case WORD` (true): `in` is a keyword.
    ExpectIn(bool),
}

fn keyword_of(t: &str) -> Option<Keyword> {
    Some(match t {
        "if" => Keyword::If,
        "then" => Keyword::Then,
        "else" => Keyword::Else,
        "elif" => Keyword::Elif,
        "fi" => Keyword::Fi,
        "while" => Keyword::While,
        "until" => Keyword::Until,
        "do" => Keyword::Do,
        "done" => Keyword::Done,
        "for" | "select" => Keyword::For,
        "case" => Keyword::Case,
        "esac" => Keyword::Esac,
        "function" => Keyword::Function,
        "{" => Keyword::LBrace,
        "}" => Keyword::RBrace,
        "!" => Keyword::Bang,
        _ => return None,
    })
}

/// Length of a line continuation (`\` newline, or `\` CR LF) at `p`, or 0.
fn cont_len(b: &[u8], p: usize) -> usize {
    if b.get(p) != Some(&b'\\') {
        return 0;
    }
    match b.get(p + 1) {
        Some(b'\n') => 2,
        Some(b'\r') if b.get(p + 2) == Some(&b'\n') => 3,
        _ => 0,
    }
}

fn utf8_len(c: u8) -> usize {
    match c {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

fn find_byte(b: &[u8], from: usize, c: u8) -> Option<usize> {
    b.get(from..)?
        .iter()
        .position(|&x| x == c)
        .map(|i| i + from)
}

/// Characters that end an unquoted word.
fn is_meta(c: u8) -> bool {
    matches!(
        c,
        b' ' | b'\t' | b'\n' | b'\r' | b';' | b'&' | b'|' | b'(' | b')' | b'<' | b'>'
    )
}

#[derive(Default)]
struct WordBuf {
    text: Vec<u8>,
    offs: Vec<u32>,
    quoted: bool,
    exp: bool,
    subs: Vec<(u32, u32)>,
}

impl WordBuf {
    fn push_raw(&mut self, b: &[u8], from: usize, to: usize) {
        let to = to.min(b.len());
        for (i, &c) in b.iter().enumerate().take(to).skip(from) {
            self.text.push(c);
            self.offs.push(off(i));
        }
    }

    fn push_char(&mut self, ch: char, at: usize) {
        let mut buf = [0u8; 4];
        for &c in ch.encode_utf8(&mut buf).as_bytes() {
            self.text.push(c);
            self.offs.push(off(at));
        }
    }

    fn finish(self, src: &str, start: usize, end: usize) -> ShellWord {
        let raw = src.as_bytes().get(start..end).unwrap_or(&[]);
        let verbatim = raw == self.text.as_slice();
        let text = match String::from_utf8(self.text) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        let offsets = if verbatim || self.offs.len() != text.len() {
            None
        } else {
            let mut o = self.offs;
            o.push(off(end));
            Some(o)
        };
        ShellWord {
            text,
            start: off(start),
            end: off(end),
            quoted: self.quoted,
            has_expansion: self.exp,
            substitutions: self.subs,
            offsets,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Nest {
    Paren,
    Brace,
    Dq,
    Bt,
}

/// Read a heredoc delimiter after `<<`/`<<-` (quotes removed). Returns (delimiter, next pos).
fn read_delim(b: &[u8], mut p: usize) -> (Vec<u8>, usize) {
    while p < b.len() && (b[p] == b' ' || b[p] == b'\t') {
        p += 1;
    }
    let mut d = Vec::new();
    while p < b.len() && !is_meta(b[p]) {
        match b[p] {
            b'\'' | b'"' => {
                let q = b[p];
                let end = find_byte(b, p + 1, q).unwrap_or(b.len());
                d.extend_from_slice(&b[p + 1..end]);
                p = end + 1;
            }
            b'\\' => {
                if let Some(&c) = b.get(p + 1) {
                    d.push(c);
                }
                p += 2;
            }
            c => {
                d.push(c);
                p += 1;
            }
        }
    }
    (d, p.min(b.len()))
}

/// Skip heredoc bodies starting at `p` (the start of the line after the redirection).
fn skip_heredoc_bodies(b: &[u8], mut p: usize, docs: &[(Vec<u8>, bool)]) -> usize {
    for (delim, strip) in docs {
        loop {
            if p >= b.len() {
                return b.len();
            }
            let eol = find_byte(b, p, b'\n').unwrap_or(b.len());
            let mut line = &b[p..eol];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            if *strip {
                while line.first() == Some(&b'\t') {
                    line = &line[1..];
                }
            }
            p = (eol + 1).min(b.len());
            if line == delim.as_slice() {
                break;
            }
        }
    }
    p
}

/// From just after an opening `$(`/`(` (`Nest::Paren`) or `${` (`Nest::Brace`), find the
/// matching closer, respecting quotes, nested substitutions, comments and heredocs.
fn skip_nested(b: &[u8], start: usize, init: Nest) -> Option<usize> {
    let n = b.len();
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let mut stack = vec![init];
    let mut docs: Vec<(Vec<u8>, bool)> = Vec::new();
    let mut p = start;
    while p < n {
        let c = b[p];
        let top = *stack.last()?;
        match top {
            Nest::Dq => match c {
                b'\\' => p += 2,
                b'"' => {
                    stack.pop();
                    p += 1;
                }
                b'$' if at(p + 1) == b'(' => {
                    stack.push(Nest::Paren);
                    p += 2;
                }
                b'$' if at(p + 1) == b'{' => {
                    stack.push(Nest::Brace);
                    p += 2;
                }
                b'`' => {
                    stack.push(Nest::Bt);
                    p += 1;
                }
                _ => p += 1,
            },
            Nest::Bt => match c {
                b'\\' => p += 2,
                b'`' => {
                    stack.pop();
                    p += 1;
                }
                _ => p += 1,
            },
            Nest::Paren | Nest::Brace => match c {
                b'\\' => p += 2,
                b'\'' => p = find_byte(b, p + 1, b'\'')? + 1,
                b'"' => {
                    stack.push(Nest::Dq);
                    p += 1;
                }
                b'`' => {
                    stack.push(Nest::Bt);
                    p += 1;
                }
                b'$' if at(p + 1) == b'(' => {
                    stack.push(Nest::Paren);
                    p += 2;
                }
                b'$' if at(p + 1) == b'{' => {
                    stack.push(Nest::Brace);
                    p += 2;
                }
                b'(' if top == Nest::Paren => {
                    stack.push(Nest::Paren);
                    p += 1;
                }
                b')' if top == Nest::Paren => {
                    stack.pop();
                    if stack.is_empty() {
                        return Some(p);
                    }
                    p += 1;
                }
                b'}' if top == Nest::Brace => {
                    stack.pop();
                    if stack.is_empty() {
                        return Some(p);
                    }
                    p += 1;
                }
                b'#' if top == Nest::Paren
                    && (p == start || matches!(b[p - 1], b' ' | b'\t' | b'\n' | b';' | b'(')) =>
                {
                    p = find_byte(b, p, b'\n').unwrap_or(n);
                }
                b'<' if top == Nest::Paren && at(p + 1) == b'<' && at(p + 2) != b'<' => {
                    let strip = at(p + 2) == b'-';
                    let (d, q) = read_delim(b, p + 2 + usize::from(strip));
                    if !d.is_empty() {
                        docs.push((d, strip));
                    }
                    p = q.max(p + 2);
                }
                b'\n' if !docs.is_empty() => {
                    p = skip_heredoc_bodies(b, p + 1, &docs);
                    docs.clear();
                }
                _ => p += 1,
            },
        }
    }
    None
}

struct Lexer<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    toks: Vec<Token>,
    issues: Vec<Issue>,
    cmd_pos: bool,
    kw: KwState,
    dbracket: bool,
    /// Token indices of heredoc redirections whose bodies start after the next newline.
    pending: Vec<usize>,
    /// An optional `((`/`a=(` lookahead already failed to find its closer: don't retry (each
    /// retry scans to the end of the input, which would be quadratic).
    nest_failed: bool,
}

impl Lexer<'_> {
    fn at(&self, i: usize) -> u8 {
        self.b.get(i).copied().unwrap_or(0)
    }

    fn issue(&mut self, at: usize, msg: &str) {
        self.issues.push((off(at), msg.to_string()));
    }

    fn run(&mut self) {
        let n = self.b.len();
        while self.pos < n {
            let p = self.pos;
            let c = self.b[p];
            match c {
                b' ' | b'\t' | b'\r' | 0x0b | 0x0c => self.pos += 1,
                b'\\' if cont_len(self.b, p) > 0 => self.pos += cont_len(self.b, p),
                b'#' => self.pos = find_byte(self.b, p, b'\n').unwrap_or(n),
                b'\n' => {
                    self.op(Op::Newline, p, p + 1);
                    self.read_heredocs();
                }
                b';' => {
                    let len = if self.b[p..].starts_with(b";;&") {
                        3
                    } else if self.b[p..].starts_with(b";;") || self.b[p..].starts_with(b";&") {
                        2
                    } else {
                        1
                    };
                    let op = if len == 1 { Op::Semi } else { Op::DSemi };
                    self.op(op, p, p + len);
                }
                b'&' => {
                    if self.at(p + 1) == b'&' {
                        if self.dbracket {
                            self.raw_word(p, p + 2);
                        } else {
                            self.op(Op::AndIf, p, p + 2);
                        }
                    } else if self.at(p + 1) == b'>' {
                        self.redirect(p, None);
                    } else {
                        self.op(Op::Amp, p, p + 1);
                    }
                }
                b'|' => {
                    if self.at(p + 1) == b'|' {
                        if self.dbracket {
                            self.raw_word(p, p + 2);
                        } else {
                            self.op(Op::OrIf, p, p + 2);
                        }
                    } else if self.at(p + 1) == b'&' {
                        self.op(Op::Pipe, p, p + 2);
                    } else {
                        self.op(Op::Pipe, p, p + 1);
                    }
                }
                b'(' | b')' if self.dbracket => self.raw_word(p, p + 1),
                b'(' => {
                    if self.at(p + 1) == b'('
                        && (self.cmd_pos || self.kw == KwState::ForName)
                        && !self.nest_failed
                    {
                        match skip_nested(self.b, p + 1, Nest::Paren) {
                            Some(close) => {
                                let w = ShellWord {
                                    text: self.src.get(p..=close).unwrap_or("").to_string(),
                                    start: off(p),
                                    end: off(close + 1),
                                    has_expansion: true,
                                    ..Default::default()
                                };
                                self.push(TokenKind::Word(w), p, close + 1);
                                self.pos = close + 1;
                                self.cmd_pos = false;
                                self.kw = KwState::None;
                            }
                            None => {
                                self.nest_failed = true;
                                self.paren(Keyword::LParen, p);
                            }
                        }
                    } else {
                        self.paren(Keyword::LParen, p);
                    }
                }
                b')' => self.paren(Keyword::RParen, p),
                b'<' | b'>' => {
                    if self.at(p + 1) == b'(' {
                        self.word();
                    } else if self.dbracket {
                        self.raw_word(p, p + 1);
                    } else {
                        self.redirect(p, None);
                    }
                }
                _ => {
                    if c.is_ascii_digit() {
                        let mut q = p;
                        while q < n && self.b[q].is_ascii_digit() {
                            q += 1;
                        }
                        if q < n
                            && (self.b[q] == b'<' || self.b[q] == b'>')
                            && self.at(q + 1) != b'('
                            && !self.dbracket
                        {
                            let fd = self.src.get(p..q).and_then(|s| s.parse::<u32>().ok());
                            self.redirect(q, Some((p, fd)));
                            continue;
                        }
                    }
                    self.word();
                }
            }
        }
        for idx in std::mem::take(&mut self.pending) {
            let at = self.toks.get(idx).map_or(0, |t| t.start);
            self.issues
                .push((at, "unterminated heredoc (end of input)".to_string()));
        }
    }

    fn push(&mut self, kind: TokenKind, start: usize, end: usize) {
        self.toks.push(Token {
            kind,
            start: off(start),
            end: off(end),
        });
    }

    fn op(&mut self, op: Op, start: usize, end: usize) {
        self.push(TokenKind::Op(op), start, end);
        self.pos = end;
        self.cmd_pos = true;
        self.dbracket = false;
        if op != Op::Newline {
            self.kw = KwState::None;
        }
    }

    fn paren(&mut self, k: Keyword, p: usize) {
        self.push(TokenKind::Keyword(k), p, p + 1);
        self.pos = p + 1;
        self.cmd_pos = true;
        self.kw = KwState::None;
    }

    fn raw_word(&mut self, p: usize, q: usize) {
        let w = ShellWord {
            text: self.src.get(p..q).unwrap_or("").to_string(),
            start: off(p),
            end: off(q),
            ..Default::default()
        };
        self.push(TokenKind::Word(w), p, q);
        self.pos = q;
        self.cmd_pos = false;
    }

    fn word(&mut self) {
        let start = self.pos;
        let w = self.scan_word();
        if self.pos <= start {
            // Cannot happen (callers start at a word character), but guarantee progress.
            self.pos = start + 1;
            return;
        }
        self.emit_word(w);
    }

    fn emit_word(&mut self, w: ShellWord) {
        let (s, e) = (w.start as usize, w.end as usize);
        let plain = w.is_plain();
        let state = std::mem::replace(&mut self.kw, KwState::None);
        match state {
            KwState::ForName | KwState::CaseWord => {
                self.kw = KwState::ExpectIn(state == KwState::CaseWord);
                self.push(TokenKind::Word(w), s, e);
                self.cmd_pos = false;
                return;
            }
            KwState::FuncName => {
                self.push(TokenKind::Word(w), s, e);
                self.cmd_pos = true;
                return;
            }
            KwState::ExpectIn(is_case) => {
                if plain && w.text == "in" {
                    self.push(TokenKind::Keyword(Keyword::In), s, e);
                    self.cmd_pos = is_case;
                    return;
                }
                if plain && !is_case && w.text == "do" {
                    self.push(TokenKind::Keyword(Keyword::Do), s, e);
                    self.cmd_pos = true;
                    return;
                }
            }
            KwState::None => {}
        }
        if self.cmd_pos && plain {
            if let Some(k) = keyword_of(&w.text) {
                self.push(TokenKind::Keyword(k), s, e);
                self.kw = match k {
                    Keyword::For => KwState::ForName,
                    Keyword::Case => KwState::CaseWord,
                    Keyword::Function => KwState::FuncName,
                    _ => KwState::None,
                };
                self.cmd_pos = !matches!(
                    k,
                    Keyword::Fi
                        | Keyword::Done
                        | Keyword::Esac
                        | Keyword::RBrace
                        | Keyword::For
                        | Keyword::Case
                        | Keyword::Function
                );
                return;
            }
            if w.text == "[[" {
                self.dbracket = true;
            }
        }
        if self.dbracket && plain && w.text == "]]" {
            self.dbracket = false;
        }
        let assign = self.cmd_pos && self.src.get(s..e).and_then(assignment_name).is_some();
        self.push(TokenKind::Word(w), s, e);
        self.cmd_pos = assign;
    }

    fn redirect(&mut self, p: usize, fd: Option<(usize, Option<u32>)>) {
        let start = fd.map_or(p, |(s, _)| s);
        let rest = &self.b[p..];
        let op: &str = [
            "&>>", "<<<", "<<-", "<<", "<>", "<&", ">>", ">&", ">|", "&>", "<", ">",
        ]
        .into_iter()
        .find(|o| rest.starts_with(o.as_bytes()))
        .unwrap_or(">");
        let mut q = p + op.len();
        loop {
            match self.at(q) {
                b' ' | b'\t' => q += 1,
                b'\\' if cont_len(self.b, q) > 0 => q += cont_len(self.b, q),
                _ => break,
            }
        }
        self.pos = q;
        let c = self.at(q);
        let word_start = q < self.b.len()
            && (!is_meta(c) || ((c == b'<' || c == b'>') && self.at(q + 1) == b'('));
        let target = if word_start {
            let w = self.scan_word();
            if self.pos <= q {
                self.pos = q + 1;
            }
            Some(w)
        } else {
            self.issue(p, "redirection without a target");
            None
        };
        let heredoc = if op == "<<" || op == "<<-" {
            target.as_ref().map(|t| Heredoc {
                delimiter: t.text.clone(),
                quoted: t.quoted,
                strip_tabs: op == "<<-",
                body_start: 0,
                body_end: 0,
                terminated: false,
            })
        } else {
            None
        };
        let is_doc = heredoc.is_some();
        let r = Redirect {
            fd: fd.and_then(|(_, f)| f),
            op: op.to_string(),
            target,
            heredoc,
        };
        let end = self.pos;
        self.push(TokenKind::Redirect(r), start, end);
        if is_doc {
            self.pending.push(self.toks.len() - 1);
        }
    }

    /// Called right after a newline token: consume the bodies of pending heredocs.
    fn read_heredocs(&mut self) {
        let n = self.b.len();
        for idx in std::mem::take(&mut self.pending) {
            let Some(TokenKind::Redirect(Redirect {
                heredoc: Some(doc), ..
            })) = self.toks.get(idx).map(|t| &t.kind)
            else {
                continue;
            };
            let delim = doc.delimiter.clone();
            let strip = doc.strip_tabs;
            let body_start = self.pos;
            let mut body_end = n;
            let mut terminated = false;
            let mut p = self.pos;
            while p < n {
                let eol = find_byte(self.b, p, b'\n').unwrap_or(n);
                let mut line = &self.b[p..eol];
                if line.last() == Some(&b'\r') {
                    line = &line[..line.len() - 1];
                }
                if strip {
                    while line.first() == Some(&b'\t') {
                        line = &line[1..];
                    }
                }
                if line == delim.as_bytes() {
                    body_end = p;
                    terminated = true;
                    p = (eol + 1).min(n);
                    break;
                }
                p = (eol + 1).min(n);
            }
            if !terminated {
                p = n;
                let at = self.toks.get(idx).map_or(0, |t| t.start);
                self.issues
                    .push((at, format!("unterminated heredoc (no `{delim}` line)")));
            }
            self.pos = p;
            if let Some(TokenKind::Redirect(Redirect {
                heredoc: Some(doc), ..
            })) = self.toks.get_mut(idx).map(|t| &mut t.kind)
            {
                doc.body_start = off(body_start);
                doc.body_end = off(body_end);
                doc.terminated = terminated;
            }
        }
    }

    fn scan_word(&mut self) -> ShellWord {
        let b = self.b;
        let n = b.len();
        let start = self.pos;
        let mut w = WordBuf::default();
        let mut p = start;
        while p < n {
            let c = b[p];
            match c {
                b' ' | b'\t' | b'\n' | b'\r' | b';' | b'&' | b'|' | b')' => break,
                b'<' | b'>' => {
                    if self.at(p + 1) != b'(' || p != start {
                        break;
                    }
                    // Process substitution `<(cmd)`.
                    match skip_nested(b, p + 2, Nest::Paren) {
                        Some(close) => {
                            w.push_raw(b, p, close + 1);
                            w.subs.push((off(p + 2), off(close)));
                            p = close + 1;
                        }
                        None => {
                            self.issue(p, "unterminated process substitution");
                            w.push_raw(b, p, n);
                            w.subs.push((off(p + 2), off(n)));
                            p = n;
                        }
                    }
                    w.exp = true;
                }
                b'(' => {
                    // Array assignment `a=(x y)` or extglob `@(a|b)`.
                    let prev = w.text.last().copied();
                    if self.nest_failed
                        || !matches!(prev, Some(b'=' | b'@' | b'?' | b'*' | b'+' | b'!'))
                    {
                        break;
                    }
                    match skip_nested(b, p + 1, Nest::Paren) {
                        Some(close) => {
                            w.push_raw(b, p, close + 1);
                            p = close + 1;
                        }
                        None => {
                            self.nest_failed = true;
                            break;
                        }
                    }
                }
                b'\\' => {
                    let cl = cont_len(b, p);
                    if cl > 0 {
                        p += cl;
                        continue;
                    }
                    if p + 1 >= n {
                        w.push_raw(b, p, p + 1);
                        p += 1;
                        continue;
                    }
                    w.quoted = true;
                    let l = utf8_len(b[p + 1]);
                    w.push_raw(b, p + 1, p + 1 + l);
                    p += 1 + l;
                }
                b'\'' => {
                    w.quoted = true;
                    match find_byte(b, p + 1, b'\'') {
                        Some(q) => {
                            w.push_raw(b, p + 1, q);
                            p = q + 1;
                        }
                        None => {
                            self.issue(p, "unterminated single quote");
                            w.push_raw(b, p + 1, n);
                            p = n;
                        }
                    }
                }
                b'"' => {
                    w.quoted = true;
                    p = self.dquote(p, &mut w);
                }
                b'$' => match self.at(p + 1) {
                    b'\'' => {
                        w.quoted = true;
                        p = self.ansi_c(p, &mut w);
                    }
                    b'"' => {
                        w.quoted = true;
                        p = self.dquote(p + 1, &mut w);
                    }
                    _ => p = self.dollar(p, &mut w),
                },
                b'`' => p = self.backtick(p, &mut w),
                _ => {
                    let l = utf8_len(c);
                    w.push_raw(b, p, p + l);
                    p += l;
                }
            }
        }
        let p = p.min(n);
        self.pos = p;
        w.finish(self.src, start, p)
    }

    /// A double-quoted string opening at `open`; returns the position after it.
    fn dquote(&mut self, open: usize, w: &mut WordBuf) -> usize {
        let b = self.b;
        let n = b.len();
        let mut p = open + 1;
        loop {
            if p >= n {
                self.issue(open, "unterminated double quote");
                return n;
            }
            match b[p] {
                b'"' => return p + 1,
                b'\\' => {
                    let cl = cont_len(b, p);
                    if cl > 0 {
                        p += cl;
                    } else if matches!(self.at(p + 1), b'$' | b'`' | b'"' | b'\\') {
                        w.push_raw(b, p + 1, p + 2);
                        p += 2;
                    } else {
                        w.push_raw(b, p, p + 1);
                        p += 1;
                    }
                }
                b'$' => p = self.dollar(p, w),
                b'`' => p = self.backtick(p, w),
                c => {
                    let l = utf8_len(c);
                    w.push_raw(b, p, p + l);
                    p += l;
                }
            }
        }
    }

    /// An expansion at `p` (a `$`); appended verbatim. Returns the position after it.
    fn dollar(&mut self, p: usize, w: &mut WordBuf) -> usize {
        let b = self.b;
        let n = b.len();
        match self.at(p + 1) {
            b'(' => {
                let arith = self.at(p + 2) == b'(';
                w.exp = true;
                match skip_nested(b, p + 2, Nest::Paren) {
                    Some(close) => {
                        w.push_raw(b, p, close + 1);
                        if !arith {
                            w.subs.push((off(p + 2), off(close)));
                        }
                        close + 1
                    }
                    None => {
                        self.issue(p, "unterminated command substitution");
                        w.push_raw(b, p, n);
                        if !arith {
                            w.subs.push((off(p + 2), off(n)));
                        }
                        n
                    }
                }
            }
            b'{' => {
                w.exp = true;
                match skip_nested(b, p + 2, Nest::Brace) {
                    Some(close) => {
                        w.push_raw(b, p, close + 1);
                        close + 1
                    }
                    None => {
                        self.issue(p, "unterminated ${");
                        w.push_raw(b, p, n);
                        n
                    }
                }
            }
            c if c == b'_' || c.is_ascii_alphabetic() => {
                let mut q = p + 1;
                while q < n && (b[q] == b'_' || b[q].is_ascii_alphanumeric()) {
                    q += 1;
                }
                w.exp = true;
                w.push_raw(b, p, q);
                q
            }
            c if c.is_ascii_digit() || b"@*#?$!-".contains(&c) => {
                w.exp = true;
                w.push_raw(b, p, p + 2);
                p + 2
            }
            _ => {
                w.push_raw(b, p, p + 1);
                p + 1
            }
        }
    }

    fn backtick(&mut self, p: usize, w: &mut WordBuf) -> usize {
        let b = self.b;
        let n = b.len();
        let mut q = p + 1;
        while q < n {
            match b[q] {
                b'\\' => q += 2,
                b'`' => break,
                _ => q += 1,
            }
        }
        w.exp = true;
        if q < n {
            w.push_raw(b, p, q + 1);
            w.subs.push((off(p + 1), off(q)));
            q + 1
        } else {
            self.issue(p, "unterminated backquote");
            w.push_raw(b, p, n);
            w.subs.push((off(p + 1), off(n)));
            n
        }
    }

    /// `$'...'` (ANSI-C quoting) at `p`.
    fn ansi_c(&mut self, p: usize, w: &mut WordBuf) -> usize {
        let b = self.b;
        let n = b.len();
        let mut q = p + 2;
        loop {
            if q >= n {
                self.issue(p, "unterminated $' quote");
                return n;
            }
            match b[q] {
                b'\'' => return q + 1,
                b'\\' => {
                    let e = self.at(q + 1);
                    let simple = match e {
                        b'n' => Some('\n'),
                        b't' => Some('\t'),
                        b'r' => Some('\r'),
                        b'a' => Some('\x07'),
                        b'b' => Some('\x08'),
                        b'e' | b'E' => Some('\x1b'),
                        b'f' => Some('\x0c'),
                        b'v' => Some('\x0b'),
                        b'\\' => Some('\\'),
                        b'\'' => Some('\''),
                        b'"' => Some('"'),
                        b'?' => Some('?'),
                        _ => None,
                    };
                    if let Some(ch) = simple {
                        w.push_char(ch, q);
                        q += 2;
                        continue;
                    }
                    let (radix, max, skip) = match e {
                        b'x' => (16, 2, 2),
                        b'u' => (16, 4, 2),
                        b'U' => (16, 8, 2),
                        b'0'..=b'7' => (8, 3, 1),
                        b'c' => {
                            let ch = char::from(self.at(q + 2) & 0x1f);
                            w.push_char(ch, q);
                            q += 3;
                            continue;
                        }
                        _ => {
                            w.push_raw(b, q, q + 1);
                            q += 1;
                            continue;
                        }
                    };
                    let mut v: u32 = 0;
                    let mut k = q + skip;
                    while k < n && k < q + skip + max && (b[k] as char).is_digit(radix) {
                        v = v * radix + (b[k] as char).to_digit(radix).unwrap_or(0);
                        k += 1;
                    }
                    if k == q + skip {
                        w.push_raw(b, q, q + 1);
                        q += 1;
                        continue;
                    }
                    w.push_char(char::from_u32(v).unwrap_or('\u{fffd}'), q);
                    q = k;
                }
                c => {
                    let l = utf8_len(c);
                    w.push_raw(b, q, q + l);
                    q += l;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Dockerfile

/// How a Dockerfile instruction's arguments are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form {
    /// Shell form, line continuations removed (comment lines inside them dropped, as Docker
    /// does). `Instr::offsets` maps its bytes back to the file.
    Shell(String),
    /// JSON exec form: each element with the file span of its content (inside the quotes).
    Exec(Vec<(String, u32, u32)>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instr {
    /// Upper-cased keyword (`RUN`, `CMD`, ...).
    pub keyword: String,
    pub start: u32,
    /// End of the instruction's last line (or of its last heredoc's delimiter line).
    pub end: u32,
    /// First byte after the keyword and its whitespace.
    pub args_start: u32,
    /// Leading `--flag[=value]` words of `RUN`/`COPY`/`ADD`/`HEALTHCHECK` (`--mount=...`,
    /// `--from=...`), with their file spans; they are not part of `form`.
    pub flags: Vec<(String, u32, u32)>,
    pub form: Form,
    /// For `Form::Shell`: the file offset of each byte of the text, plus one for its end.
    /// Empty for `Form::Exec`.
    pub offsets: Vec<u32>,
}

/// `# name=value` parser directive.
fn directive(s: &str) -> Option<(String, String)> {
    let (k, v) = s.split_once('=')?;
    let k = k.trim();
    if k.is_empty() || !k.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
        return None;
    }
    Some((k.to_ascii_lowercase(), v.trim().to_string()))
}

/// Line at `p`: (start, end without `\r\n`, start of the next line).
fn line_at(b: &[u8], p: usize) -> (usize, usize, usize) {
    let eol = find_byte(b, p, b'\n').unwrap_or(b.len());
    let mut le = eol;
    if le > p && b[le - 1] == b'\r' {
        le -= 1;
    }
    (p, le, (eol + 1).min(b.len()))
}

fn first_non_blank(b: &[u8], s: usize, e: usize) -> Option<usize> {
    (s..e).find(|&i| b[i] != b' ' && b[i] != b'\t')
}

/// Heredoc markers (`<<EOF`, `<<-"EOF"`) in a `RUN`/`COPY`/`ADD` line, in order.
fn heredoc_markers(t: &[u8]) -> Vec<(Vec<u8>, bool, usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i + 1 < t.len() {
        let c = t[i];
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        if c == b'\'' || c == b'"' {
            quote = Some(c);
            i += 1;
            continue;
        }
        if c == b'<' && t[i + 1] == b'<' && t.get(i + 2) != Some(&b'<') {
            let strip = t.get(i + 2) == Some(&b'-');
            let mut j = i + 2 + usize::from(strip);
            let q = match t.get(j) {
                Some(&b'"') | Some(&b'\'') => {
                    j += 1;
                    Some(t[j - 1])
                }
                _ => None,
            };
            let ds = j;
            while j < t.len() && (t[j].is_ascii_alphanumeric() || t[j] == b'_') {
                j += 1;
            }
            if j > ds {
                let de = j;
                if q.is_some() && t.get(j) == q.as_ref() {
                    j += 1;
                }
                out.push((t[ds..de].to_vec(), strip, i, j));
                i = j;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// A JSON array of strings: each string's value and its content span (inside the quotes).
fn json_string_array(s: &str) -> Option<Vec<(String, usize, usize)>> {
    let b = s.as_bytes();
    let ws = |p: &mut usize| {
        while *p < b.len() && matches!(b[*p], b' ' | b'\t' | b'\n' | b'\r') {
            *p += 1;
        }
    };
    let mut p = 0;
    ws(&mut p);
    if b.get(p) != Some(&b'[') {
        return None;
    }
    p += 1;
    ws(&mut p);
    let mut out = Vec::new();
    if b.get(p) == Some(&b']') {
        p += 1;
    } else {
        loop {
            ws(&mut p);
            if b.get(p) != Some(&b'"') {
                return None;
            }
            let cs = p + 1;
            let mut q = cs;
            let mut val = String::new();
            loop {
                let c = *b.get(q)?;
                match c {
                    b'"' => break,
                    b'\\' => {
                        let e = *b.get(q + 1)?;
                        q += 2;
                        match e {
                            b'"' => val.push('"'),
                            b'\\' => val.push('\\'),
                            b'/' => val.push('/'),
                            b'b' => val.push('\x08'),
                            b'f' => val.push('\x0c'),
                            b'n' => val.push('\n'),
                            b'r' => val.push('\r'),
                            b't' => val.push('\t'),
                            b'u' => {
                                let hex = |at: usize| -> Option<u32> {
                                    u32::from_str_radix(s.get(at..at + 4)?, 16).ok()
                                };
                                let hi = hex(q)?;
                                q += 4;
                                let ch = if (0xD800..0xDC00).contains(&hi)
                                    && s.get(q..q + 2) == Some("\\u")
                                {
                                    let lo = hex(q + 2)?;
                                    if (0xDC00..0xE000).contains(&lo) {
                                        q += 6;
                                        char::from_u32(
                                            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00),
                                        )
                                    } else {
                                        None
                                    }
                                } else {
                                    char::from_u32(hi)
                                };
                                val.push(ch.unwrap_or('\u{fffd}'));
                            }
                            _ => return None,
                        }
                    }
                    c if c < 0x20 => return None,
                    c => {
                        let l = utf8_len(c);
                        val.push_str(s.get(q..q + l)?);
                        q += l;
                    }
                }
            }
            out.push((val, cs, q));
            p = q + 1;
            ws(&mut p);
            match b.get(p) {
                Some(b',') => p += 1,
                Some(b']') => {
                    p += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    ws(&mut p);
    (p == b.len()).then_some(out)
}

/// Split a Dockerfile into instructions. Handles parser directives (`# syntax=`,
/// `# escape=`), comments, line continuations, heredocs (`RUN <<EOF`) and JSON exec form.
pub fn dockerfile_instructions(src: &str) -> Vec<Instr> {
    let b = src.as_bytes();
    let n = b.len();
    let mut out = Vec::new();
    let mut pos = 0;
    let mut directives = true;
    let mut esc = b'\\';
    while pos < n {
        let (ls, le, next) = line_at(b, pos);
        let Some(fi) = first_non_blank(b, ls, le) else {
            directives = false;
            pos = next;
            continue;
        };
        if b[fi] == b'#' {
            if directives {
                if let Some((k, v)) = src.get(fi + 1..le).and_then(directive) {
                    if k == "escape" {
                        esc = if v == "`" { b'`' } else { b'\\' };
                    }
                    pos = next;
                    continue;
                }
            }
            directives = false;
            pos = next;
            continue;
        }
        directives = false;
        let mut k = fi;
        while k < le && b[k] != b' ' && b[k] != b'\t' {
            k += 1;
        }
        let keyword = src.get(fi..k).unwrap_or("").to_ascii_uppercase();
        let args_start = first_non_blank(b, k, le).unwrap_or(le);
        // Join continuation lines.
        let mut text: Vec<u8> = Vec::new();
        let mut offs: Vec<u32> = Vec::new();
        let (mut seg, mut seg_end, mut seg_next) = (args_start, le, next);
        let mut end: u32;
        loop {
            let mut t = seg_end;
            while t > seg && (b[t - 1] == b' ' || b[t - 1] == b'\t') {
                t -= 1;
            }
            let cont = t > seg && b[t - 1] == esc;
            let stop = if cont { t - 1 } else { seg_end };
            for (i, &c) in b.iter().enumerate().take(stop).skip(seg) {
                text.push(c);
                offs.push(off(i));
            }
            end = off(seg_end);
            pos = seg_next;
            if !cont {
                break;
            }
            // Next content line, skipping comment and empty lines.
            let mut q = seg_next;
            let mut found = false;
            while q < n {
                let (ls2, le2, next2) = line_at(b, q);
                match first_non_blank(b, ls2, le2) {
                    None => q = next2,
                    Some(f) if b[f] == b'#' => q = next2,
                    Some(_) => {
                        (seg, seg_end, seg_next) = (ls2, le2, next2);
                        found = true;
                        break;
                    }
                }
            }
            if !found {
                pos = n;
                break;
            }
        }
        offs.push(end);
        // Leading flags.
        let mut flags = Vec::new();
        let mut body_from = 0;
        if matches!(keyword.as_str(), "RUN" | "COPY" | "ADD" | "HEALTHCHECK") {
            let mut i = 0;
            loop {
                while i < text.len() && matches!(text[i], b' ' | b'\t') {
                    i += 1;
                }
                if !text[i..].starts_with(b"--") {
                    break;
                }
                let s = i;
                while i < text.len() && !matches!(text[i], b' ' | b'\t') {
                    i += 1;
                }
                flags.push((
                    String::from_utf8_lossy(&text[s..i]).into_owned(),
                    offs[s],
                    offs[i - 1].saturating_add(1),
                ));
                body_from = i;
            }
            while body_from < text.len() && matches!(text[body_from], b' ' | b'\t') {
                body_from += 1;
            }
            if keyword == "HEALTHCHECK" && text[body_from..].starts_with(b"CMD") {
                body_from += 3;
                while body_from < text.len() && matches!(text[body_from], b' ' | b'\t') {
                    body_from += 1;
                }
            }
        }
        let mut body: Vec<u8> = text[body_from..].to_vec();
        let mut body_offs: Vec<u32> = offs[body_from..].to_vec();
        // Heredocs.
        if matches!(keyword.as_str(), "RUN" | "COPY" | "ADD") {
            let markers = heredoc_markers(&body);
            if !markers.is_empty() {
                let only = {
                    let mut rest = body.clone();
                    for m in markers.iter().rev() {
                        rest.drain(m.2..m.3);
                    }
                    rest.iter().all(|c| c.is_ascii_whitespace())
                };
                let line_end = end as usize;
                let mut first_body: Option<(usize, usize)> = None;
                let mut q = pos;
                for (delim, strip, _, _) in &markers {
                    let bs = q;
                    let mut be = n;
                    while q < n {
                        let (l1, l2, nx) = line_at(b, q);
                        let mut line = &b[l1..l2];
                        if *strip {
                            while line.first() == Some(&b'\t') {
                                line = &line[1..];
                            }
                        }
                        q = nx;
                        if line == delim.as_slice() {
                            be = l1;
                            end = off(l2);
                            break;
                        }
                    }
                    if be == n {
                        end = off(n);
                    }
                    first_body.get_or_insert((bs, be));
                }
                pos = q;
                if only {
                    let (bs, be) = first_body.unwrap_or((pos, pos));
                    body = b[bs..be].to_vec();
                    body_offs = (bs..=be).map(off).collect();
                } else {
                    body_offs.pop();
                    let tail_end = (end as usize).min(n);
                    for (i, &c) in b.iter().enumerate().take(tail_end).skip(line_end) {
                        body.push(c);
                        body_offs.push(off(i));
                    }
                    body_offs.push(end);
                }
            }
        }
        let text_s = String::from_utf8_lossy(&body).into_owned();
        let exec_ok = matches!(
            keyword.as_str(),
            "RUN" | "CMD" | "ENTRYPOINT" | "SHELL" | "COPY" | "ADD" | "VOLUME" | "HEALTHCHECK"
        );
        let exec = if exec_ok && text_s.trim_start().starts_with('[') {
            json_string_array(&text_s)
        } else {
            None
        };
        let (form, offsets) = match exec {
            Some(items) if text_s.len() == body.len() => {
                let at = |i: usize| body_offs.get(i).copied().unwrap_or(end);
                let items = items
                    .into_iter()
                    .map(|(v, s, e)| {
                        let end_off = if e > s {
                            at(e - 1).saturating_add(1)
                        } else {
                            at(s)
                        };
                        (v, at(s), end_off)
                    })
                    .collect();
                (Form::Exec(items), Vec::new())
            }
            _ => {
                if body_offs.len() != text_s.len() + 1 {
                    // Lossy conversion changed lengths: fall back to a linear map.
                    let base = body_offs.first().copied().unwrap_or(end);
                    body_offs = (0..=text_s.len())
                        .map(|i| base.saturating_add(off(i)).min(end))
                        .collect();
                }
                (Form::Shell(text_s), body_offs)
            }
        };
        out.push(Instr {
            keyword,
            start: off(fi),
            end,
            args_start: off(args_start),
            flags,
            form,
            offsets,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(src: &str) -> Vec<String> {
        tokenize(src)
            .tokens
            .into_iter()
            .filter_map(|t| match t.kind {
                TokenKind::Word(w) => Some(w.text),
                _ => None,
            })
            .collect()
    }

    fn word(src: &str) -> ShellWord {
        match tokenize(src).tokens.into_iter().next().map(|t| t.kind) {
            Some(TokenKind::Word(w)) => w,
            k => panic!("{src:?}: {k:?}"),
        }
    }

    fn shape(src: &str) -> String {
        tokenize(src)
            .tokens
            .iter()
            .map(|t| match &t.kind {
                TokenKind::Word(w) => format!("W({})", w.text),
                TokenKind::Keyword(k) => format!("K({k:?})"),
                TokenKind::Op(o) => format!("O({o:?})"),
                TokenKind::Redirect(r) => format!(
                    "R({}{}{})",
                    r.fd.map(|f| f.to_string()).unwrap_or_default(),
                    r.op,
                    r.target.as_ref().map(|t| t.text.as_str()).unwrap_or("")
                ),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn quoting_and_escapes() {
        let cases: &[(&str, &str)] = &[
            ("abc", "abc"),
            ("'a b'", "a b"),
            ("\"a b\"", "a b"),
            ("a\\ b", "a b"),
            ("\"a\\\"b\"", "a\"b"),
            ("\"a\\nb\"", "a\\nb"),
            ("'a\\nb'", "a\\nb"),
            ("$'a\\nb'", "a\nb"),
            ("$'\\x41\\101\\u00e9'", "AAé"),
            ("a'b'\"c\"d", "abcd"),
            ("ab\\\ncd", "abcd"),
            ("\"ab\\\ncd\"", "abcd"),
            ("\"$X\"", "$X"),
            ("${X:-a b}", "${X:-a b}"),
            ("\"$(echo \")\")\"", "$(echo \")\")"),
            ("`a b`", "`a b`"),
            ("$((1 + 2))", "$((1 + 2))"),
            ("é\\é", "éé"),
        ];
        for (src, text) in cases {
            assert_eq!(word(src).text, *text, "{src}");
        }
        let w = word("'a b'");
        assert!(w.quoted && !w.has_expansion);
        assert_eq!((w.start, w.end), (0, 5));
        assert_eq!(w.offset_of(0), 1);
        assert_eq!(w.offset_of(2), 3);
        assert_eq!(w.offset_of(3), 5);
        let w = word("'$X'");
        assert!(!w.has_expansion);
        let w = word("\"$X\"y");
        assert!(w.has_expansion);
        assert!(word("abc").is_plain());
        assert!(word("abc").offsets.is_none());
    }

    #[test]
    fn substitution_ranges() {
        let src = "X=$(alembic current)";
        let w = word(src);
        assert_eq!(w.substitutions.len(), 1);
        let (s, e) = w.substitutions[0];
        assert_eq!(&src[s as usize..e as usize], "alembic current");
        let src = "a`b c`d \"$(e $(f))\"";
        let ws: Vec<ShellWord> = tokenize(src)
            .tokens
            .into_iter()
            .filter_map(|t| match t.kind {
                TokenKind::Word(w) => Some(w),
                _ => None,
            })
            .collect();
        let inner = |w: &ShellWord| {
            w.substitutions
                .iter()
                .map(|&(s, e)| src[s as usize..e as usize].to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(inner(&ws[0]), ["b c"]);
        assert_eq!(inner(&ws[1]), ["e $(f)"]);
        assert!(word("$((1+2))").substitutions.is_empty());
    }

    #[test]
    fn operators_comments_keywords() {
        assert_eq!(
            shape("a && b || c; d | e & f\ng"),
            "W(a) O(AndIf) W(b) O(OrIf) W(c) O(Semi) W(d) O(Pipe) W(e) O(Amp) W(f) O(Newline) W(g)"
        );
        assert_eq!(shape("a # comment ; b\nc#d"), "W(a) O(Newline) W(c#d)");
        assert_eq!(
            shape("if a; then b; elif c; then d; else e; fi"),
            "K(If) W(a) O(Semi) K(Then) W(b) O(Semi) K(Elif) W(c) O(Semi) K(Then) W(d) O(Semi) K(Else) W(e) O(Semi) K(Fi)"
        );
        // Keywords only in command position.
        assert_eq!(shape("echo if then fi"), "W(echo) W(if) W(then) W(fi)");
        assert_eq!(shape("echo 'if'"), "W(echo) W(if)");
        assert_eq!(shape("'if' x"), "W(if) W(x)");
        assert_eq!(
            shape("for x in a b; do c; done"),
            "K(For) W(x) K(In) W(a) W(b) O(Semi) K(Do) W(c) O(Semi) K(Done)"
        );
        assert_eq!(
            shape("for in in in; do :; done"),
            "K(For) W(in) K(In) W(in) O(Semi) K(Do) W(:) O(Semi) K(Done)"
        );
        assert_eq!(
            shape("case $x in a|b) c;; *) d;; esac"),
            "K(Case) W($x) K(In) W(a) O(Pipe) W(b) K(RParen) W(c) O(DSemi) W(*) K(RParen) W(d) O(DSemi) K(Esac)"
        );
        assert_eq!(shape("! a"), "K(Bang) W(a)");
        assert_eq!(
            shape("{ a; } && (b)"),
            "K(LBrace) W(a) O(Semi) K(RBrace) O(AndIf) K(LParen) W(b) K(RParen)"
        );
        assert_eq!(shape("{ a }"), "K(LBrace) W(a) W(})");
        assert_eq!(
            shape("while a; do b; done"),
            "K(While) W(a) O(Semi) K(Do) W(b) O(Semi) K(Done)"
        );
        assert_eq!(
            shape("until a; do b; done"),
            "K(Until) W(a) O(Semi) K(Do) W(b) O(Semi) K(Done)"
        );
        assert_eq!(
            shape("function f { a; }"),
            "K(Function) W(f) K(LBrace) W(a) O(Semi) K(RBrace)"
        );
        assert_eq!(
            shape("f() { a; }"),
            "W(f) K(LParen) K(RParen) K(LBrace) W(a) O(Semi) K(RBrace)"
        );
        assert_eq!(shape("X=1 if"), "W(X=1) K(If)");
        assert_eq!(
            shape("[[ $a < b && c ]] && d"),
            "W([[) W($a) W(<) W(b) W(&&) W(c) W(]]) O(AndIf) W(d)"
        );
        assert_eq!(shape("(( i++ )) && a"), "W((( i++ ))) O(AndIf) W(a)");
        assert_eq!(shape("a=(1 2 3) b"), "W(a=(1 2 3)) W(b)");
        assert_eq!(shape("a ;;& b ;& c"), "W(a) O(DSemi) W(b) O(DSemi) W(c)");
        assert_eq!(shape("a |& b"), "W(a) O(Pipe) W(b)");
        assert_eq!(shape("a \\\n b"), "W(a) W(b)");
        assert_eq!(shape("a\r\nb"), "W(a) O(Newline) W(b)");
    }

    #[test]
    fn redirections() {
        assert_eq!(shape("a > /dev/null 2>&1"), "W(a) R(>/dev/null) R(2>&1)");
        assert_eq!(shape("a >>log 2> err <in"), "W(a) R(>>log) R(2>err) R(<in)");
        assert_eq!(
            shape("a &> x &>> y >| z <> w"),
            "W(a) R(&>x) R(&>>y) R(>|z) R(<>w)"
        );
        assert_eq!(shape("a <<< \"$x\""), "W(a) R(<<<$x)");
        assert_eq!(shape("a 2>&- b"), "W(a) R(2>&-) W(b)");
        assert_eq!(shape("> out a"), "R(>out) W(a)");
        assert_eq!(shape("a 12 b"), "W(a) W(12) W(b)");
        assert_eq!(shape("diff <(a) b"), "W(diff) W(<(a)) W(b)");
        let t = tokenize("a >");
        assert_eq!(t.issues.len(), 1);
    }

    #[test]
    fn heredocs() {
        let src = "cat <<EOF | psql\nalembic upgrade head\n$X\nEOF\nnext\n";
        let t = tokenize(src);
        assert!(t.issues.is_empty());
        let doc = t
            .tokens
            .iter()
            .find_map(|t| match &t.kind {
                TokenKind::Redirect(r) => r.heredoc.clone(),
                _ => None,
            })
            .unwrap();
        assert_eq!(doc.delimiter, "EOF");
        assert!(!doc.quoted && !doc.strip_tabs && doc.terminated);
        assert_eq!(
            &src[doc.body_start as usize..doc.body_end as usize],
            "alembic upgrade head\n$X\n"
        );
        assert_eq!(words(src), ["cat", "psql", "next"]);
        // Quoted and tab-stripped delimiters; two heredocs on one line.
        let src = "a <<-'END' <<\"B\"\n\tx\n\tEND\ny\nB\nz";
        let t = tokenize(src);
        let docs: Vec<Heredoc> = t
            .tokens
            .iter()
            .filter_map(|t| match &t.kind {
                TokenKind::Redirect(r) => r.heredoc.clone(),
                _ => None,
            })
            .collect();
        assert_eq!(docs.len(), 2);
        assert!(docs[0].quoted && docs[0].strip_tabs);
        assert_eq!(
            &src[docs[0].body_start as usize..docs[0].body_end as usize],
            "\tx\n"
        );
        assert_eq!(
            &src[docs[1].body_start as usize..docs[1].body_end as usize],
            "y\n"
        );
        assert_eq!(words(src), ["a", "z"]);
        // Unterminated.
        let t = tokenize("cat <<EOF\nalembic upgrade head\n");
        assert_eq!(t.issues.len(), 1);
        assert_eq!(words("cat <<EOF\nalembic upgrade head\n"), ["cat"]);
        let t = tokenize("cat <<EOF");
        assert_eq!(t.issues.len(), 1);
        // CRLF delimiter line.
        let t = tokenize("cat <<EOF\r\nx\r\nEOF\r\ny");
        assert!(t.issues.is_empty());
    }

    #[test]
    fn issues_unterminated() {
        for (src, n) in [
            ("echo 'abc", 1),
            ("echo \"abc", 1),
            ("echo $(abc", 1),
            ("echo ${abc", 1),
            ("echo `abc", 1),
            ("echo $'abc", 1),
            ("echo ok", 0),
        ] {
            let t = tokenize(src);
            assert_eq!(t.issues.len(), n, "{src}: {:?}", t.issues);
            if let Some((o, _)) = t.issues.first() {
                assert_eq!(*o, 5, "{src}");
            }
        }
    }

    #[test]
    fn assignment_names() {
        assert_eq!(assignment_name("X=1"), Some(1));
        assert_eq!(assignment_name("_a1+=x"), Some(3));
        assert_eq!(assignment_name("1X=1"), None);
        assert_eq!(assignment_name("-x=1"), None);
        assert_eq!(assignment_name("X"), None);
    }

    fn shell_text(i: &Instr) -> &str {
        match &i.form {
            Form::Shell(s) => s,
            Form::Exec(_) => panic!("exec form"),
        }
    }

    #[test]
    fn dockerfile_basics() {
        let src = "# syntax=docker/dockerfile:1\n# escape=\\\n\n# comment\nFROM python:3.12 AS base\nrun pip install \\\n    # inline comment\n\n    x && \\\n    alembic upgrade head\nCMD [\"gunicorn\", \"-w\", \"4\", \"app:app\"]\nENTRYPOINT [\"/entrypoint.sh\"]\nCMD [ \"broken\nCMD [\"a\\\"b\", \"\\u00e9\"]\nENV A=1 B=2\n";
        let ins = dockerfile_instructions(src);
        let kws: Vec<&str> = ins.iter().map(|i| i.keyword.as_str()).collect();
        assert_eq!(
            kws,
            ["FROM", "RUN", "CMD", "ENTRYPOINT", "CMD", "CMD", "ENV"]
        );
        let run = &ins[1];
        assert_eq!(
            shell_text(run),
            "pip install     x &&     alembic upgrade head"
        );
        let t = shell_text(run);
        let at = t.find("alembic").unwrap();
        let o = run.offsets[at] as usize;
        assert_eq!(&src[o..o + 7], "alembic");
        assert_eq!(run.offsets.len(), t.len() + 1);
        assert_eq!(
            &src[run.start as usize..run.end as usize]
                .lines()
                .last()
                .unwrap()
                .trim(),
            &"alembic upgrade head"
        );
        match &ins[2].form {
            Form::Exec(a) => {
                let v: Vec<&str> = a.iter().map(|x| x.0.as_str()).collect();
                assert_eq!(v, ["gunicorn", "-w", "4", "app:app"]);
                for (text, s, e) in a {
                    assert_eq!(&src[*s as usize..*e as usize], text);
                }
            }
            f => panic!("{f:?}"),
        }
        assert_eq!(shell_text(&ins[4]), "[ \"broken");
        match &ins[5].form {
            Form::Exec(a) => assert_eq!(
                a.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
                ["a\"b", "é"]
            ),
            f => panic!("{f:?}"),
        }
        assert_eq!(shell_text(&ins[6]), "A=1 B=2");
        assert!(dockerfile_instructions("# just a comment\n\n   # another\n").is_empty());
        assert!(dockerfile_instructions("").is_empty());
    }

    #[test]
    fn dockerfile_flags_heredocs_escape() {
        let src = "FROM x\nRUN --mount=type=cache,target=/root/.cache --network=none pip install y\nRUN <<EOF\nset -e\nalembic upgrade head\nEOF\nRUN cat <<EOF > /x.sh\nalembic stamp head\nEOF\nCOPY --from=build [\"a\", \"b\"]\nHEALTHCHECK --interval=5s CMD [\"curl\", \"-f\", \"http://x\"]\nCMD done\n";
        let ins = dockerfile_instructions(src);
        let kws: Vec<&str> = ins.iter().map(|i| i.keyword.as_str()).collect();
        assert_eq!(
            kws,
            ["FROM", "RUN", "RUN", "RUN", "COPY", "HEALTHCHECK", "CMD"]
        );
        assert_eq!(
            ins[1]
                .flags
                .iter()
                .map(|f| f.0.as_str())
                .collect::<Vec<_>>(),
            ["--mount=type=cache,target=/root/.cache", "--network=none"]
        );
        let (f, s, e) = &ins[1].flags[1];
        assert_eq!(&src[*s as usize..*e as usize], f);
        assert_eq!(shell_text(&ins[1]), "pip install y");
        assert_eq!(shell_text(&ins[2]), "set -e\nalembic upgrade head\n");
        let t = shell_text(&ins[2]);
        let o = ins[2].offsets[t.find("alembic").unwrap()] as usize;
        assert_eq!(&src[o..o + 7], "alembic");
        assert!(src[ins[2].start as usize..ins[2].end as usize].ends_with("\nEOF"));
        assert_eq!(
            shell_text(&ins[3]),
            "cat <<EOF > /x.sh\nalembic stamp head\nEOF"
        );
        let t = shell_text(&ins[3]);
        for (i, b) in t.bytes().enumerate() {
            assert_eq!(src.as_bytes()[ins[3].offsets[i] as usize], b);
        }
        assert!(matches!(&ins[4].form, Form::Exec(a) if a.len() == 2));
        assert_eq!(ins[4].flags[0].0, "--from=build");
        assert!(matches!(&ins[5].form, Form::Exec(a) if a[0].0 == "curl"));
        assert_eq!(shell_text(&ins[6]), "done");
        // Backtick escape directive.
        let src = "# escape=`\nFROM x\nRUN a `\n    b\n";
        let ins = dockerfile_instructions(src);
        assert_eq!(shell_text(&ins[1]), "a     b");
        // A continuation at the end of the file.
        let ins = dockerfile_instructions("RUN a \\");
        assert_eq!(shell_text(&ins[0]), "a ");
        // Unterminated heredoc.
        let ins = dockerfile_instructions("RUN <<EOF\nalembic upgrade head\n");
        assert_eq!(shell_text(&ins[0]), "alembic upgrade head\n");
        // CRLF.
        let ins = dockerfile_instructions("FROM x\r\nRUN a && \\\r\n  b\r\n");
        assert_eq!(shell_text(&ins[1]), "a &&   b");
    }

    #[test]
    fn json_arrays() {
        assert_eq!(json_string_array("[]"), Some(vec![]));
        assert_eq!(
            json_string_array(" [ \"a\" ] "),
            Some(vec![("a".into(), 4, 5)])
        );
        assert!(json_string_array("[\"a\",]").is_none());
        assert!(json_string_array("[\"a\" \"b\"]").is_none());
        assert!(json_string_array("[1]").is_none());
        assert!(json_string_array("['a']").is_none());
        assert!(json_string_array("[\"a\"] x").is_none());
        assert!(json_string_array("[\"\\x\"]").is_none());
        assert_eq!(
            json_string_array("[\"\\ud83d\\ude00\"]").map(|v| v[0].0.clone()),
            Some("😀".to_string())
        );
    }

    #[test]
    fn fuzz_tokenizer_random_bytes() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet = b"ab $'\"\\`(){}[]<>|&;#\n\t=-!*?@EOF0123";
        for round in 0..5000 {
            let len = (next() % 120) as usize;
            let bytes: Vec<u8> = if round % 2 == 0 {
                (0..len).map(|_| next() as u8).collect()
            } else {
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect()
            };
            let s = String::from_utf8_lossy(&bytes);
            let t = tokenize(&s);
            let n = s.len() as u32;
            let mut prev = 0;
            for tok in &t.tokens {
                assert!(tok.start <= tok.end && tok.end <= n, "{s:?}");
                assert!(
                    tok.start >= prev || matches!(tok.kind, TokenKind::Redirect(_)),
                    "{s:?}"
                );
                prev = tok.start;
                if let TokenKind::Word(w) = &tok.kind {
                    for i in 0..=w.text.len() {
                        assert!(w.offset_of(i) <= n);
                    }
                    for &(a, b) in &w.substitutions {
                        assert!(a <= b && b <= n, "{s:?}");
                        assert!(s.get(a as usize..b as usize).is_some(), "{s:?}");
                    }
                }
            }
            for i in dockerfile_instructions(&s) {
                assert!(i.start <= i.end && i.end <= n);
                if let Form::Shell(text) = &i.form {
                    assert_eq!(i.offsets.len(), text.len() + 1, "{s:?}");
                }
            }
        }
    }
}
