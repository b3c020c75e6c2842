//! The `adlake` binary: parse, run, print the error chain, pick the exit code. Nothing else.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
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
