//! Line protocol from merged rows: one line per point, all its fields joined.
//!
//! ```text
//! <series key as stored> <field>=<value>[,<field>=<value>...] <time ns>\n
//! ```
//!
//! * The series key is written exactly as stored: InfluxDB keeps it escaped the way line
//!   protocol needs (measurement: `\,` `\ `; tag keys and values: `\,` `\ ` `\=`), so the
//!   re-import produces the same key byte for byte.
//! * Field keys are stored raw and escaped here like `models.Point` does: `,` `=` space
//!   and `"` get a backslash (the parser removes exactly these).
//! * Floats are written in Go's `strconv.FormatFloat(v, 'g', -1, 64)` form: the shortest
//!   digits that read back to the same bits, in exponent form (`1e+06`, `1.5e-07`) when
//!   the decimal exponent is below -4 or at least 6, else plain (`70`, `0.0001`, `-0`).
//!   Infinities and NaN cannot be written in line protocol (the server rejects them and
//!   never stores them); such a value is left out and counted.
//! * Integers end in `i`, unsigned integers in `u` (1.x servers built without the `uint`
//!   tag reject `u`; the value is still written as what it is), booleans are
//!   `true`/`false`.
//! * Strings are quoted with `\` and `"` escaped. Line protocol has no escape for a
//!   newline: the server's parser accepts a raw newline inside a quoted string value, so
//!   newlines are written raw and counted (line-based tools must track quotes; `influx
//!   -import` reads line by line and doubles such newlines).

pub(crate) mod export;
pub(crate) mod group_file;
pub mod sink;
pub(crate) mod stream;

use influx_tsm_shard::Values;
use influx_tsm_shard::rows::{MeasurementSchema, RowBatch};

/// Counts of what [`LineFormat::write_batch`] wrote and left out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LpStats {
    /// Lines (points) written.
    pub lines: u64,
    /// Field values written.
    pub values: u64,
    /// Float values left out because they are infinite or NaN.
    pub unrepresentable: u64,
    /// Points left out because all their values were unrepresentable.
    pub dropped_lines: u64,
    /// String values holding a newline (written raw).
    pub strings_with_newline: u64,
    /// The earliest and latest timestamp of the lines written.
    pub time_range: Option<(i64, i64)>,
}

impl LpStats {
    /// Adds `other` to `self`.
    pub fn add(&mut self, other: &LpStats) {
        self.lines += other.lines;
        self.values += other.values;
        self.unrepresentable += other.unrepresentable;
        self.dropped_lines += other.dropped_lines;
        self.strings_with_newline += other.strings_with_newline;
        if let Some((min, max)) = other.time_range {
            self.note_time(min);
            self.note_time(max);
        }
    }

    fn note_time(&mut self, time: i64) {
        self.time_range = Some(match self.time_range {
            Some((min, max)) => (min.min(time), max.max(time)),
            None => (time, time),
        });
    }
}

/// Writes the rows of one measurement as line protocol.
#[derive(Debug)]
pub struct LineFormat {
    /// Per field of the schema: the escaped key followed by `=`.
    prefixes: Vec<Vec<u8>>,
}

impl LineFormat {
    /// Prepares the field keys of `schema`.
    pub fn new(schema: &MeasurementSchema) -> LineFormat {
        let prefixes = schema
            .fields
            .iter()
            .map(|f| {
                let mut p = Vec::with_capacity(f.key.len() + 1);
                escape_field_key(&f.key, &mut p);
                p.push(b'=');
                p
            })
            .collect();
        LineFormat { prefixes }
    }

    /// Appends one line per row of `batch` to `out`.
    pub fn write_batch(&self, batch: &RowBatch, out: &mut Vec<u8>, stats: &mut LpStats) {
        let mut row = 0;
        for run in &batch.series {
            for _ in 0..run.rows {
                let start = out.len();
                out.extend_from_slice(run.key);
                out.push(b' ');
                let mut written = 0u64;
                for (column, prefix) in batch.fields.iter().zip(&self.prefixes) {
                    if !column.valid.get(row).copied().unwrap_or(false) {
                        continue;
                    }
                    let mark = out.len();
                    if written > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(prefix);
                    let ok = match &column.values {
                        Values::Float(v) => write_float(v[row], out),
                        Values::Integer(v) => {
                            write_i64(v[row], out);
                            out.push(b'i');
                            true
                        }
                        Values::Unsigned(v) => {
                            write_u64(v[row], out);
                            out.push(b'u');
                            true
                        }
                        Values::Boolean(v) => {
                            out.extend_from_slice(if v[row] { b"true" } else { b"false" });
                            true
                        }
                        Values::String(v) => {
                            let s = v.get(row).unwrap_or_default();
                            if s.contains(&b'\n') {
                                stats.strings_with_newline += 1;
                            }
                            write_string(s, out);
                            true
                        }
                    };
                    if ok {
                        written += 1;
                    } else {
                        out.truncate(mark);
                        stats.unrepresentable += 1;
                    }
                }
                if written == 0 {
                    out.truncate(start);
                    stats.dropped_lines += 1;
                } else {
                    out.push(b' ');
                    write_i64(batch.time[row], out);
                    out.push(b'\n');
                    stats.lines += 1;
                    stats.values += written;
                    stats.note_time(batch.time[row]);
                }
                row += 1;
            }
        }
    }
}

/// Appends a field key with `,` `=` space and `"` escaped.
pub fn escape_field_key(key: &[u8], out: &mut Vec<u8>) {
    for &b in key {
        if matches!(b, b',' | b'=' | b' ' | b'"') {
            out.push(b'\\');
        }
        out.push(b);
    }
}

/// Appends a quoted string field value with `\` and `"` escaped.
pub fn write_string(value: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    let mut rest = value;
    while let Some(at) = rest.iter().position(|&b| b == b'"' || b == b'\\') {
        out.extend_from_slice(&rest[..at]);
        out.push(b'\\');
        out.push(rest[at]);
        rest = &rest[at + 1..];
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

/// Appends `v` as Go's `strconv.FormatFloat(v, 'g', -1, 64)` does; returns `false` (and
/// appends nothing) for infinities and NaN, which line protocol cannot carry.
pub fn write_float(v: f64, out: &mut Vec<u8>) -> bool {
    use std::io::Write;
    if !v.is_finite() {
        return false;
    }
    // Shortest round-trip digits from the standard library: `d[.ddd]e<exp>`.
    let mut tmp = [0u8; 40];
    let len = {
        let mut cursor = &mut tmp[..];
        write!(cursor, "{:e}", v.abs()).expect("40 bytes hold any f64");
        40 - cursor.len()
    };
    let text = &tmp[..len];
    let e = text.iter().position(|&b| b == b'e').unwrap_or(len);
    let exp: i32 = std::str::from_utf8(&text[e + 1..])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut digits = [0u8; 24];
    let mut nd = 0;
    for &b in text[..e].iter().filter(|b| b.is_ascii_digit()) {
        digits[nd] = b;
        nd += 1;
    }
    let digits = &digits[..nd];
    if v.is_sign_negative() {
        out.push(b'-');
    }
    if !(-4..6).contains(&exp) {
        out.push(digits[0]);
        if nd > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let a = exp.unsigned_abs();
        if a < 10 {
            out.push(b'0');
        }
        write_u64(u64::from(a), out);
    } else {
        // Decimal point after `dp` digits (dp may be <= 0 or > nd).
        let dp = exp + 1;
        if dp <= 0 {
            out.push(b'0');
        } else {
            for i in 0..dp as usize {
                out.push(digits.get(i).copied().unwrap_or(b'0'));
            }
        }
        let frac = nd as i32 - dp;
        if frac > 0 {
            out.push(b'.');
            for i in 0..frac {
                let j = dp + i;
                out.push(if j < 0 { b'0' } else { digits[j as usize] });
            }
        }
    }
    true
}

/// Appends a signed decimal integer.
pub fn write_i64(v: i64, out: &mut Vec<u8>) {
    if v < 0 {
        out.push(b'-');
    }
    write_u64(v.unsigned_abs(), out);
}

/// Appends an unsigned decimal integer.
pub fn write_u64(mut v: u64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Quotes an InfluxQL identifier the way InfluxDB's `QuoteIdent` does: in double quotes,
/// with `\`, `"` and newline escaped.
pub fn quote_ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(v: f64) -> String {
        let mut out = Vec::new();
        assert!(write_float(v, &mut out));
        String::from_utf8(out).unwrap()
    }

    /// Expected strings are what Go's `strconv.FormatFloat(v, 'g', -1, 64)` prints (the
    /// format `influx_inspect export` writes and the server's parser reads).
    #[test]
    fn floats_like_go() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (70.0, "70"),
            (-61.5, "-61.5"),
            (123456.0, "123456"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00012, "0.00012"),
            (1e-5, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (0.1, "0.1"),
            (0.30000000000000004, "0.30000000000000004"),
            (1e21, "1e+21"),
            (1e100, "1e+100"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (5e-324, "5e-324"),
            (-2.5e-300, "-2.5e-300"),
            (99999.9, "99999.9"),
            (999999.0, "999999"),
        ];
        for &(v, want) in cases {
            assert_eq!(float(v), want, "{v:e}");
        }
        let mut out = Vec::new();
        assert!(!write_float(f64::INFINITY, &mut out));
        assert!(!write_float(f64::NAN, &mut out));
        assert!(out.is_empty());
    }

    #[test]
    fn floats_read_back_bit_for_bit() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let v = f64::from_bits(state);
            if !v.is_finite() {
                continue;
            }
            let s = float(v);
            let back: f64 = s.parse().unwrap();
            assert_eq!(back.to_bits(), v.to_bits(), "{s}");
        }
    }

    #[test]
    fn integers() {
        let mut out = Vec::new();
        for v in [0, 7, -7, i64::MIN, i64::MAX] {
            out.clear();
            write_i64(v, &mut out);
            assert_eq!(out, v.to_string().as_bytes());
        }
        out.clear();
        write_u64(u64::MAX, &mut out);
        assert_eq!(out, b"18446744073709551615");
    }

    #[test]
    fn escapes() {
        let mut out = Vec::new();
        escape_field_key(br#"a b,c=d"e\f"#, &mut out);
        assert_eq!(out, br#"a\ b\,c\=d\"e\f"#);
        out.clear();
        write_string(b"say \"hi\" \\ bye\nnext", &mut out);
        assert_eq!(out, b"\"say \\\"hi\\\" \\\\ bye\nnext\"");
        assert_eq!(quote_ident(r#"my "db"\x"#), r#""my \"db\"\\x""#);
    }
}
