//! Row-batch columns to Arrow arrays, moving buffers where the caller gives them up.
//!
//! Numbers and timestamps become `ScalarBuffer`s (moved when owned, one bulk copy when
//! borrowed); string bytes become the array's value buffer as they are; `valid` flags
//! become a `NullBuffer` only when some are false. Booleans and validity must be
//! bit-packed, and string offsets narrowed to `i32`: those are the only per-value passes.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BooleanArray, DictionaryArray, Float64Array, Int32Array, Int64Array, StringArray,
    TimestampNanosecondArray, UInt64Array,
};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use influx_tsm_shard::Values;
use influx_tsm_shard::rows::SeriesRuns;

use crate::error::{Error, Result};
use crate::stats::Stats;

/// A field's values, borrowed or owned.
pub(crate) enum ValuesSource<'a> {
    Float(Cow<'a, [f64]>),
    Integer(Cow<'a, [i64]>),
    Unsigned(Cow<'a, [u64]>),
    Boolean(Cow<'a, [bool]>),
    String(Cow<'a, [u8]>, Cow<'a, [usize]>),
}

impl ValuesSource<'_> {
    pub(crate) fn borrowed(values: &Values) -> ValuesSource<'_> {
        match values {
            Values::Float(v) => ValuesSource::Float(Cow::Borrowed(v)),
            Values::Integer(v) => ValuesSource::Integer(Cow::Borrowed(v)),
            Values::Unsigned(v) => ValuesSource::Unsigned(Cow::Borrowed(v)),
            Values::Boolean(v) => ValuesSource::Boolean(Cow::Borrowed(v)),
            Values::String(s) => {
                let (bytes, offsets) = s.as_parts();
                ValuesSource::String(Cow::Borrowed(bytes), Cow::Borrowed(offsets))
            }
        }
    }

    pub(crate) fn owned(values: Values) -> ValuesSource<'static> {
        match values {
            Values::Float(v) => ValuesSource::Float(Cow::Owned(v)),
            Values::Integer(v) => ValuesSource::Integer(Cow::Owned(v)),
            Values::Unsigned(v) => ValuesSource::Unsigned(Cow::Owned(v)),
            Values::Boolean(v) => ValuesSource::Boolean(Cow::Owned(v)),
            Values::String(s) => {
                let (bytes, offsets) = s.into_parts();
                ValuesSource::String(Cow::Owned(bytes), Cow::Owned(offsets))
            }
        }
    }
}

/// The time column.
pub(crate) fn time_array(time: Cow<'_, [i64]>) -> ArrayRef {
    Arc::new(
        TimestampNanosecondArray::new(ScalarBuffer::from(time.into_owned()), None)
            .with_timezone("UTC"),
    )
}

/// A null buffer from `valid` flags, or `None` when every row is valid.
pub(crate) fn null_buffer(valid: &[bool]) -> Option<NullBuffer> {
    if valid.iter().all(|v| *v) {
        None
    } else {
        Some(NullBuffer::from(valid))
    }
}

/// A field column. `key` names the column in errors.
pub(crate) fn field_array(
    key: &[u8],
    valid: &[bool],
    values: ValuesSource<'_>,
    stats: &mut Stats,
) -> Result<ArrayRef> {
    let nulls = null_buffer(valid);
    Ok(match values {
        ValuesSource::Float(v) => {
            Arc::new(Float64Array::new(ScalarBuffer::from(v.into_owned()), nulls))
        }
        ValuesSource::Integer(v) => {
            Arc::new(Int64Array::new(ScalarBuffer::from(v.into_owned()), nulls))
        }
        ValuesSource::Unsigned(v) => {
            Arc::new(UInt64Array::new(ScalarBuffer::from(v.into_owned()), nulls))
        }
        ValuesSource::Boolean(v) => Arc::new(BooleanArray::new(BooleanBuffer::from(&v[..]), nulls)),
        ValuesSource::String(bytes, offsets) => {
            let (array, replaced) = string_array(key, bytes, &offsets, nulls)?;
            stats.replaced_field_values += replaced;
            Arc::new(array)
        }
    })
}

/// A `Utf8` array from concatenated bytes and `usize` offsets. Strings that are not valid
/// UTF-8 are replaced lossily (each invalid sequence becomes U+FFFD); returns the array and
/// how many non-null strings were replaced.
///
/// The whole buffer is validated at once (by Arrow); only when that fails are the strings
/// looked at one by one.
pub(crate) fn string_array(
    key: &[u8],
    bytes: Cow<'_, [u8]>,
    offsets: &[usize],
    nulls: Option<NullBuffer>,
) -> Result<(StringArray, u64)> {
    let offsets32 = narrow_offsets(key, offsets)?;
    let buffer = match bytes {
        Cow::Owned(v) => Buffer::from_vec(v),
        Cow::Borrowed(b) => Buffer::from(b),
    };
    if let Ok(array) = StringArray::try_new(offsets32.clone(), buffer.clone(), nulls.clone()) {
        return Ok((array, 0));
    }
    // Some string is not UTF-8 (or the offsets are bad, which try_new reports again below).
    let mut repaired = Vec::with_capacity(buffer.len());
    let mut repaired_offsets = Vec::with_capacity(offsets.len());
    repaired_offsets.push(0usize);
    let mut replaced = 0u64;
    for (i, w) in offsets.windows(2).enumerate() {
        let Some(s) = buffer.as_slice().get(w[0]..w[1]) else {
            return Err(Error::Shape(format!(
                "string offsets {}..{} out of range",
                w[0], w[1]
            )));
        };
        match String::from_utf8_lossy(s) {
            Cow::Borrowed(s) => repaired.extend_from_slice(s.as_bytes()),
            Cow::Owned(s) => {
                if nulls.as_ref().is_none_or(|n| n.is_valid(i)) {
                    replaced += 1;
                }
                repaired.extend_from_slice(s.as_bytes());
            }
        }
        repaired_offsets.push(repaired.len());
    }
    let offsets32 = narrow_offsets(key, &repaired_offsets)?;
    let array = StringArray::try_new(offsets32, Buffer::from_vec(repaired), nulls)?;
    Ok((array, replaced))
}

fn narrow_offsets(key: &[u8], offsets: &[usize]) -> Result<OffsetBuffer<i32>> {
    let last = offsets.last().copied().unwrap_or(0);
    if i32::try_from(last).is_err() {
        return Err(Error::StringsTooLong {
            column: String::from_utf8_lossy(key).into_owned(),
            bytes: last,
        });
    }
    if offsets.is_empty() || offsets.windows(2).any(|w| w[0] > w[1]) {
        return Err(Error::Shape("string offsets are not ascending".into()));
    }
    // Every offset is at most `last`, which fits in i32.
    let narrowed: ScalarBuffer<i32> = offsets.iter().map(|&o| o as i32).collect();
    Ok(OffsetBuffer::new(narrowed))
}

/// Tag column `tag` (index into each run's `tags`) over `rows` rows: a dictionary of the
/// distinct values of the batch, keys repeated per run, null where a series lacks the tag.
pub(crate) fn tag_array(
    key: &[u8],
    series: &SeriesRuns,
    tag: usize,
    rows: usize,
    stats: &mut Stats,
) -> Result<ArrayRef> {
    // A unique tag (a pod, a request id) has a value per run: room for one per run, and
    // a hash cheaper than SipHash (seeded per map all the same).
    let mut distinct: HashMap<&[u8], i32, ahash::RandomState> =
        HashMap::with_capacity_and_hasher(series.len(), ahash::RandomState::new());
    // The distinct values in key order, with the rows that use each.
    let mut entries: Vec<(&[u8], u64)> = Vec::new();
    let mut keys: Vec<i32> = Vec::with_capacity(rows);
    let mut valid: Vec<bool> = Vec::with_capacity(rows);
    // Neighbouring series mostly share a tag's value (rows come sorted by series key):
    // the previous run's key is checked before hashing.
    let mut last: Option<(&[u8], i32)> = None;
    for run in series {
        match run.tag(tag) {
            Some(value) => {
                let known = match last {
                    Some((previous, k)) if previous == value => Some(k),
                    _ => distinct.get(value).copied(),
                };
                let k = match known {
                    Some(k) => k,
                    None => {
                        let k = i32::try_from(entries.len()).map_err(|_| {
                            Error::Shape("more than 2^31 distinct tag values in one batch".into())
                        })?;
                        distinct.insert(value, k);
                        entries.push((value, 0));
                        k
                    }
                };
                last = Some((value, k));
                if let Some(entry) = entries.get_mut(k as usize) {
                    entry.1 += run.rows as u64;
                }
                keys.extend(std::iter::repeat_n(k, run.rows));
                valid.extend(std::iter::repeat_n(true, run.rows));
            }
            None => {
                keys.extend(std::iter::repeat_n(0, run.rows));
                valid.extend(std::iter::repeat_n(false, run.rows));
            }
        }
    }
    let mut dict_bytes = Vec::with_capacity(entries.iter().map(|(v, _)| v.len()).sum());
    let mut dict_offsets = Vec::with_capacity(entries.len() + 1);
    dict_offsets.push(0);
    for (value, _) in &entries {
        dict_bytes.extend_from_slice(value);
        dict_offsets.push(dict_bytes.len());
    }
    let (values, replaced) = string_array(key, Cow::Owned(dict_bytes), &dict_offsets, None)?;
    if replaced > 0 {
        stats.replaced_tag_values += entries
            .iter()
            .filter(|(value, _)| std::str::from_utf8(value).is_err())
            .map(|(_, rows)| rows)
            .sum::<u64>();
    }
    let keys = Int32Array::new(ScalarBuffer::from(keys), null_buffer(&valid));
    Ok(Arc::new(DictionaryArray::<Int32Type>::try_new(
        keys,
        Arc::new(values),
    )?))
}
