//! A tar reader for the archives influxd's backups write, over a byte slice (a mapped
//! legacy archive, zero-copy) or a stream (a decompressing portable archive).
//!
//! Go's `archive/tar` writes USTAR headers, and PAX `x` records for names that are not
//! ASCII or do not fit (the database `.dot %db ü` gets one); GNU `L` long names are read
//! too. Every header's checksum is checked, every size is checked against what follows,
//! and the records that carry names are capped ([`MAX_NAME_RECORD`]), so no claim in a
//! header makes this reader allocate. Errors name the byte offset in the tar stream.
//!
//! ```text
//! offset  size  field (USTAR)
//!      0   100  name, NUL-padded
//!    124    12  size, octal ASCII (or base-256 when the first byte has its high bit set)
//!    148     8  checksum: octal sum of the 512 header bytes, this field counted as spaces
//!    156     1  type: '0' or NUL file, '5' folder, 'x' PAX record, 'L' GNU long name, ...
//!    257     6  magic "ustar\0" (POSIX) or "ustar " (GNU)
//!    345   155  name prefix (POSIX only), joined to the name with '/'
//! ```
//! Each member's data follows its header, padded to a multiple of 512 bytes; two zero
//! blocks end the archive.
//!
//! # Why hand-written, not the `tar` crate
//!
//! Kept on purpose (the team's rule: a hand-written reader of a format says why):
//!
//! * **Zero copy over a mapped archive.** A legacy backup's archives are mapped and each
//!   TSM member is used where it lies: [`Member::data_offset`] and [`Member::size`] become
//!   a slice of the map (`MemberBytes` in the crate root), never a copy, for archives of
//!   many gigabytes. The [`Input`] trait gives the same reader over `&[u8]` and over a
//!   decompressing stream, so the mapped and the portable paths share one parser.
//! * **Limits on sizes read from the file.** Every size is checked before it is used: name
//!   records are capped at [`MAX_NAME_RECORD`] before the one allocation this reader
//!   makes, padding is computed with checked arithmetic, base-256 sizes with overflow
//!   checks; the caller caps members it copies (`ReadOptions::max_member_bytes`).
//! * **Typed errors at byte offsets.** Each failure is a [`TarFault`] at the offset of the
//!   header or block in the (decompressed) tar stream, which `verify --json` reports.
//! * **Fuzzed.** `fuzz/fuzz_targets/backup_tar.rs` reads every input through the slice and
//!   the stream and requires the same members or an error from both.
//!
//! It is about 330 lines without its tests and reads only what influxd writes (USTAR, PAX
//! `x` path and size, GNU `L`); the `tar` crate is not in `Cargo.lock` today.

use std::io::Read;

use crate::error::{Error, Result, TarFault};

/// Size of a tar block.
pub const BLOCK: u64 = 512;

/// The largest PAX record or GNU long name accepted: names of members are short, and a
/// larger claim is damage (or a bomb), not a name.
pub const MAX_NAME_RECORD: u64 = 1 << 20;

/// What a member is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberKind {
    /// A regular file.
    File,
    /// A folder (the `index/` of a TSI shard).
    Directory,
    /// Anything else (links, devices, FIFOs), with its type byte; backups hold none.
    Other(u8),
}

/// A member's header, after any PAX record or GNU long name before it was applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The member's path as stored (`db/rp/<shard id>/<file>` in influxd's backups);
    /// not necessarily UTF-8.
    pub path: Vec<u8>,
    /// Data bytes.
    pub size: u64,
    /// What the member is.
    pub kind: MemberKind,
    /// Offset of its (last) header in the tar stream.
    pub header_offset: u64,
    /// Offset of its data in the tar stream.
    pub data_offset: u64,
}

/// Where the reader takes bytes from: a slice it can skip over for free, or a stream it
/// must read through.
pub trait Input {
    /// Reads until `buf` is full or the input ends; returns how many bytes it read.
    ///
    /// # Errors
    /// I/O errors.
    fn read_full(&mut self, buf: &mut [u8]) -> std::io::Result<usize>;

    /// Moves past `n` bytes; returns how many there were (fewer at the end).
    ///
    /// # Errors
    /// I/O errors.
    fn skip(&mut self, n: u64) -> std::io::Result<u64>;
}

impl Input for &[u8] {
    fn read_full(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.len());
        let (head, rest) = self.split_at(n);
        buf[..n].copy_from_slice(head);
        *self = rest;
        Ok(n)
    }

    fn skip(&mut self, n: u64) -> std::io::Result<u64> {
        let n = usize::try_from(n).unwrap_or(usize::MAX).min(self.len());
        *self = &self[n..];
        Ok(n as u64)
    }
}

/// A stream read through (a decompressor).
pub struct Stream<R>(pub R);

impl<R: Read> Input for Stream<R> {
    fn read_full(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.0.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        Ok(filled)
    }

    fn skip(&mut self, n: u64) -> std::io::Result<u64> {
        std::io::copy(&mut (&mut self.0).take(n), &mut std::io::sink())
    }
}

/// Reads an archive member by member.
pub struct TarReader<I> {
    input: I,
    /// Offset in the tar stream of the next unread byte.
    pos: u64,
    /// Data and padding of the current member not read yet.
    pending: u64,
    /// Data of the current member not read yet.
    data_left: u64,
    finished: bool,
    failed: bool,
}

impl<I: Input> TarReader<I> {
    /// A reader at the start of an archive.
    pub fn new(input: I) -> Self {
        TarReader {
            input,
            pos: 0,
            pending: 0,
            data_left: 0,
            finished: false,
            failed: false,
        }
    }

    /// Offset in the tar stream of the next unread byte.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// The input, at [`TarReader::position`].
    pub fn into_inner(self) -> I {
        self.input
    }

    /// The next member (its data unread), or `None` after the end-of-archive blocks.
    /// Unread data of the previous member is skipped.
    ///
    /// # Errors
    /// A bad checksum or number, a malformed PAX record, an archive that ends without
    /// its end-of-archive blocks, I/O errors; after an error the reader yields nothing.
    pub fn next_member(&mut self) -> Result<Option<Member>> {
        if self.finished || self.failed {
            return Ok(None);
        }
        let member = self.read_member();
        match &member {
            Ok(None) => self.finished = true,
            Err(_) => self.failed = true,
            Ok(Some(_)) => {}
        }
        member
    }

    /// Reads the current member's data, `buf.len()` bytes at most; 0 at its end.
    ///
    /// # Errors
    /// The archive ends inside the member, or I/O errors.
    pub fn read_data(&mut self, buf: &mut [u8]) -> Result<usize> {
        let n = usize::try_from(self.data_left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        self.fill(&mut buf[..n])?;
        self.data_left -= n as u64;
        self.pending -= n as u64;
        Ok(n)
    }

    fn read_member(&mut self) -> Result<Option<Member>> {
        self.skip_pending()?;
        let mut long_name: Option<Vec<u8>> = None;
        let mut pax = Pax::default();
        loop {
            let header_offset = self.pos;
            let mut block = [0u8; BLOCK as usize];
            if self.read_block(&mut block)? == 0 {
                return Err(Error::tar(header_offset, TarFault::NoEndBlocks));
            }
            if block.iter().all(|&b| b == 0) {
                // Like Go's reader: a zero block then the input's end, or a second zero
                // block, ends the archive; anything else after it is damage.
                let second = self.pos;
                return match self.read_block(&mut block)? {
                    0 => Ok(None),
                    _ if block.iter().all(|&b| b == 0) => Ok(None),
                    _ => Err(Error::tar(second, TarFault::DataAfterEnd)),
                };
            }
            let header = Header::parse(&block, header_offset)?;
            let data_offset = self.pos;
            self.data_left = header.size;
            self.pending = padded(header.size).ok_or_else(|| {
                Error::tar(
                    header_offset + 124,
                    TarFault::SizeOverflows { what: "member" },
                )
            })?;
            match header.kind {
                b'x' | b'L' => {
                    let record = self.read_record(header.size, header_offset)?;
                    if header.kind == b'x' {
                        pax = Pax::parse(&record, data_offset)?;
                    } else {
                        long_name = Some(trim_nul(&record).to_vec());
                    }
                    self.skip_pending()?;
                }
                b'g' | b'K' => self.skip_pending()?,
                kind => {
                    let size = pax.size.unwrap_or(header.size);
                    if size != header.size {
                        self.data_left = size;
                        self.pending = padded(size).ok_or_else(|| {
                            Error::tar(data_offset, TarFault::SizeOverflows { what: "PAX" })
                        })?;
                    }
                    let path = pax.path.or(long_name).unwrap_or(header.name);
                    let kind = match kind {
                        b'0' | 0 | b'7' => MemberKind::File,
                        b'5' => MemberKind::Directory,
                        other => MemberKind::Other(other),
                    };
                    return Ok(Some(Member {
                        path,
                        size,
                        kind,
                        header_offset,
                        data_offset,
                    }));
                }
            }
        }
    }

    fn read_record(&mut self, size: u64, header_offset: u64) -> Result<Vec<u8>> {
        if size > MAX_NAME_RECORD {
            return Err(Error::from(influx_tsm_shard::Error::limit(
                header_offset + 124,
                "tar PAX record or long name",
                size,
                MAX_NAME_RECORD,
            )));
        }
        // Capped just above: the allocation is bounded whatever the header claims.
        let mut record = vec![0u8; size as usize];
        self.fill(&mut record)?;
        self.data_left = 0;
        self.pending -= size;
        Ok(record)
    }

    fn skip_pending(&mut self) -> Result<()> {
        let at = self.pos;
        let skipped = self
            .input
            .skip(self.pending)
            .map_err(|e| stream_error(e, at))?;
        self.pos += skipped;
        if skipped < self.pending {
            return Err(influx_tsm_shard::Error::truncated(at, self.pending, skipped).into());
        }
        self.pending = 0;
        self.data_left = 0;
        Ok(())
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<()> {
        let at = self.pos;
        let n = self.input.read_full(buf).map_err(|e| stream_error(e, at))?;
        self.pos += n as u64;
        if n < buf.len() {
            return Err(Error::tar(
                at,
                TarFault::CutShort {
                    expected: buf.len() as u64,
                },
            ));
        }
        Ok(())
    }

    /// Reads a whole block: 512 bytes, or 0 at the end of the input; a part of one is
    /// damage.
    fn read_block(&mut self, block: &mut [u8; BLOCK as usize]) -> Result<usize> {
        let at = self.pos;
        let n = self
            .input
            .read_full(block)
            .map_err(|e| stream_error(e, at))?;
        self.pos += n as u64;
        match n {
            0 => Ok(0),
            n if n == block.len() => Ok(n),
            n => Err(Error::tar(at, TarFault::PartialBlock { len: n as u64 })),
        }
    }
}

/// An error of the input at tar offset `at`: what a decompressor says of bad data (or of
/// a stream cut short) is damage; the rest is I/O.
pub fn stream_error(err: std::io::Error, at: u64) -> Error {
    use std::io::ErrorKind::{InvalidData, InvalidInput, UnexpectedEof};
    match err.kind() {
        InvalidData | InvalidInput | UnexpectedEof => {
            Error::tar(at, TarFault::Compressed(err.to_string()))
        }
        _ => Error::from(err).at(at),
    }
}

/// `size` rounded up to whole blocks.
fn padded(size: u64) -> Option<u64> {
    size.checked_add(BLOCK - 1).map(|s| s / BLOCK * BLOCK)
}

fn trim_nul(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    &bytes[..end]
}

/// The fields of a header this reader uses.
struct Header {
    name: Vec<u8>,
    size: u64,
    kind: u8,
}

impl Header {
    fn parse(block: &[u8; BLOCK as usize], at: u64) -> Result<Header> {
        let stored = octal(&block[148..156]).ok_or_else(|| {
            Error::tar(
                at + 148,
                TarFault::NotANumber {
                    field: "header checksum",
                },
            )
        })?;
        // The checksum field itself counts as eight spaces.
        let unsigned: u64 = block[..148]
            .iter()
            .chain(&block[156..])
            .map(|&b| u64::from(b))
            .sum::<u64>()
            + 8 * u64::from(b' ');
        let signed: i64 = block[..148]
            .iter()
            .chain(&block[156..])
            .map(|&b| i64::from(b as i8))
            .sum::<i64>()
            + 8 * i64::from(b' ');
        // Some old writers summed signed bytes; accept either sum, as every reader does.
        if stored != unsigned && i64::try_from(stored).ok() != Some(signed) {
            return Err(Error::tar(
                at,
                TarFault::ChecksumMismatch {
                    stored,
                    computed: unsigned,
                },
            ));
        }
        let size = number(&block[124..136]).ok_or_else(|| {
            Error::tar(
                at + 124,
                TarFault::NotANumber {
                    field: "member size",
                },
            )
        })?;
        let mut name = trim_nul(&block[..100]).to_vec();
        let posix = &block[257..263] == b"ustar\0";
        let prefix = trim_nul(&block[345..500]);
        if posix && !prefix.is_empty() {
            let mut full = prefix.to_vec();
            full.push(b'/');
            full.extend_from_slice(&name);
            name = full;
        }
        Ok(Header {
            name,
            size,
            kind: block[156],
        })
    }
}

/// A numeric header field: octal ASCII (leading spaces, ending at NUL or space), or
/// big-endian base-256 when the first byte's high bit is set (sizes of 8 GiB and more).
fn number(field: &[u8]) -> Option<u64> {
    match field.split_first() {
        Some((&first, rest)) if first & 0x80 != 0 => {
            if first & 0x40 != 0 {
                return None; // negative
            }
            let mut value = u64::from(first & 0x3f);
            for &b in rest {
                value = value.checked_mul(256)?.checked_add(u64::from(b))?;
            }
            Some(value)
        }
        _ => octal(field),
    }
}

fn octal(field: &[u8]) -> Option<u64> {
    let field = trim_nul(field);
    let digits = field
        .iter()
        .position(|&b| b != b' ')
        .map_or(&[][..], |start| &field[start..]);
    let end = digits
        .iter()
        .position(|&b| b == b' ')
        .unwrap_or(digits.len());
    let (digits, rest) = digits.split_at(end);
    if digits.is_empty() || rest.iter().any(|&b| b != b' ') {
        return None;
    }
    digits.iter().try_fold(0u64, |value, &b| {
        let digit = (b as char).to_digit(8)?;
        value.checked_mul(8)?.checked_add(u64::from(digit))
    })
}

/// What a PAX `x` record says of the next member.
#[derive(Default)]
struct Pax {
    path: Option<Vec<u8>>,
    size: Option<u64>,
}

impl Pax {
    /// Records are `"<length> <key>=<value>\n"`, the length counting the whole record.
    fn parse(mut data: &[u8], mut at: u64) -> Result<Pax> {
        let mut pax = Pax::default();
        while !data.is_empty() {
            let bad = |what: &'static str| Error::tar(at, TarFault::BadPaxRecord { what });
            let space = data
                .iter()
                .position(|&b| b == b' ')
                .ok_or_else(|| bad("no length"))?;
            let len = std::str::from_utf8(&data[..space])
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
                .ok_or_else(|| bad("length is not a number"))?;
            if len <= space + 1 || len > data.len() || data[len - 1] != b'\n' {
                return Err(bad("length does not fit the record"));
            }
            let record = &data[space + 1..len - 1];
            let eq = record
                .iter()
                .position(|&b| b == b'=')
                .ok_or_else(|| bad("no '='"))?;
            let (key, value) = (&record[..eq], &record[eq + 1..]);
            match key {
                b"path" => pax.path = Some(value.to_vec()),
                b"size" => {
                    let size = std::str::from_utf8(value)
                        .ok()
                        .and_then(|s| s.parse::<u64>().ok())
                        .ok_or_else(|| bad("size is not a number"))?;
                    pax.size = Some(size);
                }
                _ => {}
            }
            data = &data[len..];
            at += len as u64;
        }
        Ok(pax)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    /// A USTAR header block with a correct checksum.
    fn header(name: &[u8], size: u64, kind: u8) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name);
        h[100..107].copy_from_slice(b"0000644");
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[156] = kind;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        h
    }

    fn member(out: &mut Vec<u8>, name: &[u8], data: &[u8], kind: u8) {
        out.extend(header(name, data.len() as u64, kind));
        out.extend(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }

    /// `"<len> <key>=<value>\n"`, the length counting its own digits.
    fn pax_record(key: &str, value: &str) -> String {
        let body = key.len() + value.len() + 3;
        let mut len = body + 1;
        while len != body + len.to_string().len() {
            len = body + len.to_string().len();
        }
        format!("{len} {key}={value}\n")
    }

    fn archive() -> Vec<u8> {
        let mut tar = Vec::new();
        member(&mut tar, b"db/rp/1/000000001-000000001.tsm", b"hello", b'0');
        let long = "é/r p%ü/2/000000002-000000001.tsm";
        let record = pax_record("path", long);
        member(&mut tar, b"PaxHeaders.0/x", record.as_bytes(), b'x');
        member(&mut tar, b"ascii-name", &[7u8; 600], b'0');
        tar.extend([0u8; 1024]);
        tar
    }

    fn read_all<I: Input>(mut reader: TarReader<I>) -> Result<Vec<(Member, Vec<u8>)>> {
        let mut out = Vec::new();
        while let Some(m) = reader.next_member()? {
            let mut data = Vec::new();
            let mut buf = [0u8; 100];
            loop {
                let n = reader.read_data(&mut buf)?;
                if n == 0 {
                    break;
                }
                data.extend_from_slice(&buf[..n]);
            }
            out.push((m, data));
        }
        Ok(out)
    }

    #[test]
    fn reads_ustar_and_pax_members_from_slices_and_streams() {
        let tar = archive();
        let from_slice = read_all(TarReader::new(&tar[..])).unwrap();
        let from_stream = read_all(TarReader::new(Stream(&tar[..]))).unwrap();
        assert_eq!(from_slice, from_stream);
        assert_eq!(from_slice.len(), 2);
        assert_eq!(from_slice[0].0.path, b"db/rp/1/000000001-000000001.tsm");
        assert_eq!(from_slice[0].0.data_offset, 512);
        assert_eq!(from_slice[0].1, b"hello");
        assert_eq!(
            from_slice[1].0.path,
            "é/r p%ü/2/000000002-000000001.tsm".as_bytes()
        );
        assert_eq!(from_slice[1].1, vec![7u8; 600]);
        assert_eq!(
            &tar[from_slice[1].0.data_offset as usize..][..600],
            &[7u8; 600]
        );
    }

    #[test]
    fn a_flipped_header_byte_is_a_checksum_error_at_its_header() {
        let mut tar = archive();
        tar[1024 + 3] ^= 1; // inside the PAX header's name
        let err = read_all(TarReader::new(&tar[..])).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::Tar(TarFault::ChecksumMismatch { .. })
            ),
            "{err}"
        );
        assert!(err.to_string().contains("tar header checksum"), "{err}");
        assert_eq!(err.offset(), Some(1024));
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let tar = archive();
        // Cuts inside the end-of-archive blocks still read every member.
        let members_end = tar.len() - 1024;
        for cut in 0..members_end {
            let short = &tar[..cut];
            assert!(read_all(TarReader::new(short)).is_err(), "cut at {cut}");
            assert!(
                read_all(TarReader::new(Stream(short))).is_err(),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn huge_claims_do_not_allocate() {
        let mut tar = header(b"PaxHeaders.0/x", 0o77777777777, b'x');
        tar.extend([0u8; 512]);
        let err = read_all(TarReader::new(&tar[..])).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::Shard(e) if matches!(e.kind(), influx_tsm_shard::ErrorKind::LimitExceeded { .. })
            ),
            "{err}"
        );
        let mut tar = header(b"big", 0o77777777777, b'0');
        tar.extend([0u8; 512]);
        // The data is claimed, not there: read 100 bytes at a time, the sixth read fails.
        let err = read_all(TarReader::new(&tar[..])).unwrap_err();
        assert_eq!(err.offset(), Some(1012), "{err}");
    }

    #[test]
    fn the_end_is_two_zero_blocks_or_one_then_nothing() {
        let mut tar = archive();
        let members_end = tar.len() - 1024;
        assert_eq!(
            read_all(TarReader::new(&tar[..members_end + 512]))
                .unwrap()
                .len(),
            2
        );
        assert!(read_all(TarReader::new(&tar[..members_end + 700])).is_err());
        tar[members_end + 600] = 1;
        let err = read_all(TarReader::new(&tar[..])).unwrap_err();
        assert_eq!(err.offset(), Some(members_end as u64 + 512), "{err}");
        tar.extend([9u8; 100]); // after two zero blocks: not read
        tar[members_end + 600] = 0;
        assert_eq!(read_all(TarReader::new(Stream(&tar[..]))).unwrap().len(), 2);
    }

    #[test]
    fn numbers() {
        assert_eq!(octal(b"00000000644\0"), Some(0o644));
        assert_eq!(octal(b"  644 \0"), Some(0o644));
        assert_eq!(octal(b"64 4"), None);
        assert_eq!(octal(b"\0\0"), None);
        assert_eq!(octal(b"9"), None);
        assert_eq!(number(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]), Some(256));
        assert_eq!(number(&[0xC0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]), None);
        assert_eq!(
            number(&[
                0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
            ]),
            None
        );
    }
}
