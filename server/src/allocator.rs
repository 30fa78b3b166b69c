//! The process's allocator and what it holds, for the census ([`crate::census`]): bytes
//! the program has allocated and not freed, against what the allocator keeps from the
//! system. A gap that grows while `allocated` stays flat is the allocator retaining freed
//! memory (fragmentation, arenas), not something the gateway keeps.
//!
//! The binary picks the allocator by feature (`jemalloc`, `mimalloc`, or glibc malloc
//! with neither); [`NAME`] says which, and [`stats`] reads its figures:
//! - glibc: `mallinfo2`, summed over every arena; it walks the free lists under each
//!   arena's lock, which is fine at scrape time and nowhere else.
//! - jemalloc: `stats.allocated`, `active`, `resident`, `retained` after an epoch advance.
//! - mimalloc: none (RSS only).

/// The allocator this build uses.
pub const NAME: &str = if cfg!(feature = "dhat-heap") {
    "dhat"
} else if cfg!(feature = "jemalloc") {
    "jemalloc"
} else if cfg!(feature = "mimalloc") {
    "mimalloc"
} else {
    "glibc"
};

/// jemalloc's settings, read by jemalloc when the process starts (its `malloc_conf`
/// symbol; `_RJEM_MALLOC_CONF` in the environment overrides them). A background thread
/// purges unused pages on a timer instead of waiting for the next allocation in that
/// arena, and freed pages go back to the system after 1 s (`dirty_decay_ms`), skipping
/// the lazily freed stage (`muzzy_decay_ms:0`): an idle gateway after a burst of rooms
/// returns to its baseline RSS within seconds.
#[cfg(all(feature = "jemalloc", not(feature = "dhat-heap")))]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static JEMALLOC_CONF: &[u8; 60] =
    b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

/// How many malloc arenas glibc may create when the environment does not say
/// (`MALLOC_ARENA_MAX`). glibc's default, 8 per core, let a 100,000-visit soak grow RSS by
/// 4-7% from visit 10,000 on, all of it freed memory the extra arenas kept; with 2 it stayed
/// flat (+0.0%/+0.1%) at the same `allocated` (docs/memory.md).
pub const GLIBC_ARENAS: i32 = 2;

/// Sets the allocator up before the process starts any thread; returns the arena limit it
/// set, if any (glibc only, and only when `MALLOC_ARENA_MAX` is not in the environment,
/// which glibc reads itself and which stays the operator's override).
pub fn configure() -> Option<i32> {
    if NAME != "glibc" || std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return None;
    }
    glibc_arenas(GLIBC_ARENAS)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn glibc_arenas(max: i32) -> Option<i32> {
    // SAFETY: mallopt only changes a tunable of malloc; called before other threads exist.
    (unsafe { libc::mallopt(libc::M_ARENA_MAX, max) } == 1).then_some(max)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn glibc_arenas(_max: i32) -> Option<i32> {
    None
}

/// Gives the whole free pages inside glibc's arenas back to the system (`malloc_trim`):
/// pages freed between blocks still alive, which glibc keeps resident (it only shrinks a
/// heap from its top by itself). Moves nothing; walks every arena's free lists under its
/// lock, so call it off the runtime's workers. Returns false under another allocator
/// (jemalloc and mimalloc purge their own free pages), doing nothing.
pub fn trim() -> bool {
    NAME == "glibc" && glibc_trim()
}

/// Describes the allocator's metrics (the census records the gauges, the trimmer the
/// histogram).
pub fn describe() {
    metrics::describe_gauge!(
        "collab_allocator_bytes",
        "What the allocator holds, by kind (glibc: allocated, mapped, free_retained, trimmable; jemalloc: allocated, active, resident, mapped, retained)."
    );
    metrics::describe_gauge!(
        "collab_allocator",
        "1, labelled with the allocator this build uses (glibc, jemalloc, mimalloc)."
    );
    metrics::describe_histogram!(
        "collab_allocator_trim_seconds",
        "glibc builds: how long each malloc_trim after rooms ended took (--malloc-trim-ms; trimmer.rs, docs/memory.md)."
    );
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn glibc_trim() -> bool {
    // SAFETY: malloc_trim only gives free pages back; it is safe from any thread.
    unsafe { libc::malloc_trim(0) };
    true
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn glibc_trim() -> bool {
    false
}

/// How many arenas glibc malloc has (`malloc_info`'s `<heap nr=...>` elements); `None`
/// under another allocator. Each arena keeps its own free memory, so their number bounds
/// how much freed memory can pile up apart from what is allocated.
pub fn arenas() -> Option<u64> {
    if NAME != "glibc" {
        return None;
    }
    glibc_info().map(|xml| xml.matches("<heap nr=").count() as u64)
}

/// glibc's `malloc_info` report (XML), read through an in-memory stream.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn glibc_info() -> Option<String> {
    let mut buf: *mut libc::c_char = std::ptr::null_mut();
    let mut len: libc::size_t = 0;
    // SAFETY: open_memstream keeps `buf` and `len` up to date until fclose, after which
    // `buf` is a malloc'd buffer of `len` bytes that we copy and free exactly once.
    unsafe {
        let stream = libc::open_memstream(&mut buf, &mut len);
        if stream.is_null() {
            return None;
        }
        let written = libc::malloc_info(0, stream);
        libc::fclose(stream);
        if buf.is_null() {
            return None;
        }
        let bytes = std::slice::from_raw_parts(buf.cast::<u8>(), len).to_vec();
        libc::free(buf.cast());
        (written == 0).then(|| String::from_utf8_lossy(&bytes).into_owned())
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn glibc_info() -> Option<String> {
    None
}

/// `(kind, bytes)` pairs; kinds differ by allocator and stay a small fixed set.
pub fn stats() -> Vec<(&'static str, u64)> {
    match NAME {
        "glibc" => glibc(),
        "jemalloc" => jemalloc(),
        _ => Vec::new(),
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn glibc() -> Vec<(&'static str, u64)> {
    // SAFETY: mallinfo2 takes no arguments and returns a plain struct by value.
    let info = unsafe { libc::mallinfo2() };
    vec![
        // In use: small blocks from the arenas plus blocks of their own mmap.
        ("allocated", (info.uordblks + info.hblkhd) as u64),
        // Taken from the system: arenas' heaps plus mmapped blocks.
        ("mapped", (info.arena + info.hblkhd) as u64),
        // Free inside the arenas, kept by malloc rather than given back.
        ("free_retained", info.fordblks as u64),
        // Of that, at the top of the main heap, which `malloc_trim` could give back.
        ("trimmable", info.keepcost as u64),
    ]
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn glibc() -> Vec<(&'static str, u64)> {
    Vec::new()
}

#[cfg(all(feature = "jemalloc", not(feature = "dhat-heap")))]
fn jemalloc() -> Vec<(&'static str, u64)> {
    use tikv_jemalloc_ctl::{epoch, stats};
    // The statistics are a snapshot taken at the last epoch advance.
    if epoch::advance().is_err() {
        return Vec::new();
    }
    let read = |kind: &'static str, value: tikv_jemalloc_ctl::Result<usize>| {
        value.ok().map(|bytes| (kind, bytes as u64))
    };
    [
        read("allocated", stats::allocated::read()),
        read("active", stats::active::read()),
        read("resident", stats::resident::read()),
        read("mapped", stats::mapped::read()),
        read("retained", stats::retained::read()),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[cfg(not(all(feature = "jemalloc", not(feature = "dhat-heap"))))]
fn jemalloc() -> Vec<(&'static str, u64)> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    /// The process's resident set, from `/proc/self/statm` (pages).
    fn rss_bytes() -> u64 {
        let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
        let pages: u64 = statm
            .split_whitespace()
            .nth(1)
            .and_then(|field| field.parse().ok())
            .expect("statm's second field counts resident pages");
        pages * 4096
    }

    /// What the trim after rooms end is for: memory freed between blocks still alive is not given
    /// back by glibc on its own (only a heap's top is), and `malloc_trim` gives it back.
    #[test]
    fn a_trim_gives_back_free_pages_between_live_blocks() {
        // 64 MiB of 1 KiB blocks (below the mmap threshold: arena memory), keeping every
        // 64th so that what is freed lies between live blocks, as rooms' memory does.
        let mut blocks: Vec<Vec<u8>> = (0..65_536).map(|n| vec![n as u8; 1024]).collect();
        let kept: Vec<Vec<u8>> = blocks.iter_mut().step_by(64).map(std::mem::take).collect();
        drop(blocks);
        let before = rss_bytes();
        assert!(super::trim(), "glibc trims");
        let after = rss_bytes();
        assert_eq!(kept.len(), 1024, "the live blocks stay");
        assert!(
            before.saturating_sub(after) > 32 << 20,
            "RSS {before} -> {after}: the trim gave back less than half of the 64 MiB freed"
        );
    }

    #[test]
    fn glibc_reports_at_least_its_main_arena() {
        if super::NAME == "glibc" && cfg!(all(target_os = "linux", target_env = "gnu")) {
            assert!(
                super::arenas().is_some_and(|n| n >= 1),
                "{:?}",
                super::arenas()
            );
        }
    }
}
