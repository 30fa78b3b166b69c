//! Reading a file that may be in the middle of a save, before it is merged.
//!
//! A program that saves by truncating the file and then writing it (not through a temporary
//! file renamed into place) leaves it empty or half written for a moment, and so does one
//! that deletes the file and writes a new one. Merged at that moment, the half file is "the
//! outside program deleted everything", and the whole file read next inserts it all again:
//! the text ends right, but what was typed meanwhile can move (typing at the start landed at
//! the end). So a version nobody synced counts only once two reads [`GAP`] apart agree; a
//! file that is still changing after [`READS`] reads is not merged now (the keeper looks
//! again after [`RETRY`]). The version last synced needs no second read: nothing merges.

use std::time::Duration;

use collab_protocol::FileId;

use super::source::{FileSource, Loaded, SourceError};

/// Time between two reads that must agree.
pub const GAP: Duration = Duration::from_millis(100);
/// Reads before a file that keeps changing is left for later.
pub const READS: usize = 5;
/// When a file that did not settle is read again.
pub const RETRY: Duration = Duration::from_secs(1);

/// What a settled read found.
#[derive(Debug)]
pub enum Settled {
    /// The file, as two reads `GAP` apart (or one read of the version known) saw it.
    File(Loaded),
    /// No file, as two reads saw it (or one, when no version was known).
    Absent,
    /// Every read differed from the one before: someone is still writing.
    Unsettled,
}

/// Reads `file` (at most `max` bytes) until two reads [`GAP`] apart agree, at most
/// [`READS`] times; one read is enough when it finds `known` (the version last synced;
/// `None`: no file was known).
pub async fn read_settled(
    source: &dyn FileSource,
    file: &FileId,
    max: usize,
    known: Option<&str>,
) -> Result<Settled, SourceError> {
    let mut last = read(source, file, max).await?;
    if version(&last) == known {
        return Ok(settled(last));
    }
    for _ in 1..READS {
        tokio::time::sleep(GAP).await;
        let next = read(source, file, max).await?;
        if version(&next) == version(&last) {
            return Ok(settled(next));
        }
        last = next;
    }
    Ok(Settled::Unsettled)
}

async fn read(
    source: &dyn FileSource,
    file: &FileId,
    max: usize,
) -> Result<Option<Loaded>, SourceError> {
    match source.load(file, max).await {
        Ok(loaded) => Ok(Some(loaded)),
        Err(SourceError::NotFound) => Ok(None),
        Err(error) => Err(error),
    }
}

fn version(read: &Option<Loaded>) -> Option<&str> {
    read.as_ref().map(|loaded| loaded.etag.as_str())
}

fn settled(read: Option<Loaded>) -> Settled {
    match read {
        Some(loaded) => Settled::File(loaded),
        None => Settled::Absent,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use futures_util::future::BoxFuture;

    use super::super::source::{Etag, Precondition, Watch};
    use super::*;

    /// A source whose reads return `script` in order (the last one repeats).
    struct Script(Mutex<VecDeque<Option<&'static str>>>);

    impl Script {
        fn new(reads: &[Option<&'static str>]) -> Script {
            Script(Mutex::new(reads.iter().copied().collect()))
        }
        fn left(&self) -> usize {
            self.0.lock().expect("lock").len()
        }
    }

    impl FileSource for Script {
        fn load<'a>(
            &'a self,
            _file: &'a FileId,
            _max: usize,
        ) -> BoxFuture<'a, Result<Loaded, SourceError>> {
            let mut reads = self.0.lock().expect("lock");
            let next = if reads.len() > 1 {
                reads.pop_front().flatten()
            } else {
                reads.front().copied().flatten()
            };
            Box::pin(async move {
                let text = next.ok_or(SourceError::NotFound)?;
                Ok(Loaded {
                    bytes: text.as_bytes().to_vec(),
                    etag: Etag::of(text.as_bytes()),
                })
            })
        }
        fn store<'a>(
            &'a self,
            _file: &'a FileId,
            _bytes: &'a [u8],
            _condition: Precondition,
        ) -> BoxFuture<'a, Result<Etag, SourceError>> {
            Box::pin(async { Err(SourceError::Unavailable("read only".into())) })
        }
        fn watch(&self, _file: &FileId) -> Watch {
            Watch::new(tokio::sync::broadcast::channel(1).1, None)
        }
    }

    fn file() -> FileId {
        FileId::parse("s1/a.txt").expect("an id")
    }

    async fn settle(source: &Script, known: Option<&str>) -> Settled {
        read_settled(source, &file(), 1 << 20, known)
            .await
            .expect("reads")
    }

    fn text(settled: &Settled) -> Option<&str> {
        match settled {
            Settled::File(loaded) => std::str::from_utf8(&loaded.bytes).ok(),
            _ => None,
        }
    }

    #[tokio::test]
    async fn a_half_written_file_is_read_again_until_two_reads_agree() {
        let source = Script::new(&[Some(""), Some("one\ntwo\n"), Some("one\ntwo\n")]);
        let known = Etag::of(b"one\n");
        let got = settle(&source, Some(known.as_str())).await;
        assert_eq!(text(&got), Some("one\ntwo\n"), "{got:?}");
    }

    #[tokio::test]
    async fn the_version_known_needs_one_read() {
        let source = Script::new(&[Some("one\n"), Some("later\n")]);
        let known = Etag::of(b"one\n");
        let got = settle(&source, Some(known.as_str())).await;
        assert_eq!(text(&got), Some("one\n"));
        assert_eq!(source.left(), 1, "read once");
        let absent = Script::new(&[None, Some("later\n")]);
        assert!(matches!(settle(&absent, None).await, Settled::Absent));
    }

    #[tokio::test]
    async fn a_file_gone_for_a_moment_is_not_taken_as_deleted() {
        let source = Script::new(&[None, Some("new\n"), Some("new\n")]);
        let known = Etag::of(b"old\n");
        let got = settle(&source, Some(known.as_str())).await;
        assert_eq!(text(&got), Some("new\n"));
        let gone = Script::new(&[None, None]);
        assert!(matches!(
            settle(&gone, Some(known.as_str())).await,
            Settled::Absent
        ));
    }

    #[tokio::test]
    async fn a_file_that_keeps_changing_is_not_merged() {
        let source = Script::new(&[
            Some("1"),
            Some("2"),
            Some("3"),
            Some("4"),
            Some("5"),
            Some("5"),
        ]);
        assert!(matches!(settle(&source, None).await, Settled::Unsettled));
        assert_eq!(source.left(), 1, "{READS} reads, then it gave up");
    }
}
