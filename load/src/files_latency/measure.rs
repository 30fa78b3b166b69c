//! The pure arithmetic of `files-latency`, apart from any process or socket so it can be
//! tested alone: which typed characters a file on disk already holds ([`Arrivals`]), how
//! many writes a minute a count over a window makes and the bound they must stay under
//! ([`WriteRate`]), what a Redis loss cost ([`Loss`]) and the median of the runs.

use std::time::{Duration, Instant};

use serde::Serialize;

/// The characters a writer typed at the end of a file, each with its send time, and which
/// of them have reached the disk (the file holds `base` followed by a prefix of them).
pub struct Arrivals {
    base: String,
    typed: String,
    sent: Vec<Instant>,
    /// How many typed characters the file held at the last look.
    landed: usize,
}

impl Arrivals {
    pub fn new(base: &str) -> Arrivals {
        Arrivals {
            base: base.to_owned(),
            typed: String::new(),
            sent: Vec::new(),
            landed: 0,
        }
    }

    /// Records one typed character (ASCII, so one byte and one UTF-16 unit).
    pub fn typed(&mut self, c: char, at: Instant) {
        self.typed.push(c);
        self.sent.push(at);
    }

    pub fn count(&self) -> usize {
        self.sent.len()
    }

    pub fn landed(&self) -> usize {
        self.landed
    }

    /// How many of the typed characters `text` holds after the base (`None` when `text` is
    /// not the base followed by a prefix of what was typed: someone else wrote the file).
    pub fn held_by(&self, text: &str) -> Option<usize> {
        let rest = text.strip_prefix(self.base.as_str())?;
        self.typed.starts_with(rest).then_some(rest.len())
    }

    /// The file read at `now` holds `text`: the delays of the characters that landed since
    /// the last look (sent -> now). Fewer characters than before (a write of an older
    /// text is not possible with one writer, but a torn read is) changes nothing.
    pub fn look(&mut self, text: &str, now: Instant) -> Option<Vec<Duration>> {
        let held = self.held_by(text)?;
        let fresh = self.sent[self.landed.min(held)..held]
            .iter()
            .map(|sent| now.saturating_duration_since(*sent))
            .collect();
        self.landed = self.landed.max(held);
        Some(fresh)
    }
}

/// Writes of one file counted over a window of continuous typing.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct WriteRate {
    pub writes: u64,
    pub window_secs: f64,
    pub per_minute: f64,
    /// 60000 / --write-back-max-ms, plus one write a window may start or end inside.
    pub bound_per_minute: f64,
    pub within_bound: bool,
}

impl WriteRate {
    pub fn of(writes: u64, window: Duration, write_back_max_ms: u64) -> WriteRate {
        let window_secs = window.as_secs_f64();
        let per_minute = if window_secs > 0.0 {
            writes as f64 * 60.0 / window_secs
        } else {
            0.0
        };
        let allowed = window_secs * 1000.0 / write_back_max_ms.max(1) as f64 + 1.0;
        WriteRate {
            writes,
            window_secs,
            per_minute,
            bound_per_minute: 60_000.0 / write_back_max_ms.max(1) as f64,
            within_bound: writes as f64 <= allowed.ceil(),
        }
    }
}

/// What one Redis loss cost: the characters typed but not in the reopened document.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Loss {
    pub typed: usize,
    pub recovered: usize,
    pub lost: usize,
    /// From the send of the first lost character to the send of the last one typed.
    pub span_ms: f64,
}

impl Loss {
    /// `recovered` of the characters sent at `sent` survived (a prefix: the file holds
    /// the text of some moment).
    pub fn of(sent: &[Instant], recovered: usize) -> Loss {
        let recovered = recovered.min(sent.len());
        let lost = sent.len() - recovered;
        let span_ms = match (sent.get(recovered), sent.last()) {
            (Some(first_lost), Some(last)) if lost > 0 => {
                last.saturating_duration_since(*first_lost).as_secs_f64() * 1000.0
            }
            _ => 0.0,
        };
        Loss {
            typed: sent.len(),
            recovered,
            lost,
            span_ms,
        }
    }
}

/// The median of `values` (the mean of the middle two for an even count; 0 when empty).
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_time_each_character_once() {
        let t0 = Instant::now();
        let mut a = Arrivals::new("base\n");
        for (i, c) in "abcd".chars().enumerate() {
            a.typed(c, t0 + Duration::from_millis(10 * i as u64));
        }
        let at = t0 + Duration::from_millis(100);
        assert_eq!(a.look("base\n", at), Some(vec![]));
        let first = a.look("base\nab", at).expect("a prefix");
        assert_eq!(
            first,
            vec![Duration::from_millis(100), Duration::from_millis(90)]
        );
        // The same text again, or a shorter one, times nothing twice.
        assert_eq!(a.look("base\nab", at), Some(vec![]));
        assert_eq!(a.look("base\na", at), Some(vec![]));
        let later = t0 + Duration::from_millis(200);
        assert_eq!(
            a.look("base\nabcd", later),
            Some(vec![Duration::from_millis(180), Duration::from_millis(170)])
        );
        assert_eq!(a.landed(), 4);
        // Text that is not the base and a prefix of the typing is someone else's.
        assert_eq!(a.look("other", later), None);
        assert_eq!(a.look("base\nabX", later), None);
    }

    #[test]
    fn write_rate_is_per_minute_and_bounded_by_the_max_interval() {
        let r = WriteRate::of(6, Duration::from_secs(30), 5000);
        assert_eq!(r.per_minute, 12.0);
        assert_eq!(r.bound_per_minute, 12.0);
        assert!(r.within_bound);
        // One more than the window can start is still within (a write at each edge).
        assert!(WriteRate::of(7, Duration::from_secs(30), 5000).within_bound);
        assert!(!WriteRate::of(30, Duration::from_secs(30), 5000).within_bound);
        assert_eq!(WriteRate::of(3, Duration::ZERO, 5000).per_minute, 0.0);
    }

    #[test]
    fn loss_counts_the_lost_tail_and_its_span() {
        let t0 = Instant::now();
        let sent: Vec<Instant> = (0..10)
            .map(|i| t0 + Duration::from_millis(100 * i))
            .collect();
        let l = Loss::of(&sent, 6);
        assert_eq!((l.typed, l.recovered, l.lost), (10, 6, 4));
        assert!((l.span_ms - 300.0).abs() < 1e-6);
        assert_eq!(Loss::of(&sent, 10).span_ms, 0.0);
        assert_eq!(Loss::of(&sent, 12).lost, 0);
        assert_eq!(Loss::of(&[], 0).lost, 0);
    }

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }
}
