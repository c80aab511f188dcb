//! When to retry a failed attempt.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// delay = backoff_factor · 2^attempt seconds, where `attempt` is the
/// 1-based number of the attempt that just failed; with jitter on, that delay
/// is multiplied by a uniform factor in [0.5, 1.5) so that jobs failing
/// together do not retry together. Capped at `max_delay_secs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryStrategy {
    pub max_retries: u32,
    pub backoff_factor_secs: f64,
    pub jitter: bool,
    pub max_delay_secs: f64,
}

impl Default for RetryStrategy {
    fn default() -> Self {
        RetryStrategy {
            max_retries: 3,
            backoff_factor_secs: 1.0,
            jitter: true,
            max_delay_secs: 3600.0,
        }
    }
}

impl RetryStrategy {
    /// The delay before retrying after attempt number `attempt` failed.
    pub fn delay(&self, attempt: u32) -> Duration {
        let base = self.backoff_factor_secs * 2f64.powi(attempt.min(62) as i32);
        let factor = if self.jitter {
            0.5 + fastrand::f64()
        } else {
            1.0
        };
        let secs = (base * factor).clamp(0.0, self.max_delay_secs.max(0.0));
        Duration::from_secs_f64(secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_without_jitter() {
        let s = RetryStrategy {
            backoff_factor_secs: 0.5,
            jitter: false,
            ..RetryStrategy::default()
        };
        assert_eq!(s.delay(1), Duration::from_secs(1));
        assert_eq!(s.delay(2), Duration::from_secs(2));
        assert_eq!(s.delay(3), Duration::from_secs(4));
    }

    #[test]
    fn jitter_stays_within_half_to_one_and_a_half() {
        let s = RetryStrategy {
            backoff_factor_secs: 1.0,
            jitter: true,
            ..RetryStrategy::default()
        };
        let mut distinct = std::collections::HashSet::new();
        for _ in 0..1000 {
            let d = s.delay(2).as_secs_f64();
            assert!((2.0..6.0).contains(&d), "{d}");
            distinct.insert(d.to_bits());
        }
        assert!(distinct.len() > 100, "jitter must vary the delay");
    }

    #[test]
    fn capped() {
        let s = RetryStrategy {
            jitter: false,
            max_delay_secs: 10.0,
            ..RetryStrategy::default()
        };
        assert_eq!(s.delay(40), Duration::from_secs(10));
    }
}
