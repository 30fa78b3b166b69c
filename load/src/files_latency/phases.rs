//! The three measurements of `files-latency`, each on its own file of the rig: typing
//! timed to disk (and the writes it causes), outside writes timed to an editor on the
//! other gateway, and one Redis loss (kill -9 of every gateway, FLUSHALL, reopen).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use collab_protocol::message::encode_update;
use yrs::{Text, Transact};

use super::measure::{Arrivals, Loss, WriteRate};
use super::rig::{Args, Deaf, Rig};
use crate::latency::{Latency, histogram, micros};
use crate::probe_side::Side;

/// What the typed characters are (ASCII: one byte, one UTF-16 unit each).
const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz";

pub(crate) struct Typing {
    pub latency: Latency,
    pub typed: usize,
    pub landed: usize,
    pub writes: WriteRate,
}

/// Appends one character at the end of the writer's text and sends it.
async fn keystroke(writer: &mut Side<Deaf>, i: usize) -> anyhow::Result<char> {
    let c = char::from(ALPHABET[i % ALPHABET.len()]);
    let update = {
        let mut txn = writer.doc.transact_mut();
        let end = writer.text.len(&txn);
        writer.text.insert(&mut txn, end, &c.to_string());
        txn.encode_update_v1()
    };
    writer.conn.send(encode_update(&update)).await?;
    Ok(c)
}

/// The file's text, or `None` while it cannot be read.
fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

pub(crate) async fn keystrokes(rig: &Rig, args: &Args) -> anyhow::Result<Typing> {
    let file = "probe/keys.txt";
    let path = rig.root.join(file);
    let base = "keystroke probe\n";
    std::fs::write(&path, base)?;
    let mut writer = rig.open(0, file, base, args.step()).await?;
    let mut arrivals = Arrivals::new(base);
    let mut hist = histogram();
    let (pace, poll) = (
        Duration::from_millis(args.pace_ms),
        Duration::from_millis(args.poll_ms),
    );
    let record = |arrivals: &mut Arrivals, hist: &mut hdrhistogram::Histogram<u64>| {
        let Some(text) = read(&path) else {
            return Ok(());
        };
        let now = Instant::now();
        match arrivals.look(&text, now) {
            Some(delays) => {
                for d in delays {
                    hist.record(micros(d))?;
                }
                Ok(())
            }
            None => bail!("{file} on disk is not the typing: {text:?}"),
        }
    };

    let writes_before = rig.writes().await?;
    let start = Instant::now();
    let typing = Duration::from_secs_f64(args.duration);
    let mut i = 0;
    while start.elapsed() < typing {
        let c = keystroke(&mut writer, i).await?;
        arrivals.typed(c, Instant::now());
        i += 1;
        let next = start + pace * u32::try_from(i).unwrap_or(u32::MAX);
        while Instant::now() < next {
            writer.settle(poll.min(next - Instant::now())).await?;
            record(&mut arrivals, &mut hist)?;
        }
    }
    let window = start.elapsed();
    let writes = rig.writes().await?.saturating_sub(writes_before);
    let deadline = Instant::now() + args.step();
    while arrivals.landed() < arrivals.count() && Instant::now() < deadline {
        writer.settle(poll).await?;
        record(&mut arrivals, &mut hist)?;
    }
    writer.conn.close().await;
    Ok(Typing {
        latency: Latency::of(&hist),
        typed: arrivals.count(),
        landed: arrivals.landed(),
        writes: WriteRate::of(writes, window, args.write_back_max_ms),
    })
}

/// `lines` with line `k` (of the same count) replaced by `with`.
fn rewrite(lines: usize, k: usize, with: &str) -> String {
    (0..lines)
        .map(|j| {
            if j == k {
                format!("{with}\n")
            } else {
                format!("line {j}\n")
            }
        })
        .collect()
}

pub(crate) async fn outside(rig: &Rig, args: &Args) -> anyhow::Result<Latency> {
    let file = "probe/outside.txt";
    let path = rig.root.join(file);
    let lines = 20;
    let first = rewrite(lines, usize::MAX, "");
    std::fs::write(&path, &first)?;
    // The first gateway holds the file (it opens it first); the observer is on the other.
    let mut holder = rig.open(0, file, &first, args.step()).await?;
    let mut observer = rig.open(1, file, &first, args.step()).await?;
    let mut hist = histogram();
    let gap = Duration::from_millis(args.outside_gap_ms);
    for j in 0..args.outside {
        let k = usize::try_from(j).unwrap_or(0) % lines;
        let marker = format!("outside {j}");
        let text = rewrite(lines, k, &marker);
        let scratch = rig.scratch.join("outside.txt");
        std::fs::write(&scratch, &text)?;
        let t0 = Instant::now();
        std::fs::rename(&scratch, &path).context("renaming the outside write into place")?;
        observer
            .until("outside write at the observer", args.step(), |o| {
                o.string() == text
            })
            .await?;
        hist.record(micros(t0.elapsed()))?;
        holder
            .until("outside write at the holder", args.step(), |h| {
                h.string() == text
            })
            .await?;
        holder.settle(gap / 2).await?;
        observer.settle(gap / 2).await?;
    }
    holder.conn.close().await;
    observer.conn.close().await;
    Ok(Latency::of(&hist))
}

pub(crate) async fn rpo(rig: &mut Rig, args: &Args, run: u64) -> anyhow::Result<Loss> {
    let file = format!("probe/rpo-{run}.txt");
    let path = rig.root.join(&file);
    let base = "rpo probe\n";
    std::fs::write(&path, base)?;
    let mut writer = rig.open(0, &file, base, args.step()).await?;
    let pace = Duration::from_millis(args.pace_ms);
    let typing = args.rpo_typing(run);
    let mut arrivals = Arrivals::new(base);
    let mut sent = Vec::new();
    let start = Instant::now();
    let mut i = 0;
    while start.elapsed() < typing {
        let c = keystroke(&mut writer, i).await?;
        let at = Instant::now();
        arrivals.typed(c, at);
        sent.push(at);
        i += 1;
        let next = start + pace * u32::try_from(i).unwrap_or(u32::MAX);
        writer
            .settle(next.saturating_duration_since(Instant::now()))
            .await?;
    }
    // The worst case: no gateway gets to write, then Redis is empty.
    for gw in &mut rig.gateways {
        gw.kill9().await?;
    }
    let mut redis = rig.redis.connection().await?;
    let _: () = redis::cmd("FLUSHALL").query_async(&mut redis).await?;
    for gw in &mut rig.gateways {
        gw.restart().await?;
    }
    let on_disk = read(&path).context("the file after the loss")?;
    let recovered = arrivals
        .held_by(&on_disk)
        .with_context(|| format!("{file} on disk is not the typing: {on_disk:?}"))?;
    // The reopened document is what a user sees: it must be the file's text.
    let reader = rig.open(0, &file, &on_disk, args.step()).await?;
    reader.conn.close().await;
    drop(writer);
    Ok(Loss::of(&sent, recovered))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewrite_changes_one_line() {
        assert_eq!(rewrite(3, usize::MAX, ""), "line 0\nline 1\nline 2\n");
        assert_eq!(rewrite(3, 1, "outside 7"), "line 0\noutside 7\nline 2\n");
    }
}
