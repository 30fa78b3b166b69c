//! The machine a comparison ran on, from `/proc`: figures only mean something next to the
//! cores and memory they were measured with.

use std::fmt;

/// Cores, memory and kernel of this machine.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Machine {
    pub cpu_model: Option<String>,
    /// Logical processors listed in `/proc/cpuinfo`.
    pub logical_cpus: Option<usize>,
    /// Processors this process may run on (cgroup and affinity limits included).
    pub available_cpus: Option<usize>,
    pub memory_kib: Option<u64>,
    pub kernel: Option<String>,
}

impl Machine {
    pub fn read() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let (cpu_model, logical_cpus) = parse_cpuinfo(&cpuinfo);
        Machine {
            cpu_model,
            logical_cpus,
            available_cpus: std::thread::available_parallelism().ok().map(|n| n.get()),
            memory_kib: parse_mem_total(&meminfo),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .ok()
                .map(|s| s.trim().to_owned()),
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unknown = || "?".to_owned();
        write!(
            f,
            "{} logical CPUs ({} available to the harness), {}, {:.1} GiB memory, Linux {}",
            self.logical_cpus.map_or_else(unknown, |n| n.to_string()),
            self.available_cpus.map_or_else(unknown, |n| n.to_string()),
            self.cpu_model.clone().unwrap_or_else(unknown),
            self.memory_kib.map_or(0.0, |k| k as f64 / 1024.0 / 1024.0),
            self.kernel.clone().unwrap_or_else(unknown),
        )
    }
}

/// The first `model name` and the number of `processor` entries.
fn parse_cpuinfo(text: &str) -> (Option<String>, Option<usize>) {
    let value = |line: &str| line.split_once(':').map(|(_, v)| v.trim().to_owned());
    let model = text
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(value);
    let processors = text.lines().filter(|l| l.starts_with("processor")).count();
    (model, (processors > 0).then_some(processors))
}

fn parse_mem_total(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    line["MemTotal:".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let cpuinfo = "processor\t: 0\nmodel name\t: Some CPU @ 2.0GHz\n\nprocessor\t: 1\nmodel name\t: Some CPU @ 2.0GHz\n";
        assert_eq!(
            parse_cpuinfo(cpuinfo),
            (Some("Some CPU @ 2.0GHz".to_owned()), Some(2))
        );
        assert_eq!(
            parse_mem_total("MemTotal:       16318480 kB\nMemFree: 1 kB\n"),
            Some(16_318_480)
        );
        let m = Machine::read();
        assert!(m.logical_cpus.is_some() && m.memory_kib.is_some());
        assert!(m.to_string().contains("logical CPUs"));
    }
}
