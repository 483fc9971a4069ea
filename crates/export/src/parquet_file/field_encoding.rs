//! The Parquet encoding of each field column, chosen from the data.
//!
//! No single encoding suits InfluxDB fields: sensor readings repeat, so a dictionary
//! wins; monotonic counters (`diskio.write_bytes`, `net.bytes_recv`) are all distinct
//! but close together, so the dictionary overflows into PLAIN where
//! `DELTA_BINARY_PACKED` stores the small steps; noisy floats (CPU percentages) are all
//! distinct and `BYTE_STREAM_SPLIT` lets the codec find their shared exponent bytes, yet
//! the same encoding makes other float columns bigger. So each field column of a file is
//! encoded with the candidate that is smallest on a sample of its first batch, compressed
//! with the file's codec ([`choose`]).
//!
//! Only encodings that DuckDB, pyarrow and Polars read are candidates (arrow-rs 60 also
//! writes `ALP` and `BYTE_STREAM_SPLIT` for integers, which readers do not all know yet).

use std::sync::Arc;

use arrow_array::ArrayRef;
use arrow_schema::{DataType, FieldRef, Schema};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::compute_leaves;
use parquet::basic::Encoding;
use parquet::errors::{ParquetError, Result};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterPropertiesBuilder};
use parquet::schema::types::ColumnPath;

/// Rows of a column encoded by each candidate, once per file. Measured with
/// `benches/examples/field_encodings.rs` (and [`RETRY_ROWS`] 4 times this): 4,096 rows
/// give the bench directory the same bytes as 8,192 and Telegraf data 0.1 % more, for
/// half the trial CPU; 2,048 rows pick `PLAIN` for sensor readings and counters, 8 %
/// more bytes on the bench directory.
pub const SAMPLE_ROWS: usize = 4096;

/// Rows the dictionary is tried on again when it came close (see [`choose`]).
pub const RETRY_ROWS: usize = 4 * SAMPLE_ROWS;

/// How much bigger than the winner (percent) the dictionary may be on the sample and
/// still be tried again on [`RETRY_ROWS`] rows (see [`choose`]).
pub const RETRY_MARGIN_PERCENT: u64 = 25;

/// The samples are this many equal slices spread over the first batch, rather than its
/// first rows, because rows are grouped by series: the first rows are one series, the
/// slices reach several.
pub const SAMPLE_SLICES: usize = 4;

/// How a field column is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldEncoding {
    /// Dictionary pages, PLAIN once the dictionary outgrows its page (Parquet's default).
    Dictionary,
    /// `PLAIN`, no dictionary.
    Plain,
    /// `DELTA_BINARY_PACKED`, no dictionary (integers).
    DeltaBinaryPacked,
    /// `BYTE_STREAM_SPLIT`, no dictionary (floats).
    ByteStreamSplit,
}

impl FieldEncoding {
    /// The candidates for a column of `data_type`, in the order that breaks ties: the
    /// dictionary (today's default and what every reader handles best) first.
    pub fn candidates(data_type: &DataType) -> &'static [FieldEncoding] {
        use FieldEncoding::*;
        match data_type {
            DataType::Int64 | DataType::UInt64 => &[Dictionary, Plain, DeltaBinaryPacked],
            DataType::Float64 => &[Dictionary, Plain, ByteStreamSplit],
            // Booleans have no dictionary in arrow-rs: PLAIN bit-packing (RLE was 1 %
            // bigger once compressed).
            DataType::Boolean => &[Plain],
            // Strings: container ids repeat within a series and the dictionary stores
            // them smallest; they are most of the string bytes in Telegraf data, so
            // they are not worth a trial.
            _ => &[Dictionary],
        }
    }

    /// Sets this encoding for the column `path`.
    pub fn apply(
        self,
        builder: WriterPropertiesBuilder,
        path: ColumnPath,
    ) -> WriterPropertiesBuilder {
        let encoding = match self {
            FieldEncoding::Dictionary => return builder.set_column_dictionary_enabled(path, true),
            FieldEncoding::Plain => Encoding::PLAIN,
            FieldEncoding::DeltaBinaryPacked => Encoding::DELTA_BINARY_PACKED,
            FieldEncoding::ByteStreamSplit => Encoding::BYTE_STREAM_SPLIT,
        };
        builder
            .set_column_dictionary_enabled(path.clone(), false)
            .set_column_encoding(path, encoding)
    }
}

/// The rows of `column` (the first batch) that candidates are tried on: all of it when
/// it has at most `rows`, else [`SAMPLE_SLICES`] slices of equal length adding up to
/// `rows`, the first at the start and the last at the end.
pub fn sample(column: &ArrayRef, rows: usize) -> Vec<ArrayRef> {
    let total = column.len();
    if total <= rows {
        return vec![column.clone()];
    }
    let len = rows / SAMPLE_SLICES;
    let last = total - len;
    (0..SAMPLE_SLICES)
        .map(|i| column.slice(i * last / (SAMPLE_SLICES - 1), len))
        .collect()
}

/// The encoding for a field column whose first batch holds `column`: the candidate that
/// writes [`sample`]`(column, SAMPLE_ROWS)` in the fewest bytes, page headers included,
/// compressed with `codec`; on a tie, the earlier in [`FieldEncoding::candidates`]. The
/// same values always give the same choice.
///
/// A dictionary page is written once per row group while data pages grow with the
/// rows, so a short sample overcharges the dictionary: sensor readings with a few
/// thousand distinct values lose to `PLAIN` by a few percent on a sample and win by a
/// third on a shard. So when another candidate wins by less than
/// [`RETRY_MARGIN_PERCENT`], the dictionary is tried again on [`RETRY_ROWS`] rows and
/// kept if it is no bigger than the winner's sample size scaled to those rows (the other
/// candidates grow in proportion to the rows). Retrying both on the whole first batch
/// gave the same bytes on the bench directory for 8 times the values encoded.
///
/// # Errors
/// What arrow-rs returns when it cannot encode the values.
pub fn choose(
    field: &FieldRef,
    column: &ArrayRef,
    codec: parquet::basic::Compression,
) -> Result<FieldEncoding> {
    let candidates = FieldEncoding::candidates(field.data_type());
    if let [only] = candidates {
        return Ok(*only);
    }
    let parts = sample(column, SAMPLE_ROWS);
    let mut dictionary = None;
    let mut best: Option<(u64, FieldEncoding)> = None;
    for &candidate in candidates {
        let bytes = encoded_size(field, &parts, codec, candidate)?;
        if candidate == FieldEncoding::Dictionary {
            dictionary = Some(bytes);
        }
        if best.is_none_or(|(smallest, _)| bytes < smallest) {
            best = Some((bytes, candidate));
        }
    }
    let (Some((smallest, winner)), Some(dictionary)) = (best, dictionary) else {
        return Ok(FieldEncoding::Dictionary);
    };
    let close = u128::from(dictionary) * 100
        <= u128::from(smallest) * u128::from(100 + RETRY_MARGIN_PERCENT);
    if winner == FieldEncoding::Dictionary || !close || column.len() <= SAMPLE_ROWS {
        return Ok(winner);
    }
    let retry = sample(column, RETRY_ROWS);
    let retry_rows: usize = retry.iter().map(|part| part.len()).sum();
    let sampled_rows: usize = parts.iter().map(|part| part.len()).sum();
    let dictionary = encoded_size(field, &retry, codec, FieldEncoding::Dictionary)?;
    // Both sides multiplied by the sample's rows, to stay in integers.
    Ok(
        if u128::from(dictionary) * sampled_rows as u128
            <= u128::from(smallest) * retry_rows as u128
        {
            FieldEncoding::Dictionary
        } else {
            winner
        },
    )
}

/// Bytes of the column chunk that `candidate` writes for `parts`.
fn encoded_size(
    field: &FieldRef,
    parts: &[ArrayRef],
    codec: parquet::basic::Compression,
    candidate: FieldEncoding,
) -> Result<u64> {
    let path = ColumnPath::from(field.name().as_str());
    // Statistics cost the same whatever the encoding: not computed for the trial.
    let builder = WriterProperties::builder()
        .set_compression(codec)
        .set_statistics_enabled(EnabledStatistics::None);
    let properties = candidate.apply(builder, path).build();
    let schema = Arc::new(Schema::new(vec![field.clone()]));
    let (_, factory) = ArrowWriter::try_new(std::io::sink(), schema, Some(properties))?
        .into_serialized_writer()?;
    let mut writer = factory
        .create_column_writers(0)?
        .pop()
        .ok_or_else(|| ParquetError::General("a column without a leaf".into()))?;
    for part in parts {
        for leaf in compute_leaves(field, part)? {
            writer.write(&leaf)?;
        }
    }
    Ok(writer.close()?.close().bytes_written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Float64Array, Int64Array, UInt64Array};
    use arrow_schema::Field;
    use parquet::basic::ZstdLevel;

    fn zstd() -> parquet::basic::Compression {
        parquet::basic::Compression::ZSTD(ZstdLevel::try_new(1).unwrap())
    }

    fn pick(data_type: DataType, column: ArrayRef) -> FieldEncoding {
        let field = Arc::new(Field::new("v", data_type, true));
        choose(&field, &column, zstd()).unwrap()
    }

    /// A deterministic pseudo-random sequence (xorshift), so the tests need no crate.
    fn noise(n: usize) -> impl Iterator<Item = u64> {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        (0..n).map(move |_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        })
    }

    #[test]
    fn a_counter_picks_delta() {
        let mut total = 1_000_000_000_i64;
        let counter: Int64Array = noise(20_000)
            .map(|r| {
                total += 4096 + (r % 70_000) as i64;
                total
            })
            .collect();
        assert_eq!(
            pick(DataType::Int64, Arc::new(counter)),
            FieldEncoding::DeltaBinaryPacked
        );
        let unsigned: UInt64Array = noise(20_000)
            .scan(7u64 << 40, |total, r| {
                *total += r % 1_000_000;
                Some(*total)
            })
            .collect();
        assert_eq!(
            pick(DataType::UInt64, Arc::new(unsigned)),
            FieldEncoding::DeltaBinaryPacked
        );
    }

    #[test]
    fn repeating_values_pick_the_dictionary() {
        let states: Int64Array = noise(20_000)
            .map(|r| [3, 17, 250][(r % 3) as usize])
            .collect();
        assert_eq!(
            pick(DataType::Int64, Arc::new(states)),
            FieldEncoding::Dictionary
        );
        let readings: Float64Array = noise(20_000)
            .map(|r| 18.0 + (r % 40) as f64 / 10.0)
            .collect();
        assert_eq!(
            pick(DataType::Float64, Arc::new(readings)),
            FieldEncoding::Dictionary
        );
    }

    #[test]
    fn noisy_floats_leave_the_dictionary() {
        // A gauge read at full precision: every value distinct, so a dictionary only
        // adds its indices to the values it stores anyway.
        let gauge: Float64Array = noise(20_000)
            .map(|r| 40.0 + (r >> 11) as f64 / (1u64 << 53) as f64 * 20.0)
            .collect();
        let choice = pick(DataType::Float64, Arc::new(gauge));
        assert!(
            matches!(
                choice,
                FieldEncoding::ByteStreamSplit | FieldEncoding::Plain
            ),
            "{choice:?}"
        );
    }

    #[test]
    fn strings_and_booleans_are_not_tried_and_choices_repeat() {
        let strings = arrow_array::StringArray::from(vec!["a"; 10]);
        assert_eq!(
            pick(DataType::Utf8, Arc::new(strings)),
            FieldEncoding::Dictionary
        );
        let flags = arrow_array::BooleanArray::from(vec![true; 10]);
        assert_eq!(
            pick(DataType::Boolean, Arc::new(flags)),
            FieldEncoding::Plain
        );
        let mixed: Int64Array = noise(50_000)
            .map(|r| {
                if r % 3 == 0 {
                    (r % 100) as i64
                } else {
                    (r >> 20) as i64
                }
            })
            .collect();
        let mixed: ArrayRef = Arc::new(mixed);
        let first = pick(DataType::Int64, mixed.clone());
        for _ in 0..3 {
            assert_eq!(pick(DataType::Int64, mixed.clone()), first);
        }
    }

    #[test]
    fn the_sample_spans_the_batch() {
        let column: ArrayRef = Arc::new(Int64Array::from_iter_values(0..100_000));
        let parts = sample(&column, SAMPLE_ROWS);
        assert_eq!(parts.len(), SAMPLE_SLICES);
        assert_eq!(parts.iter().map(|p| p.len()).sum::<usize>(), SAMPLE_ROWS);
        let first = parts[0].as_any().downcast_ref::<Int64Array>().unwrap();
        let last = parts[SAMPLE_SLICES - 1]
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(first.value(0), 0);
        assert_eq!(last.value(last.len() - 1), 99_999);
        let short: ArrayRef = Arc::new(Int64Array::from_iter_values(0..10));
        assert_eq!(sample(&short, SAMPLE_ROWS).len(), 1);
    }
}
