//! Heap profiling for finding what memory is kept (feature `dhat-heap`; off in every
//! normal build). The binary then allocates through dhat, and the profile, every block
//! still alive with the stack that allocated it, is written to `dhat-heap-<pid>.json` when
//! the gateway gets SIGUSR2, while its state is live (at exit the state is already gone),
//! or at exit if no signal came. A soak's leak shows as a site whose live blocks grow with
//! the visits; view the file with dhat's `dh_view.html`.

use std::sync::Mutex;

static PROFILER: Mutex<Option<dhat::Profiler>> = Mutex::new(None);

/// Starts profiling and the SIGUSR2 listener; call once, inside the runtime.
pub fn start() {
    let profiler = dhat::Profiler::builder()
        .file_name(format!("dhat-heap-{}.json", std::process::id()))
        .build();
    if let Ok(mut slot) = PROFILER.lock() {
        *slot = Some(profiler);
    }
    tokio::spawn(async {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut usr2) = signal(SignalKind::user_defined2()) {
            usr2.recv().await;
            stop();
        }
    });
}

/// Writes the profile now (dropping the profiler writes it).
pub fn stop() {
    let profiler = PROFILER.lock().ok().and_then(|mut slot| slot.take());
    drop(profiler);
}
