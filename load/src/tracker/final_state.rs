//! An editor's document at the end of a run, and how two of them are compared: the
//! tracker's convergence check.

use yrs::StateVector;

/// An editor's document at the end of a run, for the convergence check.
#[derive(Debug, Clone, PartialEq)]
pub struct FinalState {
    pub state_vector: StateVector,
    pub text_hash: u64,
    /// Text length in UTF-16 units.
    pub text_len: u32,
    /// What the doc still waits for, if it holds updates it could not integrate.
    pub pending: Option<String>,
}

impl FinalState {
    pub(super) fn same_doc(&self, other: &FinalState) -> bool {
        self.state_vector == other.state_vector
            && self.text_hash == other.text_hash
            && self.pending.is_none()
            && other.pending.is_none()
    }

    pub(super) fn describe(&self) -> String {
        format!(
            "text {} units, hash {:016x}, state vector {:?}{}",
            self.text_len,
            self.text_hash,
            self.state_vector,
            self.pending
                .as_ref()
                .map_or(String::new(), |p| format!(", pending: {p}"))
        )
    }
}
