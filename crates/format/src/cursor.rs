//! A panic-free big-endian reader over a byte slice that knows its absolute offset.
//!
//! Every read checks the remaining length first and reports a [`ErrorKind::Truncated`]
//! error at the absolute offset where the short field starts.
//!
//! [`ErrorKind::Truncated`]: crate::ErrorKind::Truncated

use crate::encoding::varint;
use crate::error::{Error, ErrorKind, Result};

/// Reads fixed-width big-endian fields and varints from `&'a [u8]`.
#[derive(Clone, Debug)]
pub struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    base: u64,
}

impl<'a> Cursor<'a> {
    /// A cursor over `data`, whose first byte is at absolute offset `base`.
    pub fn new(data: &'a [u8], base: u64) -> Cursor<'a> {
        Cursor { data, pos: 0, base }
    }

    /// The absolute offset of the next byte to read.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The unread bytes, without consuming them.
    pub fn rest(&self) -> &'a [u8] {
        &self.data[self.pos..]
    }

    /// Takes the next `n` bytes.
    // The readers are inlined into the index walk (several per key, millions of keys);
    // their error is built out of line.
    #[inline]
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        match self.data[self.pos..].get(..n) {
            Some(out) => {
                self.pos += n;
                Ok(out)
            }
            None => Err(self.truncated(n)),
        }
    }

    /// Takes the next `N` bytes as an array.
    #[inline]
    pub fn array<const N: usize>(&mut self) -> Result<&'a [u8; N]> {
        match self.data[self.pos..].split_first_chunk::<N>() {
            Some((out, _)) => {
                self.pos += N;
                Ok(out)
            }
            None => Err(self.truncated(N)),
        }
    }

    /// The error of asking for `needed` bytes where fewer remain.
    #[cold]
    #[inline(never)]
    fn truncated(&self, needed: usize) -> Error {
        Error::truncated(self.offset(), needed as u64, self.remaining() as u64)
    }

    /// Reads one byte.
    #[inline]
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    /// Reads a big-endian `u16`.
    #[inline]
    pub fn u16_be(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(*self.array()?))
    }

    /// Reads a big-endian `u32`.
    #[inline]
    pub fn u32_be(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(*self.array()?))
    }

    /// Reads a big-endian `u64`.
    #[inline]
    pub fn u64_be(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(*self.array()?))
    }

    /// Reads a big-endian `i64`.
    #[inline]
    pub fn i64_be(&mut self) -> Result<i64> {
        Ok(i64::from_be_bytes(*self.array()?))
    }

    /// Reads a Go `encoding/binary` unsigned varint (at most 10 bytes).
    #[inline]
    pub fn uvarint(&mut self) -> Result<u64> {
        match varint::decode_uvarint(&self.data[self.pos..]) {
            Some((value, used)) => {
                self.pos += used;
                Ok(value)
            }
            None => Err(Error::new(ErrorKind::BadVarint).at(self.offset())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn reads_big_endian_and_tracks_offset() {
        let data = [0x12, 0x34, 0, 0, 0, 7, 0xAC, 0x02, 9];
        let mut c = Cursor::new(&data, 100);
        assert_eq!(c.u16_be().unwrap(), 0x1234);
        assert_eq!(c.u32_be().unwrap(), 7);
        assert_eq!(c.offset(), 106);
        assert_eq!(c.uvarint().unwrap(), 300);
        assert_eq!(c.u8().unwrap(), 9);
        assert!(c.is_empty());
    }

    #[test]
    fn short_read_reports_where_it_started() {
        let mut c = Cursor::new(&[1, 2, 3], 50);
        c.u8().unwrap();
        let err = c.u64_be().unwrap_err();
        assert_eq!(err.offset(), Some(51));
        assert!(matches!(
            err.kind(),
            ErrorKind::Truncated {
                needed: 8,
                available: 2
            }
        ));
        // A failed read consumes nothing.
        assert_eq!(c.bytes(2).unwrap(), &[2, 3]);
    }
}
