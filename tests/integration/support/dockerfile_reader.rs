//! A Dockerfile reader for tests: generated Dockerfile text in, the instructions and the
//! values BuildKit would see out.
//!
//! It follows BuildKit's own parser (`frontend/dockerfile/parser` and `shell/lex.go`), in
//! the parts specc's output uses, closely enough to catch every way a value can change
//! meaning on its way through a Dockerfile:
//!
//! * lines: `#` comments (also in the middle of a continued instruction, where BuildKit
//!   drops them), `\` line continuations, heredocs (`<<EOF` in RUN/COPY/ADD would swallow
//!   the following lines: reported as an error);
//! * `splitCommand` and `extractBuilderFlags` (the `--flag=value` words, byte by byte as
//!   BuildKit does, so non-ASCII flag values come out mangled the way BuildKit mangles them);
//! * per instruction: JSON arrays (a prefix decode, as Go's `json.Decoder` does), ENV/LABEL
//!   `name=value` words, whitespace-delimited lists, plain strings, HEALTHCHECK;
//! * [`expand`]: the shell lexer applied to ENV, LABEL, ARG, COPY, ADD, VOLUME, WORKDIR
//!   and USER values (quotes removed, backslash escapes, `$VAR` expansion). A value that
//!   would expand a variable is an error: specc's values must reach the image literally.

use std::fmt;

/// One instruction as BuildKit's parser sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// Upper case, e.g. `RUN`.
    pub keyword: String,
    /// `--name=value` flags, without the leading `--`.
    pub flags: Vec<String>,
    pub args: Args,
    /// 1-based line of the instruction's first line.
    pub line: usize,
}

/// The arguments of an instruction, before variable expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Args {
    /// A JSON array (exec form, or the JSON form of COPY/ADD/VOLUME).
    Json(Vec<String>),
    /// The shell form of RUN/CMD/ENTRYPOINT/SHELL, or the text of WORKDIR/USER.
    Text(String),
    /// Whitespace-delimited words (COPY/ADD/VOLUME without JSON, FROM, EXPOSE, ARG).
    Words(Vec<String>),
    /// ENV and LABEL: raw `key`, raw `value` (quotes still in place).
    Pairs(Vec<(String, String)>),
    /// HEALTHCHECK: the type (`CMD` or `NONE`) and its command.
    Health(String, Box<Args>),
    /// Nothing after the keyword.
    Empty,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError(pub String);

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, ReadError> {
    Err(ReadError(msg.into()))
}

/// The lexer's error for a statement that ends inside a quote or `${`.
fn unterminated<T>(looking_for: &str) -> Result<T, ReadError> {
    err(format!(
        "unexpected end of statement while looking for matching {looking_for}"
    ))
}

/// Go's `unicode.IsSpace`.
fn go_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{85}' | '\u{a0}'
    ) || (c > '\u{ff}' && c.is_whitespace())
}

/// `[\t\v\f\r ]`
fn token_space(c: char) -> bool {
    matches!(c, '\t' | '\u{b}' | '\u{c}' | '\r' | ' ')
}

fn is_comment(line: &str) -> bool {
    line.trim_end_matches(['\r', '\n'])
        .trim_start_matches(go_space)
        .starts_with('#')
}

/// The line-continuation rule: a line whose last character (before spaces and tabs) is
/// the escape character `\` continues on the next line. The rule is applied to the raw
/// line, before any lexing, whatever quotes or escapes it is in: the classic builder and
/// Docker's older parsers (`\\[ \t]*$`) join `WORKDIR /a\\` with the next line, and
/// BuildKit's own regex (`([^\\])\\[ \t]*$`) differs only for a run of backslashes, so
/// a generated line must not end in `\` at all unless it means to continue.
fn trim_continuation(line: &str) -> (String, bool) {
    let body = line.trim_end_matches([' ', '\t']);
    if let Some(before) = body.strip_suffix('\\') {
        return (before.to_string(), false);
    }
    (line.to_string(), true)
}

/// Reads a whole Dockerfile.
pub fn parse(text: &str) -> Result<Vec<Instruction>, ReadError> {
    // Go's bufio scanner with line endings kept; processLine trims `\r\n` on the right.
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let raw = lines[i];
        i += 1;
        let start = i;
        let mut first = raw.trim_end_matches(['\r', '\n']);
        if start == 1 {
            first = first.strip_prefix('\u{feff}').unwrap_or(first);
        }
        let first = first.trim_start_matches(go_space);
        if first.starts_with('#') {
            continue;
        }
        let (mut line, mut end) = trim_continuation(first);
        if end && line.is_empty() {
            continue;
        }
        while !end && i < lines.len() {
            let next = lines[i];
            i += 1;
            if is_comment(next) {
                continue;
            }
            let body = next.trim_end_matches(['\r', '\n']);
            if body.trim_start_matches(go_space).is_empty() {
                continue;
            }
            let (more, e) = trim_continuation(body);
            line.push_str(&more);
            end = e;
        }
        let ins = instruction(&line, start)?;
        let json = matches!(ins.args, Args::Json(_));
        if ["RUN", "COPY", "ADD"].contains(&ins.keyword.as_str()) && !json {
            let words = Lexer::raw(&line).words().unwrap_or_default();
            if let Some(w) = words.iter().find(|w| heredoc(w)) {
                return err(format!(
                    "line {start}: `{w}` starts a heredoc, which swallows the following lines"
                ));
            }
        }
        out.push(ins);
    }
    Ok(out)
}

/// `^(\d*)<<(-?)([^<]*)$` with a non-empty name.
fn heredoc(word: &str) -> bool {
    let rest = word.trim_start_matches(|c: char| c.is_ascii_digit());
    let Some(rest) = rest.strip_prefix("<<") else {
        return false;
    };
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    !rest.is_empty() && !rest.contains('<')
}

fn instruction(line: &str, number: usize) -> Result<Instruction, ReadError> {
    let trimmed = line.trim_matches(go_space);
    let (cmd, rest) = match trimmed.find(token_space) {
        Some(p) => (&trimmed[..p], trimmed[p..].trim_start_matches(token_space)),
        None => (trimmed, ""),
    };
    let keyword = cmd.to_ascii_uppercase();
    let (args, flags) = if rest.is_empty() && !trimmed.contains(token_space) {
        (String::new(), Vec::new())
    } else {
        extract_builder_flags(rest)
    };
    let args = args.trim_matches(go_space).to_string();
    let at = |e: ReadError| ReadError(format!("line {number}: {keyword}: {}", e.0));
    let args = match keyword.as_str() {
        "RUN" | "CMD" | "ENTRYPOINT" | "SHELL" => maybe_json(&args).map_err(at)?,
        "COPY" | "ADD" | "VOLUME" => match json(&args) {
            Ok(Some(list)) => Args::Json(list),
            Ok(None) => Args::Words(whitespace_words(&args)),
            Err(e) => return Err(at(e)),
        },
        "ENV" | "LABEL" => Args::Pairs(name_values(&args).map_err(at)?),
        "ARG" => Args::Words(parse_words(&args)),
        "FROM" | "EXPOSE" => Args::Words(whitespace_words(&args)),
        "WORKDIR" | "USER" | "STOPSIGNAL" | "MAINTAINER" => {
            if args.is_empty() {
                Args::Empty
            } else {
                Args::Text(args)
            }
        }
        "HEALTHCHECK" => {
            let bytes = args.as_bytes();
            let sep = bytes
                .iter()
                .position(|&b| go_space(b as char))
                .unwrap_or(bytes.len());
            let next = bytes[sep..]
                .iter()
                .position(|&b| !go_space(b as char))
                .map_or(bytes.len(), |p| sep + p);
            if sep == 0 {
                Args::Empty
            } else {
                let kind = String::from_utf8_lossy(&bytes[..sep]).into_owned();
                let cmd = maybe_json(&String::from_utf8_lossy(&bytes[next..])).map_err(at)?;
                Args::Health(kind, Box::new(cmd))
            }
        }
        other => return err(format!("line {number}: unknown instruction `{other}`")),
    };
    Ok(Instruction {
        keyword,
        flags,
        args,
        line: number,
    })
}

/// `extractBuilderFlags`: byte-oriented, as in BuildKit (a byte is taken as the code point
/// of the same value, and bytes 0x85/0xA0 count as white space).
fn extract_builder_flags(line: &str) -> (String, Vec<String>) {
    let b = line.as_bytes();
    let space = |x: u8| go_space(x as char);
    let rest = |pos: usize| String::from_utf8_lossy(&b[pos..]).into_owned();
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let flags = |words: Vec<String>| -> Vec<String> {
        words
            .into_iter()
            .map(|w| w.strip_prefix("--").map(str::to_string).unwrap_or(w))
            .collect()
    };
    let mut words: Vec<String> = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut quote = 0u8;
    let mut blank_ok = false;
    let mut parsing_flag_arg = false;
    let mut need_flag_arg = true;
    let mut pos = 0;
    while pos <= b.len() {
        let ch = if pos < b.len() { b[pos] } else { 0 };
        if phase == Phase::Spaces {
            if pos == b.len() {
                break;
            }
            if space(ch) {
                pos += 1;
                continue;
            }
            if !parsing_flag_arg && (ch != b'-' || pos + 1 == b.len() || b[pos + 1] != b'-') {
                return (rest(pos), flags(words));
            }
            phase = Phase::Word;
        }
        if phase != Phase::Spaces && pos == b.len() {
            if word != "--" && (blank_ok || !word.is_empty()) {
                words.push(word.clone());
            }
            break;
        }
        if phase == Phase::Word {
            if space(ch) {
                phase = Phase::Spaces;
                if parsing_flag_arg {
                    if let Some(last) = words.last_mut() {
                        last.push('=');
                        last.push_str(&word);
                    }
                    parsing_flag_arg = false;
                    need_flag_arg = true;
                } else {
                    if word == "--" {
                        return (rest(pos), flags(words));
                    }
                    if blank_ok || !word.is_empty() {
                        if need_flag_arg {
                            parsing_flag_arg = true;
                        }
                        words.push(word.clone());
                    }
                }
                word.clear();
                blank_ok = false;
                pos += 1;
                continue;
            }
            if ch == b'=' && need_flag_arg {
                need_flag_arg = false;
            }
            if ch == b'\'' || ch == b'"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
                pos += 1;
                continue;
            }
            let mut c = ch;
            if ch == b'\\' {
                if pos + 1 == b.len() {
                    pos += 1;
                    continue;
                }
                pos += 1;
                c = b[pos];
            }
            word.push(c as char);
            pos += 1;
            continue;
        }
        // In quotes.
        if ch == quote {
            phase = Phase::Word;
            pos += 1;
            continue;
        }
        let mut c = ch;
        if ch == b'\\' {
            if pos + 1 == b.len() {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            c = b[pos];
        }
        word.push(c as char);
        pos += 1;
    }
    (String::new(), flags(words))
}

/// `parseJSON`: `Ok(None)` when the text is not a JSON array, an error when it is an
/// array of something other than strings. Like Go's `json.Decoder`, only the first JSON
/// value is read; anything after it is ignored.
fn json(text: &str) -> Result<Option<Vec<String>>, ReadError> {
    use serde::Deserialize;
    let t = text.trim_start_matches(go_space);
    if !t.starts_with('[') {
        return Ok(None);
    }
    let mut de = serde_json::Deserializer::from_str(t);
    let Ok(values) = Vec::<serde_json::Value>::deserialize(&mut de) else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for v in values {
        match v {
            serde_json::Value::String(s) => out.push(s),
            _ => {
                return err(
                    "when using JSON array syntax, arrays must be comprised of strings only",
                );
            }
        }
    }
    Ok(Some(out))
}

fn maybe_json(text: &str) -> Result<Args, ReadError> {
    if text.is_empty() {
        return Ok(Args::Empty);
    }
    Ok(match json(text)? {
        Some(list) => Args::Json(list),
        None => Args::Text(text.to_string()),
    })
}

fn whitespace_words(text: &str) -> Vec<String> {
    if text.is_empty() {
        return Vec::new();
    }
    text.split(token_space)
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// `parseWords`: space-delimited words, quotes and escapes kept in place.
fn parse_words(rest: &str) -> Vec<String> {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let chars: Vec<char> = rest.chars().collect();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut pos = 0;
    while pos <= chars.len() {
        let ch = chars.get(pos).copied().unwrap_or('\0');
        if phase == Phase::Spaces {
            if pos == chars.len() {
                break;
            }
            if go_space(ch) {
                pos += 1;
                continue;
            }
            phase = Phase::Word;
        }
        if pos == chars.len() {
            if blank_ok || !word.is_empty() {
                words.push(word.clone());
            }
            break;
        }
        if phase == Phase::Word {
            if go_space(ch) {
                phase = Phase::Spaces;
                if blank_ok || !word.is_empty() {
                    words.push(word.clone());
                }
                word.clear();
                blank_ok = false;
                pos += 1;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
            }
            let mut c = ch;
            if ch == '\\' {
                if pos + 1 == chars.len() {
                    pos += 1;
                    continue;
                }
                word.push(ch);
                pos += 1;
                c = chars[pos];
            }
            word.push(c);
            pos += 1;
            continue;
        }
        if ch == quote {
            phase = Phase::Word;
        }
        let mut c = ch;
        if ch == '\\' && quote != '\'' {
            if pos + 1 == chars.len() {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            word.push(ch);
            c = chars[pos];
        }
        word.push(c);
        pos += 1;
    }
    words
}

/// `parseNameVal` in its `name=value` form (the only one specc writes).
fn name_values(rest: &str) -> Result<Vec<(String, String)>, ReadError> {
    let words = parse_words(rest);
    if words.is_empty() {
        return err("no arguments");
    }
    if !words[0].contains('=') {
        return err(format!("old `KEY value` form: {rest:?}"));
    }
    words
        .iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => err(format!("can't find = in {w:?}")),
        })
        .collect()
}

/// The value BuildKit makes of `word` in ENV, LABEL, ARG, COPY, ADD, VOLUME, WORKDIR and
/// USER: quotes removed, escapes applied. Any variable reference is an error (specc's
/// values are literal unless the spec asks for expansion).
pub fn expand(word: &str) -> Result<String, ReadError> {
    let mut lex = Lexer::expand(word);
    let (result, _) = lex.process_stop_on(None, false)?;
    if let Some(v) = lex.referenced.first() {
        return err(format!("{word:?} would expand the variable `{v}`"));
    }
    Ok(result)
}

/// BuildKit's shell lexer (`frontend/dockerfile/shell/lex.go`).
struct Lexer {
    chars: Vec<char>,
    pos: usize,
    raw_quotes: bool,
    raw_escapes: bool,
    skip_unset: bool,
    referenced: Vec<String>,
}

impl Lexer {
    fn new(word: &str) -> Self {
        let mut chars: Vec<char> = word.chars().collect();
        // text/scanner skips a byte-order mark at the very start.
        if chars.first() == Some(&'\u{feff}') {
            chars.remove(0);
        }
        Lexer {
            chars,
            pos: 0,
            raw_quotes: false,
            raw_escapes: false,
            skip_unset: false,
            referenced: Vec::new(),
        }
    }

    fn expand(word: &str) -> Self {
        Lexer::new(word)
    }

    /// The mode BuildKit uses to find heredocs in a line.
    fn raw(line: &str) -> Self {
        Lexer {
            raw_quotes: true,
            raw_escapes: true,
            skip_unset: true,
            ..Lexer::new(line)
        }
    }

    fn words(&mut self) -> Result<Vec<String>, ReadError> {
        let raw = self.raw_escapes;
        self.process_stop_on(None, raw).map(|(_, w)| w)
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn process_stop_on(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), ReadError> {
        let saved = self.raw_escapes;
        self.raw_escapes = raw_escapes;
        let r = self.stop_on(stop);
        self.raw_escapes = saved;
        r
    }

    fn stop_on(&mut self, stop: Option<char>) -> Result<(String, Vec<String>), ReadError> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(ch) = self.peek() {
            if Some(ch) == stop {
                self.next();
                return Ok((result, words.finish()));
            }
            match ch {
                '$' => {
                    let tmp = self.dollar()?;
                    result.push_str(&tmp);
                    words.add_string(&tmp);
                }
                '\'' => {
                    let tmp = self.single_quote()?;
                    result.push_str(&tmp);
                    words.add_raw_string(&tmp);
                }
                '"' => {
                    let tmp = self.double_quote()?;
                    result.push_str(&tmp);
                    words.add_raw_string(&tmp);
                }
                _ => {
                    let mut ch = self.next().expect("peeked");
                    if ch == '\\' {
                        if self.raw_escapes {
                            words.add_raw_char(ch);
                            result.push(ch);
                        }
                        match self.next() {
                            None => break,
                            Some(c) => ch = c,
                        }
                        words.add_raw_char(ch);
                    } else {
                        words.add_char(ch);
                    }
                    result.push(ch);
                }
            }
        }
        if let Some(s) = stop {
            return unterminated(&s.to_string());
        }
        Ok((result, words.finish()))
    }

    /// Takes the quote at the cursor: the start of the result in raw-quotes mode, else
    /// dropped.
    fn take_quote(&mut self, result: &mut String) {
        let quote = self.next().expect("a quote");
        if self.raw_quotes {
            result.push(quote);
        }
    }

    fn single_quote(&mut self) -> Result<String, ReadError> {
        let mut result = String::new();
        self.take_quote(&mut result);
        loop {
            match self.peek() {
                None => return unterminated("single-quote"),
                Some('\'') => {
                    self.take_quote(&mut result);
                    return Ok(result);
                }
                Some(c) => {
                    self.next();
                    result.push(c);
                }
            }
        }
    }

    fn double_quote(&mut self) -> Result<String, ReadError> {
        let mut result = String::new();
        self.take_quote(&mut result);
        loop {
            match self.peek() {
                None => return unterminated("double-quote"),
                Some('"') => {
                    self.take_quote(&mut result);
                    return Ok(result);
                }
                Some('$') => {
                    let v = self.dollar()?;
                    result.push_str(&v);
                }
                Some(_) => {
                    let mut ch = self.next().expect("peeked");
                    if ch == '\\' {
                        if self.raw_escapes {
                            result.push(ch);
                        }
                        match self.peek() {
                            None => continue,
                            Some('"' | '$' | '\\') => ch = self.next().expect("peeked"),
                            Some(_) => {}
                        }
                    }
                    result.push(ch);
                }
            }
        }
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && ch.is_numeric() {
                while let Some(d) = self.peek().filter(|c| c.is_numeric()) {
                    self.next();
                    name.push(d);
                }
                return name;
            }
            if name.is_empty() && "@*#?-$!0".contains(ch) {
                self.next();
                return ch.to_string();
            }
            if !ch.is_alphanumeric() && ch != '_' {
                break;
            }
            self.next();
            name.push(ch);
        }
        name
    }

    fn reference(&mut self, name: &str) {
        self.referenced.push(name.to_string());
    }

    fn dollar(&mut self) -> Result<String, ReadError> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            self.reference(&name);
            return Ok(if self.skip_unset {
                format!("${name}")
            } else {
                String::new()
            });
        }
        self.next();
        match self.peek() {
            None => return err("syntax error: missing '}'"),
            Some('{' | '}' | ':') => return err("syntax error: bad substitution"),
            _ => {}
        }
        let name = self.name();
        self.reference(&name);
        let Some(ch) = self.next() else {
            return err("syntax error: missing '}'");
        };
        let mut modifier = ch.to_string();
        match ch {
            '}' => Ok(if self.skip_unset {
                format!("${{{name}}}")
            } else {
                String::new()
            }),
            ':' | '+' | '-' | '?' | '#' | '%' => {
                let mut m = ch;
                let null_is_unset = ch == ':';
                if null_is_unset {
                    m = self.next().unwrap_or('\0');
                    modifier.push(m);
                }
                let raw = m == '#' || m == '%';
                if null_is_unset && raw {
                    return err(format!("unsupported modifier ({modifier}) in substitution"));
                }
                let (word, _) = match self.process_stop_on(Some('}'), raw) {
                    Ok(w) => w,
                    Err(e) if self.peek().is_none() => {
                        return err(format!("syntax error: missing '}}' ({e})"));
                    }
                    Err(e) => return Err(e),
                };
                if self.skip_unset {
                    return Ok(format!("${{{name}{modifier}{word}}}"));
                }
                match m {
                    '-' => Ok(word),
                    '+' | '#' | '%' => Ok(String::new()),
                    '?' => err(format!("{name}: is not allowed to be unset")),
                    _ => err(format!("unsupported modifier ({modifier}) in substitution")),
                }
            }
            '/' => {
                if self.peek() == Some('/') {
                    self.next();
                }
                let (pattern, _) = self.process_stop_on(Some('/'), true)?;
                let (replacement, _) = self.process_stop_on(Some('}'), true)?;
                Ok(if self.skip_unset {
                    format!("${{{name}/{pattern}/{replacement}}}")
                } else {
                    String::new()
                })
            }
            _ => err(format!("unsupported modifier ({modifier}) in substitution")),
        }
    }
}

/// Word splitting of the lexer (`wordsStruct`).
#[derive(Default)]
struct Words {
    buf: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, ch: char) {
        if go_space(ch) {
            if self.in_word && !self.buf.is_empty() {
                self.words.push(std::mem::take(&mut self.buf));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(ch);
        }
    }

    fn add_raw_char(&mut self, ch: char) {
        self.buf.push(ch);
        self.in_word = true;
    }

    fn add_string(&mut self, s: &str) {
        for c in s.chars() {
            self.add_char(c);
        }
    }

    fn add_raw_string(&mut self, s: &str) {
        self.buf.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.buf.is_empty() {
            self.words.push(std::mem::take(&mut self.buf));
        }
        self.words
    }
}
