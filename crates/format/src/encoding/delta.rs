//! Running sums of 64-bit deltas: the one decoder behind the integer, unsigned and
//! timestamp streams.
//!
//! The three streams lay out raw, simple8b and run-length sections alike and differ only
//! in how a stored word becomes a step of the sum ([`Step`]): integers zigzag it,
//! timestamps multiply it by the header's power of ten (raw timestamps take it as is),
//! and in what a run stores as its length (integers the repeats, timestamps the count).
//!
//! ```text
//! raw      [header][word u64 BE]...                   every word is a step from 0
//! simple8b [header][first u64 BE][simple8b words of steps]
//! RLE      [header][first u64 BE][uvarint step][uvarint run length]
//! ```
//!
//! All sums wrap, as in Go. Each [`Step`] is its own type, so the loops are compiled once
//! per stream with the step inlined: as fast as the hand-written copies they replace.

use crate::cursor::Cursor;
use crate::encoding::simple8b::{self, Bits64};
use crate::encoding::varint::zigzag_decode;
use crate::error::{EncodingFault, Error, Result};

/// How errors name a delta-coded stream.
#[derive(Clone, Copy)]
pub(super) struct Stream {
    /// The stream, as in [`crate::ErrorKind::UnknownEncoding`].
    pub(super) name: &'static str,
    /// Its values, as in [`crate::ErrorKind::LimitExceeded`].
    pub(super) values: &'static str,
}

/// How one stream turns stored words into the steps of its running sum.
pub(super) trait Step: Copy {
    /// The step a stored delta word adds.
    fn step(self, stored: u64) -> u64;
    /// The first value of a simple8b or run section, from its stored word.
    fn first(self, stored: u64) -> u64;
    /// A run's number of values, from the length it stores (saturating).
    fn run_len(self, stored: u64) -> u64;
}

/// Integer and unsigned streams: zigzag words; a run stores its repeats, `N - 1`.
#[derive(Clone, Copy)]
pub(super) struct Zigzag;

impl Step for Zigzag {
    #[inline(always)]
    fn step(self, stored: u64) -> u64 {
        zigzag_decode(stored) as u64
    }
    #[inline(always)]
    fn first(self, stored: u64) -> u64 {
        zigzag_decode(stored) as u64
    }
    #[inline(always)]
    fn run_len(self, stored: u64) -> u64 {
        stored.saturating_add(1)
    }
}

/// Timestamp streams: deltas scaled by a power of ten, the first timestamp stored as is;
/// a run stores its count.
#[derive(Clone, Copy)]
pub(super) struct Scaled(pub(super) u64);

impl Step for Scaled {
    #[inline(always)]
    fn step(self, stored: u64) -> u64 {
        stored.wrapping_mul(self.0)
    }
    #[inline(always)]
    fn first(self, stored: u64) -> u64 {
        stored
    }
    #[inline(always)]
    fn run_len(self, stored: u64) -> u64 {
        stored
    }
}

/// Raw timestamps: unscaled deltas (a raw header has no power of ten).
#[derive(Clone, Copy)]
pub(super) struct Plain;

impl Step for Plain {
    #[inline(always)]
    fn step(self, stored: u64) -> u64 {
        stored
    }
    #[inline(always)]
    fn first(self, stored: u64) -> u64 {
        stored
    }
    #[inline(always)]
    fn run_len(self, stored: u64) -> u64 {
        stored
    }
}

fn too_many(offset: u64, stream: Stream, claimed: u64, max_values: usize) -> Error {
    Error::limit(offset, stream.values, claimed, max_values as u64)
}

/// Appends the running sum of the raw words after `cursor` to `dst`, from 0.
pub(super) fn decode_raw<T: Bits64, S: Step>(
    cursor: Cursor<'_>,
    stream: Stream,
    step: S,
    max_values: usize,
    dst: &mut Vec<T>,
) -> Result<()> {
    let at = cursor.offset();
    let (words, rest) = cursor.rest().as_chunks::<8>();
    if !rest.is_empty() {
        let end = at + (words.len() * 8) as u64;
        return Err(Error::encoding(
            end,
            stream.name,
            EncodingFault::RawEndsInsideValue {
                tail: rest.len() as u64,
            },
        ));
    }
    if words.len() > max_values {
        return Err(too_many(at, stream, words.len() as u64, max_values));
    }
    // A loop over a sized slice, not `extend`: once the simple8b loops grew the module,
    // `extend` here was compiled out of line with the running sum in memory, 7x slower.
    let start = dst.len();
    dst.resize(start + words.len(), T::from_bits(0));
    let mut acc = 0u64;
    for (v, word) in dst
        .get_mut(start..)
        .unwrap_or_default()
        .iter_mut()
        .zip(words)
    {
        acc = acc.wrapping_add(step.step(u64::from_be_bytes(*word)));
        *v = T::from_bits(acc);
    }
    Ok(())
}

/// Appends the first value after `cursor` and the running sum of the simple8b words
/// after it to `dst`.
pub(super) fn decode_simple8b<T: Bits64, S: Step>(
    mut cursor: Cursor<'_>,
    stream: Stream,
    step: S,
    max_values: usize,
    dst: &mut Vec<T>,
) -> Result<()> {
    let first = step.first(cursor.u64_be()?);
    let at = cursor.offset();
    let words = cursor.rest();
    let deltas = simple8b::count_values(words).map_err(|e| e.rebase(at))?;
    if deltas >= max_values {
        return Err(too_many(
            at,
            stream,
            (deltas as u64).saturating_add(1),
            max_values,
        ));
    }
    let start = dst.len();
    dst.resize(start + 1 + deltas, T::from_bits(first));
    let mut acc = first;
    let written = simple8b::unpack_into(
        words,
        dst.get_mut(start + 1..).unwrap_or_default(),
        |delta| {
            acc = acc.wrapping_add(step.step(delta));
            T::from_bits(acc)
        },
    );
    dst.truncate(start + 1 + written);
    Ok(())
}

/// Appends the run after `cursor` to `dst`.
pub(super) fn decode_rle<T: Bits64, S: Step>(
    mut cursor: Cursor<'_>,
    stream: Stream,
    step: S,
    max_values: usize,
    dst: &mut Vec<T>,
) -> Result<()> {
    let first = step.first(cursor.u64_be()?);
    let delta = step.step(cursor.uvarint()?);
    let len_at = cursor.offset();
    let len = step.run_len(cursor.uvarint()?);
    if !cursor.is_empty() {
        return Err(Error::encoding(
            cursor.offset(),
            stream.name,
            EncodingFault::BytesAfterRun,
        ));
    }
    let count = usize::try_from(len)
        .ok()
        .filter(|&n| n <= max_values)
        .ok_or_else(|| too_many(len_at, stream, len, max_values))?;
    // `first + i * delta` wraps to the same bits as adding `delta` i times, and has no
    // loop-carried dependency, so it vectorises.
    dst.extend((0..count as u64).map(|i| T::from_bits(first.wrapping_add(i.wrapping_mul(delta)))));
    Ok(())
}
