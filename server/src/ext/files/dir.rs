//! `--files dir`: files in a folder of the gateway's machine, `PATH/{file id}`.
//!
//! Reads refuse links that leave the root (the real path must stay under the root's real
//! path) and anything but regular files. Writes are atomic (a temporary file beside the
//! target, the old file's permission bits kept, synced, renamed over it), so a reader never
//! sees half a file. The condition is checked against the file's bytes just before the
//! rename: another writer on this machine can still land between the two; the change feed
//! then announces its version and the rooms merge it.
//!
//! The change feed watches the whole root with `notify` (inotify on Linux) recursively, so
//! a rename by an editor or `git` is seen; each changed path is read and announced with its
//! ETag (the gateways' own writes too: they recognise their ETag and skip them).

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use collab_protocol::FileId;
use futures_util::future::BoxFuture;
use notify::{RecursiveMode, Watcher};
use tokio::sync::{broadcast, mpsc};

use super::path::relative;
use super::source::{Etag, FileSource, Loaded, Precondition, SourceChange, SourceError, Watch};

/// Marks this gateway's temporary files, which the change feed ignores.
const TEMP_MARK: &str = ".collab-tmp-";
/// Announcements buffered per receiver before it lags.
const FEED_CAPACITY: usize = 1024;

pub struct DirSource {
    /// The root's real path.
    root: PathBuf,
    changes: broadcast::Sender<SourceChange>,
    /// Keeps the watcher alive.
    _watcher: Option<notify::RecommendedWatcher>,
}

impl DirSource {
    /// Serves files under `root` (created if missing) and starts watching it.
    pub fn start(root: &Path) -> anyhow::Result<DirSource> {
        std::fs::create_dir_all(root)?;
        let root = root.canonicalize()?;
        let (changes, _) = broadcast::channel(FEED_CAPACITY);
        let (raw_tx, raw_rx) = mpsc::unbounded_channel::<PathBuf>();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                if let Some(event) = event.ok().filter(|e| changes_content(&e.kind)) {
                    for path in event.paths {
                        let _ = raw_tx.send(path);
                    }
                }
            })?;
        watcher.watch(&root, RecursiveMode::Recursive)?;
        tokio::spawn(announce(root.clone(), raw_rx, changes.clone()));
        Ok(DirSource {
            root,
            changes,
            _watcher: Some(watcher),
        })
    }

    /// The real path of `file`, refused when it (or, for a new file, its nearest existing
    /// ancestor) resolves outside the root.
    fn resolve(&self, file: &FileId) -> Result<PathBuf, SourceError> {
        let path = self.root.join(relative(file)?);
        let mut existing = path.as_path();
        loop {
            match existing.canonicalize() {
                Ok(real) if real.starts_with(&self.root) => return Ok(path),
                Ok(_) => {
                    return Err(SourceError::Refused(
                        "the path leads outside the files folder (a symbolic link)".into(),
                    ));
                }
                Err(_) if existing.symlink_metadata().is_ok() => {
                    // A link whose target is missing: nothing safe to follow.
                    return Err(SourceError::Refused(
                        "the path is a dangling symbolic link".into(),
                    ));
                }
                Err(_) => match existing.parent() {
                    Some(parent) => existing = parent,
                    None => return Err(SourceError::Refused("no root".into())),
                },
            }
        }
    }
}

fn io_error(error: std::io::Error) -> SourceError {
    match error.kind() {
        std::io::ErrorKind::NotFound => SourceError::NotFound,
        _ => SourceError::Unavailable(error.to_string()),
    }
}

fn read_file(path: &Path, max_bytes: usize) -> Result<Loaded, SourceError> {
    let meta = std::fs::metadata(path).map_err(io_error)?;
    if !meta.is_file() {
        return Err(SourceError::Refused("not a regular file".into()));
    }
    if meta.len() > max_bytes as u64 {
        return Err(SourceError::TooBig {
            size: meta.len(),
            max: max_bytes,
        });
    }
    let bytes = std::fs::read(path).map_err(io_error)?;
    if bytes.len() > max_bytes {
        return Err(SourceError::TooBig {
            size: bytes.len() as u64,
            max: max_bytes,
        });
    }
    let etag = Etag::of(&bytes);
    Ok(Loaded { bytes, etag })
}

fn write_file(path: &Path, bytes: &[u8], condition: &Precondition) -> Result<Etag, SourceError> {
    let current = match std::fs::read(path) {
        Ok(bytes) => Some(Etag::of(&bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_error(e)),
    };
    match (condition, &current) {
        (Precondition::IfMatch(want), Some(have)) if want == have => {}
        (Precondition::CreateOnly, None) => {}
        _ => return Err(SourceError::Conflict),
    }
    let dir = path
        .parent()
        .ok_or_else(|| SourceError::Refused("no parent folder".into()))?;
    std::fs::create_dir_all(dir).map_err(io_error)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}{TEMP_MARK}{:08x}", rand::random::<u32>()));
    let result = (|| {
        let mut out = std::fs::File::create(&temp)?;
        if let Ok(meta) = std::fs::metadata(path) {
            out.set_permissions(meta.permissions())?;
        }
        out.write_all(bytes)?;
        out.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if let Err(error) = result {
        let _ = std::fs::remove_file(&temp);
        return Err(io_error(error));
    }
    Ok(Etag::of(bytes))
}

impl FileSource for DirSource {
    fn load<'a>(
        &'a self,
        file: &'a FileId,
        max_bytes: usize,
    ) -> BoxFuture<'a, Result<Loaded, SourceError>> {
        Box::pin(async move {
            let path = self.resolve(file)?;
            tokio::task::spawn_blocking(move || read_file(&path, max_bytes))
                .await
                .map_err(|e| SourceError::Unavailable(e.to_string()))?
        })
    }

    fn store<'a>(
        &'a self,
        file: &'a FileId,
        bytes: &'a [u8],
        condition: Precondition,
    ) -> BoxFuture<'a, Result<Etag, SourceError>> {
        Box::pin(async move {
            let path = self.resolve(file)?;
            let bytes = bytes.to_vec();
            tokio::task::spawn_blocking(move || write_file(&path, &bytes, &condition))
                .await
                .map_err(|e| SourceError::Unavailable(e.to_string()))?
        })
    }

    fn watch(&self, _file: &FileId) -> Watch {
        Watch::new(self.changes.subscribe(), None)
    }
}

/// Whether a watcher event can mean new content. Opening, reading and closing a file
/// unwritten, and metadata (access times), cannot: and `announce` reads every file it is
/// told of, so reacting to those would have each read announce the next, forever (seen:
/// a gateway at a full core after one outside write).
fn changes_content(kind: &notify::EventKind) -> bool {
    use notify::EventKind;
    use notify::event::{AccessKind, AccessMode, ModifyKind};
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(_)) => false,
        _ => true,
    }
}

/// Turns raw watcher paths into announcements: coalesces what arrived together, skips
/// temporary files and anything that is no file id, reads each file's ETag.
async fn announce(
    root: PathBuf,
    mut raw: mpsc::UnboundedReceiver<PathBuf>,
    changes: broadcast::Sender<SourceChange>,
) {
    while let Some(first) = raw.recv().await {
        let mut paths = HashSet::from([first]);
        while let Ok(more) = raw.try_recv() {
            paths.insert(more);
        }
        for path in paths {
            let Some(file) = file_id_of(&root, &path) else {
                continue;
            };
            let etag = tokio::task::spawn_blocking(move || match std::fs::read(&path) {
                Ok(bytes) => Some(Some(Etag::of(&bytes))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(None),
                // A folder, or unreadable: not a file change.
                Err(_) => None,
            })
            .await
            .ok()
            .flatten();
            if let Some(etag) = etag {
                let _ = changes.send(SourceChange { file, etag });
            }
        }
    }
}

/// The file id of a path under the root, unless it is a temporary file or no valid id.
fn file_id_of(root: &Path, path: &Path) -> Option<FileId> {
    let rel = path.strip_prefix(root).ok()?;
    let mut parts = Vec::new();
    for part in rel.components() {
        parts.push(part.as_os_str().to_str()?);
    }
    let id = parts.join("/");
    if id.contains(TEMP_MARK) {
        return None;
    }
    FileId::parse(&id).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_files_are_no_file_ids() {
        let root = Path::new("/r");
        assert_eq!(
            file_id_of(root, Path::new("/r/s1/a.ts")).map(|f| f.to_string()),
            Some("s1/a.ts".into())
        );
        assert!(file_id_of(root, Path::new("/r/s1/.a.ts.collab-tmp-0000beef")).is_none());
        assert!(file_id_of(root, Path::new("/elsewhere/a.ts")).is_none());
    }

    #[test]
    fn writes_are_conditional() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("x.txt");
        let first = write_file(&path, b"one", &Precondition::CreateOnly).expect("created");
        assert_eq!(
            write_file(&path, b"two", &Precondition::CreateOnly),
            Err(SourceError::Conflict)
        );
        let second =
            write_file(&path, b"two", &Precondition::IfMatch(first.clone())).expect("matches");
        assert_eq!(
            write_file(&path, b"three", &Precondition::IfMatch(first)),
            Err(SourceError::Conflict)
        );
        assert_eq!(std::fs::read(&path).expect("reads"), b"two");
        assert_eq!(second, Etag::of(b"two"));
    }
}
