//! `adlake fake-upstream`: runs the fake until interrupted.

use std::time::Duration;

use crate::cli::{FakeArgs, UniverseArgs};
use crate::fake::{faults, FakeConfig, FakeUpstream};
use crate::{AppError, Outcome};

pub fn config_from(args: &UniverseArgs) -> Result<FakeConfig, AppError> {
    let today = args.today.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let mut config = FakeConfig::new(args.seed, args.campaigns, today);
    config.faults = args
        .faults
        .iter()
        .map(|f| faults::parse(f))
        .collect::<Result<_, _>>()
        .map_err(AppError::Usage)?;
    config.latency = Duration::from_millis(args.latency_ms);
    config.email = args.email.clone();
    config.password = args.password.clone();
    config.token_ttl = Duration::from_secs(args.token_ttl_s);
    Ok(config)
}

pub async fn run(args: FakeArgs) -> Result<Outcome, AppError> {
    let config = config_from(&args.universe)?;
    let fake = FakeUpstream::start(config, &args.bind)
        .await
        .map_err(|e| AppError::Usage(format!("cannot listen on `{}`: {e}", args.bind)))?;
    if args.announce {
        crate::output::print(&format!("{}\n", serde_json::json!({"url": fake.url()})))?;
    } else {
        eprintln!("fake upstream listening on {} (Ctrl-C to stop)", fake.url());
    }
    let _ = tokio::signal::ctrl_c().await;
    Ok(Outcome::Clean)
}
