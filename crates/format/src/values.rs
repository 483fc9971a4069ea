//! Decoded value columns: one typed vector per block, series or batch.

use crate::format::{block_type, wal_type};

/// The type of a field's values. One key holds one type per shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FieldType {
    /// IEEE-754 64-bit floats.
    Float,
    /// Signed 64-bit integers.
    Integer,
    /// Unsigned 64-bit integers.
    Unsigned,
    /// Booleans.
    Boolean,
    /// Byte strings (usually, not necessarily, UTF-8).
    String,
}

impl FieldType {
    /// The type of a TSM block type code.
    pub fn from_block_type(code: u8) -> Option<FieldType> {
        Some(match code {
            block_type::FLOAT => FieldType::Float,
            block_type::INTEGER => FieldType::Integer,
            block_type::BOOLEAN => FieldType::Boolean,
            block_type::STRING => FieldType::String,
            block_type::UNSIGNED => FieldType::Unsigned,
            _ => return None,
        })
    }

    /// The TSM block type code of this type.
    pub fn block_type(self) -> u8 {
        match self {
            FieldType::Float => block_type::FLOAT,
            FieldType::Integer => block_type::INTEGER,
            FieldType::Boolean => block_type::BOOLEAN,
            FieldType::String => block_type::STRING,
            FieldType::Unsigned => block_type::UNSIGNED,
        }
    }

    /// The type of a WAL value type code.
    pub fn from_wal_type(code: u8) -> Option<FieldType> {
        Some(match code {
            wal_type::FLOAT => FieldType::Float,
            wal_type::INTEGER => FieldType::Integer,
            wal_type::BOOLEAN => FieldType::Boolean,
            wal_type::STRING => FieldType::String,
            wal_type::UNSIGNED => FieldType::Unsigned,
            _ => return None,
        })
    }

    /// The WAL value type code of this type.
    pub fn wal_type(self) -> u8 {
        match self {
            FieldType::Float => wal_type::FLOAT,
            FieldType::Integer => wal_type::INTEGER,
            FieldType::Boolean => wal_type::BOOLEAN,
            FieldType::String => wal_type::STRING,
            FieldType::Unsigned => wal_type::UNSIGNED,
        }
    }

    /// The name InfluxQL uses: `float`, `integer`, `unsigned`, `boolean`, `string`.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Float => "float",
            FieldType::Integer => "integer",
            FieldType::Unsigned => "unsigned",
            FieldType::Boolean => "boolean",
            FieldType::String => "string",
        }
    }

    /// The type whose [`name`](FieldType::name) is `name` (lowercase, as InfluxQL
    /// writes it); `None` for any other text.
    pub fn from_name(name: &str) -> Option<FieldType> {
        Some(match name {
            "float" => FieldType::Float,
            "integer" => FieldType::Integer,
            "unsigned" => FieldType::Unsigned,
            "boolean" => FieldType::Boolean,
            "string" => FieldType::String,
            _ => return None,
        })
    }
}

impl std::fmt::Display for FieldType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Many byte strings in one buffer: `bytes[offsets[i]..offsets[i + 1]]` is string `i`.
///
/// This is Arrow's layout, so a finished column moves into an Arrow array without copying
/// each string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Strings {
    bytes: Vec<u8>,
    offsets: Vec<usize>,
}

impl Default for Strings {
    fn default() -> Strings {
        Strings {
            bytes: Vec::new(),
            offsets: vec![0],
        }
    }
}

impl Strings {
    /// No strings.
    pub fn new() -> Strings {
        Strings::default()
    }

    /// Number of strings.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Whether there are no strings.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends one string.
    pub fn push(&mut self, value: &[u8]) {
        self.bytes.extend_from_slice(value);
        self.offsets.push(self.bytes.len());
    }

    /// String `i`, or `None` past the end.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let start = *self.offsets.get(i)?;
        let end = *self.offsets.get(i + 1)?;
        self.bytes.get(start..end)
    }

    /// All strings in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.offsets.windows(2).map(|w| &self.bytes[w[0]..w[1]])
    }

    /// Removes every string, keeping the allocations.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.offsets.truncate(1);
    }

    /// Total bytes of all strings.
    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// The concatenated bytes and the `len() + 1` offsets into them.
    pub fn as_parts(&self) -> (&[u8], &[usize]) {
        (&self.bytes, &self.offsets)
    }

    /// Takes the buffers apart (for building an Arrow array).
    pub fn into_parts(self) -> (Vec<u8>, Vec<usize>) {
        (self.bytes, self.offsets)
    }

    /// Appends strings `range` of `other`.
    pub fn extend_from(&mut self, other: &Strings, range: std::ops::Range<usize>) {
        let (start, end) = (other.offsets[range.start], other.offsets[range.end]);
        let shift = self.bytes.len() as isize - start as isize;
        self.bytes.extend_from_slice(&other.bytes[start..end]);
        self.offsets.extend(
            other.offsets[range.start + 1..=range.end]
                .iter()
                .map(|&o| (o as isize + shift) as usize),
        );
    }

    /// Removes the first `n` strings.
    pub fn drain_front(&mut self, n: usize) {
        let cut = self.offsets[n];
        self.bytes.drain(..cut);
        self.offsets.drain(..n);
        for o in &mut self.offsets {
            *o -= cut;
        }
    }

    /// Keeps the first `len` strings.
    pub fn truncate(&mut self, len: usize) {
        if len < self.len() {
            self.offsets.truncate(len + 1);
            self.bytes.truncate(self.offsets[len]);
        }
    }
}

impl<'a> FromIterator<&'a [u8]> for Strings {
    fn from_iter<I: IntoIterator<Item = &'a [u8]>>(iter: I) -> Strings {
        let mut out = Strings::new();
        for s in iter {
            out.push(s);
        }
        out
    }
}

/// A column of values of one type.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    /// Floats.
    Float(Vec<f64>),
    /// Signed integers.
    Integer(Vec<i64>),
    /// Unsigned integers.
    Unsigned(Vec<u64>),
    /// Booleans.
    Boolean(Vec<bool>),
    /// Byte strings.
    String(Strings),
}

impl Values {
    /// An empty column of `ty`.
    pub fn new(ty: FieldType) -> Values {
        match ty {
            FieldType::Float => Values::Float(Vec::new()),
            FieldType::Integer => Values::Integer(Vec::new()),
            FieldType::Unsigned => Values::Unsigned(Vec::new()),
            FieldType::Boolean => Values::Boolean(Vec::new()),
            FieldType::String => Values::String(Strings::new()),
        }
    }

    /// The type of the values.
    pub fn field_type(&self) -> FieldType {
        match self {
            Values::Float(_) => FieldType::Float,
            Values::Integer(_) => FieldType::Integer,
            Values::Unsigned(_) => FieldType::Unsigned,
            Values::Boolean(_) => FieldType::Boolean,
            Values::String(_) => FieldType::String,
        }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Values::Float(v) => v.len(),
            Values::Integer(v) => v.len(),
            Values::Unsigned(v) => v.len(),
            Values::Boolean(v) => v.len(),
            Values::String(v) => v.len(),
        }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every value, keeping the allocation and the type.
    pub fn clear(&mut self) {
        match self {
            Values::Float(v) => v.clear(),
            Values::Integer(v) => v.clear(),
            Values::Unsigned(v) => v.clear(),
            Values::Boolean(v) => v.clear(),
            Values::String(v) => v.clear(),
        }
    }

    /// Reserves room for `additional` more values (for strings, their offsets).
    pub fn reserve(&mut self, additional: usize) {
        match self {
            Values::Float(v) => v.reserve(additional),
            Values::Integer(v) => v.reserve(additional),
            Values::Unsigned(v) => v.reserve(additional),
            Values::Boolean(v) => v.reserve(additional),
            Values::String(v) => v.offsets.reserve(additional),
        }
    }

    /// Makes this an empty column of `ty`, reusing the allocation when the type matches.
    #[inline]
    pub fn reset(&mut self, ty: FieldType) {
        if self.field_type() == ty {
            self.clear();
        } else {
            *self = Values::new(ty);
        }
    }

    /// Approximate heap bytes held by the values (for batch sizing).
    pub fn byte_len(&self) -> usize {
        match self {
            Values::Float(v) => v.len() * 8,
            Values::Integer(v) => v.len() * 8,
            Values::Unsigned(v) => v.len() * 8,
            Values::Boolean(v) => v.len(),
            Values::String(v) => v.byte_len() + v.len() * 8,
        }
    }

    /// Value `i` as a borrowed scalar.
    pub fn get(&self, i: usize) -> Option<Value<'_>> {
        Some(match self {
            Values::Float(v) => Value::Float(*v.get(i)?),
            Values::Integer(v) => Value::Integer(*v.get(i)?),
            Values::Unsigned(v) => Value::Unsigned(*v.get(i)?),
            Values::Boolean(v) => Value::Boolean(*v.get(i)?),
            Values::String(v) => Value::String(v.get(i)?),
        })
    }

    /// Appends value `i` of `other`, which must have the same type.
    ///
    /// # Panics
    /// When the types differ or `i` is out of range: both are bugs of the caller.
    pub fn push_from(&mut self, other: &Values, i: usize) {
        match (self, other) {
            (Values::Float(a), Values::Float(b)) => a.push(b[i]),
            (Values::Integer(a), Values::Integer(b)) => a.push(b[i]),
            (Values::Unsigned(a), Values::Unsigned(b)) => a.push(b[i]),
            (Values::Boolean(a), Values::Boolean(b)) => a.push(b[i]),
            (Values::String(a), Values::String(b)) => a.push(b.get(i).expect("index in range")),
            (a, b) => panic!("push_from {} into {}", b.field_type(), a.field_type()),
        }
    }

    /// Appends values `range` of `other`, which must have the same type.
    ///
    /// # Panics
    /// When the types differ or `range` is out of bounds: both are bugs of the caller.
    pub fn extend_from(&mut self, other: &Values, range: std::ops::Range<usize>) {
        match (self, other) {
            (Values::Float(a), Values::Float(b)) => a.extend_from_slice(&b[range]),
            (Values::Integer(a), Values::Integer(b)) => a.extend_from_slice(&b[range]),
            (Values::Unsigned(a), Values::Unsigned(b)) => a.extend_from_slice(&b[range]),
            (Values::Boolean(a), Values::Boolean(b)) => a.extend_from_slice(&b[range]),
            (Values::String(a), Values::String(b)) => a.extend_from(b, range),
            (a, b) => panic!("extend_from {} into {}", b.field_type(), a.field_type()),
        }
    }

    /// Removes the first `n` values.
    pub fn drain_front(&mut self, n: usize) {
        match self {
            Values::Float(v) => drop(v.drain(..n)),
            Values::Integer(v) => drop(v.drain(..n)),
            Values::Unsigned(v) => drop(v.drain(..n)),
            Values::Boolean(v) => drop(v.drain(..n)),
            Values::String(v) => v.drain_front(n),
        }
    }

    /// Appends a default value (0, false, empty string): a placeholder under a null.
    pub fn push_default(&mut self) {
        match self {
            Values::Float(v) => v.push(0.0),
            Values::Integer(v) => v.push(0),
            Values::Unsigned(v) => v.push(0),
            Values::Boolean(v) => v.push(false),
            Values::String(v) => v.push(b""),
        }
    }
}

/// One value, borrowed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    /// A float.
    Float(f64),
    /// A signed integer.
    Integer(i64),
    /// An unsigned integer.
    Unsigned(u64),
    /// A boolean.
    Boolean(bool),
    /// A byte string.
    String(&'a [u8]),
}

impl Value<'_> {
    /// The type of the value.
    pub fn field_type(&self) -> FieldType {
        match self {
            Value::Float(_) => FieldType::Float,
            Value::Integer(_) => FieldType::Integer,
            Value::Unsigned(_) => FieldType::Unsigned,
            Value::Boolean(_) => FieldType::Boolean,
            Value::String(_) => FieldType::String,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_codes_round_trip() {
        for ty in [
            FieldType::Float,
            FieldType::Integer,
            FieldType::Unsigned,
            FieldType::Boolean,
            FieldType::String,
        ] {
            assert_eq!(FieldType::from_block_type(ty.block_type()), Some(ty));
            assert_eq!(FieldType::from_wal_type(ty.wal_type()), Some(ty));
        }
        assert_eq!(FieldType::from_block_type(5), None);
        assert_eq!(FieldType::from_wal_type(0), None);
        assert_eq!(FieldType::from_wal_type(1), Some(FieldType::Float));
        assert_eq!(FieldType::from_block_type(1), Some(FieldType::Integer));
    }

    #[test]
    fn names_round_trip() {
        for ty in [
            FieldType::Float,
            FieldType::Integer,
            FieldType::Unsigned,
            FieldType::Boolean,
            FieldType::String,
        ] {
            assert_eq!(FieldType::from_name(ty.name()), Some(ty));
            assert_eq!(ty.to_string(), ty.name());
        }
        for other in ["", "Float", "INTEGER", "int", "bool", "str", "float "] {
            assert_eq!(FieldType::from_name(other), None, "{other:?}");
        }
    }

    #[test]
    fn strings_layout() {
        let mut s: Strings = [&b"ab"[..], b"", b"xyz"].into_iter().collect();
        assert_eq!(s.len(), 3);
        assert_eq!(s.get(1), Some(&b""[..]));
        assert_eq!(s.get(2), Some(&b"xyz"[..]));
        assert_eq!(s.get(3), None);
        assert_eq!(s.as_parts(), (&b"abxyz"[..], &[0, 2, 2, 5][..]));
        let mut t = Strings::new();
        t.push(b"q");
        t.extend_from(&s, 1..3);
        assert_eq!(t.iter().collect::<Vec<_>>(), vec![&b"q"[..], b"", b"xyz"]);
        t.drain_front(1);
        assert_eq!(t.iter().collect::<Vec<_>>(), vec![&b""[..], b"xyz"]);
        assert_eq!(t.as_parts(), (&b"xyz"[..], &[0, 0, 3][..]));
        s.truncate(1);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![&b"ab"[..]]);
        s.clear();
        assert!(s.is_empty());
    }
}
