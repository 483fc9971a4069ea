//! Seeded synthetic columns: the usual shapes of sensor data and each decoder's worst case.
//! Same seed, same data.

/// A small deterministic generator (xorshift64*).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Values per block, as InfluxDB writes them (`max-points-per-block` default).
pub const BLOCK: usize = 1000;

/// Ten-second timestamps from 2024-03-04: delta encoding with run-length (the best case).
pub fn timestamps_regular(n: usize) -> Vec<i64> {
    let start = 1_709_510_400_000_000_000i64;
    (0..n as i64).map(|i| start + i * 10_000_000_000).collect()
}

/// Ten-second timestamps with millisecond jitter: simple8b-packed deltas (the usual case
/// for sensors that stamp their own points).
pub fn timestamps_jitter(n: usize, seed: u64) -> Vec<i64> {
    let mut rng = Rng::new(seed);
    let mut t = 1_709_510_400_000_000_000i64;
    (0..n)
        .map(|_| {
            t += 10_000_000_000 + rng.below(1000) as i64 * 1_000_000;
            t
        })
        .collect()
}

/// Nanosecond timestamps with random gaps up to 2^61: deltas too large for simple8b, so
/// the raw encoding (the worst case).
pub fn timestamps_raw(n: usize, seed: u64) -> Vec<i64> {
    let mut rng = Rng::new(seed);
    let mut t = i64::MIN / 2;
    (0..n)
        .map(|_| {
            t += (rng.below(1 << 61) | 1) as i64;
            t
        })
        .collect()
}

/// A sensor reading: a random walk with one decimal (`21.3`), the common float.
pub fn floats_sensor(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    let mut v = 215i64;
    (0..n)
        .map(|_| {
            v += rng.below(5) as i64 - 2;
            v as f64 / 10.0
        })
        .collect()
}

/// An integral counter stored as float (`humid=70`, `count=1234`): few significant bits.
pub fn floats_counter(n: usize) -> Vec<f64> {
    (0..n).map(|i| (1000 + i) as f64).collect()
}

/// Random doubles in [0, 1): every step a new wide window (the worst case).
pub fn floats_random(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
        .collect()
}

/// A signal-strength-like integer (`rssi=-61`): small zigzag deltas, simple8b-packed.
pub fn integers_small(n: usize, seed: u64) -> Vec<i64> {
    let mut rng = Rng::new(seed);
    let mut v = -60i64;
    (0..n)
        .map(|_| {
            v = (v + rng.below(7) as i64 - 3).clamp(-100, -30);
            v
        })
        .collect()
}

/// A counter incremented by one: run-length encoded.
pub fn integers_rle(n: usize) -> Vec<i64> {
    (0..n as i64).collect()
}

/// Random 64-bit integers: deltas beyond simple8b, so raw (the worst case).
pub fn integers_raw(n: usize, seed: u64) -> Vec<i64> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| rng.next_u64() as i64).collect()
}

/// Random unsigned integers below 2^20: simple8b-packed.
pub fn unsigned_small(n: usize, seed: u64) -> Vec<u64> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| rng.below(1 << 20)).collect()
}

/// Random booleans.
pub fn booleans(n: usize, seed: u64) -> Vec<bool> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| rng.next_u64() & 1 == 1).collect()
}

/// Short status strings from a small set (`firmware="2.0.0-rc1"`): snappy compresses
/// them well.
pub fn strings_status(n: usize, seed: u64) -> Vec<Vec<u8>> {
    const SET: [&str; 5] = ["2.0.0-rc1", "2.0.1", "1.9.7", "ok", "degraded sensor"];
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            SET[rng.below(SET.len() as u64) as usize]
                .as_bytes()
                .to_vec()
        })
        .collect()
}

/// Random 24-byte hex strings: snappy finds little (the worst case per byte).
pub fn strings_random(n: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let (a, b) = (rng.next_u64(), rng.next_u64());
            format!("{a:016x}{:08x}", b as u32).into_bytes()
        })
        .collect()
}
