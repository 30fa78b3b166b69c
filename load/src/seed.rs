//! Builds a document on a gateway before a scenario measures it.
//!
//! One connection (the seeder) syncs like an editor, then appends code-like text (numbered
//! lines of ASCII, so bytes = UTF-16 units) in chunks, one update per chunk, paced so that a
//! gateway with default limits accepts them: frames well under its largest frame (16 MiB),
//! and bytes under its per-client rate (4 MiB/s sustained, bursts to one largest frame).
//! Then a second connection, on the verify target, syncs from an empty document until it
//! sees the full length: the gateway holds the document (and when the verify target is
//! another gateway, so does Redis). Both connections close before the scenario goes on.
//!
//! A plan may instead give the text itself ([`SeedPlan::text`], e.g. a whole TypeScript
//! file for `diag-latency`): it goes in the same chunks and at the same pace.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use collab_protocol::message::encode_update;
use yrs::{Text, Transact};

use crate::client;
use crate::conn::Conn;
use crate::doc_check::ExpectedDoc;
use crate::framing::Framing;
use crate::target::FileUrl;

/// How often the seeder reports how far it got.
const REPORT_EVERY: Duration = Duration::from_secs(2);

/// Most frames per second the seeder sends (gateways allow 300 by default).
const MAX_FRAMES_PER_SEC: f64 = 100.0;

/// Pause between two verification attempts.
const VERIFY_RETRY: Duration = Duration::from_millis(100);

/// What to build, where.
#[derive(Debug, Clone)]
pub struct SeedPlan {
    /// Names the seeder in its status lines (the scenario).
    pub label: String,
    pub framing: Framing,
    pub file_id: String,
    /// Where the seeder writes.
    pub writer_url: FileUrl,
    /// Where the verifier reads (another target than the writer's, when there is one).
    pub verify_url: FileUrl,
    /// Bytes of text to append (with [`SeedPlan::text`], its length).
    pub bytes: usize,
    /// The text to append, when not the generated code-like lines; cut into chunks on
    /// character boundaries.
    pub text: Option<std::sync::Arc<str>>,
    /// Bytes of text per update.
    pub chunk_bytes: usize,
    /// Pace of the seeder's frames, bytes per second.
    pub bytes_per_sec: f64,
    /// Longest the whole seeding may take.
    pub timeout: Duration,
}

/// What was built.
#[derive(Debug, Clone, Copy)]
pub struct Seeded {
    /// Length of the text (UTF-16 units) the verifier saw: what every joiner must see.
    pub len: u32,
    /// The seeder's document, as a joiner checks it ([`ExpectedDoc`]).
    pub expected: ExpectedDoc,
    /// Updates the seeder sent.
    pub chunks: u64,
    /// From the seeder's connect to the verifier seeing the whole document.
    pub seconds: f64,
}

/// Builds the document of `plan` and waits until the verify target serves all of it.
pub async fn seed(plan: &SeedPlan) -> anyhow::Result<Seeded> {
    tokio::time::timeout(plan.timeout, seed_within(plan))
        .await
        .map_err(|_| {
            anyhow!(
                "seeding {} bytes into {:?} took longer than {:?}",
                plan.text.as_ref().map_or(plan.bytes, |t| t.len()),
                plan.file_id,
                plan.timeout
            )
        })?
}

async fn seed_within(plan: &SeedPlan) -> anyhow::Result<Seeded> {
    let started = Instant::now();
    let (doc, text) = client::new_doc(nonzero_client_id());
    let mut writer = Conn::open(plan.framing, &plan.writer_url, &plan.file_id).await?;
    writer.sync(&doc).await.context("seeder sync")?;
    let pace_started = Instant::now();

    let rate = plan.bytes_per_sec.max(1.0);
    let mut lines = CodeText::default();
    let total = plan.text.as_ref().map_or(plan.bytes, |t| t.len());
    let (mut written, mut frame_bytes, mut chunks) = (0usize, 0u64, 0u64);
    let mut reported = Instant::now();
    while written < total {
        let chunk = match &plan.text {
            Some(text) => given_chunk(text, written, plan.chunk_bytes).to_owned(),
            None => lines.next_chunk(plan.chunk_bytes.min(total - written)),
        };
        let update = {
            let mut txn = doc.transact_mut();
            let end = text.len(&txn);
            text.insert(&mut txn, end, &chunk);
            txn.encode_update_v1()
        };
        // Send no faster than `rate` on average from the first frame on: the gateway's
        // bucket starts full with at least one largest frame, so this never overdraws it.
        let secs = (frame_bytes as f64 / rate).max(chunks as f64 / MAX_FRAMES_PER_SEC);
        let due = pace_started + Duration::from_secs_f64(secs);
        writer.idle_until(due).await.context("seeder")?;
        let frame = encode_update(&update);
        frame_bytes += frame.len() as u64;
        writer.send(frame).await.context("seeder")?;
        written += chunk.len();
        chunks += 1;
        if reported.elapsed() >= REPORT_EVERY {
            reported = Instant::now();
            eprintln!(
                "[{} seed {:>5.0}s] {:.1} of {:.1} MB sent",
                plan.label,
                started.elapsed().as_secs_f64(),
                written as f64 / 1e6,
                total as f64 / 1e6
            );
        }
    }
    let expected = text.len(&doc.transact());

    // The writer stays connected while the verifier looks, so its room stays open.
    let len = loop {
        let seen = verify(plan).await?;
        if seen == expected {
            break seen;
        }
        if seen > expected {
            bail!(
                "{} serves {seen} units of {:?}, more than the {expected} seeded: is another \
                 run writing to it? (give a fresh --file-prefix)",
                plan.verify_url,
                plan.file_id
            );
        }
        tokio::time::sleep(VERIFY_RETRY).await;
    };
    writer.close().await;
    Ok(Seeded {
        len,
        expected: ExpectedDoc::of(&doc, &text)?,
        chunks,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Syncs a fresh document from the verify target; returns its text length.
async fn verify(plan: &SeedPlan) -> anyhow::Result<u32> {
    let (doc, text) = client::new_doc(nonzero_client_id());
    let mut reader = Conn::open(plan.framing, &plan.verify_url, &plan.file_id).await?;
    reader.sync(&doc).await.context("verifier sync")?;
    reader.close().await;
    let len = text.len(&doc.transact());
    Ok(len)
}

/// The chunk of `text` from byte `from`: at most `bytes` long (at least one character),
/// ending on a character boundary.
fn given_chunk(text: &str, from: usize, bytes: usize) -> &str {
    let mut end = (from + bytes.max(1)).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    &text[from..end]
}

fn nonzero_client_id() -> u32 {
    rand::random::<u32>().max(1)
}

/// Numbered lines that look like source code, handed out in chunks of exact byte sizes (a
/// chunk may end mid-line; the next one goes on from there).
#[derive(Default)]
struct CodeText {
    line: u64,
    carry: String,
}

impl CodeText {
    fn next_chunk(&mut self, bytes: usize) -> String {
        let mut out = std::mem::take(&mut self.carry);
        while out.len() < bytes {
            self.push_line(&mut out);
        }
        self.carry = out.split_off(bytes);
        out
    }

    fn push_line(&mut self, out: &mut String) {
        let i = self.line;
        self.line += 1;
        let _ = match i % 8 {
            0 => writeln!(out, "fn handler_{i}(input: &str) -> Result<u64, Error> {{"),
            1 => writeln!(out, "    let value_{i} = input.len() as u64 * {};", i % 97),
            2 => writeln!(out, "    // step {i}: keep the running total in range"),
            3 => writeln!(out, "    if value_{} > LIMIT {{", i - 2),
            4 => writeln!(out, "        return Err(Error::TooLarge({i}));"),
            5 => writeln!(out, "    }}"),
            6 => writeln!(out, "    Ok(value_{} % {})", i - 5, i % 13 + 1),
            _ => writeln!(out, "}}\n"),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_text_comes_in_exact_chunks_of_lines() {
        let mut lines = CodeText::default();
        let chunks: Vec<String> = [1000, 7, 4096, 1].map(|n| lines.next_chunk(n)).into();
        assert_eq!(
            chunks.iter().map(String::len).collect::<Vec<_>>(),
            [1000, 7, 4096, 1]
        );
        let all = chunks.concat();
        assert!(all.is_ascii());
        assert!(all.starts_with("fn handler_0(input: &str)"));
        assert!(all.lines().count() > 100);
    }

    #[test]
    fn given_text_is_cut_on_character_boundaries() {
        let text = "ab\u{e9}cd\u{1f600}e";
        let mut chunks = Vec::new();
        let mut from = 0;
        while from < text.len() {
            let chunk = given_chunk(text, from, 3);
            from += chunk.len();
            chunks.push(chunk);
        }
        assert_eq!(chunks.concat(), text);
        assert_eq!(chunks[0], "ab\u{e9}");
        assert!(chunks.iter().all(|c| !c.is_empty()));
    }
}
