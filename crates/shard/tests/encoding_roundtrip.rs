//! Whole blocks built by the testkit encoders decode back to their input, and a rough
//! throughput measurement of every decoder (ignored by default; run it in release mode:
//! `cargo test --release -p influx-tsm-shard --test encoding_roundtrip -- --ignored --nocapture`).
// A program (or test report) whose output is the point.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use influx_tsm_shard::encoding::simple8b::{self, MAX_VALUE};
use influx_tsm_shard::encoding::varint::decode_uvarint;
use influx_tsm_shard::encoding::{
    decode_booleans, decode_floats, decode_integers, decode_strings, decode_timestamps,
    decode_unsigned,
};
use influx_tsm_shard::testkit::encode::{
    encode_block, encode_booleans, encode_floats, encode_integers, encode_simple8b, encode_strings,
    encode_timestamps,
};
use influx_tsm_shard::{Strings, Values};
use proptest::prelude::*;

/// Splits a block into its type byte and sections and decodes both.
fn decode_block(block: &[u8]) -> influx_tsm_shard::Result<(Vec<i64>, Values)> {
    let (&code, rest) = block.split_first().expect("type byte");
    let (ts_len, used) = decode_uvarint(rest).expect("timestamp section length");
    let (ts, vs) = rest[used..].split_at(usize::try_from(ts_len).unwrap());
    let max = 1 << 20;
    let mut timestamps = Vec::new();
    decode_timestamps(ts, max, &mut timestamps)?;
    let ty = influx_tsm_shard::FieldType::from_block_type(code).expect("known block type");
    let mut values = Values::new(ty);
    match &mut values {
        Values::Float(dst) => decode_floats(vs, max, dst)?,
        Values::Integer(dst) => decode_integers(vs, max, dst)?,
        Values::Unsigned(dst) => decode_unsigned(vs, max, dst)?,
        Values::Boolean(dst) => decode_booleans(vs, max, dst)?,
        Values::String(dst) => decode_strings(vs, max, 1 << 30, dst)?,
    }
    Ok((timestamps, values))
}

fn values(n: usize) -> impl Strategy<Value = Values> {
    let floats = prop::collection::vec(
        any::<u64>()
            .prop_map(f64::from_bits)
            .prop_filter("not NaN", |v| !v.is_nan()),
        n,
    );
    let strings = prop::collection::vec(prop::collection::vec(any::<u8>(), 0..12), n)
        .prop_map(|v| v.iter().map(Vec::as_slice).collect::<Strings>());
    prop_oneof![
        floats.prop_map(Values::Float),
        prop::collection::vec(any::<i64>(), n).prop_map(Values::Integer),
        prop::collection::vec(any::<u64>(), n).prop_map(Values::Unsigned),
        prop::collection::vec(any::<bool>(), n).prop_map(Values::Boolean),
        strings.prop_map(Values::String),
    ]
}

fn block() -> impl Strategy<Value = (Vec<i64>, Values)> {
    (1usize..1200).prop_flat_map(|n| {
        let timestamps = prop_oneof![
            prop::collection::vec(any::<i64>(), n),
            (any::<i64>(), 1i64..100_000).prop_map(move |(start, step)| {
                (0..n as i64)
                    .map(|i| start.wrapping_add(i * step))
                    .collect()
            }),
        ];
        (timestamps, values(n))
    })
}

proptest! {
    #[test]
    fn blocks_round_trip((timestamps, values) in block()) {
        let encoded = encode_block(&timestamps, &values);
        let (got_ts, got_values) = decode_block(&encoded).unwrap();
        prop_assert_eq!(got_ts, timestamps);
        match (&got_values, &values) {
            // Compare bits: -0.0 and 0.0 must stay apart.
            (Values::Float(a), Values::Float(b)) => {
                let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                prop_assert_eq!(bits(a), bits(b));
            }
            _ => prop_assert_eq!(got_values, values),
        }
    }
}

/// A small deterministic generator, so the measurement needs no extra crate.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const VALUES: usize = 10_000_000;
const BLOCK: usize = 1000;

/// Decodes every section `runs` times and reports the best run as values per second.
fn measure<T>(
    name: &str,
    sections: &[Vec<u8>],
    mut decode: impl FnMut(&[u8], &mut T),
    dst: &mut T,
) {
    let mut best = Duration::MAX;
    for _ in 0..15 {
        let start = Instant::now();
        for section in sections {
            decode(black_box(section), dst);
        }
        best = best.min(start.elapsed());
    }
    let bytes: usize = sections.iter().map(Vec::len).sum();
    let rate = VALUES as f64 / best.as_secs_f64();
    println!(
        "{name:<40} {:>8.0} M values/s  ({:.2} bytes/value)",
        rate / 1e6,
        bytes as f64 / VALUES as f64
    );
}

fn blocks<T: Clone>(mut next: impl FnMut() -> T, encode: impl Fn(&[T]) -> Vec<u8>) -> Vec<Vec<u8>> {
    (0..VALUES / BLOCK)
        .map(|_| {
            let block: Vec<T> = (0..BLOCK).map(|_| next()).collect();
            encode(&block)
        })
        .collect()
}

#[test]
#[ignore = "measurement; run in release mode with --ignored --nocapture"]
fn throughput() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);

    let mut ints = Vec::<u64>::with_capacity(BLOCK);
    let mut i64s = Vec::<i64>::with_capacity(BLOCK);
    let mut floats = Vec::<f64>::with_capacity(BLOCK);
    let mut bools = Vec::<bool>::with_capacity(BLOCK);
    let mut strings = Strings::new();

    for (name, max) in [
        ("simple8b 4-bit values", 16),
        ("simple8b 12-bit values", 4096),
    ] {
        let words = blocks(|| rng.below(max), |v: &[u64]| encode_simple8b(v).unwrap());
        let decode = |s: &[u8], dst: &mut Vec<u64>| {
            dst.clear();
            simple8b::decode_simple8b(s, BLOCK, dst).unwrap();
        };
        measure(name, &words, decode, &mut ints);
    }
    let words = blocks(
        || rng.below(MAX_VALUE),
        |v: &[u64]| encode_simple8b(v).unwrap(),
    );
    let decode = |s: &[u8], dst: &mut Vec<u64>| {
        dst.clear();
        simple8b::decode_simple8b(s, BLOCK, dst).unwrap();
    };
    measure("simple8b 60-bit values", &words, decode, &mut ints);

    let decode_ts = |s: &[u8], dst: &mut Vec<i64>| {
        dst.clear();
        decode_timestamps(s, BLOCK, dst).unwrap();
    };
    let mut t = 1_600_000_000_000_000_000i64;
    let regular = blocks(
        || {
            t += 10_000_000_000;
            t
        },
        encode_timestamps,
    );
    measure("timestamps RLE (10 s)", &regular, decode_ts, &mut i64s);
    let jittered = blocks(
        || {
            t += 10_000_000_000 + rng.below(1000) as i64 * 1_000_000;
            t
        },
        encode_timestamps,
    );
    assert_eq!(jittered[0][0], 0x16);
    measure(
        "timestamps simple8b (10 s, ms jitter)",
        &jittered,
        decode_ts,
        &mut i64s,
    );
    let ns = blocks(
        || {
            t += 1_000 + rng.below(100) as i64;
            t
        },
        encode_timestamps,
    );
    measure(
        "timestamps simple8b (1 us, ns jitter)",
        &ns,
        decode_ts,
        &mut i64s,
    );

    let decode_int = |s: &[u8], dst: &mut Vec<i64>| {
        dst.clear();
        decode_integers(s, BLOCK, dst).unwrap();
    };
    let mut v = 0i64;
    let walk = blocks(
        || {
            v += rng.below(21) as i64 - 10;
            v
        },
        encode_integers,
    );
    measure(
        "integers simple8b (random walk +-10)",
        &walk,
        decode_int,
        &mut i64s,
    );
    let raw = blocks(|| rng.next() as i64, encode_integers);
    measure("integers raw (random)", &raw, decode_int, &mut i64s);

    let decode_float = |s: &[u8], dst: &mut Vec<f64>| {
        dst.clear();
        decode_floats(s, BLOCK, dst).unwrap();
    };
    let mut x = 50.0f64;
    let gauge = blocks(
        || {
            x = ((x + (rng.below(201) as f64 - 100.0) / 100.0) * 100.0).round() / 100.0;
            x
        },
        encode_floats,
    );
    measure(
        "floats (2-decimal random walk)",
        &gauge,
        decode_float,
        &mut floats,
    );
    let counter = blocks(
        || {
            x += rng.below(3) as f64;
            x
        },
        encode_floats,
    );
    measure(
        "floats (integral counter)",
        &counter,
        decode_float,
        &mut floats,
    );
    let noise = blocks(|| f64::from_bits(rng.next() >> 2), encode_floats);
    measure("floats (random bits)", &noise, decode_float, &mut floats);
    let mut k = 0u64;
    let steps = blocks(
        || {
            k += 1;
            (k / 50) as f64
        },
        encode_floats,
    );
    measure(
        "floats (runs of 50 repeats)",
        &steps,
        decode_float,
        &mut floats,
    );

    let flags = blocks(|| rng.below(2) == 1, encode_booleans);
    let decode_bool = |s: &[u8], dst: &mut Vec<bool>| {
        dst.clear();
        decode_booleans(s, BLOCK, dst).unwrap();
    };
    measure("booleans", &flags, decode_bool, &mut bools);

    let words: Vec<Vec<u8>> = (0..64)
        .map(|i| format!("host-{i:03}").into_bytes())
        .collect();
    let text = blocks(
        || words[rng.below(64) as usize].clone(),
        |v: &[Vec<u8>]| encode_strings(&v.iter().map(Vec::as_slice).collect::<Vec<_>>()),
    );
    let decode_str = |s: &[u8], dst: &mut Strings| {
        dst.clear();
        decode_strings(s, BLOCK, 1 << 20, dst).unwrap();
    };
    measure(
        "strings (8 bytes, 64 distinct)",
        &text,
        decode_str,
        &mut strings,
    );
}
