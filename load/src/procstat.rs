//! CPU time and memory of server processes, read from `/proc/<pid>/stat` and `status`.
//!
//! CPU seconds are `utime + stime` (fields 14 and 15 of `stat`) in clock ticks of USER_HZ,
//! which Linux fixes at 100 for every interface exported to user space. Memory is `VmRSS`
//! (now) and `VmHWM` (peak resident set since start, or since [`reset_peak`]).

use std::fs;
use std::io;

use serde::Serialize;

/// Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ).
const USER_HZ: f64 = 100.0;

/// One reading of a process.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    /// User plus system CPU time since the process started, in seconds.
    pub cpu_seconds: f64,
    /// Resident set now, KiB.
    pub rss_kib: u64,
    /// Peak resident set, KiB.
    pub peak_rss_kib: u64,
}

/// Reads `pid` now.
pub fn sample(pid: u32) -> io::Result<Sample> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    let cpu_seconds = parse_cpu_seconds(&stat)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unparsable /proc stat"))?;
    Ok(Sample {
        cpu_seconds,
        rss_kib: status_kib(&status, "VmRSS:").unwrap_or(0),
        peak_rss_kib: status_kib(&status, "VmHWM:").unwrap_or(0),
    })
}

/// Resets the peak RSS of `pid` to its current RSS (`echo 5 > /proc/<pid>/clear_refs`), so
/// that the peak covers only this run. Returns whether the kernel accepted it.
pub fn reset_peak(pid: u32) -> bool {
    fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

fn parse_cpu_seconds(stat: &str) -> Option<f64> {
    // The command name (field 2) is in parentheses and may hold spaces or ')': split after
    // the last ')'. What follows starts at field 3, so utime (14) and stime (15) are the
    // 12th and 13th words.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut words = rest.split_whitespace().skip(11);
    let utime: u64 = words.next()?.parse().ok()?;
    let stime: u64 = words.next()?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}

fn status_kib(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

/// A server process watched over a run: a reading at the start, the highest RSS seen while
/// sampling, and the last reading.
#[derive(Debug, Clone)]
pub struct Watch {
    pub pid: u32,
    pub peak_reset: bool,
    pub start: Option<Sample>,
    pub last: Option<Sample>,
    pub sampled_peak_rss_kib: u64,
    pub error: Option<String>,
}

/// What the report says about one server process.
#[derive(Debug, Clone, Serialize)]
pub struct ProcReport {
    pub pid: u32,
    /// CPU seconds spent during the run.
    pub cpu_seconds: Option<f64>,
    /// Peak RSS: VmHWM since the start of the run if it could be reset, else since the
    /// process started (see `peak_reset`).
    pub peak_rss_kib: Option<u64>,
    pub peak_reset: bool,
    /// RSS at the end of the run.
    pub rss_kib: Option<u64>,
    pub error: Option<String>,
}

impl Watch {
    pub fn start(pid: u32) -> Watch {
        let peak_reset = reset_peak(pid);
        let mut w = Watch {
            pid,
            peak_reset,
            start: None,
            last: None,
            sampled_peak_rss_kib: 0,
            error: None,
        };
        w.start = w.update();
        w
    }

    /// Takes a reading; keeps the first error.
    pub fn update(&mut self) -> Option<Sample> {
        match sample(self.pid) {
            Ok(s) => {
                self.sampled_peak_rss_kib = self.sampled_peak_rss_kib.max(s.rss_kib);
                self.last = Some(s);
                Some(s)
            }
            Err(e) => {
                if self.error.is_none() {
                    self.error = Some(format!("pid {}: {e}", self.pid));
                }
                None
            }
        }
    }

    pub fn report(&self) -> ProcReport {
        let cpu = match (self.start, self.last) {
            (Some(a), Some(b)) => Some(b.cpu_seconds - a.cpu_seconds),
            _ => None,
        };
        ProcReport {
            pid: self.pid,
            cpu_seconds: cpu,
            peak_rss_kib: self
                .last
                .map(|s| s.peak_rss_kib.max(self.sampled_peak_rss_kib)),
            peak_reset: self.peak_reset,
            rss_kib: self.last.map(|s| s.rss_kib),
            error: self.error.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_command_names() {
        let stat = "1234 (collab gw) (x)) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 100 1000 200 18446744073709551615";
        assert_eq!(parse_cpu_seconds(stat), Some(3.0));
    }

    #[test]
    fn parses_status_fields() {
        let status = "Name:\tx\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(status_kib(status, "VmHWM:"), Some(20480));
        assert_eq!(status_kib(status, "VmRSS:"), Some(10240));
        assert_eq!(status_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn reads_own_process() {
        let s = sample(std::process::id()).unwrap();
        assert!(s.rss_kib > 0 && s.peak_rss_kib >= s.rss_kib);
    }
}
