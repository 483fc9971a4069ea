//! Encoders for every block section encoding, choosing the scheme InfluxDB would.
