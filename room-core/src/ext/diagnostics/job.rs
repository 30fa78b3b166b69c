//! What a room hands out to be checked, and what comes back to it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use collab_syntax::{Language, Limits, SyntaxChecker};

/// How a gateway checks files (`--diagnostics-*`).
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Quiet time after an edit before the text is checked.
    pub debounce: Duration,
    /// Longest a changing text goes unchecked while someone keeps typing.
    pub max_interval: Duration,
    /// Whether syntax checks run at all (`--diagnostics-workers 0`: no).
    pub syntax: bool,
    /// Bounds of one parse.
    pub limits: Limits,
}

impl Default for Settings {
    /// The flags' defaults.
    fn default() -> Self {
        Settings {
            debounce: Duration::from_millis(150),
            max_interval: Duration::from_secs(1),
            syntax: true,
            limits: Limits::default(),
        }
    }
}

/// The text of a file at one moment, to version and (when someone watches) check.
pub struct CheckJob {
    pub text: String,
    /// Present when the room wants syntax markers: the language and the file's checker,
    /// which holds the last tree (`None` the first time).
    pub syntax: Option<(Language, Option<Box<SyntaxChecker>>)>,
}

impl std::fmt::Debug for CheckJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckJob")
            .field("bytes", &self.text.len())
            .field(
                "syntax",
                &self.syntax.as_ref().map(|(language, _)| language.name()),
            )
            .finish()
    }
}

/// A finished job.
pub struct CheckDone {
    /// Hex SHA-256 of the text.
    pub version: Arc<str>,
    /// The checker back, for the next job (absent if the job had none to give back).
    pub checker: Option<Box<SyntaxChecker>>,
    /// What became of the syntax check, if one was asked for.
    pub syntax: Option<SyntaxOutcome>,
}

impl std::fmt::Debug for CheckDone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckDone")
            .field("version", &self.version)
            .field("syntax", &self.syntax)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyntaxOutcome {
    /// The markers of this version, as a `diagnostics` frame (computed here or cached).
    Markers(Bytes),
    /// Another gateway is computing them; they arrive on the file's channel.
    Elsewhere,
    /// Nothing came of it (the engine failed); a later check retries.
    Failed,
}
