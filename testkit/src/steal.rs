//! The share of the machine's CPU time the hypervisor stole (`/proc/stat`'s `steal` column),
//! so that a benchmark can say whether its wall-clock figures were taken on a quiet machine.

/// The machine's CPU time counters (all CPUs, in clock ticks) at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuSteal {
    /// Ticks spent in every state (user, nice, system, idle, iowait, irq, softirq, steal).
    total: u64,
    /// Ticks stolen by the hypervisor.
    steal: u64,
}

impl CpuSteal {
    /// The counters now (zeros when `/proc/stat` cannot be read, as on a non-Linux machine).
    pub fn now() -> Self {
        let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        Self::parse(&text)
    }

    /// The counters of the aggregate `cpu` line of a `/proc/stat` text.
    fn parse(text: &str) -> Self {
        let Some(line) = text.lines().find(|l| l.starts_with("cpu ")) else {
            return Self::default();
        };
        let ticks: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .take(8)
            .map(|v| v.parse().unwrap_or(0))
            .collect();
        Self {
            total: ticks.iter().sum(),
            steal: ticks.get(7).copied().unwrap_or(0),
        }
    }

    /// The share of the CPU time from `earlier` to `self` that was stolen, in percent (0 when
    /// no time passed or the counters are unknown).
    pub fn percent_since(&self, earlier: &Self) -> f64 {
        let total = self.total.saturating_sub(earlier.total);
        if total == 0 {
            return 0.0;
        }
        100.0 * self.steal.saturating_sub(earlier.steal) as f64 / total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::CpuSteal;

    #[test]
    fn steal_share_between_two_readings() {
        let a = CpuSteal::parse("cpu  100 0 50 800 10 0 0 40 0 0\ncpu0 1 2 3\n");
        let b = CpuSteal::parse("cpu  200 0 100 900 10 0 0 140 0 0\n");
        // 350 ticks passed, 100 of them stolen.
        assert!((b.percent_since(&a) - 100.0 * 100.0 / 350.0).abs() < 1e-9);
        assert_eq!(a.percent_since(&a), 0.0);
        assert_eq!(CpuSteal::parse("no cpu line").percent_since(&a), 0.0);
    }
}
