//! Looking up fields in one JSON line, for the JSON formats (Zeek JSON, Suricata EVE, ECS).
//!
//! A *path* names a field with dots (`destination.geo.country_iso_code`). Writers spell the
//! same path in several ways: as nested objects (`{"destination":{"geo":{..}}}`), as one
//! dotted key (`"destination.geo.country_iso_code"`), or as a mix of both. [`lookup`] finds a
//! path whatever the spelling, so the readers name each field once. A JSON `null` counts as
//! absent. Numbers may come as JSON numbers or as numeric strings; both are accepted.
//!
//! A line is parsed into a [`Value`] that borrows its strings from the line wherever they hold
//! no escapes, and keeps an object's members in a vector in the order written: a flow event has
//! a few dozen short members, which a linear search finds faster than a tree or hash map is
//! built, and the line's text is not copied. When a key appears twice the last one counts, as
//! in most JSON readers.

use crate::flow::EpochMicros;
use crate::read::time::{any_to_micros, bad_timestamp};
use crate::read::value::{parse_count, parse_duration_micros, parse_ip, parse_port};
use crate::read::ParseError;
use crate::skip::SkipReason;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Number;
use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

/// A JSON value whose strings borrow from the parsed text where they can.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Value<'a>>),
    Object(Object<'a>),
}

/// A JSON object: its members in the order written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Object<'a> {
    members: Vec<(Cow<'a, str>, Value<'a>)>,
}

impl<'a> Object<'a> {
    /// The value of `key`; the last one when the key is repeated.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.members.iter().rev().find(|(name, _)| name == key).map(|(_, value)| value)
    }
}

impl Value<'_> {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// Writes the value back as JSON, for error messages that show a bad value.
impl fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quoted = |f: &mut fmt::Formatter<'_>, text: &str| match serde_json::to_string(text) {
            Ok(json) => f.write_str(&json),
            Err(_) => Err(fmt::Error),
        };
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(flag) => write!(f, "{flag}"),
            Value::Number(number) => write!(f, "{number}"),
            Value::String(text) => quoted(f, text),
            Value::Array(items) => {
                f.write_str("[")?;
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Value::Object(object) => {
                f.write_str("{")?;
                for (index, (name, value)) in object.members.iter().enumerate() {
                    if index > 0 {
                        f.write_str(",")?;
                    }
                    quoted(f, name)?;
                    write!(f, ":{value}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// Builds a [`Value`] from any self-describing input, borrowing strings when it can.
struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, flag: bool) -> Result<Value<'de>, E> {
        Ok(Value::Bool(flag))
    }

    fn visit_i64<E>(self, number: i64) -> Result<Value<'de>, E> {
        Ok(Value::Number(number.into()))
    }

    fn visit_u64<E>(self, number: u64) -> Result<Value<'de>, E> {
        Ok(Value::Number(number.into()))
    }

    fn visit_f64<E>(self, number: f64) -> Result<Value<'de>, E> {
        Ok(Number::from_f64(number).map_or(Value::Null, Value::Number))
    }

    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Value<'de>, E> {
        Ok(Value::String(Cow::Borrowed(text)))
    }

    fn visit_str<E>(self, text: &str) -> Result<Value<'de>, E> {
        Ok(Value::String(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E>(self, text: String) -> Result<Value<'de>, E> {
        Ok(Value::String(Cow::Owned(text)))
    }

    fn visit_unit<E>(self) -> Result<Value<'de>, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value<'de>, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<Value<'de>, D::Error> {
        Value::deserialize(inner)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value<'de>, A::Error> {
        let mut members = Vec::new();
        while let Some(Key(name)) = map.next_key()? {
            members.push((name, map.next_value()?));
        }
        Ok(Value::Object(Object { members }))
    }
}

impl<'de> Deserialize<'de> for Value<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value<'de>, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

/// An object key, borrowed unless it holds escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Key<'de>, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }

            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(text)))
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(text.to_owned())))
            }

            fn visit_string<E>(self, text: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(text)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Parses a line that must hold one JSON object.
pub fn parse_object(line: &str) -> Result<Object<'_>, ParseError> {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ParseError::new(
            SkipReason::MalformedLine,
            "line is valid json but not an object; expected one `{...}` record per line",
        )),
        Err(error) => Err(ParseError::new(
            SkipReason::MalformedLine,
            format!("line is not valid json: {error}"),
        )),
    }
}

/// Finds `path` in `object`, whether its parts are nested objects, dotted keys or a mix.
pub fn lookup<'a, 'b>(object: &'a Object<'b>, path: &str) -> Option<&'a Value<'b>> {
    if let Some(value) = object.get(path).filter(|value| !value.is_null()) {
        return Some(value);
    }
    memchr::memchr_iter(b'.', path.as_bytes()).find_map(|dot| match object.get(&path[..dot]) {
        Some(Value::Object(inner)) => lookup(inner, &path[dot + 1..]),
        _ => None,
    })
}

/// True when the path holds a non-null value.
pub fn has(object: &Object, path: &str) -> bool {
    lookup(object, path).is_some()
}

fn wrong_type(path: &str, value: &Value, expected: &str) -> ParseError {
    let shown = value.to_string();
    ParseError::field(SkipReason::BadValue, path, &shown, format!("expected {expected}"))
}

/// A string field.
pub fn get_str<'a>(object: &'a Object, path: &str) -> Result<Option<&'a str>, ParseError> {
    match lookup(object, path) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.as_ref())),
        Some(other) => Err(wrong_type(path, other, "a string")),
    }
}

/// A string kept as given, or a number written out, for identifiers that writers emit either
/// way (Suricata `flow_id` is a number, Packetbeat `flow.id` a string).
pub fn get_text(object: &Object, path: &str) -> Result<Option<String>, ParseError> {
    match lookup(object, path) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.to_string())),
        Some(Value::Number(number)) => Ok(Some(number.to_string())),
        Some(other) => Err(wrong_type(path, other, "a string or a number")),
    }
}

/// The text of a number or numeric string, for the typed readers below.
fn numeric_text(path: &str, value: &Value) -> Result<String, ParseError> {
    match value {
        Value::Number(number) => Ok(integral_text(number)),
        Value::String(text) => Ok(text.to_string()),
        other => Err(wrong_type(path, other, "a number or a numeric string")),
    }
}

/// Some writers emit whole counts as floats (`592.0`); those are still whole numbers.
fn integral_text(number: &Number) -> String {
    match number.as_f64() {
        Some(float) if !number.is_i64() && !number.is_u64() && float.fract() == 0.0 => {
            format!("{float:.0}")
        }
        _ => number.to_string(),
    }
}

/// A non-negative count such as a byte total.
pub fn get_count(object: &Object, path: &str) -> Result<Option<u64>, ParseError> {
    lookup(object, path).map(|value| parse_count(path, &numeric_text(path, value)?)).transpose()
}

/// A duration in seconds, written as a number or a numeric string, as microseconds.
pub fn get_duration_micros(object: &Object, path: &str) -> Result<Option<i64>, ParseError> {
    let Some(value) = lookup(object, path) else {
        return Ok(None);
    };
    let text = match value {
        Value::Number(number) => number.to_string(),
        Value::String(text) => text.to_string(),
        other => return Err(wrong_type(path, other, "a number of seconds")),
    };
    parse_duration_micros(path, &text).map(Some)
}

/// A port number.
pub fn get_port(object: &Object, path: &str) -> Result<Option<u16>, ParseError> {
    lookup(object, path).map(|value| parse_port(path, &numeric_text(path, value)?)).transpose()
}

/// An IP address written as a string.
pub fn get_ip(object: &Object, path: &str) -> Result<Option<IpAddr>, ParseError> {
    get_str(object, path)?.map(|text| parse_ip(path, text)).transpose()
}

/// A flag written as a JSON boolean or as the string `true` / `false`.
pub fn get_bool(object: &Object, path: &str) -> Result<Option<bool>, ParseError> {
    match lookup(object, path) {
        None => Ok(None),
        Some(Value::Bool(flag)) => Ok(Some(*flag)),
        Some(Value::String(text)) if text == "true" => Ok(Some(true)),
        Some(Value::String(text)) if text == "false" => Ok(Some(false)),
        Some(other) => Err(wrong_type(path, other, "true or false")),
    }
}

/// A timestamp written as epoch seconds (number or string) or as an ISO 8601 string.
pub fn get_time(object: &Object, path: &str) -> Result<Option<EpochMicros>, ParseError> {
    let Some(value) = lookup(object, path) else {
        return Ok(None);
    };
    let text = match value {
        Value::Number(number) => number.to_string(),
        Value::String(text) => text.to_string(),
        other => return Err(bad_timestamp(path, &other.to_string())),
    };
    any_to_micros(&text).map(Some).ok_or_else(|| bad_timestamp(path, &text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(text: &str) -> Object<'_> {
        parse_object(text).unwrap()
    }

    #[test]
    fn lookup_finds_nested_dotted_and_mixed_paths() {
        let nested = object(r#"{"destination":{"geo":{"country_iso_code":"NL"}}}"#);
        let dotted = object(r#"{"destination.geo.country_iso_code":"NL"}"#);
        let mixed = object(r#"{"destination":{"geo.country_iso_code":"NL"}}"#);
        let mixed_other_way = object(r#"{"destination.geo":{"country_iso_code":"NL"}}"#);
        for sample in [&nested, &dotted, &mixed, &mixed_other_way] {
            let found = get_str(sample, "destination.geo.country_iso_code").unwrap();
            assert_eq!(found, Some("NL"));
        }
        let with_null = object(r#"{"source":{"ip":null},"source.ip":"192.0.2.1"}"#);
        assert_eq!(get_str(&with_null, "source.ip").unwrap(), Some("192.0.2.1"));
        assert_eq!(lookup(&nested, "destination.geo.city_name"), None);
    }

    #[test]
    fn escaped_text_repeated_keys_and_bad_values_read_as_json_says() {
        let sample = object(r#"{"host":{"name":"a\"b\u00e9"},"n":1,"n":2,"o":{"x":[1,true]}}"#);
        assert_eq!(get_str(&sample, "host.name").unwrap(), Some("a\"b\u{e9}"));
        assert_eq!(get_count(&sample, "n").unwrap(), Some(2));
        let error = get_count(&sample, "o").unwrap_err();
        assert_eq!(error.value.as_deref(), Some(r#"{"x":[1,true]}"#));
    }

    #[test]
    fn numbers_may_be_strings_but_not_other_types() {
        let sample = object(r#"{"a":"42","b":42,"c":42.0,"d":true,"e":"4x2","f":-1}"#);
        assert_eq!(get_count(&sample, "a").unwrap(), Some(42));
        assert_eq!(get_count(&sample, "b").unwrap(), Some(42));
        assert_eq!(get_count(&sample, "c").unwrap(), Some(42));
        let error = get_count(&sample, "d").unwrap_err();
        assert_eq!((error.reason, error.field.as_deref()), (SkipReason::BadValue, Some("d")));
        assert_eq!(get_count(&sample, "e").unwrap_err().value.as_deref(), Some("4x2"));
        assert_eq!(get_count(&sample, "f").unwrap_err().reason, SkipReason::BadValue);
    }

    #[test]
    fn non_objects_and_broken_json_are_malformed() {
        assert_eq!(parse_object("[1,2]").unwrap_err().reason, SkipReason::MalformedLine);
        let error = parse_object(r#"{"ts": 1.5,"#).unwrap_err();
        assert_eq!(error.reason, SkipReason::MalformedLine);
        assert!(error.message.starts_with("line is not valid json"), "{}", error.message);
    }
}
