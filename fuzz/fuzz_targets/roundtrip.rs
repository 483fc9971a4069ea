#![no_main]
//! testkit encode -> decode gives back the input, for every type.
use libfuzzer_sys::fuzz_target;
use influx_tsm_shard::testkit::encode::encode_block;
use influx_tsm_shard::{FieldType, Limits, Strings, Values};

fuzz_target!(|input: &[u8]| {
    let Some((&kind, data)) = input.split_first() else {
        return;
    };
    let words: Vec<u64> = data
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let mut ts: Vec<i64> = words.iter().map(|&w| (w >> 1) as i64 - (1 << 61)).collect();
    ts.sort_unstable();
    ts.dedup();
    if ts.is_empty() {
        return;
    }
    let n = ts.len();
    let values = match kind % 5 {
        // InfluxDB cannot store NaN (the encoder refuses it): map it to 0.
        0 => Values::Float(
            words[..n]
                .iter()
                .map(|&w| f64::from_bits(w))
                .map(|f| if f.is_nan() { 0.0 } else { f })
                .collect(),
        ),
        1 => Values::Integer(words[..n].iter().map(|&w| w as i64).collect()),
        2 => Values::Unsigned(words[..n].to_vec()),
        3 => Values::Boolean(words[..n].iter().map(|&w| w & 1 == 1).collect()),
        _ => {
            let mut s = Strings::new();
            for w in &words[..n] {
                s.push(&w.to_le_bytes()[..(*w as usize % 9)])
            }
            Values::String(s)
        }
    };
    let block = encode_block(&ts, &values);
    let (mut ts2, mut values2) = (Vec::new(), Values::new(FieldType::Float));
    influx_tsm_shard::block::decode_block(&block, 0, &Limits::default(), &mut ts2, &mut values2)
        .expect("decodes");
    assert_eq!(ts, ts2);
    assert_eq!(format!("{values:?}"), format!("{values2:?}")); // NaN-safe bitwise compare
});
