//! What a conversion changed, counted.

/// What a conversion changed: counts of cells whose bytes were not UTF-8 and were
/// replaced lossily. Counts add up over calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Non-null string field values replaced.
    pub replaced_field_values: u64,
    /// Rows whose tag value was replaced (counted once per tag column and row).
    pub replaced_tag_values: u64,
}

impl Stats {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Stats) {
        self.replaced_field_values += other.replaced_field_values;
        self.replaced_tag_values += other.replaced_tag_values;
    }
}
