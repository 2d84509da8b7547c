//! Field values as bucket keys.
//!
//! A *field value* is what one job field (an over field or an influencer) holds for one flow:
//! an address, a port, or a text such as a country code or a host name. Buckets key their
//! totals by it once per flow, so it is kept in its own type: an address is hashed and compared
//! as 16 bytes instead of being written out as text for every flow, and looking a value up
//! never allocates ([`FieldValueRef`] borrows the flow's text).
//!
//! Every value has one *text*, the way it is shown and stored: addresses in their standard
//! form, ports in decimal. The mapping is one to one because text that is itself the standard
//! form of an address or a port is kept as that address or port (see [`FieldValueRef::text`]):
//! a host named `10.0.0.5` and the source address 10.0.0.5 are the same value, as they were
//! when values were text, and a value read back from the state is the value that was saved.
//! Values are therefore equal exactly when their texts are, and they are ordered by text.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

/// A field value that owns its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    Address(IpAddr),
    Number(u16),
    Text(Box<str>),
}

/// A field value that borrows its text, for looking values up without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValueRef<'a> {
    Address(IpAddr),
    Number(u16),
    Text(&'a str),
}

impl<'a> FieldValueRef<'a> {
    /// The value whose text is `text`: an address or a port when `text` is the standard form
    /// of one, else the text itself.
    pub fn text(text: &'a str) -> FieldValueRef<'a> {
        // Standard forms use only digits, dots, colons and lower-case hex letters; most texts
        // (names, country codes) are told apart by their first bytes without parsing.
        let could_be_standard = !text.is_empty()
            && text.len() <= 45
            && text.bytes().all(|b| b.is_ascii_digit() || b"abcdef.:".contains(&b));
        if could_be_standard {
            if text.bytes().all(|b| b.is_ascii_digit()) {
                if let Ok(number) = text.parse::<u16>() {
                    if !(text.len() > 1 && text.starts_with('0')) {
                        return FieldValueRef::Number(number);
                    }
                }
            } else if let Ok(address) = text.parse::<IpAddr>() {
                if TextBuffer::of(&FieldValueRef::Address(address)).as_str() == text {
                    return FieldValueRef::Address(address);
                }
            }
        }
        FieldValueRef::Text(text)
    }

    pub fn owned(self) -> FieldValue {
        match self {
            FieldValueRef::Address(address) => FieldValue::Address(address),
            FieldValueRef::Number(number) => FieldValue::Number(number),
            FieldValueRef::Text(text) => FieldValue::Text(text.into()),
        }
    }

    /// Calls `use_text` with the value's text, written on the stack when it is not text
    /// already.
    pub fn with_text<R>(self, use_text: impl FnOnce(&str) -> R) -> R {
        match self {
            FieldValueRef::Text(text) => use_text(text),
            other => use_text(TextBuffer::of(&other).as_str()),
        }
    }
}

impl FieldValue {
    pub fn as_ref(&self) -> FieldValueRef<'_> {
        match self {
            FieldValue::Address(address) => FieldValueRef::Address(*address),
            FieldValue::Number(number) => FieldValueRef::Number(*number),
            FieldValue::Text(text) => FieldValueRef::Text(text),
        }
    }

    /// The value of `text` (see [`FieldValueRef::text`]).
    pub fn from_text(text: &str) -> FieldValue {
        FieldValueRef::text(text).owned()
    }

    /// Calls `use_text` with the value's text (see [`FieldValueRef::with_text`]).
    pub fn with_text<R>(&self, use_text: impl FnOnce(&str) -> R) -> R {
        self.as_ref().with_text(use_text)
    }
}

// One hash for both forms, so that a borrowed value finds its owned twin in a map. Addresses
// and ports are hashed as one word with their kind, since the hasher mixes every write.
impl Hash for FieldValueRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            FieldValueRef::Address(IpAddr::V4(address)) => {
                state.write_u64(1 << 32 | u64::from(address.to_bits()));
            }
            FieldValueRef::Address(IpAddr::V6(address)) => state.write_u128(address.to_bits()),
            FieldValueRef::Number(number) => state.write_u64(2 << 32 | u64::from(*number)),
            FieldValueRef::Text(text) => text.hash(state),
        }
    }
}

impl Hash for FieldValue {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_ref().hash(state);
    }
}

impl From<&FieldValueRef<'_>> for FieldValue {
    fn from(value: &FieldValueRef<'_>) -> FieldValue {
        value.owned()
    }
}

impl hashbrown::Equivalent<FieldValue> for FieldValueRef<'_> {
    fn equivalent(&self, key: &FieldValue) -> bool {
        *self == key.as_ref()
    }
}

impl fmt::Display for FieldValueRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The general formatter takes several times as long as the text buffer's.
            FieldValueRef::Address(IpAddr::V4(_)) => f.pad(TextBuffer::of(self).as_str()),
            FieldValueRef::Address(address) => address.fmt(f),
            FieldValueRef::Number(number) => number.fmt(f),
            FieldValueRef::Text(text) => f.write_str(text),
        }
    }
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_ref().fmt(f)
    }
}

impl Ord for FieldValueRef<'_> {
    /// By text, as values were ordered when they were text: ties in rankings are broken the
    /// same way whatever the field.
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (FieldValueRef::Text(a), FieldValueRef::Text(b)) => a.cmp(b),
            _ => self.with_text(|a| other.with_text(|b| a.cmp(b))),
        }
    }
}

impl PartialOrd for FieldValueRef<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for FieldValue {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_ref().cmp(&other.as_ref())
    }
}

impl PartialOrd for FieldValue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Serialize for FieldValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.with_text(|text| serializer.serialize_str(text))
    }
}

impl<'de> Deserialize<'de> for FieldValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(FieldValue::from_text(&text))
    }
}

/// The text of an address or a port, written on the stack. The longest is an IPv6 address
/// with an embedded IPv4 one, 45 bytes.
struct TextBuffer {
    bytes: [u8; 48],
    len: usize,
}

impl TextBuffer {
    fn of(value: &FieldValueRef<'_>) -> TextBuffer {
        use std::fmt::Write;
        let mut buffer = TextBuffer { bytes: [0; 48], len: 0 };
        match value {
            // Written digit by digit: the general formatter takes several times as long, and
            // hosts' addresses are written out for every bucket they send in.
            FieldValueRef::Address(IpAddr::V4(address)) => {
                for (index, octet) in address.octets().into_iter().enumerate() {
                    if index > 0 {
                        buffer.push(b'.');
                    }
                    if octet >= 100 {
                        buffer.push(b'0' + octet / 100);
                    }
                    if octet >= 10 {
                        buffer.push(b'0' + octet / 10 % 10);
                    }
                    buffer.push(b'0' + octet % 10);
                }
            }
            // Addresses and ports always fit, so writing cannot fail.
            _ => drop(write!(buffer, "{value}")),
        }
        buffer
    }

    fn push(&mut self, digit_or_dot: u8) {
        self.bytes[self.len] = digit_or_dot;
        self.len += 1;
    }

    fn as_str(&self) -> &str {
        // Only whole `str`s are written.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl fmt::Write for TextBuffer {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let end = self.len + text.len();
        let room = self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?;
        room.copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;

    fn hash_of(value: &impl Hash) -> u64 {
        let mut hasher = DefaultHasher::new();
        value.hash(&mut hasher);
        hasher.finish()
    }

    #[test]
    fn standard_texts_of_addresses_and_ports_become_addresses_and_ports() {
        let address = |text: &str| FieldValueRef::Address(text.parse().unwrap());
        assert_eq!(FieldValueRef::text("10.0.0.5"), address("10.0.0.5"));
        assert_eq!(FieldValueRef::text("2001:db8::1"), address("2001:db8::1"));
        assert_eq!(FieldValueRef::text("443"), FieldValueRef::Number(443));
        assert_eq!(FieldValueRef::text("0"), FieldValueRef::Number(0));
        // Not the standard form, so kept as written: the text must come back unchanged.
        for text in ["2001:DB8::1", "2001:0db8::1", "010.0.0.5", "0443", "65536", "", "DE"] {
            assert_eq!(FieldValueRef::text(text), FieldValueRef::Text(text), "{text}");
        }
        assert_eq!(FieldValueRef::text("deadbeef"), FieldValueRef::Text("deadbeef"));
    }

    #[test]
    fn every_value_keeps_its_text_and_reads_back_as_itself() {
        let texts = ["10.0.0.5", "0.0.0.0", "192.168.100.255", "::ffff:1.2.3.4", "443", "web-01"];
        for text in texts.into_iter().chain(["Germany", "2001:DB8::1", "2001:db8::1"]) {
            let value = FieldValue::from_text(text);
            assert_eq!(value.to_string(), text);
            let saved = serde_json::to_string(&value).unwrap();
            assert_eq!(saved, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<FieldValue>(&saved).unwrap(), value);
            assert_eq!(hash_of(&value), hash_of(&value.as_ref()));
        }
    }

    #[test]
    fn values_are_ordered_by_their_text() {
        let mut values: Vec<FieldValue> = ["10.0.0.10", "10.0.0.9", "8080", "80", "DE", "10.0.0.1"]
            .into_iter()
            .map(FieldValue::from_text)
            .collect();
        values.sort();
        let texts: Vec<String> = values.iter().map(ToString::to_string).collect();
        assert_eq!(texts, ["10.0.0.1", "10.0.0.10", "10.0.0.9", "80", "8080", "DE"]);
    }

    #[test]
    fn a_borrowed_value_finds_its_owned_twin() {
        let mut map: hashbrown::HashMap<FieldValue, u64> = hashbrown::HashMap::new();
        map.insert(FieldValue::from_text("10.0.0.5"), 7);
        map.insert(FieldValue::from_text("web-01"), 9);
        assert_eq!(map.get(&FieldValueRef::Address("10.0.0.5".parse().unwrap())), Some(&7));
        assert_eq!(map.get(&FieldValueRef::text("web-01")), Some(&9));
        assert_eq!(map.get(&FieldValueRef::text("web-02")), None);
    }
}
