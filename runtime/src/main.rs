//! `boardroom`: runs the service, its maintenance commands and its benchmarks.

use clap::Parser;

/// mimalloc returns freed pages to the system soon after they are freed, so the memory
/// of swarms passivated for idleness leaves the process (see `BENCHMARKS.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = boardroom_runtime::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("boardroom: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(boardroom_runtime::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("boardroom: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
