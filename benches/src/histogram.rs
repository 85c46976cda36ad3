//! A log-linear latency histogram in the spirit of HdrHistogram: exact below 256 ns
//! units, then 128 sub-buckets per power of two, so every recorded value is kept to
//! within 1/128 (< 0.8 %) of itself whatever its size. Fixed memory (about 60 KiB),
//! no allocation per sample, mergeable across threads.

/// Values below this are their own bucket.
const LINEAR: u64 = 256;
/// Sub-buckets per power of two above [`LINEAR`].
const SUB: u64 = 128;
/// Enough buckets for any `u64`.
const BUCKETS: usize = (LINEAR + 56 * SUB) as usize;

#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    sum: u128,
    min: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.total)
            .field("min", &self.min())
            .field("max", &self.max)
            .finish()
    }
}

fn index(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    let msb = 63 - u64::from(v.leading_zeros());
    // The top 8 bits of `v` (128..=255) name the sub-bucket.
    let shift = msb - 7;
    let top = v >> shift;
    (LINEAR + (shift - 1) * SUB + (top - SUB)) as usize
}

/// The highest value that lands in bucket `i` (what HdrHistogram calls the highest
/// equivalent value), so reported percentiles never flatter.
fn upper(i: usize) -> u64 {
    let i = i as u64;
    if i < LINEAR {
        return i;
    }
    let shift = (i - LINEAR) / SUB + 1;
    let top = (i - LINEAR) % SUB + SUB;
    (top << shift).saturating_add((1u64 << shift) - 1)
}

impl Histogram {
    pub fn new() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            total: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    pub fn record(&mut self, v: u64) {
        if let Some(c) = self.counts.get_mut(index(v)) {
            *c += 1;
        }
        self.total += 1;
        self.sum += u128::from(v);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn min(&self) -> u64 {
        if self.total == 0 {
            0
        } else {
            self.min
        }
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    pub fn mean(&self) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        self.sum as f64 / self.total as f64
    }

    /// The value at percentile `p` (0–100): the smallest bucket edge with at least
    /// `p` % of the samples at or below it; capped at the largest sample seen.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let wanted = ((p / 100.0) * self.total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= wanted {
                return upper(i).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
#[path = "histogram/tests.rs"]
mod tests;
