//! Latency samples and their summary (median, p90, p99).

use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct Samples(pub Vec<Duration>);

#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub median: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub n: usize,
}

impl Samples {
    pub fn push(&mut self, d: Duration) {
        self.0.push(d);
    }

    /// Nearest-rank percentiles; `None` without samples.
    pub fn summary(&self) -> Option<Summary> {
        if self.0.is_empty() {
            return None;
        }
        let mut v = self.0.clone();
        v.sort();
        let rank =
            |p: f64| v[(((p / 100.0) * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Some(Summary {
            median: rank(50.0),
            p90: rank(90.0),
            p99: rank(99.0),
            n: v.len(),
        })
    }
}

pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut s = Samples::default();
        assert!(s.summary().is_none());
        for i in 1..=100 {
            s.push(Duration::from_millis(i));
        }
        let sum = s.summary().unwrap();
        assert_eq!(sum.median, Duration::from_millis(50));
        assert_eq!(sum.p90, Duration::from_millis(90));
        assert_eq!(sum.p99, Duration::from_millis(99));
        assert_eq!(ms(Duration::from_micros(1500)), "1.50 ms");
    }
}
