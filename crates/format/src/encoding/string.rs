//! Strings: one snappy block of length-prefixed byte strings.
//!
//! ```text
//! [0x10][snappy raw block (not the framed format) of: ([uvarint len][len bytes])...]
//! ```
//!
//! The bytes are not necessarily UTF-8, and empty strings are legal.

use crate::encoding::varint::decode_uvarint;
use crate::error::{EncodingFault, Error, ErrorKind, Result};
use crate::values::Strings;

/// The only header InfluxDB writes: snappy.
pub const HEADER: u8 = 0x10;

/// Where the snappy block starts in the section; errors inside the decompressed payload
/// point here and name the payload position in their message.
const PAYLOAD_AT: u64 = 1;

/// Appends the strings of a block's value section to `dst`.
///
/// An empty section holds no values (Go reads it that way).
///
/// # Errors
/// [`ErrorKind::UnknownEncoding`] for a header other than `0x10`;
/// [`ErrorKind::LimitExceeded`] before decompressing when the snappy header claims more
/// than `max_bytes` bytes, and when the payload holds more than `max_values` strings;
/// [`ErrorKind::BadEncoding`] for bad snappy data or a string running past the payload. On
/// error `dst` may hold part of the section's strings.
pub fn decode_strings(
    src: &[u8],
    max_values: usize,
    max_bytes: usize,
    dst: &mut Strings,
) -> Result<()> {
    let Some((&header, compressed)) = src.split_first() else {
        return Ok(());
    };
    if header != HEADER {
        return Err(Error::new(ErrorKind::UnknownEncoding {
            stream: "string",
            header,
        })
        .at(0));
    }
    let payload = decompress(compressed, max_bytes)?;
    let mut rest = payload.as_slice();
    let mut count = 0usize;
    while !rest.is_empty() {
        let at = payload.len() - rest.len();
        let (len, used) = decode_uvarint(rest).ok_or_else(|| {
            Error::encoding(
                PAYLOAD_AT,
                "string",
                EncodingFault::BadStringLength { at: at as u64 },
            )
        })?;
        let body = &rest[used..];
        let value = usize::try_from(len)
            .ok()
            .and_then(|len| body.get(..len))
            .ok_or_else(|| {
                Error::encoding(
                    PAYLOAD_AT,
                    "string",
                    EncodingFault::StringPastEnd {
                        at: at as u64,
                        claimed: len,
                        available: body.len() as u64,
                    },
                )
            })?;
        if count == max_values {
            // Every further string takes at least its one length byte.
            let claimed = max_values as u64 + 1;
            return Err(Error::limit(
                PAYLOAD_AT,
                "strings in a block",
                claimed,
                max_values as u64,
            ));
        }
        dst.push(value);
        count += 1;
        rest = &body[value.len()..];
    }
    Ok(())
}

/// Decompresses the snappy block, refusing before allocating when it claims more than
/// `max_bytes`.
fn decompress(compressed: &[u8], max_bytes: usize) -> Result<Vec<u8>> {
    // The block starts with its decompressed length. Read here rather than by `snap`,
    // which refuses lengths of 4 GiB and more as corrupt before the limit could apply.
    let (claimed, _) = decode_uvarint(compressed)
        .ok_or_else(|| Error::encoding(PAYLOAD_AT, "string", EncodingFault::BadSnappyLength))?;
    let len = usize::try_from(claimed)
        .ok()
        .filter(|&n| n <= max_bytes)
        .ok_or_else(|| {
            Error::limit(
                PAYLOAD_AT,
                "decompressed string bytes",
                claimed,
                max_bytes as u64,
            )
        })?;
    let snappy = |err: snap::Error| {
        Error::encoding(PAYLOAD_AT, "string", EncodingFault::Snappy(err.to_string()))
    };
    // Lets `snap` refuse what it cannot decompress before the buffer is allocated.
    snap::raw::decompress_len(compressed).map_err(snappy)?;
    let mut payload = vec![0; len];
    // Checks that the data fills exactly the length its header claims.
    snap::raw::Decoder::new()
        .decompress(compressed, &mut payload)
        .map_err(snappy)?;
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::varint::encode_uvarint;
    use crate::testkit::encode::encode_strings;
    use proptest::prelude::*;

    fn decode(src: &[u8]) -> Result<Vec<Vec<u8>>> {
        let mut out = Strings::new();
        decode_strings(src, 1 << 20, 1 << 20, &mut out)?;
        Ok(out.iter().map(<[u8]>::to_vec).collect())
    }

    /// A snappy raw block holding `payload` as one literal (at most 60 bytes).
    fn literal(payload: &[u8]) -> Vec<u8> {
        assert!(!payload.is_empty() && payload.len() <= 60);
        let mut out = vec![
            HEADER,
            payload.len() as u8,
            ((payload.len() - 1) as u8) << 2,
        ];
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn hand_built_snappy_literal() {
        let src = literal(b"\x03abc\x00\x02\xff\xfe");
        let want: Vec<Vec<u8>> = vec![b"abc".to_vec(), vec![], vec![0xFF, 0xFE]];
        assert_eq!(decode(&src).unwrap(), want);
    }

    #[test]
    fn empty_forms() {
        assert!(decode(&[]).unwrap().is_empty());
        // Snappy of nothing is its zero length.
        assert_eq!(encode_strings(&[]), vec![HEADER, 0]);
        assert!(decode(&[HEADER, 0]).unwrap().is_empty());
        assert_eq!(decode(&literal(&[0])).unwrap(), vec![Vec::<u8>::new()]);
    }

    #[test]
    fn appends_to_existing_strings() {
        let mut out = Strings::new();
        out.push(b"x");
        decode_strings(&literal(b"\x01y"), 10, 10, &mut out).unwrap();
        assert_eq!(out.iter().collect::<Vec<_>>(), vec![&b"x"[..], b"y"]);
    }

    #[test]
    fn damaged_sections_fail() {
        let err = decode(&[0x00, 0]).unwrap_err();
        assert!(matches!(
            err.kind(),
            ErrorKind::UnknownEncoding {
                stream: "string",
                header: 0
            }
        ));
        for bad in [&[HEADER][..], &[HEADER, 5, 0x10, b'a'], &[HEADER, 0x80]] {
            let err = decode(bad).unwrap_err();
            assert!(
                matches!(
                    err.kind(),
                    ErrorKind::BadEncoding {
                        stream: "string",
                        what: EncodingFault::BadSnappyLength | EncodingFault::Snappy(_)
                    }
                ),
                "{bad:?}: {err}"
            );
            assert_eq!(err.offset(), Some(1));
        }
        // A string running past the payload; a truncated length varint.
        for payload in [&b"\x05abc"[..], b"\x01a\x80"] {
            let err = decode(&literal(payload)).unwrap_err();
            assert!(
                matches!(
                    err.kind(),
                    ErrorKind::BadEncoding {
                        stream: "string",
                        what: EncodingFault::StringPastEnd { .. }
                            | EncodingFault::BadStringLength { .. }
                    }
                ),
                "{payload:?}: {err}"
            );
        }
    }

    #[test]
    fn limits_are_checked_before_allocating() {
        // Claims 2^40 bytes in its snappy header and holds nothing.
        let mut src = vec![HEADER];
        encode_uvarint(1 << 40, &mut src);
        let mut out = Strings::new();
        let err = decode_strings(&src, 10, 1 << 30, &mut out).unwrap_err();
        assert!(matches!(
            err.kind(),
            ErrorKind::LimitExceeded {
                claimed: 1_099_511_627_776,
                limit: 1_073_741_824,
                ..
            }
        ));
        let src = literal(b"\x01a\x01b\x01c");
        let err = decode_strings(&src, 10, 5, &mut out).unwrap_err();
        assert!(matches!(
            err.kind(),
            ErrorKind::LimitExceeded {
                claimed: 6,
                limit: 5,
                ..
            }
        ));
        let err = decode_strings(&src, 2, 6, &mut out).unwrap_err();
        assert!(matches!(
            err.kind(),
            ErrorKind::LimitExceeded {
                claimed: 3,
                limit: 2,
                ..
            }
        ));
        out.clear();
        decode_strings(&src, 3, 6, &mut out).unwrap();
        assert_eq!(out.len(), 3);
    }

    proptest! {
        #[test]
        fn round_trips(values in prop::collection::vec(
            prop_oneof![
                Just(Vec::new()),
                prop::collection::vec(any::<u8>(), 0..20),
                "[a-z]{0,300}".prop_map(String::into_bytes),
            ],
            0..200,
        )) {
            let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
            prop_assert_eq!(decode(&encode_strings(&refs)).unwrap(), values);
        }

        #[test]
        fn any_bytes_decode_or_fail_cleanly(src in prop::collection::vec(any::<u8>(), 0..64)) {
            let mut out = Strings::new();
            if decode_strings(&src, 100, 1000, &mut out).is_ok() {
                prop_assert!(out.len() <= 100 && out.byte_len() <= 1000);
            }
        }
    }
}
