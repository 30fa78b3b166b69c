//! The text codec of files: bytes to document text and back, exactly.
//!
//! A file opens only if it is UTF-8 and within the size bound; its text is then the bytes
//! as they are (CRLF, a BOM, emoji: nothing normalised), and writing back writes the
//! document's text as UTF-8, so an untouched file round-trips byte for byte. Sans-IO.

use yrs::{Doc, OffsetKind, Options, Text, Transact};

/// Why a file's bytes cannot be a document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("the file is not UTF-8 text (invalid byte at offset {0})")]
    NotUtf8(usize),
    #[error("the file is {size} bytes, more than the {max} allowed (--max-file-bytes)")]
    TooBig { size: usize, max: usize },
}

/// The document text of a file's bytes.
pub fn decode(bytes: Vec<u8>, max_bytes: usize) -> Result<String, TextError> {
    if bytes.len() > max_bytes {
        return Err(TextError::TooBig {
            size: bytes.len(),
            max: max_bytes,
        });
    }
    String::from_utf8(bytes).map_err(|e| TextError::NotUtf8(e.utf8_error().valid_up_to()))
}

/// The v1 update that makes an empty document hold `text` in its root text `text_name`,
/// written by `client_id`: a fresh random 32-bit id of the caller's (Yjs clients count on
/// ids below 2^32; the core draws no random numbers).
pub fn seed_update(text_name: &str, text: &str, client_id: u32) -> Vec<u8> {
    let doc = Doc::with_options(Options {
        client_id: yrs::ClientID::new(u64::from(client_id)),
        offset_kind: OffsetKind::Utf16,
        skip_gc: true,
        ..Options::default()
    });
    let root = doc.get_or_insert_text(text_name);
    let mut txn = doc.transact_mut();
    root.insert(&mut txn, 0, text);
    txn.encode_update_v1()
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::updates::decoder::Decode;
    use yrs::{GetString, Update};

    #[test]
    fn text_is_kept_exactly() {
        let raw = "\u{feff}line one\r\nzwei 🦀 三\r\n".as_bytes().to_vec();
        let text = decode(raw.clone(), 1024).expect("utf-8");
        assert_eq!(text.as_bytes(), &raw[..]);
        let doc = Doc::new();
        let root = doc.get_or_insert_text("monaco");
        doc.transact_mut()
            .apply_update(
                Update::decode_v1(&seed_update("monaco", &text, 0x5eed)).expect("decodes"),
            )
            .expect("applies");
        assert_eq!(root.get_string(&doc.transact()).as_bytes(), &raw[..]);
    }

    #[test]
    fn refuses_binary_and_oversized() {
        assert_eq!(decode(vec![b'a', 0xff], 10), Err(TextError::NotUtf8(1)));
        assert_eq!(
            decode(vec![b'a'; 11], 10),
            Err(TextError::TooBig { size: 11, max: 10 })
        );
    }
}
