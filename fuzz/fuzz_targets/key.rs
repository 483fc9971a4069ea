#![no_main]
//! Series and composite keys: splitting and unescaping any bytes never panics; the
//! measurement is a prefix of the key and unescaping never grows a name.
use libfuzzer_sys::fuzz_target;
use influx_tsm_shard::key::{SeriesKey, measurement_of, split_composite, unescape};

fuzz_target!(|data: &[u8]| {
    let series = match split_composite(data) {
        Some((series, field)) => {
            assert_eq!(series.len() + 4 + field.len(), data.len());
            series
        }
        None => data,
    };
    let m = measurement_of(series);
    assert!(series.starts_with(m));
    let parsed = SeriesKey::parse(series);
    assert!(parsed.measurement_unescaped().len() <= parsed.measurement.len());
    for (k, v) in parsed.tags_unescaped() {
        assert!(k.len() + v.len() <= series.len());
    }
    assert!(unescape(data, b", =").len() <= data.len());
});
