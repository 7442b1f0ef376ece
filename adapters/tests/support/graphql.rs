//! Just enough GraphQL for the Shopify fake to read what a client sends the way a real
//! GraphQL server would: one operation, its variable definitions, and a tree of fields
//! with arguments, aliases and directives. Anything else (fragments, several operations,
//! block strings) is refused, so a client that relies on it fails here first.

use serde_json::{Map, Value};

/// `query` or `mutation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Query,
    Mutation,
}

/// The one operation of a document.
#[derive(Debug, Clone)]
pub(crate) struct Operation {
    pub(crate) kind: Kind,
    pub(crate) name: Option<String>,
    /// `$name: Type` in order; the type as written (`[ProductVariantsBulkInput!]!`).
    pub(crate) variables: Vec<(String, String, Option<Literal>)>,
    pub(crate) selection: Vec<Field>,
}

/// A field with what was written on it.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub(crate) alias: Option<String>,
    pub(crate) name: String,
    pub(crate) arguments: Vec<(String, Literal)>,
    pub(crate) directives: Vec<(String, Vec<(String, Literal)>)>,
    pub(crate) selection: Vec<Field>,
}

impl Field {
    /// The key the field's value is answered under.
    pub(crate) fn key(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }

    pub(crate) fn argument(&self, name: &str) -> Option<&Literal> {
        self.arguments.iter().find(|(argument, _)| argument == name).map(|(_, value)| value)
    }
}

/// A value written in the document.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Variable(String),
    Int(i64),
    Float(f64),
    String(String),
    Boolean(bool),
    Null,
    Enum(String),
    List(Vec<Literal>),
    Object(Vec<(String, Literal)>),
}

impl Literal {
    /// The value, variables replaced by what the request carried (absent → null).
    pub(crate) fn resolve(&self, variables: &Map<String, Value>) -> Value {
        match self {
            Self::Variable(name) => variables.get(name).cloned().unwrap_or(Value::Null),
            Self::Int(number) => Value::from(*number),
            Self::Float(number) => Value::from(*number),
            Self::String(text) | Self::Enum(text) => Value::String(text.clone()),
            Self::Boolean(flag) => Value::Bool(*flag),
            Self::Null => Value::Null,
            Self::List(items) => Value::Array(items.iter().map(|item| item.resolve(variables)).collect()),
            Self::Object(fields) => {
                Value::Object(fields.iter().map(|(name, value)| (name.clone(), value.resolve(variables))).collect())
            }
        }
    }

    /// Every variable this value mentions.
    pub(crate) fn variables<'a>(&'a self, into: &mut Vec<&'a str>) {
        match self {
            Self::Variable(name) => into.push(name),
            Self::List(items) => items.iter().for_each(|item| item.variables(into)),
            Self::Object(fields) => fields.iter().for_each(|(_, value)| value.variables(into)),
            _ => {}
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Name(String),
    Punctuator(char),
    Spread,
    Int(i64),
    Float(f64),
    String(String),
}

fn tokenize(source: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        let character = chars[at];
        match character {
            // Commas are insignificant in GraphQL, like white space.
            ' ' | '\t' | '\n' | '\r' | ',' | '\u{feff}' => at += 1,
            '#' => {
                while at < chars.len() && chars[at] != '\n' {
                    at += 1;
                }
            }
            '!' | '$' | '(' | ')' | ':' | '=' | '@' | '[' | ']' | '{' | '|' | '}' | '&' => {
                tokens.push(Token::Punctuator(character));
                at += 1;
            }
            '.' => {
                if chars.get(at..at + 3) == Some(&['.', '.', '.']) {
                    tokens.push(Token::Spread);
                    at += 3;
                } else {
                    return Err(format!("Parse error on \".\" at character {at}"));
                }
            }
            '"' => {
                if chars.get(at..at + 3) == Some(&['"', '"', '"']) {
                    return Err("block strings are not understood by this fake".to_owned());
                }
                at += 1;
                let mut text = String::new();
                loop {
                    let Some(&next) = chars.get(at) else { return Err("Parse error: unterminated string".to_owned()) };
                    at += 1;
                    match next {
                        '"' => break,
                        '\n' => return Err("Parse error: unterminated string".to_owned()),
                        '\\' => {
                            let Some(&escaped) = chars.get(at) else {
                                return Err("Parse error: bad escape".to_owned());
                            };
                            at += 1;
                            match escaped {
                                '"' => text.push('"'),
                                '\\' => text.push('\\'),
                                '/' => text.push('/'),
                                'b' => text.push('\u{8}'),
                                'f' => text.push('\u{c}'),
                                'n' => text.push('\n'),
                                'r' => text.push('\r'),
                                't' => text.push('\t'),
                                'u' => {
                                    let hex: String =
                                        chars.get(at..at + 4).ok_or("Parse error: bad escape")?.iter().collect();
                                    at += 4;
                                    let code = u32::from_str_radix(&hex, 16).map_err(|_| "Parse error: bad escape")?;
                                    text.push(char::from_u32(code).ok_or("Parse error: bad escape")?);
                                }
                                other => return Err(format!("Parse error: bad escape \\{other}")),
                            }
                        }
                        other => text.push(other),
                    }
                }
                tokens.push(Token::String(text));
            }
            '-' | '0'..='9' => {
                let start = at;
                at += 1;
                while at < chars.len()
                    && (chars[at].is_ascii_digit() || matches!(chars[at], '.' | 'e' | 'E' | '+' | '-'))
                {
                    at += 1;
                }
                let text: String = chars[start..at].iter().collect();
                if let Ok(number) = text.parse::<i64>() {
                    tokens.push(Token::Int(number));
                } else {
                    tokens.push(Token::Float(text.parse().map_err(|_| format!("Parse error on {text:?}"))?));
                }
            }
            character if character == '_' || character.is_ascii_alphabetic() => {
                let start = at;
                while at < chars.len() && (chars[at] == '_' || chars[at].is_ascii_alphanumeric()) {
                    at += 1;
                }
                tokens.push(Token::Name(chars[start..at].iter().collect()));
            }
            other => return Err(format!("Parse error on {other:?} at character {at}")),
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

/// Parses a document holding exactly one operation.
pub(crate) fn parse(source: &str) -> Result<Operation, String> {
    let mut parser = Parser { tokens: tokenize(source)?, at: 0 };
    let operation = parser.operation()?;
    if parser.at != parser.tokens.len() {
        return Err("this fake answers documents with exactly one operation and no fragments".to_owned());
    }
    Ok(operation)
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Result<Token, String> {
        let token = self.tokens.get(self.at).cloned().ok_or("Parse error: unexpected end of document")?;
        self.at += 1;
        Ok(token)
    }

    fn is(&self, punctuator: char) -> bool {
        self.peek() == Some(&Token::Punctuator(punctuator))
    }

    fn expect(&mut self, punctuator: char) -> Result<(), String> {
        match self.next()? {
            Token::Punctuator(found) if found == punctuator => Ok(()),
            other => Err(format!("Parse error: expected {punctuator:?}, found {other:?}")),
        }
    }

    fn name(&mut self) -> Result<String, String> {
        match self.next()? {
            Token::Name(name) => Ok(name),
            other => Err(format!("Parse error: expected a name, found {other:?}")),
        }
    }

    fn operation(&mut self) -> Result<Operation, String> {
        let mut operation = Operation { kind: Kind::Query, name: None, variables: Vec::new(), selection: Vec::new() };
        if !self.is('{') {
            operation.kind = match self.name()?.as_str() {
                "query" => Kind::Query,
                "mutation" => Kind::Mutation,
                other => return Err(format!("Parse error: {other:?} is not an operation this fake answers")),
            };
            if let Some(Token::Name(_)) = self.peek() {
                operation.name = Some(self.name()?);
            }
            if self.is('(') {
                self.expect('(')?;
                while !self.is(')') {
                    self.expect('$')?;
                    let name = self.name()?;
                    self.expect(':')?;
                    let kind = self.type_reference()?;
                    let default = if self.is('=') {
                        self.expect('=')?;
                        Some(self.value(true)?)
                    } else {
                        None
                    };
                    operation.variables.push((name, kind, default));
                }
                self.expect(')')?;
            }
            if self.is('@') {
                return Err("directives on the operation are not understood by this fake".to_owned());
            }
        }
        operation.selection = self.selection_set()?;
        Ok(operation)
    }

    fn type_reference(&mut self) -> Result<String, String> {
        let mut written = if self.is('[') {
            self.expect('[')?;
            let inner = self.type_reference()?;
            self.expect(']')?;
            format!("[{inner}]")
        } else {
            self.name()?
        };
        if self.is('!') {
            self.expect('!')?;
            written.push('!');
        }
        Ok(written)
    }

    fn selection_set(&mut self) -> Result<Vec<Field>, String> {
        self.expect('{')?;
        let mut fields = Vec::new();
        while !self.is('}') {
            if self.peek() == Some(&Token::Spread) {
                return Err("fragments are not understood by this fake".to_owned());
            }
            fields.push(self.field()?);
        }
        self.expect('}')?;
        if fields.is_empty() {
            return Err("Parse error: an empty selection".to_owned());
        }
        Ok(fields)
    }

    fn field(&mut self) -> Result<Field, String> {
        let mut name = self.name()?;
        let mut alias = None;
        if self.is(':') {
            self.expect(':')?;
            alias = Some(name);
            name = self.name()?;
        }
        let arguments = self.arguments()?;
        let mut directives = Vec::new();
        while self.is('@') {
            self.expect('@')?;
            let directive = self.name()?;
            directives.push((directive, self.arguments()?));
        }
        let selection = if self.is('{') { self.selection_set()? } else { Vec::new() };
        Ok(Field { alias, name, arguments, directives, selection })
    }

    fn arguments(&mut self) -> Result<Vec<(String, Literal)>, String> {
        let mut arguments = Vec::new();
        if self.is('(') {
            self.expect('(')?;
            while !self.is(')') {
                let name = self.name()?;
                self.expect(':')?;
                arguments.push((name, self.value(false)?));
            }
            self.expect(')')?;
        }
        Ok(arguments)
    }

    fn value(&mut self, constant: bool) -> Result<Literal, String> {
        Ok(match self.next()? {
            Token::Punctuator('$') if !constant => Literal::Variable(self.name()?),
            Token::Int(number) => Literal::Int(number),
            Token::Float(number) => Literal::Float(number),
            Token::String(text) => Literal::String(text),
            Token::Name(name) => match name.as_str() {
                "true" => Literal::Boolean(true),
                "false" => Literal::Boolean(false),
                "null" => Literal::Null,
                _ => Literal::Enum(name),
            },
            Token::Punctuator('[') => {
                let mut items = Vec::new();
                while !self.is(']') {
                    items.push(self.value(constant)?);
                }
                self.expect(']')?;
                Literal::List(items)
            }
            Token::Punctuator('{') => {
                let mut fields = Vec::new();
                while !self.is('}') {
                    let name = self.name()?;
                    self.expect(':')?;
                    fields.push((name, self.value(constant)?));
                }
                self.expect('}')?;
                Literal::Object(fields)
            }
            other => return Err(format!("Parse error: expected a value, found {other:?}")),
        })
    }
}
