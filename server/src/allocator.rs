//! What the process's allocator holds, for the census ([`crate::census`]): bytes the
//! program has allocated and not freed, against what the allocator keeps from the system.
//! A gap that grows while `allocated` stays flat is the allocator retaining freed memory
//! (fragmentation, arenas), not something the gateway keeps.
//!
//! glibc malloc (the default build): `mallinfo2`, summed over every arena; it walks the
//! free lists under each arena's lock, which is fine at scrape time and nowhere else.

/// `(kind, bytes)` pairs; kinds differ by allocator and stay a small fixed set.
pub fn stats() -> Vec<(&'static str, u64)> {
    glibc()
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
