//! The `adlake` binary: parse, run, print the error chain, pick the exit code. Nothing else.

use std::process::ExitCode;

use clap::Parser;

// The projector allocates per decoded row and per lineage entry; mimalloc's thread-local free
// lists cost a fraction of glibc malloc's consolidation on that pattern.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    adlake::allocator::keep_freed_memory();
    let cli = adlake::cli::Cli::parse();
    adlake::logging::init(cli.global.verbose, cli.global.quiet);
    match adlake::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let code = err.exit_code();
            eprintln!("error: {:#}", anyhow::Error::new(err));
            ExitCode::from(code)
        }
    }
}
