//! The search grammar (MLflow's): `name LIKE 'fraud%' AND tags.team = 'risk'`.
//!
//! Parsed into a list of comparisons joined by AND; queries are built from
//! that list with bound parameters, never by pasting text into SQL.

use crate::error::{Error, Result};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `LIKE` (case-sensitive, `%` and `_` wildcards)
    Like,
    /// `ILIKE` (case-insensitive LIKE)
    ILike,
    /// `IN ('a', 'b')`
    In,
    /// `NOT IN ('a', 'b')`
    NotIn,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// The left side of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// A plain attribute such as `name` or `run_id`.
    Attribute(String),
    /// `tags.<key>`
    Tag(String),
}

/// The right side of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A quoted string.
    Text(String),
    /// An unquoted number.
    Number(i64),
    /// A parenthesised list of strings.
    List(Vec<String>),
}

/// One `field op value` term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// What is compared.
    pub field: Field,
    /// How.
    pub op: Op,
    /// With what.
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Backticked(String),
    Number(i64),
    Symbol(&'static str),
    Dot,
    Comma,
    Open,
    Close,
}

fn tokenize(input: &str) -> Result<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(position, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '\'' | '"' | '`' => {
                chars.next();
                let mut text = String::new();
                let mut closed = false;
                while let Some((_, next)) = chars.next() {
                    if next == c {
                        // a doubled quote inside a string stands for itself
                        if chars.peek().map(|&(_, d)| d) == Some(c) && c != '`' {
                            chars.next();
                            text.push(c);
                            continue;
                        }
                        closed = true;
                        break;
                    }
                    text.push(next);
                }
                if !closed {
                    return Err(Error::invalid(format!(
                        "invalid filter: unterminated quote starting at character {}",
                        position + 1
                    )));
                }
                tokens.push(if c == '`' {
                    Token::Backticked(text)
                } else {
                    Token::Quoted(text)
                });
            }
            '.' => {
                chars.next();
                tokens.push(Token::Dot);
            }
            ',' => {
                chars.next();
                tokens.push(Token::Comma);
            }
            '(' => {
                chars.next();
                tokens.push(Token::Open);
            }
            ')' => {
                chars.next();
                tokens.push(Token::Close);
            }
            '=' | '!' | '<' | '>' => {
                chars.next();
                let next = chars.peek().map(|&(_, d)| d);
                let symbol = match (c, next) {
                    ('=', Some('=')) => Some("="),
                    ('=', _) => {
                        tokens.push(Token::Symbol("="));
                        continue;
                    }
                    ('!', Some('=')) | ('<', Some('>')) => Some("!="),
                    ('<', Some('=')) => Some("<="),
                    ('>', Some('=')) => Some(">="),
                    ('<', _) => {
                        tokens.push(Token::Symbol("<"));
                        continue;
                    }
                    ('>', _) => {
                        tokens.push(Token::Symbol(">"));
                        continue;
                    }
                    _ => None,
                };
                let Some(symbol) = symbol else {
                    return Err(Error::invalid(format!(
                        "invalid filter: unexpected '{c}' at character {}",
                        position + 1
                    )));
                };
                chars.next();
                tokens.push(Token::Symbol(symbol));
            }
            c if c.is_ascii_digit() || c == '-' => {
                let mut text = String::new();
                while let Some(&(_, d)) = chars.peek() {
                    if d.is_ascii_digit() || (d == '-' && text.is_empty()) {
                        text.push(d);
                        chars.next();
                    } else {
                        break;
                    }
                }
                let number = text.parse::<i64>().map_err(|_| {
                    Error::invalid(format!(
                        "invalid filter: bad number '{text}' at character {}",
                        position + 1
                    ))
                })?;
                tokens.push(Token::Number(number));
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut text = String::new();
                while let Some(&(_, d)) = chars.peek() {
                    if d.is_alphanumeric() || d == '_' || d == '-' {
                        text.push(d);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Word(text));
            }
            other => {
                return Err(Error::invalid(format!(
                    "invalid filter: unexpected '{}' at character {}",
                    other.escape_debug(),
                    position + 1
                )));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn field(&mut self) -> Result<Field> {
        let first = match self.next() {
            Some(Token::Word(word)) => word,
            Some(Token::Backticked(word)) | Some(Token::Quoted(word)) => word,
            other => {
                return Err(Error::invalid(format!(
                    "invalid filter: expected an attribute name, found {}",
                    describe(other.as_ref())
                )));
            }
        };
        if self.peek() != Some(&Token::Dot) {
            return Ok(Field::Attribute(first));
        }
        self.next();
        let key = match self.next() {
            Some(Token::Word(key)) | Some(Token::Backticked(key)) | Some(Token::Quoted(key)) => key,
            other => {
                return Err(Error::invalid(format!(
                    "invalid filter: expected a key after '{first}.', found {}",
                    describe(other.as_ref())
                )));
            }
        };
        match first.to_ascii_lowercase().as_str() {
            "tags" | "tag" => Ok(Field::Tag(key)),
            "attributes" | "attribute" | "attr" => Ok(Field::Attribute(key)),
            _ => Err(Error::invalid(format!(
                "invalid filter: unknown entity '{first}' (expected tags.<key> or an attribute)"
            ))),
        }
    }

    fn op(&mut self) -> Result<Op> {
        match self.next() {
            Some(Token::Symbol("=")) => Ok(Op::Eq),
            Some(Token::Symbol("!=")) => Ok(Op::Ne),
            Some(Token::Symbol("<")) => Ok(Op::Lt),
            Some(Token::Symbol("<=")) => Ok(Op::Le),
            Some(Token::Symbol(">")) => Ok(Op::Gt),
            Some(Token::Symbol(">=")) => Ok(Op::Ge),
            Some(Token::Word(word)) => match word.to_ascii_uppercase().as_str() {
                "LIKE" => Ok(Op::Like),
                "ILIKE" => Ok(Op::ILike),
                "IN" => Ok(Op::In),
                "NOT" => match self.next() {
                    Some(Token::Word(w)) if w.eq_ignore_ascii_case("IN") => Ok(Op::NotIn),
                    other => Err(Error::invalid(format!(
                        "invalid filter: expected IN after NOT, found {}",
                        describe(other.as_ref())
                    ))),
                },
                _ => Err(Error::invalid(format!(
                    "invalid filter: unknown operator '{word}' (expected =, !=, LIKE, ILIKE, IN)"
                ))),
            },
            other => Err(Error::invalid(format!(
                "invalid filter: expected an operator, found {}",
                describe(other.as_ref())
            ))),
        }
    }

    fn value(&mut self, op: Op) -> Result<Value> {
        if matches!(op, Op::In | Op::NotIn) {
            if self.next() != Some(Token::Open) {
                return Err(Error::invalid(
                    "invalid filter: IN needs a parenthesised list of quoted strings",
                ));
            }
            let mut items = Vec::new();
            loop {
                match self.next() {
                    Some(Token::Quoted(text)) => items.push(text),
                    Some(Token::Number(n)) => items.push(n.to_string()),
                    other => {
                        return Err(Error::invalid(format!(
                            "invalid filter: expected a quoted string in the IN list, found {}",
                            describe(other.as_ref())
                        )));
                    }
                }
                match self.next() {
                    Some(Token::Comma) => continue,
                    Some(Token::Close) => break,
                    other => {
                        return Err(Error::invalid(format!(
                            "invalid filter: expected ',' or ')' in the IN list, found {}",
                            describe(other.as_ref())
                        )));
                    }
                }
            }
            return Ok(Value::List(items));
        }
        match self.next() {
            Some(Token::Quoted(text)) => Ok(Value::Text(text)),
            Some(Token::Number(number)) => Ok(Value::Number(number)),
            other => Err(Error::invalid(format!(
                "invalid filter: expected a quoted value, found {}",
                describe(other.as_ref())
            ))),
        }
    }
}

fn describe(token: Option<&Token>) -> String {
    match token {
        None => "the end of the filter".to_owned(),
        Some(Token::Word(w)) => format!("'{w}'"),
        Some(Token::Quoted(q)) => format!("the string '{q}'"),
        Some(Token::Backticked(b)) => format!("`{b}`"),
        Some(Token::Number(n)) => format!("the number {n}"),
        Some(Token::Symbol(s)) => format!("'{s}'"),
        Some(Token::Dot) => "'.'".to_owned(),
        Some(Token::Comma) => "','".to_owned(),
        Some(Token::Open) => "'('".to_owned(),
        Some(Token::Close) => "')'".to_owned(),
    }
}

/// The longest filter accepted, in bytes.
pub const MAX_FILTER_BYTES: usize = 8192;
/// The most comparisons one filter may join.
pub const MAX_COMPARISONS: usize = 50;

/// Parses a filter; an empty or blank filter is no comparisons.
pub fn parse(input: &str) -> Result<Vec<Comparison>> {
    if input.contains('\0') {
        return Err(Error::invalid(
            "invalid filter: NUL characters are not allowed",
        ));
    }
    if input.len() > MAX_FILTER_BYTES {
        return Err(Error::invalid(format!(
            "invalid filter: longer than {MAX_FILTER_BYTES} bytes"
        )));
    }
    let tokens = tokenize(input)?;
    let mut parser = Parser { tokens, at: 0 };
    let mut comparisons = Vec::new();
    if parser.peek().is_none() {
        return Ok(comparisons);
    }
    loop {
        let field = parser.field()?;
        let op = parser.op()?;
        let value = parser.value(op)?;
        comparisons.push(Comparison { field, op, value });
        if comparisons.len() > MAX_COMPARISONS {
            return Err(Error::invalid(format!(
                "invalid filter: more than {MAX_COMPARISONS} comparisons"
            )));
        }
        match parser.next() {
            None => break,
            Some(Token::Word(word)) if word.eq_ignore_ascii_case("AND") => {}
            Some(Token::Word(word)) if word.eq_ignore_ascii_case("OR") => {
                return Err(Error::invalid(
                    "invalid filter: OR is not supported; join comparisons with AND",
                ));
            }
            other => {
                return Err(Error::invalid(format!(
                    "invalid filter: expected AND or the end, found {}",
                    describe(other.as_ref())
                )));
            }
        }
    }
    Ok(comparisons)
}

impl Comparison {
    /// The value as text for string comparisons (`=`, `!=`, `LIKE`, `ILIKE`).
    pub fn text(&self) -> Result<&str> {
        match &self.value {
            Value::Text(text) => Ok(text),
            _ => Err(Error::invalid(format!(
                "invalid filter: {} needs a quoted string value",
                self.describe_field()
            ))),
        }
    }

    /// A readable name of the field for messages.
    pub fn describe_field(&self) -> String {
        match &self.field {
            Field::Attribute(name) => name.clone(),
            Field::Tag(key) => format!("tags.{key}"),
        }
    }
}

/// The tag that marks an MLflow prompt (a registered model that holds a
/// prompt, not a model).
pub const PROMPT_TAG: &str = "mlflow.prompt.is_prompt";

/// MLflow's server's reading of the prompt tag in a search: a filter that
/// asks for prompts (`tags.`mlflow.prompt.is_prompt` = 'true'` or `!= 'false'`)
/// is kept as it is; otherwise every comparison on that tag is dropped and
/// prompts are left out (the `true` answer), whatever else the filter says.
pub fn without_prompts(filter: Vec<Comparison>) -> (Vec<Comparison>, bool) {
    let asks_for_prompts = filter
        .iter()
        .find(|c| matches!(&c.field, Field::Tag(key) if key == PROMPT_TAG))
        .is_some_and(|c| match (&c.op, &c.value) {
            (Op::Eq, Value::Text(v)) => v.eq_ignore_ascii_case("true"),
            (Op::Ne, Value::Text(v)) => v.eq_ignore_ascii_case("false"),
            _ => false,
        });
    if asks_for_prompts {
        return (filter, false);
    }
    let kept = filter
        .into_iter()
        .filter(|c| !matches!(&c.field, Field::Tag(key) if key == PROMPT_TAG))
        .collect();
    (kept, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_tags_and_operators() {
        let parsed = parse("name LIKE 'fraud%' AND tags.team = \"risk\" and tags.`my key` != 'x'")
            .unwrap_or_default();
        assert_eq!(
            parsed,
            vec![
                Comparison {
                    field: Field::Attribute("name".into()),
                    op: Op::Like,
                    value: Value::Text("fraud%".into())
                },
                Comparison {
                    field: Field::Tag("team".into()),
                    op: Op::Eq,
                    value: Value::Text("risk".into())
                },
                Comparison {
                    field: Field::Tag("my key".into()),
                    op: Op::Ne,
                    value: Value::Text("x".into())
                },
            ]
        );
        let parsed = parse("run_id IN ('a', 'b') AND version_number >= 3").unwrap_or_default();
        assert_eq!(parsed[0].value, Value::List(vec!["a".into(), "b".into()]));
        assert_eq!(parsed[1].op, Op::Ge);
        assert_eq!(parse("  ").unwrap_or_default(), vec![]);
        assert_eq!(
            parse("name = 'it''s'").unwrap_or_default()[0].value,
            Value::Text("it's".into())
        );
    }

    #[test]
    fn bad_filters_say_what_is_wrong() {
        for (input, expected) in [
            ("name = 'x", "unterminated"),
            ("name ~ 'x'", "unexpected"),
            ("name = 'x' OR name = 'y'", "OR"),
            ("name", "operator"),
            ("name =", "value"),
            ("foo.bar = 'x'", "unknown entity"),
            ("name LIKES 'x'", "unknown operator"),
            ("name = 'x' name = 'y'", "AND"),
            ("name = 'a\0b'", "NUL"),
            (&"name != 'a' AND ".repeat(60), "more than 50"),
        ] {
            let message = parse(input)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(message.contains(expected), "{input}: {message}");
        }
    }

    #[test]
    fn prompts_are_left_out_unless_the_filter_asks_for_them() {
        let parsed = |text: &str| parse(text).unwrap_or_default();
        let (kept, exclude) = without_prompts(parsed(
            "name = 'a' AND tags.`mlflow.prompt.is_prompt` != 'true'",
        ));
        assert!(exclude);
        assert_eq!(kept, parsed("name = 'a'"));
        let (kept, exclude) = without_prompts(parsed("name = 'a'"));
        assert!(exclude);
        assert_eq!(kept, parsed("name = 'a'"));
        for asks in [
            "tags.`mlflow.prompt.is_prompt` = 'true'",
            "tags.`mlflow.prompt.is_prompt` != 'FALSE'",
        ] {
            let (kept, exclude) = without_prompts(parsed(asks));
            assert!(!exclude, "{asks}");
            assert_eq!(kept, parsed(asks));
        }
    }
}
