//! The capacity rows of the side-by-side table: per system the best passing step's figures,
//! the ratios us/peer, and the issue-23 targets on our figures (capacity at least the relay
//! floor's, CPU per delivery at most 3x the write-floor's).

use super::capacity::{Capacity, Step, limit};
use super::systems::System;
use super::table::{number, peers};

/// The capacity rows of the side-by-side table (its columns: scenario, figure, one per
/// system, one ratio us/peer per peer, target). Targets (issue 23): our capacity at least
/// the relay floor's, our CPU per delivery there within 3x the write-floor's.
pub fn rows(caps: &[Capacity], systems: &[System], p99_ms: f64) -> Vec<Vec<String>> {
    let peers = peers(systems);
    let best = |s: System| caps.iter().find(|c| c.system == s).and_then(Capacity::best);
    type Pick = fn(&Step) -> Option<f64>;
    /// What our figure must be against a peer's, and how the target reads.
    type Goal = Option<(System, &'static str, fn(f64, f64) -> bool)>;
    let figures: [(String, Pick, Goal); 4] = [
        (
            format!("edits/s at p99 < {} ms", limit(p99_ms)),
            |s| Some(s.edits_per_second),
            Some((System::Floor, ">= floor", |us, floor| us >= floor)),
        ),
        (
            "deliveries/s at that rate".to_owned(),
            |s| Some(s.deliveries_per_second),
            None,
        ),
        (
            "server CPU µs per delivery".to_owned(),
            |s| s.server_us_per_delivery,
            Some((System::WriteFloor, "<= 3x write-floor", |us, wf| {
                us <= 3.0 * wf
            })),
        ),
        (
            "harness CPU s at that rate".to_owned(),
            |s| s.harness_cpu_seconds,
            None,
        ),
    ];
    let mut rows = Vec::new();
    for (label, pick, goal) in figures {
        let mut row = vec!["capacity".to_owned(), label];
        for system in systems {
            let cap = caps.iter().find(|c| c.system == *system);
            row.push(match cap {
                None => "-".to_owned(),
                Some(c) if c.failed.is_some() => "failed".to_owned(),
                Some(c) => match c.best() {
                    Some(step) => pick(step).map_or("?".to_owned(), number),
                    None => "none passed".to_owned(),
                },
            });
        }
        let ours = best(System::Us).and_then(pick);
        for peer in &peers {
            row.push(match (ours, best(*peer).and_then(pick)) {
                (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
                _ => String::new(),
            });
        }
        row.push(match goal {
            Some((peer, what, ok)) if systems.contains(&System::Us) => {
                match (ours, best(peer).and_then(pick)) {
                    (Some(a), Some(b)) if ok(a, b) => format!("{what}: met"),
                    (Some(_), Some(_)) => format!("{what}: MISSED"),
                    _ => format!("{what}: no figure"),
                }
            }
            _ => String::new(),
        });
        rows.push(row);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_show_the_best_passing_step_and_ratios() {
        let step = |rate: f64, passed: bool, eps: f64, us: f64| Step {
            rate,
            passed,
            edits_per_second: eps,
            deliveries_per_second: eps * 9.0,
            server_us_per_delivery: Some(us),
            harness_cpu_seconds: Some(1.0),
            ..Step::default()
        };
        let caps = vec![
            Capacity {
                system: System::Us,
                steps: vec![
                    step(1.0, true, 1000.0, 30.0),
                    step(2.0, true, 2000.0, 28.0),
                    step(4.0, false, 3000.0, 40.0),
                ],
                failed: None,
                commands: Vec::new(),
            },
            Capacity {
                system: System::Hocuspocus,
                steps: vec![step(1.0, false, 1000.0, 90.0)],
                failed: None,
                commands: Vec::new(),
            },
            Capacity {
                system: System::Floor,
                steps: vec![step(4.0, true, 4000.0, 7.0)],
                failed: None,
                commands: Vec::new(),
            },
            Capacity {
                system: System::WriteFloor,
                steps: vec![step(8.0, true, 8000.0, 3.0)],
                failed: None,
                commands: Vec::new(),
            },
        ];
        let rows = rows(&caps, &System::ALL, 10.0);
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0][..2], ["capacity", "edits/s at p99 < 10 ms"]);
        assert_eq!(
            rows[0][2..10],
            [
                "2000",
                "none passed",
                "4000",
                "8000",
                "",
                "0.50x",
                "0.25x",
                ">= floor: MISSED"
            ]
        );
        assert_eq!(rows[2][2..6], ["28.0", "none passed", "7.00", "3.00"]);
        assert_eq!(rows[2][8..10], ["9.33x", "<= 3x write-floor: MISSED"]);
        assert_eq!(rows[1][9], "");
        // scenario, figure, one per system, one ratio per peer, target
        let columns = 2 + System::ALL.len() + (System::ALL.len() - 1) + 1;
        assert!(rows.iter().all(|r| r.len() == columns));
    }
}
