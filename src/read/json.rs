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
//!
//! A reader that knows its paths in advance (ECS, Suricata) names them in [`WantedPaths`] and
//! reads a line with [`read_wanted`]: a line that nests its objects plainly has each wanted
//! path's value put in a *slot* of its own while it is parsed, and nothing else is built; a
//! line that spells a wanted path with dotted keys, or repeats a key on the way to one, is
//! parsed into the members those paths can reach and searched with [`lookup`]. Both give the
//! same answers, through the [`Record`] trait.

use crate::flow::EpochMicros;
use crate::read::time::{any_to_micros, bad_timestamp};
use crate::read::value::{parse_count, parse_duration_micros, parse_ip, parse_port};
use crate::read::{LineOutcome, ParseError};
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
    /// Some key of this object (not of the objects inside it) holds a dot. Most events have
    /// none, and then a path can only be found by its first segment.
    dotted_keys: bool,
}

impl<'a> Object<'a> {
    fn new(members: Vec<(Cow<'a, str>, Value<'a>)>) -> Object<'a> {
        // Keys are a few bytes long: a plain loop beats starting a vectorised search.
        let dotted_keys = members.iter().any(|(name, _)| name.bytes().any(|b| b == b'.'));
        Object { members, dotted_keys }
    }
}

impl<'a> Object<'a> {
    /// The value of `key`; the last one when the key is repeated.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        let key = key.as_bytes();
        let mut members = self.members.iter().rev();
        members.find(|(name, _)| same_text(name.as_bytes(), key)).map(|(_, value)| value)
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
        Ok(Value::Object(Object::new(members)))
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

/// The paths a reader looks up, as a tree of their dot-separated segments. Parsing a line for
/// them keeps only the members that a [`lookup`] of one of them can reach, whatever the
/// spelling: a member is kept when its key, read segment by segment from where its object
/// sits, leads along the tree. Events carry many fields nobody reads (`agent`,
/// `event.category`, packet counts); those are skipped without being built, and the lookups
/// that follow search fewer members. Every lookup of a listed path finds what it would find
/// in the whole line, since nothing on its way is dropped. A skipped member is checked for
/// its JSON syntax only: a number beyond a float, a lone surrogate escape (`"\ud800"`) or
/// nesting deeper than 128 levels in it does not cost the line, as it would in a member that
/// is read or in a line parsed whole.
#[derive(Debug, Default)]
pub struct WantedPaths {
    root: PathNode,
    /// The listed paths; a path's *slot* is its position here.
    paths: Vec<&'static str>,
    /// No listed path runs through another, so that each slot is filled by one member of a
    /// line that nests its objects (see [`parse_fields_for`]).
    slots_usable: bool,
}

#[derive(Debug, Default)]
struct PathNode {
    children: Vec<(&'static str, PathNode)>,
    /// A listed path ends here: the member is kept whole.
    whole: bool,
    /// The slot of the listed path that ends here.
    slot: usize,
}

impl WantedPaths {
    pub fn new(paths: &[&'static str]) -> WantedPaths {
        let mut root = PathNode::default();
        let mut slots_usable = true;
        for (slot, path) in paths.iter().enumerate() {
            let mut node = &mut root;
            for segment in path.split('.') {
                let at = match node.children.iter().position(|(name, _)| *name == segment) {
                    Some(at) => at,
                    None => {
                        node.children.push((segment, PathNode::default()));
                        node.children.len() - 1
                    }
                };
                node = &mut node.children[at].1;
                slots_usable &= !node.whole;
            }
            slots_usable &= !node.whole && node.children.is_empty();
            node.whole = true;
            node.slot = slot;
        }
        WantedPaths { root, paths: paths.to_vec(), slots_usable }
    }

    /// The slot of `path`. Readers pass the very constants they listed, so the address of the
    /// text nearly always answers without comparing it.
    fn slot_of(&self, path: &str) -> Option<usize> {
        let same_place = |listed: &&str| std::ptr::eq(listed.as_ptr(), path.as_ptr());
        let same_text = |listed: &&str| *listed == path;
        let at =
            self.paths.iter().position(|listed| same_place(listed) && listed.len() == path.len());
        at.or_else(|| self.paths.iter().position(same_text))
    }
}

impl PathNode {
    /// Where `key`, a member's name, leads from this node; `None` when no listed path goes
    /// through it.
    fn step(&self, key: &str) -> Option<&PathNode> {
        let mut node = self;
        let mut rest = key.as_bytes();
        loop {
            let (segment, after) = match rest.iter().position(|&b| b == b'.') {
                Some(dot) => (&rest[..dot], Some(&rest[dot + 1..])),
                None => (rest, None),
            };
            node = &node.children.iter().find(|(name, _)| same_text(name.as_bytes(), segment))?.1;
            match after {
                Some(after) => rest = after,
                None => return Some(node),
            }
        }
    }
}

/// Equal byte strings, told apart by length and first byte before comparing the rest: names
/// are short, and most differ at once.
fn same_text(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.first() == b.first() && a == b
}

/// Builds a [`Value`] keeping only the members that lead along a [`PathNode`].
struct FilteredValue<'w>(&'w PathNode);

impl<'de> de::DeserializeSeed<'de> for FilteredValue<'_> {
    type Value = Value<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value<'de>, D::Error> {
        if self.0.whole {
            Value::deserialize(deserializer)
        } else {
            deserializer.deserialize_any(self)
        }
    }
}

impl<'de> Visitor<'de> for FilteredValue<'_> {
    type Value = Value<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        ValueVisitor.expecting(f)
    }

    fn visit_bool<E: de::Error>(self, flag: bool) -> Result<Value<'de>, E> {
        ValueVisitor.visit_bool(flag)
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<Value<'de>, E> {
        ValueVisitor.visit_i64(number)
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Value<'de>, E> {
        ValueVisitor.visit_u64(number)
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<Value<'de>, E> {
        ValueVisitor.visit_f64(number)
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Value<'de>, E> {
        ValueVisitor.visit_borrowed_str(text)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Value<'de>, E> {
        ValueVisitor.visit_str(text)
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Value<'de>, E> {
        ValueVisitor.visit_string(text)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value<'de>, E> {
        ValueVisitor.visit_unit()
    }

    fn visit_none<E: de::Error>(self) -> Result<Value<'de>, E> {
        ValueVisitor.visit_none()
    }

    fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<Value<'de>, D::Error> {
        de::DeserializeSeed::deserialize(self, inner)
    }

    // A lookup never looks inside an array, so one on the way to a listed path is kept as it
    // is: it can only be reported as a wrong type.
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Value<'de>, A::Error> {
        ValueVisitor.visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value<'de>, A::Error> {
        let mut members = Vec::new();
        while let Some(Key(name)) = map.next_key()? {
            match self.0.step(&name) {
                Some(node) => members.push((name, map.next_value_seed(FilteredValue(node))?)),
                None => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(Object::new(members)))
    }
}

/// A record whose fields are found by path: a parsed [`Object`], or the [`Fields`] of a line.
pub trait Record {
    /// The value at `path`; `None` when it is absent or null.
    fn find(&self, path: &str) -> Option<&Value<'_>>;
}

impl Record for Object<'_> {
    fn find(&self, path: &str) -> Option<&Value<'_>> {
        lookup(self, path)
    }
}

/// The values of the wanted paths of one line.
#[derive(Debug)]
pub struct Fields<'a, 'w> {
    wanted: &'w WantedPaths,
    found: Found<'a>,
}

#[derive(Debug)]
enum Found<'a> {
    /// Each listed path's value in its slot: the line nests its objects plainly.
    Slots(Vec<Option<Value<'a>>>),
    /// The line spells a path with dotted keys or repeats a key on the way to one; [`lookup`]
    /// settles which member counts.
    Object(Object<'a>),
}

impl Record for Fields<'_, '_> {
    /// `path` must be one of the wanted paths.
    fn find(&self, path: &str) -> Option<&Value<'_>> {
        match &self.found {
            Found::Object(object) => lookup(object, path),
            Found::Slots(slots) => {
                let slot = self.wanted.slot_of(path);
                debug_assert!(slot.is_some(), "{path} is not a wanted path");
                slots[slot?].as_ref().filter(|value| !value.is_null())
            }
        }
    }
}

/// Fills the slots of the wanted paths below one node of the tree. It asks for the slower
/// reading (`fall_back`) when the line is not an object, or when a key on the way to a wanted
/// path holds a dot or comes twice in one object: those are the cases in which [`lookup`]
/// could pick a member other than the one met here.
struct SlotFill<'w, 's, 'a> {
    node: &'w PathNode,
    slots: &'s mut Vec<Option<Value<'a>>>,
    fall_back: &'s mut bool,
    root: bool,
}

impl<'de> de::DeserializeSeed<'de> for SlotFill<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if self.node.whole {
            self.slots[self.node.slot] = Some(Value::deserialize(deserializer)?);
            Ok(())
        } else {
            deserializer.deserialize_any(self)
        }
    }
}

impl<'de> Visitor<'de> for SlotFill<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        ValueVisitor.expecting(f)
    }

    // A value that is not an object holds no wanted path; at the top it is an error that the
    // slower reading reports.
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.not_an_object()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.not_an_object()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.not_an_object()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.not_an_object()
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.not_an_object()
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.not_an_object()
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.not_an_object()
    }

    fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<(), D::Error> {
        de::DeserializeSeed::deserialize(self, inner)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        self.not_an_object()
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Children met so far, by position; a node has a handful.
        let mut met: u64 = 0;
        while let Some(Key(name)) = map.next_key()? {
            let at = if name.bytes().any(|b| b == b'.') {
                *self.fall_back |= self.node.step(&name).is_some();
                None
            } else {
                self.node
                    .children
                    .iter()
                    .position(|(child, _)| same_text(child.as_bytes(), name.as_bytes()))
            };
            let Some(at) = at else {
                map.next_value::<de::IgnoredAny>()?;
                continue;
            };
            let bit = 1u64.checked_shl(at as u32).unwrap_or(0);
            *self.fall_back |= bit == 0 || met & bit != 0;
            met |= bit;
            let child = SlotFill {
                node: &self.node.children[at].1,
                slots: &mut *self.slots,
                fall_back: &mut *self.fall_back,
                root: false,
            };
            map.next_value_seed(child)?;
        }
        Ok(())
    }
}

impl SlotFill<'_, '_, '_> {
    fn not_an_object<E>(self) -> Result<(), E> {
        *self.fall_back |= self.root;
        Ok(())
    }
}

/// Parses a line that must hold one JSON object for the `wanted` paths. A line that nests its
/// objects plainly, as nearly every writer does, has each path's value put in its slot as it
/// is parsed, and a field is then found without searching; any other line is read as by
/// [`parse_object_for`], with the same answers and the same errors.
fn parse_fields_for<'a, 'w>(
    line: &'a str,
    wanted: &'w WantedPaths,
) -> Result<Fields<'a, 'w>, ParseError> {
    if wanted.slots_usable {
        let mut slots = Vec::new();
        slots.resize_with(wanted.paths.len(), || None);
        let mut fall_back = false;
        let fill = SlotFill {
            node: &wanted.root,
            slots: &mut slots,
            fall_back: &mut fall_back,
            root: true,
        };
        let mut deserializer = serde_json::Deserializer::from_str(line);
        let parsed = de::DeserializeSeed::deserialize(fill, &mut deserializer)
            .and_then(|()| deserializer.end());
        if parsed.is_ok() && !fall_back {
            return Ok(Fields { wanted, found: Found::Slots(slots) });
        }
    }
    let object = parse_object_for(line, wanted)?;
    Ok(Fields { wanted, found: Found::Object(object) })
}

/// Reads one JSON line of a reader that looks up `wanted` paths: a blank line is ignored,
/// any other is parsed for those paths and turned into an outcome by `outcome`, which the
/// reader writes once for both kinds of [`Record`]. In debug builds the whole line, parsed and
/// searched the slow way, must give the same outcome; a line that only a whole parse rejects
/// is left out, since members that are not read are checked for their syntax only. Readers
/// pass closures (`|event| flow_of(event)`): a generic function named directly would be fixed
/// to one lifetime of the record.
// Inlined into each reader, as the body it took the place of was: 1% fewer instructions on ECS.
#[inline]
pub fn read_wanted(
    line: &str,
    wanted: &WantedPaths,
    outcome: impl Fn(&Fields) -> Result<LineOutcome, ParseError>,
    whole_outcome: impl Fn(&Object) -> Result<LineOutcome, ParseError>,
) -> Result<LineOutcome, ParseError> {
    if line.trim().is_empty() {
        return Ok(LineOutcome::Ignored);
    }
    let read = outcome(&parse_fields_for(line, wanted)?);
    if cfg!(debug_assertions) {
        if let Ok(whole) = parse_object(line) {
            assert_eq!(read, whole_outcome(&whole), "{line}");
        }
    }
    read
}

/// Parses a line that must hold one JSON object, keeping only what a lookup of one of the
/// `wanted` paths can reach.
fn parse_object_for<'a>(line: &'a str, wanted: &WantedPaths) -> Result<Object<'a>, ParseError> {
    let mut deserializer = serde_json::Deserializer::from_str(line);
    let parsed = de::DeserializeSeed::deserialize(FilteredValue(&wanted.root), &mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value));
    object_or_error(parsed)
}

/// Parses a line that must hold one JSON object.
pub fn parse_object(line: &str) -> Result<Object<'_>, ParseError> {
    object_or_error(serde_json::from_str::<Value>(line))
}

fn object_or_error(parsed: Result<Value<'_>, serde_json::Error>) -> Result<Object<'_>, ParseError> {
    match parsed {
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
    if !object.dotted_keys {
        // No key here spells more than one segment, so only the first segment can match.
        return match path.bytes().position(|b| b == b'.') {
            None => object.get(path).filter(|value| !value.is_null()),
            Some(dot) => match object.get(&path[..dot]) {
                Some(Value::Object(inner)) => lookup(inner, &path[dot + 1..]),
                _ => None,
            },
        };
    }
    if let Some(value) = object.get(path).filter(|value| !value.is_null()) {
        return Some(value);
    }
    memchr::memchr_iter(b'.', path.as_bytes()).find_map(|dot| match object.get(&path[..dot]) {
        Some(Value::Object(inner)) => lookup(inner, &path[dot + 1..]),
        _ => None,
    })
}

/// True when the path holds a non-null value.
pub fn has(object: &impl Record, path: &str) -> bool {
    object.find(path).is_some()
}

fn wrong_type(path: &str, value: &Value, expected: &str) -> ParseError {
    let shown = value.to_string();
    ParseError::field(SkipReason::BadValue, path, &shown, format!("expected {expected}"))
}

/// A string field.
pub fn get_str<'a>(object: &'a impl Record, path: &str) -> Result<Option<&'a str>, ParseError> {
    match object.find(path) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.as_ref())),
        Some(other) => Err(wrong_type(path, other, "a string")),
    }
}

/// A string kept as given, or a number written out, for identifiers that writers emit either
/// way (Suricata `flow_id` is a number, Packetbeat `flow.id` a string).
pub fn get_text(object: &impl Record, path: &str) -> Result<Option<String>, ParseError> {
    match object.find(path) {
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
pub fn get_count(object: &impl Record, path: &str) -> Result<Option<u64>, ParseError> {
    let value = object.find(path);
    // A whole JSON number needs no trip through text.
    if let Some(count) = value.and_then(whole_number) {
        return Ok(Some(count));
    }
    value.map(|value| parse_count(path, &numeric_text(path, value)?)).transpose()
}

/// The value of a JSON number that is a whole non-negative one.
fn whole_number(value: &Value) -> Option<u64> {
    match value {
        Value::Number(number) => number.as_u64(),
        _ => None,
    }
}

/// A duration in seconds, written as a number or a numeric string, as microseconds.
pub fn get_duration_micros(object: &impl Record, path: &str) -> Result<Option<i64>, ParseError> {
    let Some(value) = object.find(path) else {
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
pub fn get_port(object: &impl Record, path: &str) -> Result<Option<u16>, ParseError> {
    let value = object.find(path);
    if let Some(port) = value.and_then(whole_number).and_then(|n| u16::try_from(n).ok()) {
        return Ok(Some(port));
    }
    value.map(|value| parse_port(path, &numeric_text(path, value)?)).transpose()
}

/// An IP address written as a string.
pub fn get_ip(object: &impl Record, path: &str) -> Result<Option<IpAddr>, ParseError> {
    get_str(object, path)?.map(|text| parse_ip(path, text)).transpose()
}

/// A flag written as a JSON boolean or as the string `true` / `false`.
pub fn get_bool(object: &impl Record, path: &str) -> Result<Option<bool>, ParseError> {
    match object.find(path) {
        None => Ok(None),
        Some(Value::Bool(flag)) => Ok(Some(*flag)),
        Some(Value::String(text)) if text == "true" => Ok(Some(true)),
        Some(Value::String(text)) if text == "false" => Ok(Some(false)),
        Some(other) => Err(wrong_type(path, other, "true or false")),
    }
}

/// A timestamp written as epoch seconds (number or string) or as an ISO 8601 string.
pub fn get_time(object: &impl Record, path: &str) -> Result<Option<EpochMicros>, ParseError> {
    let Some(value) = object.find(path) else {
        return Ok(None);
    };
    let text: Cow<str> = match value {
        Value::Number(number) => Cow::Owned(number.to_string()),
        Value::String(text) => Cow::Borrowed(text),
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
        // Without dotted keys a path is walked member by member; a repeated key is its last
        // member, the first one is not searched.
        let repeated = object(r#"{"source":{"ip":"192.0.2.1"},"source":{"port":5}}"#);
        assert_eq!(get_str(&repeated, "source.ip").unwrap(), None);
        assert_eq!(get_port(&repeated, "source.port").unwrap(), Some(5));
        let last_wins = object(r#"{"a":{"b":{"c":"1"}},"a":{"b":{"c":"2"}}}"#);
        assert_eq!(get_str(&last_wins, "a.b.c").unwrap(), Some("2"));
        let null_at_the_end = object(r#"{"source":{"ip":"192.0.2.1"},"source":{"ip":null}}"#);
        assert_eq!(lookup(&null_at_the_end, "source.ip"), None);
        assert_eq!(lookup(&object(r#"{"source":"x"}"#), "source.ip"), None);
        let inner_dotted = object(r#"{"destination":{"geo":{"x":1},"geo.country_iso_code":"NL"}}"#);
        assert_eq!(get_str(&inner_dotted, "destination.geo.country_iso_code").unwrap(), Some("NL"));
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
    fn a_line_parsed_for_some_paths_answers_them_as_the_whole_line_does() {
        let paths = ["source.ip", "destination.geo.country_iso_code", "event.start", "n"];
        let wanted = WantedPaths::new(&paths);
        let lines = [
            r#"{"destination":{"geo":{"country_iso_code":"NL","city_name":"A"},"ip":"x"}}"#,
            r#"{"destination.geo.country_iso_code":"NL","agent":{"type":"x"},"n":[1]}"#,
            r#"{"destination":{"geo.country_iso_code":"NL"},"event":{"start":3,"kind":"e"}}"#,
            r#"{"source":{"ip":null},"source.ip":"192.0.2.1","source.port":1,"n":1,"n":null}"#,
            r#"{"destination.geo":{"country_iso_code":"NL"},"event":"flat","source":[1,2]}"#,
            r#"{"event.start":"2024-01-01T00:00:00Z","event":{"start":{"x":1}},"st":1}"#,
        ];
        for line in lines {
            let (whole, filtered) = (object(line), parse_object_for(line, &wanted).unwrap());
            for path in paths {
                assert_eq!(lookup(&filtered, path), lookup(&whole, path), "{path} in {line}");
            }
        }
        let more = [
            r#"{"source":{"ip":"192.0.2.1"},"source":{"port":5},"n":2}"#,
            r#"{"source":{"ip":"192.0.2.1"},"source":{"ip":null}}"#,
            r#"{"destination":{"geo":{"country_iso_code":"NL"}},"agent.type":"x","n":null}"#,
            r#"{"destination":{"geo":"NL"},"source":{"ip":{"v":4}},"event":{"start":[1]}}"#,
            r#"{"n":{"a.b":1},"source":{"ip":"x","ip.v":4}}"#,
            r#"{"source":{"ip":"x"},"source":{"ip":"y"},"event":{"start":2,"start":3}}"#,
        ];
        for line in lines.iter().chain(&more) {
            let (whole, fields) = (object(line), parse_fields_for(line, &wanted).unwrap());
            for path in paths {
                assert_eq!(fields.find(path), lookup(&whole, path), "{path} in {line}");
            }
        }
        let plain = parse_fields_for(lines[0], &wanted).unwrap();
        assert!(matches!(plain.found, Found::Slots(_)));
        for spelled_otherwise in [lines[1], lines[3], more[0], more[5]] {
            let fields = parse_fields_for(spelled_otherwise, &wanted).unwrap();
            assert!(matches!(fields.found, Found::Object(_)), "{spelled_otherwise}");
        }
        // A dotted key that leads nowhere wanted does not need the slower reading.
        for unwanted_dots in [more[2], more[4]] {
            let fields = parse_fields_for(unwanted_dots, &wanted).unwrap();
            assert!(matches!(fields.found, Found::Slots(_)), "{unwanted_dots}");
        }
        for broken in [r#"{"n": 1} {"n": 2}"#, "[1]", "7", r#"{"n":"#] {
            let slow = parse_object_for(broken, &wanted).unwrap_err();
            assert_eq!(parse_fields_for(broken, &wanted).unwrap_err(), slow, "{broken}");
        }
        // Members nobody reads are checked for their syntax only.
        let odd = r#"{"agent":{"type":"\ud800","n":1e400},"source":{"ip":"192.0.2.1"}}"#;
        assert!(parse_object(odd).is_err());
        let fields = parse_fields_for(odd, &wanted).unwrap();
        assert_eq!(get_str(&fields, "source.ip").unwrap(), Some("192.0.2.1"));
        let filtered = parse_object_for(lines[0], &wanted).unwrap();
        assert_eq!(lookup(&filtered, "destination.geo.city_name"), None);
        assert_eq!(lookup(&filtered, "destination.ip"), None);
        let error = parse_object_for(r#"{"n": 1} {"n": 2}"#, &wanted).unwrap_err();
        assert_eq!(error.reason, SkipReason::MalformedLine);
        assert_eq!(parse_object_for("[1]", &wanted).unwrap_err().reason, SkipReason::MalformedLine);
    }

    #[test]
    fn non_objects_and_broken_json_are_malformed() {
        assert_eq!(parse_object("[1,2]").unwrap_err().reason, SkipReason::MalformedLine);
        let error = parse_object(r#"{"ts": 1.5,"#).unwrap_err();
        assert_eq!(error.reason, SkipReason::MalformedLine);
        assert!(error.message.starts_with("line is not valid json"), "{}", error.message);
    }
}
