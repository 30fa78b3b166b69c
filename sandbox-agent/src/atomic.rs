//! The conditional, atomic replace behind `PUT /files/{path}`.
//!
//! Under the path's lock (held by the caller): open the target's directory and check its real
//! location is inside the root; hash the current file and test the precondition; write the
//! new bytes to a temp file in that directory (created through the open directory, mode of
//! the old file kept), fsync it, record the new ETag in [`Known`], rename it over the file
//! and fsync the directory. A reader sees the old bytes or the new ones, never a mix; a crash
//! leaves at most a stray `.NAME.collab-agent-PID-N.tmp`.
//!
//! Race-free against other PUTs through this agent (the per-path lock). Against outside
//! writers (an editor, `git`) it is best effort: one that writes between the hash and the
//! rename is overwritten, and the change feed then reports nothing for it (the file holds
//! what the agent wrote). Closing that window would need a lock every writer honours.

use std::fs::{self, OpenOptions, Permissions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::ApiError;
use crate::etag::{self, Condition};
use crate::known::Known;
use crate::paths::{self, Target};

/// The temp files' marker; the change feed ignores names that carry it.
pub const TEMP_MARKER: &str = ".collab-agent-";

/// Bytes of the original name kept in a temp file's name (names are at most 255 bytes).
const TEMP_NAME_KEEP: usize = 100;

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// What a PUT requires of the current file.
#[derive(Debug, Clone)]
pub enum Precondition {
    /// `If-Match`: the file exists and is one of these versions (or any, for `*`).
    Match(Condition),
    /// `If-None-Match: *`: there is no file yet.
    Absent,
}

/// A successful write.
#[derive(Debug)]
pub struct Written {
    /// ETag hex of the bytes now in the file.
    pub etag: String,
    /// Whether the file did not exist before.
    pub created: bool,
}

/// Whether a file name is one of this agent's temp files.
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.contains(TEMP_MARKER) && name.ends_with(".tmp")
}

/// Replaces `target` by `bytes` if `pre` holds. The caller holds the path's lock.
pub fn write(
    root: &Path,
    target: &Target,
    pre: &Precondition,
    bytes: &[u8],
    known: &Known,
) -> Result<Written, ApiError> {
    let dir = fs::File::open(&target.dir).map_err(|e| ApiError::io(&e))?;
    if !dir.metadata().map_err(|e| ApiError::io(&e))?.is_dir() {
        return Err(ApiError::NotAFile("a parent is not a directory"));
    }
    paths::check_opened(root, &dir)?;
    let via = paths::fd_path(&dir);
    let dest = via.join(&target.name);

    let (current, mode) = current(&dest)?;
    let holds = match pre {
        Precondition::Match(condition) => condition.matches(current.as_deref()),
        Precondition::Absent => current.is_none(),
    };
    if !holds {
        return Err(ApiError::Stale(current));
    }

    let etag = etag::of_bytes(bytes);
    let temp = via.join(temp_name(&target.name.to_string_lossy()));
    if let Err(err) = fill(&temp, bytes, mode) {
        let _ = fs::remove_file(&temp);
        return Err(ApiError::io(&err));
    }
    let feed_path = target.feed_path(root);
    let previous = feed_path
        .as_deref()
        .map(|p| known.set(p, Some(etag.clone())));
    if let Err(err) = fs::rename(&temp, &dest) {
        let _ = fs::remove_file(&temp);
        if let (Some(path), Some(previous)) = (feed_path.as_deref(), previous) {
            known.set(path, previous);
        }
        return Err(ApiError::io(&err));
    }
    if let Err(err) = dir.sync_all() {
        tracing::warn!(error = %err.kind(), "fsync of the directory after a rename failed");
    }
    Ok(Written {
        etag,
        created: current.is_none(),
    })
}

/// The current file's ETag and mode, or `(None, None)` when there is none.
fn current(dest: &Path) -> Result<(Option<String>, Option<u32>), ApiError> {
    match fs::symlink_metadata(dest) {
        Ok(meta) if meta.file_type().is_symlink() => Err(ApiError::NotAFile(
            "the file was replaced by a symlink meanwhile; retry",
        )),
        Ok(meta) if meta.is_dir() => Err(ApiError::NotAFile("it is a directory")),
        Ok(meta) => {
            let mut file = fs::File::open(dest).map_err(|e| ApiError::io(&e))?;
            let hex = etag::of_reader(&mut file).map_err(|e| ApiError::io(&e))?;
            Ok((Some(hex), Some(meta.permissions().mode() & 0o7777)))
        }
        Err(err) if err.kind() == ErrorKind::NotFound => Ok((None, None)),
        Err(err) => Err(ApiError::io(&err)),
    }
}

/// Writes and fsyncs the temp file; the old file's mode when there was one, else the
/// process umask's default for new files.
fn fill(temp: &Path, bytes: &[u8], mode: Option<u32>) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o666)
        .open(temp)?;
    file.write_all(bytes)?;
    if let Some(mode) = mode {
        file.set_permissions(Permissions::from_mode(mode))?;
    }
    file.sync_all()
}

fn temp_name(name: &str) -> String {
    let mut keep = name.len().min(TEMP_NAME_KEEP);
    while !name.is_char_boundary(keep) {
        keep -= 1;
    }
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        ".{}{TEMP_MARKER}{}-{n}.tmp",
        &name[..keep],
        std::process::id()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_recognised() {
        let name = temp_name("app.ts");
        assert!(is_temp_name(&name), "{name}");
        assert!(!is_temp_name("app.ts"));
        assert!(temp_name(&"é".repeat(200)).len() < 255);
    }
}
