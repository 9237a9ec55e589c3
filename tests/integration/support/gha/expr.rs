//! `${{ }}` expressions, the subset a generated workflow uses, parsed and evaluated with
//! GitHub's rules (docs: "Evaluate expressions in workflows and actions"):
//! - literals `null`, `true`, `false`, numbers, `'strings'` (`''` is a quote);
//! - contexts and property access: `a.b`, `a['b']`, `a[0]`, `a.*.b` (property names are
//!   case-insensitive);
//! - `!`, `<`, `<=`, `>`, `>=`, `==`, `!=`, `&&`, `||` with GitHub's loose equality (values of
//!   different types are compared as numbers, strings case-insensitively) and truthiness
//!   (`&&`/`||` give one of their operands);
//! - `contains`, `startsWith`, `endsWith`, `format`, `join`, `toJSON`, `fromJSON`, and the
//!   status functions `success()`, `failure()`, `always()`, `cancelled()`.
//!
//! Anything else (an unknown context or function, a stray character) is an error, never
//! an empty string, so that a workflow this evaluator misreads fails its test.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as Json;

/// The contexts an expression may name.
const CONTEXTS: [&str; 11] = [
    "github", "env", "vars", "secrets", "inputs", "matrix", "needs", "steps", "job", "runner",
    "strategy",
];

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Literal(Json),
    Context(String),
    Property(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    /// `a.*` or `a[*]`: every element (or property value) of `a`.
    Star(Box<Expr>),
    Not(Box<Expr>),
    Compare(Op, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Call(String, Vec<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// How the steps before this one (or the jobs this one needs) went, for the status
/// functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Success,
    Failure,
    /// A needed job was skipped or cancelled: neither `success()` nor `failure()`.
    Skipped,
}

/// What an expression is evaluated against.
pub struct Scope<'a> {
    /// Every context but `secrets`, by name.
    pub contexts: BTreeMap<&'static str, Json>,
    pub secrets: &'a BTreeMap<String, String>,
    pub status: Status,
    /// The secrets the evaluations read (upper-cased names; `*` for the whole context).
    pub secrets_read: RefCell<BTreeSet<String>>,
}

impl<'a> Scope<'a> {
    pub fn new(secrets: &'a BTreeMap<String, String>) -> Scope<'a> {
        Scope {
            contexts: BTreeMap::new(),
            secrets,
            status: Status::Success,
            secrets_read: RefCell::new(BTreeSet::new()),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Tokens and parsing
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Number(f64),
    Str(String),
    Ident(String),
    Punct(&'static str),
}

const PUNCTS: [&str; 16] = [
    "==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "(", ")", "[", "]", ",", ".", "*",
];

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c.is_whitespace() {
            rest = &rest[c.len_utf8()..];
        } else if c == '\'' {
            let (s, after) =
                string_literal(rest).ok_or_else(|| format!("unterminated string in `{text}`"))?;
            out.push(Token::Str(s));
            rest = after;
        } else if c.is_ascii_digit()
            || (c == '-' && rest[1..].starts_with(|d: char| d.is_ascii_digit()))
        {
            let end = rest[1..]
                .find(|d: char| !(d.is_ascii_alphanumeric() || d == '.' || d == '+' || d == '-'))
                .map_or(rest.len(), |i| i + 1);
            out.push(Token::Number(number(&rest[..end]).ok_or_else(|| {
                format!("bad number `{}` in `{text}`", &rest[..end])
            })?));
            rest = &rest[end..];
        } else if c.is_ascii_alphabetic() || c == '_' {
            let end = rest
                .find(|d: char| !(d.is_ascii_alphanumeric() || d == '_' || d == '-'))
                .unwrap_or(rest.len());
            out.push(Token::Ident(rest[..end].to_string()));
            rest = &rest[end..];
        } else if let Some(p) = PUNCTS.iter().find(|p| rest.starts_with(**p)) {
            out.push(Token::Punct(p));
            rest = &rest[p.len()..];
        } else {
            return Err(format!("unexpected `{c}` in expression `{text}`"));
        }
    }
    Ok(out)
}

/// `'it''s'` at the start of `text`: the string and what follows it.
fn string_literal(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text[1..].char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '\'' {
            value.push(c);
        } else if text[1 + i + 1..].starts_with('\'') {
            value.push('\'');
            chars.next();
        } else {
            return Some((value, &text[1 + i + 1..]));
        }
    }
    None
}

/// A number literal: decimal, exponent or `0x` hexadecimal.
fn number(text: &str) -> Option<f64> {
    if let Some(hex) = text.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok().map(|n| n as f64);
    }
    text.parse::<f64>().ok()
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    text: String,
}

/// Parses one expression (the text between `${{` and `}}`, or an `if:` condition).
pub fn parse(text: &str) -> Result<Expr, String> {
    let mut p = Parser {
        tokens: tokenize(text)?,
        at: 0,
        text: text.to_string(),
    };
    let expr = p.or()?;
    match p.tokens.get(p.at) {
        None => Ok(expr),
        Some(t) => Err(format!("unexpected {t:?} in expression `{text}`")),
    }
}

impl Parser {
    fn peek_punct(&self, p: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Punct(q)) if *q == p)
    }

    fn eat(&mut self, p: &str) -> bool {
        let found = self.peek_punct(p);
        if found {
            self.at += 1;
        }
        found
    }

    fn expect(&mut self, p: &str) -> Result<(), String> {
        if self.eat(p) {
            Ok(())
        } else {
            Err(format!("expected `{p}` in expression `{}`", self.text))
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.eat("||") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.equality()?;
        while self.eat("&&") {
            left = Expr::And(Box::new(left), Box::new(self.equality()?));
        }
        Ok(left)
    }

    fn equality(&mut self) -> Result<Expr, String> {
        let mut left = self.comparison()?;
        loop {
            let op = if self.eat("==") {
                Op::Eq
            } else if self.eat("!=") {
                Op::Ne
            } else {
                return Ok(left);
            };
            left = Expr::Compare(op, Box::new(left), Box::new(self.comparison()?));
        }
    }

    fn comparison(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        loop {
            let op = [("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)]
                .into_iter()
                .find(|(p, _)| self.eat(p));
            let Some((_, op)) = op else {
                return Ok(left);
            };
            left = Expr::Compare(op, Box::new(left), Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat("!") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Expr, String> {
        let mut expr = self.primary()?;
        loop {
            if self.eat(".") {
                expr = if self.eat("*") {
                    Expr::Star(Box::new(expr))
                } else {
                    match self.tokens.get(self.at).cloned() {
                        Some(Token::Ident(name)) => {
                            self.at += 1;
                            Expr::Property(Box::new(expr), name)
                        }
                        _ => return Err(format!("expected a property name in `{}`", self.text)),
                    }
                };
            } else if self.eat("[") {
                expr = if self.eat("*") {
                    Expr::Star(Box::new(expr))
                } else {
                    Expr::Index(Box::new(expr), Box::new(self.or()?))
                };
                self.expect("]")?;
            } else {
                return Ok(expr);
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, String> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        match token {
            Some(Token::Number(n)) => Ok(Expr::Literal(json_number(n))),
            Some(Token::Str(s)) => Ok(Expr::Literal(Json::String(s))),
            Some(Token::Punct("(")) => {
                let inner = self.or()?;
                self.expect(")")?;
                Ok(inner)
            }
            Some(Token::Ident(name)) => self.named(name),
            other => Err(format!(
                "unexpected {other:?} in expression `{}`",
                self.text
            )),
        }
    }

    /// A keyword literal, a function call or a context.
    fn named(&mut self, name: String) -> Result<Expr, String> {
        match name.as_str() {
            "null" => return Ok(Expr::Literal(Json::Null)),
            "true" => return Ok(Expr::Literal(Json::Bool(true))),
            "false" => return Ok(Expr::Literal(Json::Bool(false))),
            _ => {}
        }
        if self.eat("(") {
            let mut args = Vec::new();
            if !self.eat(")") {
                loop {
                    args.push(self.or()?);
                    if self.eat(")") {
                        break;
                    }
                    self.expect(",")?;
                }
            }
            return Ok(Expr::Call(name.to_ascii_lowercase(), args));
        }
        if CONTEXTS.contains(&name.as_str()) {
            Ok(Expr::Context(name))
        } else {
            Err(format!(
                "unrecognized named-value `{name}` in `{}`",
                self.text
            ))
        }
    }
}

fn json_number(n: f64) -> Json {
    if n.fract() == 0.0 && n.abs() < 9e15 {
        Json::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number)
    }
}

/// True when `expr` calls one of the status functions (else GitHub wraps a condition in
/// `success() && (...)`).
pub fn has_status_function(expr: &Expr) -> bool {
    match expr {
        Expr::Call(name, args) => {
            matches!(
                name.as_str(),
                "success" | "failure" | "always" | "cancelled"
            ) || args.iter().any(has_status_function)
        }
        Expr::Literal(_) | Expr::Context(_) => false,
        Expr::Property(e, _) | Expr::Star(e) | Expr::Not(e) => has_status_function(e),
        Expr::Index(a, b) | Expr::Compare(_, a, b) | Expr::And(a, b) | Expr::Or(a, b) => {
            has_status_function(a) || has_status_function(b)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------

/// A value during evaluation: `a.*` gives a filtered array, which property access maps.
enum Val {
    One(Json),
    Filtered(Vec<Json>),
}

impl Val {
    fn json(self) -> Json {
        match self {
            Val::One(j) => j,
            Val::Filtered(items) => Json::Array(items),
        }
    }
}

/// Evaluates `expr` in `scope`.
pub fn eval(expr: &Expr, scope: &Scope) -> Result<Json, String> {
    eval_val(expr, scope).map(Val::json)
}

fn eval_val(expr: &Expr, scope: &Scope) -> Result<Val, String> {
    Ok(Val::One(match expr {
        Expr::Literal(j) => j.clone(),
        Expr::Context(name) => context(name, scope),
        Expr::Property(base, name) => return access(base, &Json::String(name.clone()), scope),
        Expr::Index(base, index) => {
            let index = eval(index, scope)?;
            return access(base, &index, scope);
        }
        Expr::Star(base) => {
            let items = match eval_val(base, scope)? {
                Val::One(Json::Array(items)) => items,
                Val::One(Json::Object(map)) => map.into_iter().map(|(_, v)| v).collect(),
                Val::Filtered(items) => items.into_iter().flat_map(elements).collect(),
                Val::One(_) => Vec::new(),
            };
            return Ok(Val::Filtered(items));
        }
        Expr::Not(e) => Json::Bool(!truthy(&eval(e, scope)?)),
        Expr::Compare(op, a, b) => Json::Bool(compare(*op, &eval(a, scope)?, &eval(b, scope)?)),
        Expr::And(a, b) => {
            let left = eval(a, scope)?;
            if truthy(&left) { eval(b, scope)? } else { left }
        }
        Expr::Or(a, b) => {
            let left = eval(a, scope)?;
            if truthy(&left) { left } else { eval(b, scope)? }
        }
        Expr::Call(name, args) => call(name, args, scope)?,
    }))
}

fn elements(v: Json) -> Vec<Json> {
    match v {
        Json::Array(items) => items,
        Json::Object(map) => map.into_iter().map(|(_, v)| v).collect(),
        _ => Vec::new(),
    }
}

fn context(name: &str, scope: &Scope) -> Json {
    if name == "secrets" {
        scope.secrets_read.borrow_mut().insert("*".into());
        return secrets_json(scope);
    }
    scope
        .contexts
        .get(name)
        .cloned()
        .unwrap_or(Json::Object(Default::default()))
}

fn secrets_json(scope: &Scope) -> Json {
    Json::Object(
        scope
            .secrets
            .iter()
            .map(|(k, v)| (k.clone(), Json::String(v.clone())))
            .collect(),
    )
}

/// `base.name` or `base[index]`; reading `secrets.X` records `X`.
fn access(base: &Expr, index: &Json, scope: &Scope) -> Result<Val, String> {
    if let (Expr::Context(c), Json::String(name)) = (base, index)
        && c == "secrets"
    {
        let name = name.to_ascii_uppercase();
        scope.secrets_read.borrow_mut().insert(name.clone());
        let value = scope
            .secrets
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&name));
        return Ok(Val::One(
            value.map_or(Json::Null, |(_, v)| Json::String(v.clone())),
        ));
    }
    Ok(match eval_val(base, scope)? {
        Val::One(v) => Val::One(index_one(&v, index)),
        Val::Filtered(items) => Val::Filtered(
            items
                .iter()
                .map(|i| index_one(i, index))
                .filter(|v| !v.is_null())
                .collect(),
        ),
    })
}

fn index_one(v: &Json, index: &Json) -> Json {
    match (v, index) {
        (Json::Object(map), Json::String(key)) => map
            .get(key)
            .or_else(|| {
                map.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v)
            })
            .cloned()
            .unwrap_or(Json::Null),
        (Json::Array(items), i) => {
            let n = to_number(i);
            if n.fract() == 0.0 && n >= 0.0 {
                items.get(n as usize).cloned().unwrap_or(Json::Null)
            } else {
                Json::Null
            }
        }
        _ => Json::Null,
    }
}

/// GitHub's truthiness: `false`, `0`, `-0`, `NaN`, `''` and `null` are false.
pub fn truthy(v: &Json) -> bool {
    match v {
        Json::Null => false,
        Json::Bool(b) => *b,
        Json::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Json::String(s) => !s.is_empty(),
        Json::Array(_) | Json::Object(_) => true,
    }
}

/// GitHub's number coercion.
fn to_number(v: &Json) -> f64 {
    match v {
        Json::Null => 0.0,
        Json::Bool(b) => f64::from(u8::from(*b)),
        Json::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Json::String(s) if s.trim().is_empty() => 0.0,
        Json::String(s) => number(s.trim()).unwrap_or(f64::NAN),
        Json::Array(_) | Json::Object(_) => f64::NAN,
    }
}

fn compare(op: Op, a: &Json, b: &Json) -> bool {
    use std::cmp::Ordering;
    let ordering = match (a, b) {
        (Json::String(x), Json::String(y)) => Some(x.to_lowercase().cmp(&y.to_lowercase())),
        (Json::Array(_) | Json::Object(_), _) | (_, Json::Array(_) | Json::Object(_)) => {
            // Only the same instance is equal; a structural copy is the closest we have.
            (a == b).then_some(Ordering::Equal)
        }
        _ => to_number(a).partial_cmp(&to_number(b)),
    };
    match op {
        Op::Eq => ordering == Some(Ordering::Equal),
        Op::Ne => ordering != Some(Ordering::Equal),
        Op::Lt => ordering == Some(Ordering::Less),
        Op::Le => matches!(ordering, Some(Ordering::Less | Ordering::Equal)),
        Op::Gt => ordering == Some(Ordering::Greater),
        Op::Ge => matches!(ordering, Some(Ordering::Greater | Ordering::Equal)),
    }
}

/// A value as GitHub writes it into a string.
pub fn to_string(v: &Json) -> String {
    match v {
        Json::Null => String::new(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9e15 => (f as i64).to_string(),
            _ => n.to_string(),
        },
        Json::String(s) => s.clone(),
        Json::Array(_) => "Array".into(),
        Json::Object(_) => "Object".into(),
    }
}

fn call(name: &str, args: &[Expr], scope: &Scope) -> Result<Json, String> {
    let arity = |lo: usize, hi: usize| {
        if args.len() < lo || args.len() > hi {
            Err(format!(
                "{name}() takes {lo} to {hi} arguments, not {}",
                args.len()
            ))
        } else {
            Ok(())
        }
    };
    match name {
        "success" | "failure" | "always" | "cancelled" => {
            arity(0, 0)?;
            return Ok(Json::Bool(match name {
                "success" => scope.status == Status::Success,
                "failure" => scope.status == Status::Failure,
                "always" => true,
                _ => false,
            }));
        }
        "contains" | "startswith" | "endswith" | "join" => {
            arity(1 + usize::from(name != "join"), 2)?
        }
        "tojson" | "fromjson" => arity(1, 1)?,
        "format" => arity(1, usize::MAX)?,
        _ => return Err(format!("unknown function `{name}()`")),
    }
    let values = args
        .iter()
        .map(|a| eval(a, scope))
        .collect::<Result<Vec<_>, _>>()?;
    function(name, &values)
}

fn function(name: &str, v: &[Json]) -> Result<Json, String> {
    let lower = |j: &Json| to_string(j).to_lowercase();
    Ok(match name {
        "contains" => Json::Bool(match &v[0] {
            Json::Array(items) => items.iter().any(|i| compare(Op::Eq, i, &v[1])),
            other => lower(other).contains(&lower(&v[1])),
        }),
        "startswith" => Json::Bool(lower(&v[0]).starts_with(&lower(&v[1]))),
        "endswith" => Json::Bool(lower(&v[0]).ends_with(&lower(&v[1]))),
        "join" => {
            let sep = v.get(1).map_or(",".to_string(), to_string);
            match &v[0] {
                Json::Array(items) => {
                    Json::String(items.iter().map(to_string).collect::<Vec<_>>().join(&sep))
                }
                other => Json::String(to_string(other)),
            }
        }
        "tojson" => Json::String(serde_json::to_string_pretty(&v[0]).map_err(|e| e.to_string())?),
        "fromjson" => {
            let text = to_string(&v[0]);
            serde_json::from_str(&text).map_err(|e| format!("fromJSON('{text}'): {e}"))?
        }
        "format" => Json::String(format(&to_string(&v[0]), &v[1..])?),
        _ => unreachable!("checked in call"),
    })
}

/// `format('{0} and {1}', a, b)`, with `{{` and `}}` for braces.
fn format(template: &str, args: &[Json]) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("{{") || rest.starts_with("}}") {
            out.push(c);
            rest = &rest[2..];
        } else if c == '{' {
            let end = rest
                .find('}')
                .ok_or_else(|| format!("format: unclosed `{{` in `{template}`"))?;
            let index: usize = rest[1..end]
                .parse()
                .map_err(|_| format!("format: bad placeholder in `{template}`"))?;
            let arg = args
                .get(index)
                .ok_or_else(|| format!("format: no argument {index} for `{template}`"))?;
            out.push_str(&to_string(arg));
            rest = &rest[end + 1..];
        } else if c == '}' {
            return Err(format!("format: stray `}}` in `{template}`"));
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Expressions inside YAML values
// ---------------------------------------------------------------------------------------

/// The pieces of `text`: literal text and the sources of `${{ }}` expressions.
fn pieces(text: &str) -> Result<Vec<(bool, &str)>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push((false, &rest[..start]));
        let body = &rest[start + 3..];
        let end = closing(body).ok_or_else(|| format!("unterminated `${{{{` in `{text}`"))?;
        out.push((true, &body[..end]));
        rest = &body[end + 2..];
    }
    out.push((false, rest));
    Ok(out)
}

/// Where the `}}` that ends an expression is, outside string literals.
fn closing(body: &str) -> Option<usize> {
    let mut quoted = false;
    for (i, c) in body.char_indices() {
        if c == '\'' {
            quoted = !quoted;
        } else if !quoted && body[i..].starts_with("}}") {
            return Some(i);
        }
    }
    None
}

/// A YAML string value with its `${{ }}` expressions evaluated: a value that is one
/// expression keeps its type (a `fromJSON` gives an object), others become strings.
pub fn interpolate(text: &str, scope: &Scope) -> Result<Json, String> {
    let parts = pieces(text)?;
    if let [(false, a), (true, source), (false, b)] = parts.as_slice()
        && a.trim().is_empty()
        && b.trim().is_empty()
    {
        return eval(&parse(source)?, scope);
    }
    let mut out = String::new();
    for (is_expr, piece) in parts {
        if is_expr {
            out.push_str(&to_string(&eval(&parse(piece)?, scope)?));
        } else {
            out.push_str(piece);
        }
    }
    Ok(Json::String(out))
}

/// An `if:` condition (with or without `${{ }}`), evaluated to a boolean; one without a
/// status function means `success() && (condition)`.
pub fn condition(text: &str, scope: &Scope) -> Result<bool, String> {
    let trimmed = text.trim();
    let source = match pieces(trimmed)?.as_slice() {
        [(false, a), (true, source), (false, b)] if a.is_empty() && b.is_empty() => {
            source.to_string()
        }
        [(false, plain)] => plain.to_string(),
        _ => return Err(format!("an `if:` mixes text and expressions: `{text}`")),
    };
    let expr = parse(&source)?;
    if !has_status_function(&expr) && scope.status != Status::Success {
        return Ok(false);
    }
    Ok(truthy(&eval(&expr, scope)?))
}
