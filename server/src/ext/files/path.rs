//! A file id as a path under a source's root, refusing every id that could leave it.
//!
//! A file id `{sandbox}/{path}` is the relative path `{sandbox}/{path}` (under `--auth
//! none`, the whole id is the relative path too). Refused: empty segments at the start
//! (an absolute path), `.` and `..` segments, backslashes and NUL. Symlinks that leave the
//! root are the source's check, on the real file system.

use std::path::{Path, PathBuf};

use collab_protocol::FileId;

use super::source::SourceError;

/// The relative path of `file`, or why it is refused.
pub fn relative(file: &FileId) -> Result<PathBuf, SourceError> {
    let id = file.as_str();
    if id.starts_with('/') {
        return Err(SourceError::Refused(
            "an absolute path is not a file id".into(),
        ));
    }
    if id.contains('\\') || id.contains('\0') {
        return Err(SourceError::Refused(
            "a file id may not contain a backslash or NUL".into(),
        ));
    }
    let mut out = PathBuf::new();
    for segment in id.split('/') {
        match segment {
            "" | "." | ".." => {
                return Err(SourceError::Refused(format!(
                    "a file id may not have an empty, '.' or '..' segment: {id:?}"
                )));
            }
            name => out.push(name),
        }
    }
    if out.is_absolute() || Path::new(id).has_root() {
        return Err(SourceError::Refused(
            "an absolute path is not a file id".into(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> FileId {
        FileId::parse(s).expect("a parseable id")
    }

    #[test]
    fn plain_ids_are_relative_paths() {
        assert_eq!(
            relative(&id("s1/src/app.ts")).expect("fine"),
            PathBuf::from("s1").join("src").join("app.ts")
        );
    }

    #[test]
    fn escaping_ids_are_refused() {
        for bad in ["/etc/passwd", "s1//x", "s1/./x", "s1/x/", "a\\..\\b"] {
            assert!(
                matches!(relative(&id(bad)), Err(SourceError::Refused(_))),
                "{bad}"
            );
        }
    }
}
