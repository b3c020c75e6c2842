//! The `adlake` binary: parse, run, print the error chain, pick the exit code. Nothing else.
//!
//! Exit codes, each with one meaning (the README's "Exit codes" lists them):
//! 0 the command did everything it was asked; 1 it ran to its end and found failures it
//! reported (a FAILED fetch, a lake that does not verify, an undelivered alert), or the
//! upstream, lake or database failed underneath it, or what was asked for is not there;
//! 2 the input was refused before anything changed (arguments, configuration, secrets, a
//! path that is not a database); 3 adlake itself failed (a task panicked): a bug to report.

use std::process::ExitCode;

use adlake::alerts::{deliver::DeliveryError, AlertError};
use adlake::connector::UpstreamError;
use adlake::export::ExportError;
use adlake::report::ReportError;
use adlake::store::db::DbError;
use adlake::{AppError, Outcome};
use adlake_raw::RawError;
use clap::Parser;

// The projector allocates per decoded row and per lineage entry; mimalloc's thread-local free
// lists cost a fraction of glibc malloc's consolidation on that pattern.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EXIT_OK: u8 = 0;
const EXIT_FAILURES: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_INTERNAL: u8 = 3;

fn main() -> ExitCode {
    adlake::allocator::keep_freed_memory();
    let cli = adlake::cli::Cli::parse();
    adlake::logging::init(cli.global.verbose, cli.global.quiet);
    match adlake::run(cli) {
        Ok(Outcome::Clean) => ExitCode::from(EXIT_OK),
        Ok(Outcome::Failures) => ExitCode::from(EXIT_FAILURES),
        Err(err) => {
            let code = exit_code(&err);
            eprintln!("error: {:#}", anyhow::Error::new(err));
            ExitCode::from(code)
        }
    }
}

fn exit_code(err: &AppError) -> u8 {
    match err {
        AppError::Internal { .. } | AppError::Alerts(AlertError::Task(_)) => EXIT_INTERNAL,
        AppError::Usage(_) | AppError::Config(_) | AppError::Secret(_) => EXIT_USAGE,
        AppError::Lake(
            RawError::UnsupportedUrl { .. } | RawError::BadId { .. } | RawError::NoLocalLake { .. },
        ) => EXIT_USAGE,
        AppError::Db(DbError::NotADatabase { .. }) => EXIT_USAGE,
        AppError::Report(ReportError::Write { .. }) => EXIT_USAGE,
        AppError::Alerts(
            AlertError::Delivery(DeliveryError::BadUrl { .. })
            | AlertError::Secret(_)
            | AlertError::NoDatabase { .. }
            | AlertError::Db(DbError::NotADatabase { .. }),
        ) => EXIT_USAGE,
        AppError::Export(ExportError::BadUrl { .. } | ExportError::UnknownTable { .. }) => {
            EXIT_USAGE
        }
        AppError::Upstream(
            UpstreamError::LoginRejected { .. }
            | UpstreamError::TokenRejected
            | UpstreamError::BadUrl { .. },
        ) => EXIT_USAGE,
        _ => EXIT_FAILURES,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_error_has_its_own_exit_code() {
        let internal = AppError::Internal { what: "the database task failed".into(), source: None };
        assert_eq!(exit_code(&internal), EXIT_INTERNAL);
        assert_eq!(exit_code(&AppError::Alerts(AlertError::Task("lost".into()))), EXIT_INTERNAL);
        assert_eq!(exit_code(&AppError::Usage("--from is after --to".into())), EXIT_USAGE);
        let not_a_db = DbError::NotADatabase { path: "report.csv".into(), reason: String::new() };
        assert_eq!(exit_code(&AppError::Db(not_a_db)), EXIT_USAGE);
        assert_eq!(exit_code(&AppError::NotFound("no campaign x".into())), EXIT_FAILURES);
    }
}
