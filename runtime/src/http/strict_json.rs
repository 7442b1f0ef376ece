//! Reading a JSON request body the way its JSON Schema reads it.
//!
//! serde's derived types and `serde_json` agree with JSON Schema on almost everything,
//! and disagree on three points, each of which lets the server and its OpenAPI document
//! tell a client different things:
//!
//! - **Objects only where the schema says object.** serde lets a struct be written as an
//!   array of its fields in order (`[null, null]` for `{"uses": null, "expires_hours":
//!   null}`); JSON Schema's `"type": "object"` refuses an array. Here a struct reads
//!   only a JSON object.
//! - **Integers by value, not by spelling.** JSON Schema's `"type": "integer"` is any
//!   number with no fractional part, so `1.0` and `1e2` are integers; serde refuses
//!   them for an `i64`. Here a number with no fractional part is offered to the type as
//!   an integer (a field that wants a float still takes it).
//! - **One value per key.** serde's struct refuses a field given twice, a map keeps
//!   the last; either way a client's intent is lost. Here a repeated key is refused
//!   everywhere, with its path.
//!
//! So a body is first parsed into a [`Value`] (syntax errors stay syntax errors, 400),
//! then the request type is read from that value through [`Strict`], a deserializer
//! that applies the three rules at every depth (shape errors stay shape errors, 422).
//! Bodies are at most 64 KiB, so the extra tree costs nothing that matters.

use std::fmt;

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, SeqAccess, Unexpected, VariantAccess,
    Visitor,
};
use serde::{Deserialize, forward_to_deserialize_any};
use serde_json::{Map, Number, Value};

type Error = serde_json::Error;

/// A JSON value whose objects had no repeated key.
pub(crate) struct UniqueKeys(pub(crate) Value);

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeysVisitor).map(UniqueKeys)
    }
}

struct UniqueKeysVisitor;

impl<'de> Visitor<'de> for UniqueKeysVisitor {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        // serde_json never produces a non-finite number.
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(UniqueKeys(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate field `{key}`")));
            }
            let UniqueKeys(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// A deserializer over a parsed [`Value`] that reads structs only from objects and
/// whole numbers as integers (see the module docs).
pub(crate) struct Strict<'de>(pub(crate) &'de Value);

/// How a value shows in "invalid type" messages.
fn unexpected(value: &Value) -> Unexpected<'_> {
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(value) => Unexpected::Bool(*value),
        Value::Number(number) => match (number.as_u64(), number.as_i64(), number.as_f64()) {
            (Some(value), _, _) => Unexpected::Unsigned(value),
            (None, Some(value), _) => Unexpected::Signed(value),
            (None, None, Some(value)) => Unexpected::Float(value),
            (None, None, None) => Unexpected::Other("number"),
        },
        Value::String(text) => Unexpected::Str(text),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

/// The smallest float past `u64`'s range: 2^64.
const PAST_U64: f64 = 18_446_744_073_709_551_616.0;
/// `i64::MIN` as a float: -2^63, exact.
const I64_MIN: f64 = -9_223_372_036_854_775_808.0;

// The casts are exact: the value has no fraction and lies within the target range.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn visit_number<'de, V: Visitor<'de>>(number: &Number, visitor: V) -> Result<V::Value, Error> {
    if let Some(value) = number.as_u64() {
        return visitor.visit_u64(value);
    }
    if let Some(value) = number.as_i64() {
        return visitor.visit_i64(value);
    }
    let value = number.as_f64().unwrap_or(f64::NAN);
    // A whole number in range is an integer, whatever its spelling (`1.0`, `1e2`).
    if value.fract() == 0.0 {
        if (0.0..PAST_U64).contains(&value) {
            return visitor.visit_u64(value as u64);
        }
        if (I64_MIN..0.0).contains(&value) {
            return visitor.visit_i64(value as i64);
        }
    }
    visitor.visit_f64(value)
}

impl<'de> Deserializer<'de> for Strict<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(value) => visitor.visit_bool(*value),
            Value::Number(number) => visit_number(number, visitor),
            Value::String(text) => visitor.visit_borrowed_str(text),
            Value::Array(items) => visit_array(items, visitor),
            Value::Object(object) => visit_object(object, visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            other => Err(de::Error::invalid_type(unexpected(other), &visitor)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    /// The one difference from `serde_json`: a struct is an object, never an array.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(object) => visit_object(object, visitor),
            other => Err(de::Error::invalid_type(unexpected(other), &visitor)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::String(variant) => visitor.visit_enum(BorrowedStrDeserializer::<Error>::new(variant)),
            Value::Object(object) if object.len() == 1 => {
                let (variant, value) = object.iter().next().expect("one entry");
                visitor.visit_enum(Variant { variant, value })
            }
            other => Err(de::Error::invalid_type(unexpected(other), &visitor)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf seq tuple tuple_struct map identifier
    }
}

fn visit_array<'de, V: Visitor<'de>>(items: &'de [Value], visitor: V) -> Result<V::Value, Error> {
    let mut seq = Items { items: items.iter(), taken: 0 };
    let value = visitor.visit_seq(&mut seq)?;
    match seq.items.len() {
        0 => Ok(value),
        left => Err(de::Error::invalid_length(seq.taken + left, &"fewer elements in array")),
    }
}

fn visit_object<'de, V: Visitor<'de>>(object: &'de Map<String, Value>, visitor: V) -> Result<V::Value, Error> {
    let mut map = Entries { entries: object.iter(), value: None };
    let value = visitor.visit_map(&mut map)?;
    match map.entries.len() {
        0 => Ok(value),
        _ => Err(de::Error::invalid_length(object.len(), &"fewer elements in map")),
    }
}

struct Items<'de> {
    items: std::slice::Iter<'de, Value>,
    taken: usize,
}

impl<'de> SeqAccess<'de> for Items<'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        match self.items.next() {
            Some(item) => {
                self.taken += 1;
                seed.deserialize(Strict(item)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct Entries<'de> {
    entries: serde_json::map::Iter<'de>,
    value: Option<&'de Value>,
}

impl<'de> MapAccess<'de> for Entries<'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        match self.entries.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(BorrowedStrDeserializer::<Error>::new(key)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Error> {
        let value = self.value.take().ok_or_else(|| de::Error::custom("a value was read before its key"))?;
        seed.deserialize(Strict(value))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// An externally tagged enum variant: `{"variant": value}`.
struct Variant<'de> {
    variant: &'de str,
    value: &'de Value,
}

impl<'de> EnumAccess<'de> for Variant<'de> {
    type Error = Error;
    type Variant = Strict<'de>;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Strict<'de>), Error> {
        let variant = seed.deserialize(self.variant.into_deserializer())?;
        Ok((variant, Strict(self.value)))
    }
}

impl<'de> VariantAccess<'de> for Strict<'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.0 {
            Value::Null => Ok(()),
            other => Err(de::Error::invalid_type(unexpected(other), &"a unit variant")),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Array(items) => visit_array(items, visitor),
            other => Err(de::Error::invalid_type(unexpected(other), &visitor)),
        }
    }

    fn struct_variant<V: Visitor<'de>>(self, _fields: &'static [&'static str], visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(object) => visit_object(object, visitor),
            other => Err(de::Error::invalid_type(unexpected(other), &visitor)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    fn read<T: for<'de> Deserialize<'de>>(value: &Value) -> Result<T, String> {
        T::deserialize(Strict(value)).map_err(|error| error.to_string())
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Invite {
        uses: Option<u32>,
        hours: Option<i64>,
    }

    #[test]
    fn a_struct_is_read_from_an_object_and_never_from_an_array() {
        assert_eq!(read::<Invite>(&json!({ "uses": 2 })), Ok(Invite { uses: Some(2), hours: None }));
        let refused = read::<Invite>(&json!([null, null])).expect_err("an array is not an object");
        assert!(refused.contains("invalid type: sequence, expected struct Invite"), "{refused}");
        // Nested structs too.
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Outer {
            invite: Invite,
        }
        assert!(read::<Outer>(&json!({ "invite": [1, 2] })).is_err());
        // Sequences and tuples still read arrays.
        assert_eq!(read::<Vec<u8>>(&json!([1, 2])), Ok(vec![1, 2]));
        assert_eq!(read::<(u8, String)>(&json!([1, "a"])), Ok((1, "a".to_owned())));
        assert!(read::<(u8,)>(&json!([1, 2])).is_err(), "extra elements are refused");
    }

    #[test]
    fn whole_numbers_are_integers_however_they_are_spelt() {
        let parsed: Value = serde_json::from_str(r#"{"uses": 3.0, "hours": -1e2}"#).expect("JSON");
        assert_eq!(read::<Invite>(&parsed), Ok(Invite { uses: Some(3), hours: Some(-100) }));
        let fraction: Value = serde_json::from_str(r#"{"uses": 3.5}"#).expect("JSON");
        assert!(read::<Invite>(&fraction).expect_err("a fraction").contains("floating point"));
        let too_large: Value = serde_json::from_str("1e300").expect("JSON");
        assert!(read::<i64>(&too_large).is_err());
        assert!(read::<u32>(&json!(4_294_967_296_u64)).is_err());
        // A float field takes whole numbers and fractions alike.
        assert_eq!(read::<f64>(&json!(2.0)), Ok(2.0));
        assert_eq!(read::<f64>(&json!(2.5)), Ok(2.5));
        assert_eq!(read::<i64>(&json!(-9_223_372_036_854_775_808_i64)), Ok(i64::MIN));
    }

    #[test]
    fn a_repeated_key_is_refused_at_any_depth() {
        let parse = |text: &str| serde_json::from_str::<UniqueKeys>(text).map(|UniqueKeys(value)| value);
        assert_eq!(
            parse(r#"{"a": {"b": 1}, "c": [{"d": 2}]}"#).ok(),
            Some(json!({ "a": { "b": 1 }, "c": [{ "d": 2 }] }))
        );
        for text in [r#"{"a": 1, "a": 2}"#, r#"{"x": {"b": 1, "b": 1}}"#, r#"[{"d": 1, "d": 2}]"#] {
            let error = parse(text).expect_err(text);
            assert!(error.to_string().contains("duplicate field"), "{text}: {error}");
            assert!(error.is_data(), "{text}: a shape error, not a syntax error");
        }
    }

    #[test]
    fn enums_maps_options_and_values_read_as_serde_json_reads_them() {
        #[derive(Debug, Deserialize, PartialEq)]
        #[serde(rename_all = "snake_case")]
        enum Action {
            Pause,
            Resize(u32),
            Move { x: i32 },
        }
        assert_eq!(read::<Action>(&json!("pause")), Ok(Action::Pause));
        assert_eq!(read::<Action>(&json!({ "resize": 2.0 })), Ok(Action::Resize(2)));
        assert_eq!(read::<Action>(&json!({ "move": { "x": -1 } })), Ok(Action::Move { x: -1 }));
        assert!(read::<Action>(&json!("explode")).is_err());
        assert_eq!(
            read::<BTreeMap<String, String>>(&json!({ "a": "b" })),
            Ok(BTreeMap::from([("a".to_owned(), "b".to_owned())]))
        );
        assert_eq!(read::<Option<u8>>(&json!(null)), Ok(None));
        assert_eq!(read::<Value>(&json!({ "n": 7.0 })), Ok(json!({ "n": 7 })));
    }
}
