//! `collab-gateway`: parse the configuration, set up logging, run.

use std::io::IsTerminal;

use clap::{CommandFactory, FromArgMatches};
use collab_server::config::{Config, LogFormat};
use tracing_subscriber::EnvFilter;

/// The allocator the build chose (feature `jemalloc` or `mimalloc`; glibc malloc without
/// either): `collab_server::allocator` says why and reports its figures.
#[cfg(all(feature = "jemalloc", not(feature = "dhat-heap")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[cfg(all(
    feature = "mimalloc",
    not(feature = "jemalloc"),
    not(feature = "dhat-heap")
))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Heap profiling builds only (`--features dhat-heap`): see `collab_server::heap_profile`.
#[cfg(feature = "dhat-heap")]
#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

fn main() -> std::process::ExitCode {
    // Before any thread exists: glibc gives each thread that meets a locked arena a new one,
    // up to 8 per core, and those arenas keep what they free (docs/memory.md).
    collab_server::allocator::configure();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("collab-gateway: cannot start the runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve())
}

async fn serve() -> std::process::ExitCode {
    #[cfg(feature = "dhat-heap")]
    collab_server::heap_profile::start();
    // The one variable no flag reads, listed in `--help` with the flags' own `[env: ...]`.
    let matches = Config::command()
        .after_help(
            "Environment: COLLAB_LOG=<filter> picks what is logged (default info; e.g. \
             debug, or warn,collab_server::session=debug)",
        )
        .get_matches();
    let config = Config::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    let filter = EnvFilter::try_from_env("COLLAB_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // The HTTP client's own debug and trace lines name the host it connects to: under
    // `--files sandbox` a sandbox's address, which never goes into a log. Those crates log
    // at warn at most, whatever COLLAB_LOG says.
    let filter = ["hyper_util=warn", "hyper=warn"]
        .into_iter()
        .filter_map(|directive| directive.parse().ok())
        .fold(filter, EnvFilter::add_directive);
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colour codes only for a person at a terminal: a log file (the demo's, a test's,
        // a container's) gets plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => logs.json().init(),
        LogFormat::Text => logs.init(),
    }
    let ran = collab_server::gateway::run(config).await;
    #[cfg(feature = "dhat-heap")]
    collab_server::heap_profile::stop();
    match ran {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("collab-gateway: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
