//! A connection as its room knows it: the principal it acts for, its opt-ins, and whether
//! it was told that its edits are dropped.

use bytes::Bytes;
use collab_protocol::{Extension, Message, close};

use crate::ext::OptIns;
use crate::principal::{Access, Principal};
use crate::slow_checks::SlowChecks;

#[derive(Debug)]
pub struct Member {
    pub principal: Principal,
    pub opt_ins: OptIns,
    /// A read-only connection is told once that its edits are dropped.
    told_read_only: bool,
    /// Its budget of slow origin checks.
    pub slow_checks: SlowChecks,
    /// Whether its first sync step 1 was answered: what it is shown about the text
    /// (diagnostics) follows that answer, so it arrives after the text does.
    answered: bool,
}

impl Member {
    pub fn new(principal: Principal, opt_ins: OptIns) -> Self {
        Member {
            principal,
            opt_ins,
            told_read_only: false,
            slow_checks: SlowChecks::default(),
            answered: false,
        }
    }

    /// Marks the connection's sync as answered; true the first time.
    pub fn first_answer(&mut self) -> bool {
        !std::mem::replace(&mut self.answered, true)
    }

    /// The `read-only` error for a dropped edit: the first one only (until its access
    /// changes again).
    pub fn read_only_notice(&mut self) -> Option<Bytes> {
        if std::mem::replace(&mut self.told_read_only, true) {
            return None;
        }
        let error = Extension::error(
            close::FORBIDDEN,
            "read-only",
            "this connection may read the file but not edit it; edits are dropped",
        );
        Some(Bytes::from(Message::Extension(error).encode()))
    }

    /// Changes what the connection may do (revocation re-read its grant); a connection
    /// downgraded again later is told again.
    pub fn set_access(&mut self, access: Access) {
        if self.principal.access != access {
            self.principal.access = access;
            self.told_read_only = false;
        }
    }
}
