//! Composite keys `measurement,tag=value,...#!~#field` and series keys.
//!
//! The series key keeps line-protocol escapes (`\,` `\ ` `\=`); the field key after the
//! separator is stored raw. Splitting follows the engine exactly, including its quirks:
//! the composite key splits at the *first* `#!~#`, and a backslash escapes only the one
//! byte after it, so a tag value ending in a backslash is read the way InfluxDB reads it.

use crate::format::FIELD_SEPARATOR;

/// Splits a composite key into (series key, field key) at the first `#!~#`.
///
/// Returns `None` when there is no separator: such a key was not written by InfluxDB.
///
/// ```
/// let (series, field) = influx_tsm_format::key::split_composite(b"cpu,host=a#!~#usage").unwrap();
/// assert_eq!((series, field), (&b"cpu,host=a"[..], &b"usage"[..]));
/// ```
pub fn split_composite(key: &[u8]) -> Option<(&[u8], &[u8])> {
    // Every key of a shard is split, twice per export: look for the separator's first
    // byte and check the rest there, rather than compare every window.
    let (first, rest) = FIELD_SEPARATOR.split_first()?;
    let mut from = 0;
    while let Some(i) = key.get(from..)?.iter().position(|b| b == first) {
        let at = from + i;
        let tail = &key[at + 1..];
        if tail.starts_with(rest) {
            return Some((&key[..at], &tail[rest.len()..]));
        }
        from = at + 1;
    }
    None
}

/// [`split_composite`] for keys coming in sorted order, where most keys belong to the
/// series of the key before them: such a key is split by one prefix comparison instead of
/// a search for the separator.
///
/// A key starting with the last split key's `series#!~#` splits there too: a separator
/// starting earlier would lie inside that prefix, so the last key would have split
/// earlier as well.
#[derive(Debug, Default)]
pub struct SortedSplitter<'a> {
    /// `series#!~#` of the last key split, if it had a separator.
    prefix: Option<&'a [u8]>,
}

/// A composite key split by [`SortedSplitter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SortedSplit<'a> {
    /// The series key, before `#!~#`.
    pub series: &'a [u8],
    /// The field key, after `#!~#`.
    pub field: &'a [u8],
    /// Whether the series is that of the key split before.
    pub same_series: bool,
}

impl<'a> SortedSplitter<'a> {
    /// `key` split as [`split_composite`] splits it.
    pub fn split(&mut self, key: &'a [u8]) -> Option<SortedSplit<'a>> {
        if let Some(prefix) = self.prefix
            && let Some(field) = key.strip_prefix(prefix)
        {
            let series = &prefix[..prefix.len() - FIELD_SEPARATOR.len()];
            return Some(SortedSplit {
                series,
                field,
                same_series: true,
            });
        }
        let split = split_composite(key);
        self.prefix = split.map(|(series, _)| &key[..series.len() + FIELD_SEPARATOR.len()]);
        split.map(|(series, field)| SortedSplit {
            series,
            field,
            same_series: false,
        })
    }
}

/// A series key split into its measurement and tags, still escaped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesKey<'a> {
    /// The escaped measurement.
    pub measurement: &'a [u8],
    /// Escaped (key, value) pairs in stored order (ascending by key).
    pub tags: Vec<(&'a [u8], &'a [u8])>,
}

impl<'a> SeriesKey<'a> {
    /// Parses a series key. Never fails: InfluxDB's own parser accepts any bytes, and so
    /// do we, with the same results (a tag without `=` becomes a key with an empty value).
    ///
    /// ```
    /// let k = influx_tsm_format::key::SeriesKey::parse(br"air\ q,site=Qu\,1,dev=a\=b");
    /// assert_eq!(k.measurement_unescaped(), b"air q");
    /// assert_eq!(k.tags_unescaped(), vec![(b"site".to_vec(), b"Qu,1".to_vec()), (b"dev".to_vec(), b"a=b".to_vec())]);
    /// ```
    pub fn parse(key: &'a [u8]) -> SeriesKey<'a> {
        SeriesKey {
            measurement: measurement_of(key),
            tags: tags_of(key).collect(),
        }
    }

    /// The measurement name without escapes (`\,` and `\ ` are the only escapes the
    /// engine's key parser removes from measurements).
    pub fn measurement_unescaped(&self) -> Vec<u8> {
        unescape(self.measurement, b", ")
    }

    /// The tags without escapes (`\,` `\ ` `\=`).
    pub fn tags_unescaped(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.tags
            .iter()
            .map(|(k, v)| (unescape(k, b", ="), unescape(v, b", =")))
            .collect()
    }
}

/// The escaped measurement of a series or composite key: the bytes before the first
/// unescaped comma (or the whole series key).
#[inline]
pub fn measurement_of(series_key: &[u8]) -> &[u8] {
    match find_unescaped(series_key, b',') {
        Some(at) => &series_key[..at],
        None => series_key,
    }
}

/// The escaped (key, value) pairs of a series key, as [`SeriesKey::parse`] reads them,
/// without collecting them: streaming a shard parses every series once.
pub fn tags_of(series_key: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut parts = split_unescaped(series_key, b',');
    // The measurement.
    parts.next();
    parts
        .filter(|p| !p.is_empty())
        .map(|pair| match find_unescaped(pair, b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &pair[pair.len()..]),
        })
}

/// Whether `escaped` unescapes (like [`unescape`] with `escaped_bytes`) to `plain`,
/// without building the unescaped copy.
pub fn unescapes_to(escaped: &[u8], escaped_bytes: &[u8], plain: &[u8]) -> bool {
    let mut rest = plain;
    let mut i = 0;
    while i < escaped.len() {
        let b = if escaped[i] == b'\\'
            && escaped
                .get(i + 1)
                .is_some_and(|b| escaped_bytes.contains(b))
        {
            i += 2;
            escaped[i - 1]
        } else {
            i += 1;
            escaped[i - 1]
        };
        match rest.split_first() {
            Some((&first, tail)) if first == b => rest = tail,
            _ => return false,
        }
    }
    rest.is_empty()
}

/// Position of the first `sep` not preceded by a backslash.
#[inline]
fn find_unescaped(bytes: &[u8], sep: u8) -> Option<usize> {
    let mut i = 0;
    while let Some(at) = find_either(bytes.get(i..)?, b'\\', sep) {
        i += at;
        if bytes.get(i) == Some(&sep) {
            return Some(i);
        }
        i += 2;
    }
    None
}

/// Position of the first `a` or `b`: eight bytes at a time, as every series key is
/// parsed once per pass over a shard.
#[inline]
fn find_either(bytes: &[u8], a: u8, b: u8) -> Option<usize> {
    const LOW: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // Nonzero exactly when some byte of `word` is zero (no false positives past the
    // first zero byte, which is all that is asked here).
    let has_zero = |word: u64| word.wrapping_sub(LOW) & !word & HIGH;
    let (a_word, b_word) = (LOW * u64::from(a), LOW * u64::from(b));
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes(chunk.try_into().unwrap_or_default());
        if has_zero(word ^ a_word) | has_zero(word ^ b_word) != 0 {
            break;
        }
        offset += 8;
    }
    bytes[offset..]
        .iter()
        .position(|&c| c == a || c == b)
        .map(|at| offset + at)
}

fn split_unescaped(bytes: &[u8], sep: u8) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(bytes);
    std::iter::from_fn(move || {
        let cur = rest?;
        match find_unescaped(cur, sep) {
            Some(at) => {
                rest = Some(&cur[at + 1..]);
                Some(&cur[..at])
            }
            None => {
                rest = None;
                Some(cur)
            }
        }
    })
}

/// Removes a backslash in front of any byte of `escaped`; other backslashes are literal.
pub fn unescape(bytes: &[u8], escaped: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    unescape_into(bytes, escaped, &mut out);
    out
}

/// [`unescape`] into `out` (cleared first), so that a caller can reuse one buffer.
pub fn unescape_into(bytes: &[u8], escaped: &[u8], out: &mut Vec<u8>) {
    out.clear();
    // Most keys have no backslash: the bytes between backslashes are copied in bulk.
    let mut rest = bytes;
    while let Some(at) = rest.iter().position(|&b| b == b'\\') {
        out.extend_from_slice(&rest[..at]);
        match rest.get(at + 1) {
            Some(&b) if escaped.contains(&b) => {
                out.push(b);
                rest = &rest[at + 2..];
            }
            _ => {
                out.push(b'\\');
                rest = &rest[at + 1..];
            }
        }
    }
    out.extend_from_slice(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_into_removes_only_escapes_of_the_given_bytes() {
        // Byte by byte, as the engine reads them.
        fn reference(bytes: &[u8], escaped: &[u8]) -> Vec<u8> {
            let mut out = Vec::new();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'\\' && bytes.get(i + 1).is_some_and(|b| escaped.contains(b)) {
                    out.push(bytes[i + 1]);
                    i += 2;
                } else {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            out
        }
        let cases: [&[u8]; 9] = [
            b"",
            b"plain",
            b"\\",
            b"a\\",
            b"a\\,b",
            b"\\\\,",
            b"\\x\\ \\=",
            b"\\\\\\",
            b"tail\\ ",
        ];
        let mut out = vec![b'x'];
        for escaped in [&b", ="[..], b", ", b", \\"] {
            for case in cases {
                unescape_into(case, escaped, &mut out);
                assert_eq!(out, reference(case, escaped), "{case:?} {escaped:?}");
            }
        }
    }

    #[test]
    fn find_either_finds_the_first_of_two_bytes() {
        let mut bytes = [b'x'; 40];
        assert_eq!(find_either(&bytes, b',', b'\\'), None);
        for at in 0..bytes.len() {
            for (byte, later) in [(b',', b'\\'), (b'\\', b',')] {
                bytes = [b'x'; 40];
                bytes[at] = byte;
                if let Some(next) = bytes.get_mut(at + 1) {
                    *next = later;
                }
                assert_eq!(find_either(&bytes, b',', b'\\'), Some(at));
                assert_eq!(find_either(&bytes[at..], b',', b'\\'), Some(0));
            }
        }
        assert_eq!(find_either(&[0x80, 0x81, 0x01, 0x2c], b',', 0), Some(3));
    }

    #[test]
    fn sorted_splitter_agrees_with_split_composite() {
        let keys: [&[u8]; 9] = [
            b"a#!~#f",
            b"a#!~#g",
            b"a#!~#g#!~#h",
            b"a#!~~",
            b"a#!~#!~#x",
            b"b",
            b"b#!~#",
            b"b#!~#f",
            b"c,t=#!~#f",
        ];
        let mut splitter = SortedSplitter::default();
        let mut last: Option<&[u8]> = None;
        for key in keys {
            let split = splitter.split(key);
            assert_eq!(
                split.map(|s| (s.series, s.field)),
                split_composite(key),
                "{key:?}"
            );
            if let Some(split) = split {
                assert_eq!(split.same_series, last == Some(split.series), "{key:?}");
            }
            last = split.map(|s| s.series);
        }
    }

    #[test]
    fn split_at_first_separator() {
        assert_eq!(
            split_composite(b"m#!~#f#!~#g"),
            Some((&b"m"[..], &b"f#!~#g"[..]))
        );
        assert_eq!(split_composite(b"m#!~#"), Some((&b"m"[..], &b""[..])));
        assert_eq!(split_composite(b"no separator"), None);
    }

    #[test]
    fn split_finds_the_separator_among_hashes() {
        assert_eq!(
            split_composite(b"m##!~##!~#f"),
            Some((&b"m#"[..], &b"#!~#f"[..]))
        );
        assert_eq!(split_composite(b"#!~#"), Some((&b""[..], &b""[..])));
        assert_eq!(split_composite(b"m#!~"), None);
        assert_eq!(split_composite(b"#"), None);
        assert_eq!(split_composite(b""), None);
    }

    #[test]
    fn parses_escapes() {
        let k = SeriesKey::parse(br"cpu\,x\ y,host\ name=a\,b\=c,z=\q");
        assert_eq!(k.measurement, br"cpu\,x\ y");
        assert_eq!(k.measurement_unescaped(), b"cpu,x y");
        assert_eq!(
            k.tags_unescaped(),
            vec![
                (b"host name".to_vec(), b"a,b=c".to_vec()),
                (b"z".to_vec(), br"\q".to_vec())
            ]
        );
        assert_eq!(measurement_of(br"cpu\,x\ y,host=a"), br"cpu\,x\ y");
    }

    #[test]
    fn no_tags_and_odd_input() {
        let k = SeriesKey::parse(b"cpu");
        assert_eq!(k.measurement, b"cpu");
        assert!(k.tags.is_empty());
        let k = SeriesKey::parse(b"cpu,novalue,,a=1\\");
        assert_eq!(
            k.tags,
            vec![(&b"novalue"[..], &b""[..]), (&b"a"[..], &b"1\\"[..])]
        );
        assert_eq!(SeriesKey::parse(b"").measurement, b"");
    }

    #[test]
    fn unescapes_to_matches_unescape() {
        let cases: [&[u8]; 7] = [b"", b"cpu", br"c\,pu", br"a\ b", br"a\", br"a\\,", br"x\y"];
        for escaped in cases {
            for plain in cases.iter().copied().chain([&b"c,pu"[..], b"a b"]) {
                assert_eq!(
                    unescapes_to(escaped, b", ", plain),
                    unescape(escaped, b", ") == plain,
                    "{escaped:?} {plain:?}"
                );
            }
        }
    }

    #[test]
    fn unicode_tag_values() {
        let k = SeriesKey::parse("air,province=Hải\\ Phòng".as_bytes());
        assert_eq!(k.tags_unescaped()[0].1, "Hải Phòng".as_bytes());
    }
}
