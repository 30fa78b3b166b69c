//! The replica's state vector, kept up to date by the updates it applies instead of
//! computed whole for each one. yrs builds it from every client the file ever had (a file
//! gains a client id per editor session, so that is O(its history) per keystroke), while
//! an update that integrates completely and in order moves only its own clients' clocks.
//!
//! Advancing is exact only while the doc has no holes: an update that lacked something
//! (yrs parks it or integrates it behind a gap) leaves clocks yrs computes from gaps, so
//! from the first such update on this replica computes the vector whole every time.

use yrs::{IdSet, StateVector};

#[derive(Debug, Default)]
pub struct KnownState {
    /// The replica version `sv` is the state vector of; `None`: not known.
    version: Option<u64>,
    sv: StateVector,
    /// An update did not integrate completely and in order: never advance again.
    holes: bool,
}

impl KnownState {
    /// The state vector at `version`: the kept one, or `compute`'s when it is not current.
    pub fn at(&mut self, version: u64, compute: impl FnOnce() -> StateVector) -> &StateVector {
        if self.version != Some(version) {
            self.sv = compute();
            self.version = Some(version);
        }
        &self.sv
    }

    /// An update applied at version `before` made the doc version `before + 1`. `clean`:
    /// it lacked nothing and integrated completely, so its inserted ids are the only
    /// clocks that moved.
    pub fn advance(&mut self, before: u64, clean: bool, inserted: &IdSet) {
        if !clean {
            self.holes = true;
        }
        if self.holes || self.version != Some(before) {
            self.version = None;
            return;
        }
        for (client, ranges) in inserted.iter() {
            if let Some(end) = ranges.iter().map(|r| r.end).max() {
                self.sv.set_max(*client, end);
            }
        }
        self.version = Some(before + 1);
    }

    /// The kept vector if it is the one of `version` (for checking it against the doc).
    pub fn current(&self, version: u64) -> Option<&StateVector> {
        (self.version == Some(version)).then_some(&self.sv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::block::ClientID;

    fn sv(pairs: &[(u64, u32)]) -> StateVector {
        let mut sv = StateVector::default();
        for (client, clock) in pairs {
            sv.set_max(ClientID::new(*client), *clock);
        }
        sv
    }

    fn inserted(client: u64, start: u32, end: u32) -> IdSet {
        let mut set = IdSet::new();
        set.insert(yrs::ID::new(ClientID::new(client), start), end - start);
        set
    }

    #[test]
    fn a_clean_update_moves_its_clients_clocks_only() {
        let mut known = KnownState::default();
        known.at(0, || sv(&[(1, 5), (2, 3)]));
        known.advance(0, true, &inserted(1, 5, 9));
        let mut computed = false;
        let got = known.at(1, || {
            computed = true;
            StateVector::default()
        });
        assert_eq!(*got, sv(&[(1, 9), (2, 3)]));
        assert!(!computed, "the kept vector was current");
    }

    #[test]
    fn an_update_with_holes_makes_it_compute_ever_after() {
        let mut known = KnownState::default();
        known.at(0, || sv(&[(1, 5)]));
        known.advance(0, false, &inserted(1, 7, 9));
        assert_eq!(*known.at(1, || sv(&[(1, 5)])), sv(&[(1, 5)]));
        known.advance(1, true, &inserted(1, 5, 7));
        assert_eq!(
            *known.at(2, || sv(&[(1, 9)])),
            sv(&[(1, 9)]),
            "filling the gap let the later clocks count: only yrs knows"
        );
    }

    #[test]
    fn a_stale_vector_is_not_advanced() {
        let mut known = KnownState::default();
        known.at(0, || sv(&[(1, 5)]));
        // Version 1 came from a direct write (server-side undo) that nobody advanced.
        known.advance(1, true, &inserted(1, 5, 6));
        assert_eq!(
            *known.at(2, || sv(&[(1, 6), (9, 1)])),
            sv(&[(1, 6), (9, 1)])
        );
    }
}
