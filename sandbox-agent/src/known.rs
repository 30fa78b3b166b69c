//! What the feed's subscribers already know of each file: the ETag the agent last wrote
//! there or last reported for it.
//!
//! This is how the change feed leaves out the agent's own PUTs without marking them: a PUT
//! records its new ETag here (under the path lock, before the rename), and when the feed
//! later looks at the settled file it reports it only if its ETag differs from the one
//! recorded. So a write by anything else is reported (its content differs), a burst that ends
//! where it started is not, and an outside write that lands right after a PUT is.
//!
//! A file read through the agent is entered with [`READ`], an ETag no content has: its next
//! change is reported as usual, and its deletion is reported because the entry exists (a
//! path nobody read, wrote or heard of is not reported when it goes away: it might have been
//! a temp file or a directory).
//!
//! One entry per file read, written or reported (its path and 64 hex digits); cleared wholesale
//! above [`MAX_ENTRIES`], which only costs a few duplicate reports.

use std::collections::HashMap;
use std::sync::Mutex;

/// Entries kept before the table is cleared.
const MAX_ENTRIES: usize = 200_000;

/// The entry of a file read through the agent whose content the feed has not reported.
pub const READ: &str = "";

/// The table: relative path -> ETag hex (absent: nothing known, or no file).
#[derive(Default)]
pub struct Known {
    map: Mutex<HashMap<String, String>>,
}

impl Known {
    pub fn get(&self, path: &str) -> Option<String> {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(path)
            .cloned()
    }

    /// Records `etag` for `path` (`None`: the file is gone); returns the previous entry.
    pub fn set(&self, path: &str, etag: Option<String>) -> Option<String> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        match etag {
            Some(etag) => {
                if map.len() >= MAX_ENTRIES && !map.contains_key(path) {
                    map.clear();
                }
                map.insert(path.to_owned(), etag)
            }
            None => map.remove(path),
        }
    }

    /// Notes that `path` was read through the agent (keeps a real ETag if there is one).
    pub fn note_read(&self, path: &str) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if !map.contains_key(path) && map.len() < MAX_ENTRIES {
            map.insert(path.to_owned(), READ.to_owned());
        }
    }

    /// Every known path below the directory `dir` (for a directory removed or moved away).
    pub fn under(&self, dir: &str) -> Vec<String> {
        let prefix = format!("{dir}/");
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .filter(|k| k.starts_with(&prefix))
            .cloned()
            .collect()
    }

    /// Every known path (after the watcher lost events).
    pub fn all(&self) -> Vec<String> {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }
}
