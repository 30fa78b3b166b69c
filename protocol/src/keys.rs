//! File ids and the Redis key and channel names (README, "Redis layout").
//!
//! Every key of one file carries the hash tag `{F}` so that, under Redis Cluster, a file's
//! log, snapshot and channel live in one slot and one script can touch them together.

use std::fmt;
use thiserror::Error;

/// Longest accepted file id, in bytes.
pub const MAX_FILE_ID: usize = 512;

/// A validated file id (the room name clients put after `/doc/`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(String);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum FileIdError {
    #[error("file id is empty")]
    Empty,
    #[error("file id is longer than {MAX_FILE_ID} bytes")]
    TooLong,
    #[error("file id contains a control character")]
    ControlCharacter,
    #[error("file id contains a '..' segment")]
    DotDot,
    #[error("file id starts with '}}', which would split its keys across Redis Cluster slots")]
    LeadingBrace,
}

impl FileId {
    /// Accepts any non-empty id of at most 512 bytes without control characters or `..`
    /// path segments (ids often are paths, and `..` would escape a sandbox's tree).
    pub fn parse(id: &str) -> Result<FileId, FileIdError> {
        if id.is_empty() {
            return Err(FileIdError::Empty);
        }
        if id.len() > MAX_FILE_ID {
            return Err(FileIdError::TooLong);
        }
        if id.chars().any(char::is_control) {
            return Err(FileIdError::ControlCharacter);
        }
        if id.split('/').any(|segment| segment == "..") {
            return Err(FileIdError::DotDot);
        }
        // `{F}` is the hash tag of every key of the file; Redis takes the text up to the
        // first `}`, so a leading `}` would make the tag empty and hash whole keys.
        if id.starts_with('}') {
            return Err(FileIdError::LeadingBrace);
        }
        Ok(FileId(id.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Redis names under a configurable prefix (`collab` by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

impl Default for Keys {
    fn default() -> Self {
        Keys::new("collab")
    }
}

impl Keys {
    pub fn new(prefix: impl Into<String>) -> Self {
        Keys {
            prefix: prefix.into(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `collab:{F}:log`: the stream of updates not yet compacted.
    pub fn log(&self, file: &FileId) -> String {
        format!("{}:{{{}}}:log", self.prefix, file.0)
    }

    /// `collab:{F}:snap`: the compacted state and the log position it covers.
    pub fn snap(&self, file: &FileId) -> String {
        format!("{}:{{{}}}:snap", self.prefix, file.0)
    }

    /// `collab:{F}`: the file's pub/sub channel.
    pub fn channel(&self, file: &FileId) -> String {
        format!("{}:{{{}}}", self.prefix, file.0)
    }

    /// `collab:{F}:undo:{user}`.
    pub fn undo(&self, file: &FileId, user: &str) -> String {
        format!("{}:{{{}}}:undo:{user}", self.prefix, file.0)
    }

    /// `collab:{F}:redo:{user}`.
    pub fn redo(&self, file: &FileId, user: &str) -> String {
        format!("{}:{{{}}}:redo:{user}", self.prefix, file.0)
    }

    /// `collab:{F}:cursor:{id}`: the user an awareness client id belongs to (expires
    /// unless its owner's gateway renews it).
    pub fn cursor(&self, file: &FileId, client: u64) -> String {
        format!("{}:{{{}}}:cursor:{client}", self.prefix, file.0)
    }

    /// `collab:{F}:diag`.
    pub fn diag(&self, file: &FileId) -> String {
        format!("{}:{{{}}}:diag", self.prefix, file.0)
    }

    /// `collab:{F}:file`: the file's source as the gateways last saw it (ETag, base text,
    /// write lease).
    pub fn file(&self, file: &FileId) -> String {
        format!("{}:{{{}}}:file", self.prefix, file.0)
    }

    /// `collab:gateways`: heartbeats and goodbyes of gateways, for cursor expiry.
    pub fn gateways_channel(&self) -> String {
        format!("{}:gateways", self.prefix)
    }

    /// The file whose channel is `channel`, if it is one of ours.
    pub fn file_of_channel(&self, channel: &str) -> Option<FileId> {
        let inner = channel
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix(":{")?
            .strip_suffix('}')?;
        FileId::parse(inner).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_file_ids() {
        assert!(FileId::parse("src/main.rs").is_ok());
        assert!(FileId::parse("a..b/c").is_ok());
        assert_eq!(FileId::parse(""), Err(FileIdError::Empty));
        assert_eq!(FileId::parse("a/../b"), Err(FileIdError::DotDot));
        assert_eq!(FileId::parse(".."), Err(FileIdError::DotDot));
        assert_eq!(FileId::parse("a\nb"), Err(FileIdError::ControlCharacter));
        assert_eq!(FileId::parse("}x"), Err(FileIdError::LeadingBrace));
        assert!(FileId::parse("a}b{c").is_ok());
        assert_eq!(FileId::parse(&"x".repeat(513)), Err(FileIdError::TooLong));
        assert!(FileId::parse(&"x".repeat(512)).is_ok());
    }

    #[test]
    fn names_follow_the_readme_redis_layout() {
        let keys = Keys::default();
        let f = FileId::parse("sb1/main.rs").expect("valid");
        assert_eq!(keys.log(&f), "collab:{sb1/main.rs}:log");
        assert_eq!(keys.snap(&f), "collab:{sb1/main.rs}:snap");
        assert_eq!(keys.channel(&f), "collab:{sb1/main.rs}");
        assert_eq!(keys.undo(&f, "u1"), "collab:{sb1/main.rs}:undo:u1");
        assert_eq!(keys.redo(&f, "u1"), "collab:{sb1/main.rs}:redo:u1");
        assert_eq!(keys.diag(&f), "collab:{sb1/main.rs}:diag");
        assert_eq!(keys.file_of_channel("collab:{sb1/main.rs}"), Some(f));
        assert_eq!(keys.file_of_channel("collab:gateways"), None);
        assert_eq!(keys.file_of_channel("other:{x}"), None);
    }
}
