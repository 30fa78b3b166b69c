//! One check of one version of a file's text, beside its room: hash the text, look in the
//! cache (or claim the version), parse on the pool if this gateway holds the claim, then
//! store and publish the markers for every gateway.

use std::sync::Arc;
use std::time::Instant;

use collab_protocol::FileId;
use collab_syntax::{Language, SyntaxChecker};

use collab_room_core::ext::diagnostics::message::Diagnostics;
use collab_room_core::ext::diagnostics::{
    CheckDone, CheckJob, DiagnosticsCache, Lookup, SYNTAX, Settings, SyntaxOutcome,
};

use super::pool::CheckPool;
use crate::engine::EngineError;

/// What a check needs besides its job.
#[derive(Clone)]
pub struct Checking {
    pub pool: CheckPool,
    pub cache: Arc<dyn DiagnosticsCache<Error = EngineError>>,
    pub settings: Settings,
}

/// Runs `job` for `file`; `None` only if hashing the text failed (the room tries again
/// on its next change).
pub async fn run(job: CheckJob, file: FileId, with: Checking) -> Option<CheckDone> {
    let CheckJob { text, syntax } = job;
    let (text, version) = with
        .pool
        .run(move || {
            let version = collab_syntax::version(&text);
            (text, version)
        })
        .await?;
    let version: Arc<str> = Arc::from(version);
    let Some((language, checker)) = syntax else {
        return Some(CheckDone {
            version,
            checker: None,
            syntax: None,
        });
    };
    let store = match with.cache.lookup_or_claim(&file, SYNTAX, &version).await {
        Ok(Lookup::Cached(json)) => match Diagnostics::decode(&json) {
            Some(cached) if *cached.version == *version => {
                crate::metrics::diagnostics_cache("hit");
                return Some(CheckDone {
                    version,
                    checker,
                    syntax: Some(SyntaxOutcome::Markers(cached.frame)),
                });
            }
            _ => {
                tracing::warn!("cached diagnostics do not decode; checking again");
                true
            }
        },
        Ok(Lookup::Taken) => {
            crate::metrics::diagnostics_cache("elsewhere");
            return Some(CheckDone {
                version,
                checker,
                syntax: Some(SyntaxOutcome::Elsewhere),
            });
        }
        Ok(Lookup::Claimed) => {
            crate::metrics::diagnostics_cache("claimed");
            true
        }
        Err(error) => {
            // Clients still get markers; other gateways check for themselves.
            crate::metrics::diagnostics_cache("error");
            tracing::debug!(%error, "diagnostics look-up failed; checking without the cache");
            false
        }
    };
    let (checker, outcome) = parse(text, language, checker, &version, &with).await;
    let outcome = match outcome {
        Parsed::Done(message) => {
            if store
                && let Err(error) = with
                    .cache
                    .store(&file, SYNTAX, &version, &message.json)
                    .await
            {
                tracing::debug!(%error, "storing diagnostics failed");
            }
            SyntaxOutcome::Markers(message.frame)
        }
        Parsed::Failed => SyntaxOutcome::Failed,
    };
    Some(CheckDone {
        version,
        checker,
        syntax: Some(outcome),
    })
}

enum Parsed {
    Done(Diagnostics),
    Failed,
}

/// Parses on the pool with the file's checker (a new one the first time). A text too big
/// or too slow to parse gets an empty list: a squiggle from an abandoned parse would be a
/// guess.
async fn parse(
    text: String,
    language: Language,
    checker: Option<Box<SyntaxChecker>>,
    version: &str,
    with: &Checking,
) -> (Option<Box<SyntaxChecker>>, Parsed) {
    let limits = with.settings.limits;
    let parsed = with
        .pool
        .run(move || {
            let mut checker = checker.unwrap_or_else(|| Box::new(SyntaxChecker::new(language)));
            let started = Instant::now();
            let result = checker.check(text, &limits);
            (checker, result, started.elapsed())
        })
        .await;
    let Some((checker, result, took)) = parsed else {
        return (None, Parsed::Failed);
    };
    let markers = match result {
        Ok(markers) => {
            crate::metrics::diagnostics_parse(language.name(), "ok", took);
            markers
        }
        Err(skipped) => {
            let outcome = match skipped {
                collab_syntax::Skipped::TooBig { .. } => "too-big",
                collab_syntax::Skipped::TimedOut { .. } => "timed-out",
            };
            crate::metrics::diagnostics_parse(language.name(), outcome, took);
            tracing::info!(%skipped, "syntax check skipped");
            Vec::new()
        }
    };
    (
        Some(checker),
        Parsed::Done(Diagnostics::new(SYNTAX, version, markers)),
    )
}
