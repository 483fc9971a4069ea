//! Peak memory of this process, sampled from `/proc/self/status` (Linux).
//!
//! `RssAnon` is the anonymous resident memory: heap and stacks, not the pages of mapped
//! TSM files (those are `RssFile` and belong to the page cache). The kernel keeps no peak
//! of it, so a thread samples it every few milliseconds; short spikes between samples can
//! be missed. `VmHWM` (peak total RSS, file maps included) is read at the end.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// A `kB` field of `/proc/<pid>/status` text.
pub fn status_kb(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// The current `/proc/self/status` field `field` in KiB (`None` off Linux).
pub fn self_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status_kb(&status, field)
}

/// Samples `RssAnon` until stopped.
pub struct PeakSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    handle: Option<JoinHandle<()>>,
}

/// What a [`PeakSampler`] saw, in KiB.
#[derive(Clone, Copy, Debug)]
pub struct Peaks {
    /// Largest sampled `RssAnon`.
    pub rss_anon_kb: u64,
    /// `VmHWM` at the end (peak RSS including mapped files).
    pub vm_hwm_kb: u64,
}

impl PeakSampler {
    /// Starts sampling every `every`.
    pub fn start(every: Duration) -> PeakSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(self_kb("RssAnon").unwrap_or(0)));
        let handle = {
            let (stop, peak) = (stop.clone(), peak.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(kb) = self_kb("RssAnon") {
                        peak.fetch_max(kb, Ordering::Relaxed);
                    }
                    std::thread::sleep(every);
                }
            })
        };
        PeakSampler {
            stop,
            peak,
            handle: Some(handle),
        }
    }

    /// Stops sampling (taking one last sample) and returns the peaks.
    pub fn stop(mut self) -> Peaks {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        if let Some(kb) = self_kb("RssAnon") {
            self.peak.fetch_max(kb, Ordering::Relaxed);
        }
        Peaks {
            rss_anon_kb: self.peak.load(Ordering::Relaxed),
            vm_hwm_kb: self_kb("VmHWM").unwrap_or(0),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_status_fields() {
        let text = "Name:\tx\nVmHWM:\t  1234 kB\nRssAnon:\t   56 kB\n";
        assert_eq!(super::status_kb(text, "VmHWM"), Some(1234));
        assert_eq!(super::status_kb(text, "RssAnon"), Some(56));
        assert_eq!(super::status_kb(text, "RssFile"), None);
    }
}
