//! `adlake ingest`: reads its arguments and the upstream's address and credentials, runs
//! the ingest (`crate::pipeline::ingest`), evaluates the alert rules over what it projected,
//! and prints its summary.

use adlake_replay::registry::EndpointSpec;
use adlake_replay::ENDPOINTS;
use chrono::NaiveDate;

use super::{open_lake, Context};
use crate::cli::IngestArgs;
use crate::clock::{Clock, SystemClock};
use crate::config::process_env;
use crate::output;
use crate::pipeline::ingest::{
    evaluate_alerts, ingest, project_touched, publish, DateSelection, Upstream,
};
use crate::secrets;
use crate::{AppError, Outcome};

pub fn parse_endpoints(keys: &[String]) -> Result<Vec<&'static EndpointSpec>, AppError> {
    if keys.is_empty() {
        return Ok(ENDPOINTS.iter().collect());
    }
    let mut specs = Vec::new();
    for key in keys {
        let spec = crate::config::check_endpoint(key.trim(), "--endpoints")?;
        if !specs.iter().any(|s: &&EndpointSpec| s.key == spec.key) {
            specs.push(spec);
        }
    }
    Ok(specs)
}

pub fn selection(args: &IngestArgs, today: NaiveDate) -> Result<DateSelection, AppError> {
    match (args.date, args.from, args.to) {
        (Some(d), _, _) => Ok(DateSelection::Range { from: d, to: d }),
        (None, Some(from), Some(to)) if from > to => {
            Err(AppError::Usage(format!("--from {from} is after --to {to}")))
        }
        (None, Some(from), Some(to)) => Ok(DateSelection::Range { from, to }),
        _ => Ok(DateSelection::Incremental { today }),
    }
}

pub fn resolve_upstream(ctx: &Context, args: &IngestArgs) -> Result<Upstream, AppError> {
    let url = args
        .upstream_url
        .clone()
        .or_else(|| ctx.settings.upstream.url.clone())
        .ok_or(crate::config::ConfigError::MissingUpstream)?;
    let auth_url = args
        .auth_url
        .clone()
        .or_else(|| ctx.settings.upstream.auth_url.clone())
        .unwrap_or_else(|| url.clone());
    for u in [&url, &auth_url] {
        crate::connector::parse_base(u)?;
    }
    let credentials = secrets::load(&process_env, ctx.settings.upstream.secrets_file.as_deref())?;
    Ok(Upstream { url, auth_url, credentials })
}

pub async fn command(ctx: &Context, args: IngestArgs) -> Result<Outcome, AppError> {
    let endpoints = parse_endpoints(&args.endpoints)?;
    let clock = SystemClock;
    let selection = selection(&args, clock.now().date_naive())?;
    if !args.no_project {
        // Before the lake is written: the run ends by projecting into the database.
        super::check_db_path(&ctx.settings)?;
    }
    let upstream = resolve_upstream(ctx, &args)?;
    let lake = open_lake(&ctx.settings).await?;
    let progress = output::progress_enabled(ctx.global.json, ctx.global.quiet);
    let mut report = ingest(
        &ctx.settings,
        &upstream,
        &lake,
        &selection,
        &endpoints,
        progress,
        std::sync::Arc::new(clock),
    )
    .await?;
    if !args.no_project {
        project_touched(&ctx.settings, &lake, &mut report).await?;
        // Over the tables just projected: a run that did not project leaves them stale.
        evaluate_alerts(&ctx.settings, &lake, &mut report, &clock).await;
        publish(&ctx.settings, &mut report, args.export.as_deref()).await;
    }
    output::run_report(&report, ctx.global.json)?;
    Ok(report.outcome())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn rejects_unknown_endpoints_and_reversed_ranges() {
        assert!(parse_endpoints(&["tiktok_report".into()]).is_err());
        let args = IngestArgs {
            from: Some(d("2025-11-23")),
            to: Some(d("2025-11-20")),
            ..Default::default()
        };
        assert!(selection(&args, d("2025-11-23")).is_err());
    }
}
