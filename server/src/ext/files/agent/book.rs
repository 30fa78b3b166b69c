//! The gateway's address book for `--files sandbox`: sandbox id -> the address of its file
//! agent, as the owner's record (`user:{id}`) gave it.
//!
//! A file `{sid}/{path}` is reached at the `sandbox_ip` of a user whose `sandbox_id` is
//! `sid`. The gateway learns it on every admission of such an owner (the record is read
//! fresh then, so a moved sandbox is followed) and forgets it when the record would have
//! expired. A member of a sandbox has no address of that sandbox in its own record: its
//! files are reached through what an owner's admission on this gateway taught. Every change
//! bumps a generation that the feeds watch, so a feed connects as soon as its sandbox's
//! address is known and moves when it changes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::sandbox_ip::SandboxIp;

/// The most sandboxes remembered; past it, expired entries are swept and new ones wait.
const MAX_ENTRIES: usize = 16_384;

struct Entry {
    ip: SandboxIp,
    /// When the owner's record expires (`None`: it has no expiry).
    until: Option<Instant>,
}

pub struct AddressBook {
    entries: Mutex<HashMap<String, Entry>>,
    generation: watch::Sender<u64>,
}

impl Default for AddressBook {
    fn default() -> Self {
        AddressBook {
            entries: Mutex::default(),
            generation: watch::channel(0).0,
        }
    }
}

impl AddressBook {
    /// `sandbox`'s agent is at `ip`, for as long as the owner's record lives (`ttl`).
    pub fn learn(&self, sandbox: &str, ip: SandboxIp, ttl: Option<Duration>) {
        let now = Instant::now();
        let until = ttl.map(|ttl| now + ttl);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if !entries.contains_key(sandbox) && entries.len() >= MAX_ENTRIES {
            entries.retain(|_, entry| entry.until.is_none_or(|until| until > now));
            if entries.len() >= MAX_ENTRIES {
                tracing::warn!(sandbox, "too many sandbox addresses held; not learned");
                return;
            }
        }
        let moved = entries.get(sandbox).is_none_or(|old| old.ip != ip);
        entries.insert(sandbox.to_owned(), Entry { ip, until });
        drop(entries);
        if moved {
            tracing::debug!(sandbox, "learned the sandbox's file agent address");
            self.generation.send_modify(|g| *g += 1);
        }
    }

    /// The address of `sandbox`'s agent and when it expires, unless unknown or expired.
    pub fn lookup(&self, sandbox: &str) -> Option<(SandboxIp, Option<Instant>)> {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(sandbox) {
            Some(entry) if entry.until.is_none_or(|until| until > now) => {
                Some((entry.ip, entry.until))
            }
            Some(_) => {
                entries.remove(sandbox);
                drop(entries);
                tracing::debug!(
                    sandbox,
                    "the sandbox owner's record expired; address dropped"
                );
                self.generation.send_modify(|g| *g += 1);
                None
            }
            None => None,
        }
    }

    /// Changes whenever an address is learned, moves or is dropped.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> SandboxIp {
        SandboxIp::parse(s).expect("an address")
    }

    #[test]
    fn addresses_are_learned_moved_and_expire() {
        let book = AddressBook::default();
        let mut changes = book.subscribe();
        assert!(book.lookup("s1").is_none());
        book.learn("s1", ip("127.0.0.2"), None);
        assert!(changes.has_changed().expect("open"));
        changes.mark_unchanged();
        assert_eq!(book.lookup("s1").map(|(ip, _)| ip), Some(ip("127.0.0.2")));
        book.learn("s1", ip("127.0.0.2"), Some(Duration::from_secs(60)));
        assert!(!changes.has_changed().expect("open"), "the same address");
        book.learn("s1", ip("127.0.0.3"), Some(Duration::ZERO));
        assert!(changes.has_changed().expect("open"), "moved");
        changes.mark_unchanged();
        assert!(book.lookup("s1").is_none(), "expired with the record");
        assert!(changes.has_changed().expect("open"), "dropped");
    }
}
