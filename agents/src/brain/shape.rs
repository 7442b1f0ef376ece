//! [`ExpectedShape`]: what a decision's JSON object must look like.
//!
//! Deliberately tiny (no JSON Schema): an agent lists the fields it will read and their
//! types, the remote brain puts [`ExpectedShape::describe`] in the prompt, and both
//! brains run [`ExpectedShape::check`] before a decision reaches the agent.

use std::fmt;

use serde_json::Value;

/// The JSON object a decision must be: required fields, each with a type.
///
/// Fields not listed are allowed and passed through. Defining a field twice keeps the
/// last definition.
///
/// ```
/// use boardroom_agents::brain::ExpectedShape;
/// use serde_json::json;
///
/// let shape = ExpectedShape::object()
///     .number("price", Some(0.01), None)
///     .string("reason", 500);
/// assert!(shape.check(&json!({"price": 9.5, "reason": "matches rivals"})).is_ok());
/// assert_eq!(
///     shape.check(&json!({"price": -3, "reason": "x"})),
///     Err(vec!["price: expected a number ≥ 0.01, got -3".to_string()]),
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExpectedShape {
    fields: Vec<Field>,
}

#[derive(Debug, Clone, PartialEq)]
struct Field {
    name: String,
    kind: FieldKind,
}

#[derive(Debug, Clone, PartialEq)]
enum FieldKind {
    Number { min: Option<f64>, max: Option<f64> },
    String { max_chars: usize },
    Bool,
    StringArray,
    Object,
}

impl ExpectedShape {
    /// A JSON object with no required field yet; add fields with the other methods.
    pub fn object() -> Self {
        Self::default()
    }

    /// A required number, with optional inclusive bounds.
    pub fn number(self, name: impl Into<String>, min: Option<f64>, max: Option<f64>) -> Self {
        self.with(name, FieldKind::Number { min, max })
    }

    /// A required string of at most `max_chars` characters.
    pub fn string(self, name: impl Into<String>, max_chars: usize) -> Self {
        self.with(name, FieldKind::String { max_chars })
    }

    /// A required `true` or `false`.
    pub fn bool(self, name: impl Into<String>) -> Self {
        self.with(name, FieldKind::Bool)
    }

    /// A required array whose items are all strings (it may be empty).
    pub fn string_array(self, name: impl Into<String>) -> Self {
        self.with(name, FieldKind::StringArray)
    }

    /// A required JSON object, of any content.
    pub fn object_field(self, name: impl Into<String>) -> Self {
        self.with(name, FieldKind::Object)
    }

    fn with(mut self, name: impl Into<String>, kind: FieldKind) -> Self {
        let name = name.into();
        self.fields.retain(|field| field.name != name);
        self.fields.push(Field { name, kind });
        self
    }

    /// Checks `value` against the shape and lists every problem, one sentence each,
    /// starting with the field's name: `price: expected a number ≥ 0.01, got -3`.
    pub fn check(&self, value: &Value) -> Result<(), Vec<String>> {
        let Some(object) = value.as_object() else {
            return Err(vec![format!("expected a JSON object, got {}", describe_value(value))]);
        };
        let problems: Vec<String> = self
            .fields
            .iter()
            .filter_map(|field| match object.get(&field.name) {
                None => Some(format!("{}: missing, expected {}", field.name, field.kind)),
                Some(found) => field.kind.problem(found).map(|problem| format!("{}: {problem}", field.name)),
            })
            .collect();
        if problems.is_empty() { Ok(()) } else { Err(problems) }
    }

    /// The shape as one line for a prompt, e.g.
    /// `{"price": a number ≥ 0.01, "reason": a string of at most 500 characters}`.
    pub fn describe(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for ExpectedShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (index, field) in self.fields.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            // `Value::String` quotes and escapes the name as JSON would.
            write!(f, "{}: {}", Value::String(field.name.clone()), field.kind)?;
        }
        f.write_str("}")
    }
}

impl FieldKind {
    /// What is wrong with `value`, if anything, as "expected …, got …".
    fn problem(&self, value: &Value) -> Option<String> {
        let fits = match (self, value) {
            (Self::Number { min, max }, Value::Number(number)) => {
                let number = number.as_f64().unwrap_or(f64::NAN);
                min.is_none_or(|min| number >= min) && max.is_none_or(|max| number <= max)
            }
            (Self::String { max_chars }, Value::String(text)) => {
                let chars = text.chars().count();
                if chars > *max_chars {
                    return Some(format!("expected {self}, got {chars} characters"));
                }
                true
            }
            (Self::Bool, Value::Bool(_)) | (Self::Object, Value::Object(_)) => true,
            (Self::StringArray, Value::Array(items)) => {
                if let Some(index) = items.iter().position(|item| !item.is_string()) {
                    return Some(format!("expected {self}, got {} at index {index}", describe_value(&items[index])));
                }
                true
            }
            _ => false,
        };
        (!fits).then(|| format!("expected {self}, got {}", describe_value(value)))
    }
}

impl fmt::Display for FieldKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number { min: None, max: None } => f.write_str("a number"),
            Self::Number { min: Some(min), max: None } => write!(f, "a number ≥ {min}"),
            Self::Number { min: None, max: Some(max) } => write!(f, "a number ≤ {max}"),
            Self::Number { min: Some(min), max: Some(max) } => {
                write!(f, "a number ≥ {min} and ≤ {max}")
            }
            Self::String { max_chars } => {
                write!(f, "a string of at most {max_chars} characters")
            }
            Self::Bool => f.write_str("true or false"),
            Self::StringArray => f.write_str("an array of strings"),
            Self::Object => f.write_str("a JSON object"),
        }
    }
}

/// A short rendering of a wrong value: numbers and booleans as themselves, short
/// strings quoted, anything bigger by its kind.
fn describe_value(value: &Value) -> String {
    const SHORT: usize = 40;
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(_) | Value::Number(_) => value.to_string(),
        Value::String(text) if text.chars().count() <= SHORT => value.to_string(),
        Value::String(text) => format!("a string of {} characters", text.chars().count()),
        Value::Array(_) => "an array".to_string(),
        Value::Object(_) => "an object".to_string(),
    }
}
