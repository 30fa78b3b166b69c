//! inotify events (through `notify`) to "this relative path was touched".
//!
//! The whole root is watched recursively (directories, not files: editors and `git` replace
//! files by rename, which a watch on the file itself would lose). Symlinks are not followed,
//! so a link to a directory outside the root adds no watch there. Opens, reads and metadata
//! changes are not touches; the agent's own temp files are skipped. When the kernel queue
//! overflowed, a [`Touch::Rescan`] says events were lost.

use std::path::{Path, PathBuf};

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
use notify::{Config, EventKindMask, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::atomic;

/// What the watcher hands to the settle stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Touch {
    /// Something happened at `path` (relative to the root).
    Path { path: String },
    /// Events were lost: recheck what is known.
    Rescan,
}

/// Starts watching `root` (canonical) and sends touches to `out`. The watch is in place
/// when this returns; dropping the watcher stops it.
pub fn start(root: PathBuf, out: mpsc::Sender<Touch>) -> notify::Result<RecommendedWatcher> {
    let config = Config::default()
        .with_follow_symlinks(false)
        .with_event_kinds(
            EventKindMask::CREATE
                | EventKindMask::REMOVE
                | EventKindMask::MODIFY_DATA
                | EventKindMask::MODIFY_NAME
                | EventKindMask::ACCESS_CLOSE,
        );
    let watch_root = root.clone();
    let handler = move |result: notify::Result<notify::Event>| match result {
        Ok(event) => {
            for touch in touches(&root, &event) {
                // This runs on notify's own thread, outside the runtime: blocking is fine,
                // and it is what keeps a slow settle stage from dropping touches.
                if out.blocking_send(touch).is_err() {
                    return;
                }
            }
        }
        Err(err) => tracing::warn!(error = %err, "file watcher error"),
    };
    let mut watcher = RecommendedWatcher::new(handler, config)?;
    watcher.watch(&watch_root, RecursiveMode::Recursive)?;
    Ok(watcher)
}

/// The touches one notify event stands for.
fn touches(root: &Path, event: &notify::Event) -> Vec<Touch> {
    if event.need_rescan() {
        return vec![Touch::Rescan];
    }
    let relevant = matches!(
        event.kind,
        EventKind::Create(_)
            | EventKind::Remove(_)
            | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Name(_) | ModifyKind::Any)
            | EventKind::Access(AccessKind::Close(AccessMode::Write))
    );
    if !relevant {
        return Vec::new();
    }
    event
        .paths
        .iter()
        .filter_map(|p| relative(root, p))
        .map(|path| Touch::Path { path })
        .collect()
}

/// `path` relative to the root, `/`-separated; `None` for the root itself, for names that
/// are not UTF-8 (a JSON event could not name them faithfully) and for the agent's temp files.
pub fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let name = rel.file_name()?.to_str()?;
    if atomic::is_temp_name(name) {
        return None;
    }
    let text = rel.to_str()?;
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, DataChange, MetadataKind, RemoveKind};

    fn event(kind: EventKind, path: &str) -> notify::Event {
        notify::Event::new(kind).add_path(PathBuf::from(path))
    }

    #[test]
    fn classifies() {
        let root = Path::new("/w");
        let create = event(EventKind::Create(CreateKind::File), "/w/a/b.ts");
        assert_eq!(
            touches(root, &create),
            vec![Touch::Path {
                path: "a/b.ts".into()
            }]
        );
        let write = event(EventKind::Modify(ModifyKind::Data(DataChange::Any)), "/w/x");
        assert_eq!(
            touches(root, &write),
            vec![Touch::Path { path: "x".into() }]
        );
        let gone = event(EventKind::Remove(RemoveKind::File), "/w/x");
        assert_eq!(touches(root, &gone).len(), 1);
        let chmod = event(
            EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any)),
            "/w/x",
        );
        assert!(touches(root, &chmod).is_empty());
        let opened = event(EventKind::Access(AccessKind::Open(AccessMode::Any)), "/w/x");
        assert!(touches(root, &opened).is_empty());
        let temp = event(
            EventKind::Create(CreateKind::File),
            "/w/.x.collab-agent-1-2.tmp",
        );
        assert!(touches(root, &temp).is_empty());
        assert!(touches(root, &event(EventKind::Create(CreateKind::Folder), "/w")).is_empty());
    }
}
