//! Request paths to real files inside the root, refusing every way out of it.
//!
//! A request path must be a clean relative path (no `..`, `.` or empty segment, no leading
//! `/`, no NUL, no backslash). It is then resolved on disk: the longest prefix that exists is
//! canonicalized (following symlinks) and must still lie inside the canonical root, so a
//! symlink inside the root that points inside it is fine and one that points outside is
//! refused. Writes go through the resolved parent directory ([`Target`]), and the writer
//! checks the opened directory's real location again (see `atomic.rs`), so a symlink swapped
//! in after this check cannot redirect a write outside the root.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::ErrorKind;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::error::ApiError;

/// Longest request path accepted, in bytes (Linux `PATH_MAX`).
const MAX_PATH_BYTES: usize = 4096;

/// A validated relative path, segments separated by `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelPath(String);

impl RelPath {
    /// Checks the shape of a request path; says why it is refused.
    pub fn parse(raw: &str) -> Result<RelPath, ApiError> {
        if raw.is_empty() {
            return Err(ApiError::BadPath("empty path"));
        }
        if raw.len() > MAX_PATH_BYTES {
            return Err(ApiError::BadPath("path too long"));
        }
        if raw.contains('\0') {
            return Err(ApiError::BadPath("NUL in path"));
        }
        if raw.contains('\\') {
            return Err(ApiError::BadPath("backslash in path (use /)"));
        }
        if raw.starts_with('/') {
            return Err(ApiError::BadPath(
                "absolute path (paths are relative to the root)",
            ));
        }
        for segment in raw.split('/') {
            match segment {
                ".." => return Err(ApiError::BadPath("`..` segment")),
                "." | "" => return Err(ApiError::BadPath("empty or `.` segment")),
                _ => {}
            }
        }
        Ok(RelPath(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a write lands: a canonical directory inside the root and a file name in it.
#[derive(Debug, Clone)]
pub struct Target {
    pub dir: PathBuf,
    pub name: OsString,
}

impl Target {
    /// The file's real absolute path (the per-path lock key, the same the change feed uses).
    pub fn path(&self) -> PathBuf {
        self.dir.join(&self.name)
    }

    /// The file's path relative to the root as the change feed names it.
    pub fn feed_path(&self, root: &Path) -> Option<String> {
        let rel = self.path();
        rel.strip_prefix(root).ok()?.to_str().map(str::to_owned)
    }
}

/// The canonical path of an existing file for reading; `NotFound` when it does not exist
/// (after checking that the part that exists does not lead outside the root).
pub fn resolve_read(root: &Path, rel: &RelPath) -> Result<PathBuf, ApiError> {
    let full = root.join(rel.as_str());
    let existing = existing_prefix(&full)?;
    let canon = canonical_inside(root, existing)?;
    if existing != full.as_path() {
        return Err(ApiError::NotFound);
    }
    Ok(canon)
}

/// Resolves where a PUT of `rel` writes, creating missing parent directories (each one
/// checked to be inside the root as it is made).
pub fn resolve_write(root: &Path, rel: &RelPath) -> Result<Target, ApiError> {
    let full = root.join(rel.as_str());
    match fs::symlink_metadata(&full) {
        Ok(meta) if meta.is_dir() => Err(ApiError::NotAFile("it is a directory")),
        Ok(meta) if meta.file_type().is_symlink() => {
            let canon = canonical_inside(root, &full)?;
            if canon.is_dir() {
                return Err(ApiError::NotAFile("it is a directory"));
            }
            split(canon)
        }
        Ok(_) => {
            let parent = full.parent().ok_or(ApiError::BadPath("no parent"))?;
            let dir = canonical_inside(root, parent)?;
            let name = full.file_name().ok_or(ApiError::BadPath("no file name"))?;
            Ok(Target {
                dir,
                name: name.to_owned(),
            })
        }
        Err(err) if err.kind() == ErrorKind::NotFound => {
            let parent = full.parent().ok_or(ApiError::BadPath("no parent"))?;
            let dir = ensure_dir(root, parent)?;
            let name = full.file_name().ok_or(ApiError::BadPath("no file name"))?;
            Ok(Target {
                dir,
                name: name.to_owned(),
            })
        }
        Err(err) => Err(ApiError::io(&err)),
    }
}

/// The real location of an open file or directory (`/proc/self/fd/N`), to check that what
/// was opened lies inside the root whatever happened to the path meanwhile.
pub fn check_opened(root: &Path, file: &File) -> Result<(), ApiError> {
    let real = fs::read_link(fd_path(file)).map_err(|e| ApiError::io(&e))?;
    if real.starts_with(root) {
        Ok(())
    } else {
        Err(ApiError::Escapes("the opened file lies outside the root"))
    }
}

/// The `/proc/self/fd/N` path of an open file: opening or renaming below it goes through
/// that very directory, not through a path that could be swapped.
pub fn fd_path(file: &File) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

fn split(canon: PathBuf) -> Result<Target, ApiError> {
    let dir = canon.parent().ok_or(ApiError::BadPath("no parent"))?;
    let name = canon.file_name().ok_or(ApiError::BadPath("no file name"))?;
    Ok(Target {
        dir: dir.to_owned(),
        name: name.to_owned(),
    })
}

/// The longest prefix of `full` that exists (as a directory entry, links not followed).
fn existing_prefix(full: &Path) -> Result<&Path, ApiError> {
    let mut probe = full;
    loop {
        match fs::symlink_metadata(probe) {
            Ok(_) => return Ok(probe),
            Err(err) if matches!(err.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                probe = probe.parent().ok_or(ApiError::NotFound)?;
            }
            Err(err) => return Err(ApiError::io(&err)),
        }
    }
}

/// Canonicalizes an existing path and checks it lies inside the (canonical) root.
fn canonical_inside(root: &Path, path: &Path) -> Result<PathBuf, ApiError> {
    let canon = fs::canonicalize(path).map_err(|err| match err.kind() {
        ErrorKind::NotFound => ApiError::Escapes("a symlink whose target does not exist"),
        _ => ApiError::io(&err),
    })?;
    if canon.starts_with(root) {
        Ok(canon)
    } else {
        Err(ApiError::Escapes("a symlink points outside the root"))
    }
}

/// Makes `dir` exist below the root, one directory at a time, each checked once made.
fn ensure_dir(root: &Path, dir: &Path) -> Result<PathBuf, ApiError> {
    let existing = existing_prefix(dir)?;
    let mut canon = canonical_inside(root, existing)?;
    if !canon.is_dir() {
        return Err(ApiError::NotAFile("a parent is not a directory"));
    }
    let missing = dir
        .strip_prefix(existing)
        .map_err(|_| ApiError::BadPath("unresolvable parent"))?;
    for name in missing.components() {
        let next = canon.join(name);
        match fs::create_dir(&next) {
            Ok(()) => {}
            Err(err) if err.kind() == ErrorKind::AlreadyExists => {}
            Err(err) => return Err(ApiError::io(&err)),
        }
        canon = canonical_inside(root, &next)?;
        if !canon.is_dir() {
            return Err(ApiError::NotAFile("a parent is not a directory"));
        }
    }
    Ok(canon)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert!(RelPath::parse("src/app.ts").is_ok());
        assert!(RelPath::parse(".hidden/x").is_ok());
        assert!(RelPath::parse("a..b").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/..",
            "a//b",
            "./a",
            "a/",
            "a\\b",
            "a\0b",
        ] {
            assert!(RelPath::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
