//! An editing trace in the format of the `editing-traces` collection (`load/traces/README.md`):
//! JSON, optionally gzipped, `{startContent, endContent, txns: [{patches: [[pos, del, ins]]}]}`.
//!
//! Positions and delete lengths count Unicode code points. The replay gives yrs UTF-16
//! offsets (like Monaco), which are the same numbers as long as every character is in the
//! Basic Multilingual Plane, so a trace with a character beyond it is refused rather than
//! replayed at wrong offsets. The traces of that collection have none.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{Context, bail};
use flate2::read::GzDecoder;
use serde::Deserialize;

/// The first two bytes of a gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// One splice: at `pos`, delete `delete` characters, then insert `insert`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Patch(pub u32, pub u32, pub String);

impl Patch {
    pub fn pos(&self) -> u32 {
        self.0
    }

    pub fn delete(&self) -> u32 {
        self.1
    }

    pub fn insert(&self) -> &str {
        &self.2
    }
}

/// A group of patches made at once (one yrs transaction in the replay).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Txn {
    pub patches: Vec<Patch>,
}

/// A whole trace.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trace {
    #[serde(default)]
    pub start_content: String,
    pub end_content: String,
    pub txns: Vec<Txn>,
}

impl Trace {
    /// Reads `path`, gunzipping it when it starts with the gzip magic bytes.
    pub fn read(path: &Path) -> anyhow::Result<Trace> {
        let mut file = BufReader::new(
            File::open(path).with_context(|| format!("opening trace {}", path.display()))?,
        );
        let mut raw = Vec::new();
        file.read_to_end(&mut raw)
            .with_context(|| format!("reading trace {}", path.display()))?;
        let json = if raw.starts_with(&GZIP_MAGIC) {
            let mut json = Vec::new();
            GzDecoder::new(&raw[..])
                .read_to_end(&mut json)
                .with_context(|| format!("gunzipping trace {}", path.display()))?;
            json
        } else {
            raw
        };
        let trace: Trace = serde_json::from_slice(&json)
            .with_context(|| format!("parsing trace {}", path.display()))?;
        trace.check()?;
        Ok(trace)
    }

    /// Refuses what the replay cannot give yrs as UTF-16 offsets unchanged.
    pub fn check(&self) -> anyhow::Result<()> {
        let texts = std::iter::once(self.start_content.as_str())
            .chain(std::iter::once(self.end_content.as_str()))
            .chain(self.patches().map(Patch::insert));
        for text in texts {
            if let Some(c) = text.chars().find(|c| c.len_utf16() > 1) {
                bail!(
                    "the trace has a character beyond the Basic Multilingual Plane ({c:?}): its \
                     code point offsets are not UTF-16 offsets"
                );
            }
        }
        Ok(())
    }

    /// Every patch, in order.
    pub fn patches(&self) -> impl Iterator<Item = &Patch> {
        self.txns.iter().flat_map(|t| t.patches.iter())
    }

    /// The first `txns` transactions as a trace of their own, its end content computed by
    /// splicing a plain string (for tests on a slice of a real trace).
    pub fn prefix(&self, txns: usize) -> Trace {
        let txns: Vec<Txn> = self.txns.iter().take(txns).cloned().collect();
        let mut text: Vec<char> = self.start_content.chars().collect();
        for patch in txns.iter().flat_map(|t| t.patches.iter()) {
            let pos = patch.pos() as usize;
            let end = pos + patch.delete() as usize;
            text.splice(pos..end, patch.insert().chars());
        }
        Trace {
            start_content: self.start_content.clone(),
            end_content: text.into_iter().collect(),
            txns,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(json: &str) -> Trace {
        serde_json::from_str(json).expect("parses")
    }

    #[test]
    fn reads_the_collection_format_and_ignores_timestamps() {
        let t = trace(
            r#"{"startContent":"","endContent":"ab","txns":[
                {"time":"2021-04-19T06:06:58.000Z","patches":[[0,0,"b"]]},
                {"patches":[[0,0,"a"]]}]}"#,
        );
        assert_eq!(t.patches().count(), 2);
        assert_eq!(t.prefix(2).end_content, "ab");
        assert_eq!(t.prefix(1).end_content, "b");
        t.check().expect("BMP only");
    }

    #[test]
    fn refuses_characters_beyond_the_bmp() {
        let t = trace(r#"{"endContent":"","txns":[{"patches":[[0,0,"😀"]]}]}"#);
        assert!(t.check().is_err());
    }
}
