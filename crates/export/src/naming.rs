//! Output path components from database, retention policy and measurement names.
//!
//! Any byte string becomes one safe path component, and different names never share a
//! component:
//!
//! - ASCII letters, digits and `- _ . , + = @ ( ) [ ]` and space stay as they are, and so
//!   do non-ASCII characters of valid UTF-8 (except control and invisible formatting
//!   characters), so `Hải Phòng` stays readable.
//! - Every other byte is written `%XX` (uppercase hex): `/`, `\`, NUL, control characters,
//!   `%` itself, `~`, bytes that are not UTF-8, and so on.
//! - A leading `.` is written `%2E` (so no name makes `.`, `..` or a hidden file), and so
//!   is a trailing `.` or space (which Windows drops); the first letter of a Windows
//!   device name (`CON`, `nul.txt`, `COM1`...) is written `%XX` too.
//! - The empty name is written `%`.
//! - An encoded name longer than [`MAX_COMPONENT`] bytes is cut at a character boundary
//!   and ends with `~` and 32 hex digits of the SHA-256 of the original name. `~` never
//!   appears unencoded otherwise, so cut names cannot equal uncut ones.
//!
//! [`decode`] reverses the encoding exactly; cut names cannot be reversed from the name
//! alone (the original is in each Parquet file's key-value metadata).
//!
//! The scheme is injective byte for byte. On a case-insensitive file system (macOS and
//! Windows defaults) two measurements differing only in case would share a folder; the
//! exporter refuses to replace an existing file, so that shows up as an error, never as
//! lost data.

use sha2::{Digest, Sha256};

/// Hex has one owner in the workspace, the lowest crate that writes it.
pub use influx_tsm_arrow::{hex, unhex};

/// The longest encoded component, in bytes (file systems allow 255).
pub const MAX_COMPONENT: usize = 200;

/// Hex digits of the hash that ends a cut name.
const HASH_HEX: usize = 32;

/// Encodes `name` as one safe path component; see the module docs.
pub fn encode(name: &[u8]) -> String {
    if name.is_empty() {
        return "%".to_string();
    }
    // One encoded unit per character of valid UTF-8 or per invalid byte.
    let mut units: Vec<String> = Vec::with_capacity(name.len());
    for chunk in name.utf8_chunks() {
        for ch in chunk.valid().chars() {
            if keep(ch) && !(units.is_empty() && ch == '.') {
                units.push(ch.to_string());
            } else {
                let mut buf = [0u8; 4];
                units.push(hex_bytes(ch.encode_utf8(&mut buf).as_bytes()));
            }
        }
        for &b in chunk.invalid() {
            units.push(hex_bytes(&[b]));
        }
    }
    if let Some(last) = units.last_mut()
        && (last == "." || last == " ")
    {
        *last = hex_bytes(last.as_bytes());
    }
    if is_windows_device(&units.concat())
        && let Some(first) = units.first_mut()
    {
        *first = hex_bytes(first.as_bytes());
    }
    let total: usize = units.iter().map(String::len).sum();
    if total <= MAX_COMPONENT {
        return units.concat();
    }
    // Keep the units that fit before `~` and the hash. The kept prefix may end in `.` or
    // space (the hash follows, so that is harmless) and starts as the full name does.
    let room = MAX_COMPONENT - 1 - HASH_HEX;
    let mut out = String::with_capacity(MAX_COMPONENT);
    for unit in &units {
        if out.len() + unit.len() > room {
            break;
        }
        out.push_str(unit);
    }
    out.push('~');
    out.push_str(&hex(&Sha256::digest(name)[..HASH_HEX / 2]));
    out
}

/// Reverses [`encode`]: `None` for a cut name (one holding `~`) or text `encode` never
/// writes.
pub fn decode(component: &str) -> Option<Vec<u8>> {
    if component == "%" {
        return Some(Vec::new());
    }
    if component.contains('~') {
        return None;
    }
    let bytes = component.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = hex_value(*bytes.get(i + 1)?)?;
            let lo = hex_value(*bytes.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Some(out)
}

/// Whether `component` could have been written by [`encode`] and is safe as a path
/// component: not empty, at most [`MAX_COMPONENT`] bytes, no separator, NUL or control
/// character, not starting with `.`.
pub fn is_safe(component: &str) -> bool {
    !component.is_empty()
        && component.len() <= MAX_COMPONENT
        && !component.starts_with('.')
        && !component
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control())
}

/// Whether `ch` may appear unencoded.
fn keep(ch: char) -> bool {
    if ch.is_ascii() {
        ch.is_ascii_alphanumeric() || "-_.,+=@()[] ".contains(ch)
    } else {
        !ch.is_control() && !is_invisible(ch)
    }
}

/// Invisible formatting characters that would make a name display as another.
fn is_invisible(ch: char) -> bool {
    matches!(ch,
        '\u{00A0}' | '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}'
        | '\u{17B4}' | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{2000}'..='\u{200F}'
        | '\u{2028}'..='\u{202F}' | '\u{205F}'..='\u{206F}' | '\u{3000}' | '\u{3164}'
        | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF9}'..='\u{FFFB}'
        | '\u{E0000}'..='\u{E0FFF}')
}

/// Whether `name` is a Windows device name (`CON`, `PRN`, `AUX`, `NUL`, `COM0`-`COM9`,
/// `LPT0`-`LPT9`), alone or before an extension.
fn is_windows_device(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or("").trim_end_matches(' ');
    let upper = stem.to_ascii_uppercase();
    match upper.as_bytes() {
        b"CON" | b"PRN" | b"AUX" | b"NUL" => true,
        [b'C', b'O', b'M', d] | [b'L', b'P', b'T', d] => d.is_ascii_digit(),
        _ => false,
    }
}

fn hex_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        out.push('%');
        out.push(hex_digit(b >> 4));
        out.push(hex_digit(b & 15));
    }
    out
}

fn hex_digit(n: u8) -> char {
    char::from(b"0123456789ABCDEF"[usize::from(n & 15)])
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// A relative path with `/` separators.
pub fn path_string(path: &std::path::Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples() {
        let cases: &[(&[u8], &str)] = &[
            (b"cpu", "cpu"),
            (b"disk io", "disk io"),
            ("Hải Phòng".as_bytes(), "Hải Phòng"),
            (b"a/b", "a%2Fb"),
            (b"a\\b", "a%5Cb"),
            (b"..", "%2E%2E"),
            (b".", "%2E"),
            (b".hidden", "%2Ehidden"),
            (b"x.", "x%2E"),
            (b"x ", "x%20"),
            (b"100%", "100%25"),
            (b"~", "%7E"),
            (b"nul\0", "nul%00"),
            (b"tab\there", "tab%09here"),
            (b"\xff\xfe", "%FF%FE"),
            (b"CON", "%43ON"),
            (b"com1.txt", "%63om1.txt"),
            (b"console", "console"),
            (b"", "%"),
            ("a\u{202E}b".as_bytes(), "a%E2%80%AEb"),
        ];
        for (name, encoded) in cases {
            assert_eq!(encode(name), *encoded, "{name:?}");
            assert_eq!(decode(encoded).as_deref(), Some(*name), "{encoded:?}");
            assert!(is_safe(encoded));
        }
    }

    #[test]
    fn long_names_are_cut_and_hashed() {
        let long = vec![b'a'; 300];
        let encoded = encode(&long);
        assert_eq!(encoded.len(), MAX_COMPONENT);
        assert!(encoded.starts_with("aaaa"));
        assert_eq!(encoded.matches('~').count(), 1);
        assert_eq!(decode(&encoded), None);
        let mut other = long.clone();
        other[299] = b'b';
        assert_ne!(encode(&other), encoded);
        // Cut between units, never inside `%XX` or a multi-byte character.
        let slashes = encode(&[b'/'; 100]);
        let prefix = slashes.split('~').next().unwrap();
        assert!(prefix.len().is_multiple_of(3) && prefix.chars().all(|c| "%2F".contains(c)));
        let dots = encode(&[b'.'; 300]);
        assert!(is_safe(&dots), "{dots}");
    }
}
