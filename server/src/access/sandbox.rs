//! Which sandbox a file belongs to.
//!
//! A file id is `{sandbox_id}/{path}`. The id arrives percent-decoded (by the router) and
//! validated ([`FileId::parse`] refuses `..` segments, so `sb1%2F..%2Fsb2/x`, which decodes
//! to `sb1/../sb2/x`, never gets here), and the sandbox is simply its first `/` segment:
//! nothing later in the id can move a file into another sandbox. A file id without a `/`,
//! or with an empty first segment, belongs to no sandbox, and no one but `--auth none`
//! clients may open it.

use collab_protocol::FileId;

/// The sandbox `file` belongs to, if any.
pub fn sandbox_of(file: &FileId) -> Option<&str> {
    let (sandbox, _path) = file.as_str().split_once('/')?;
    (!sandbox.is_empty()).then_some(sandbox)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(id: &str) -> Option<String> {
        let file = FileId::parse(id).expect("a valid file id");
        sandbox_of(&file).map(str::to_owned)
    }

    #[test]
    fn the_sandbox_is_the_first_segment() {
        assert_eq!(of("lxc-abc123/src/main.rs").as_deref(), Some("lxc-abc123"));
        assert_eq!(of("sb1/x").as_deref(), Some("sb1"));
        assert_eq!(of("sb1/").as_deref(), Some("sb1"));
        // Dots that are not a `..` segment stay inside the first segment's sandbox.
        assert_eq!(of("sb1/./sb2/x").as_deref(), Some("sb1"));
        assert_eq!(of("sb1/a..b/sb2").as_deref(), Some("sb1"));
        // A double-encoded slash arrives once-decoded: still one segment, not sb2.
        assert_eq!(of("sb1%2F..%2Fsb2/x").as_deref(), Some("sb1%2F..%2Fsb2"));
    }

    #[test]
    fn ids_without_a_sandbox_segment_belong_to_none() {
        assert_eq!(of("README.md"), None);
        assert_eq!(of("/sb2/x"), None);
        assert_eq!(of("sb1"), None);
    }

    #[test]
    fn traversal_never_parses() {
        for id in ["sb1/../sb2/x", "../sb2/x", "sb1/.."] {
            assert!(FileId::parse(id).is_err(), "{id}");
        }
    }
}
