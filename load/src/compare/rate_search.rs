//! Finding the highest rate that still passes a test, in a few bounded steps: double from a
//! start while steps pass (halve while they fail), then bisect geometrically between the
//! highest pass and the lowest failure. Geometric, because capacities span orders of
//! magnitude between systems and one start rate has to serve them all.

/// The search stops once the lowest failing rate is within this factor of the highest
/// passing one.
pub const PRECISION: f64 = 1.15;

/// Runs `step` at rates from `start` as described above, at most `max_steps` times;
/// returns every step in the order run.
pub fn search<S>(
    start: f64,
    max_steps: usize,
    mut step: impl FnMut(f64) -> S,
    passed: impl Fn(&S) -> bool,
) -> Vec<S> {
    let mut steps = Vec::new();
    let (mut pass, mut fail): (Option<f64>, Option<f64>) = (None, None);
    let mut rate = start;
    while steps.len() < max_steps {
        let s = step(rate);
        if passed(&s) {
            pass = Some(pass.map_or(rate, |p| p.max(rate)));
        } else {
            fail = Some(fail.map_or(rate, |f| f.min(rate)));
        }
        steps.push(s);
        rate = match (pass, fail) {
            (Some(p), None) => p * 2.0,
            (None, Some(f)) => f / 2.0,
            (Some(p), Some(f)) if f / p > PRECISION => (p * f).sqrt(),
            _ => break,
        };
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic system: p99 2 ms up to `knee`, growing fast above it; a step is
    /// `(rate, p99)`.
    fn synthetic(knee: f64) -> impl FnMut(f64) -> (f64, f64) {
        move |rate| {
            (
                rate,
                if rate <= knee {
                    2.0
                } else {
                    50.0 * rate / knee
                },
            )
        }
    }

    fn under_10_ms(s: &(f64, f64)) -> bool {
        s.1 < 10.0
    }

    fn best(steps: &[(f64, f64)]) -> Option<f64> {
        steps
            .iter()
            .filter(|s| under_10_ms(s))
            .map(|s| s.0)
            .reduce(f64::max)
    }

    fn lowest_fail(steps: &[(f64, f64)]) -> f64 {
        steps
            .iter()
            .filter(|s| !under_10_ms(s))
            .map(|s| s.0)
            .fold(f64::INFINITY, f64::min)
    }

    #[test]
    fn the_search_brackets_the_knee_within_its_precision() {
        let steps = search(0.5, 8, synthetic(4.37), under_10_ms);
        let rates: Vec<f64> = steps.iter().map(|s| s.0).collect();
        // Doubling: 0.5 1 2 4 pass, 8 fails; then bisection between 4 and 8.
        assert_eq!(rates[..5], [0.5, 1.0, 2.0, 4.0, 8.0]);
        assert!(steps.len() <= 8);
        let found = best(&steps).unwrap_or(0.0);
        assert!(found <= 4.37 && found > 4.37 / PRECISION, "{rates:?}");
        let fail = lowest_fail(&steps);
        assert!(fail > 4.37 && fail / found <= PRECISION, "{rates:?}");
    }

    #[test]
    fn the_search_halves_when_the_first_step_fails() {
        let steps = search(0.5, 10, synthetic(0.07), under_10_ms);
        let rates: Vec<f64> = steps.iter().map(|s| s.0).collect();
        assert_eq!(rates[..4], [0.5, 0.25, 0.125, 0.0625]);
        let found = best(&steps).unwrap_or(0.0);
        assert!(found <= 0.07 && found > 0.07 / PRECISION, "{rates:?}");
    }

    #[test]
    fn the_search_keeps_to_its_step_budget() {
        // Nothing fails: it doubles until the budget is spent.
        let steps = search(1.0, 3, synthetic(f64::INFINITY), under_10_ms);
        assert_eq!(
            steps.iter().map(|s| s.0).collect::<Vec<_>>(),
            [1.0, 2.0, 4.0]
        );
        // Nothing passes: halving, and no capacity.
        let steps = search(1.0, 4, synthetic(0.0), under_10_ms);
        assert_eq!(steps.len(), 4);
        assert_eq!(best(&steps), None);
    }
}
