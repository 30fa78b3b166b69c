//! A test hook of the room actor, apart from the actor's own work.

use collab_protocol::FileId;

use super::super::handle::RoomContext;

/// Debug builds only: the first client message in the room of the file named by
/// `--test-panic-file` panics its task once per process, so a test can show that a room
/// task that dies leaves nothing behind. Release builds ignore the flag.
pub(super) fn crash_for_test(ctx: &RoomContext, file: &FileId) {
    use std::sync::atomic::{AtomicBool, Ordering};
    static CRASHED: AtomicBool = AtomicBool::new(false);
    if cfg!(debug_assertions)
        && ctx.config.test_panic_file.as_deref() == Some(file.as_str())
        && !CRASHED.swap(true, Ordering::AcqRel)
    {
        panic!("--test-panic-file: the room of {file} panics as asked");
    }
}
