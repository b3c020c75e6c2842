//! Command-line surface. Flags only; precedence against env and the config file is resolved
//! in `config`, so every flag here is optional and `None` means "not given".

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "adlake",
    version,
    about = "Keep every upstream report response; replay them into DuckDB."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone, Default)]
pub struct Global {
    /// Lake URL: a path, file://, s3://bucket/prefix or memory:// [env ADLAKE_LAKE; default ./data/lake]
    #[arg(long, global = true)]
    pub lake: Option<String>,
    /// DuckDB file [env ADLAKE_DB; default ./data/monitoring.duckdb]
    #[arg(long, global = true)]
    pub db: Option<PathBuf>,
    /// TOML config file (defaults < file < env < flags)
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// How long to wait for a database another process holds [env ADLAKE_LOCK_WAIT_MS; default 30000]
    #[arg(long, global = true)]
    pub lock_wait_ms: Option<u64>,
    /// Machine-readable output on stdout
    #[arg(long, global = true)]
    pub json: bool,
    /// More logging (-v, -vv)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Errors only
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the lake and the database and apply migrations
    Init,
    /// Inspect and check the raw-response lake
    #[command(subcommand)]
    Raw(RawCommand),
    /// Fetch reports from the upstream into the lake
    Ingest(IngestArgs),
    /// Rebuild tables from the lake alone: no network, no credentials
    Reproject(ReprojectArgs),
    /// Days whose numbers changed between fetches, with per-campaign deltas, largest first
    Restatements {
        /// First date (UTC day, inclusive) to look at; with --to. Default: every date in the lake
        #[arg(long, requires = "to")]
        from: Option<NaiveDate>,
        /// Last date (inclusive); with --from
        #[arg(long, requires = "from")]
        to: Option<NaiveDate>,
        /// Only this endpoint key, e.g. s1_daily_v3
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Endpoint health, recent runs, quarantined events, unmapped campaigns
    Status {
        /// Dates shown, ending with the latest projected date
        #[arg(long, default_value_t = 7)]
        days: u32,
    },
    /// From a projected number to the exact stored bytes behind it
    Audit(crate::commands::audit::AuditArgs),
    /// One self-contained HTML page of a date's team view: today so far against yesterday at
    /// this hour, campaigns, heatmaps, trends, haircut, endpoint health
    Report(ReportArgs),
    /// Alert rules: check now, explain a verdict, backtest over the past
    #[command(subcommand)]
    Alerts(crate::commands::alerts::AlertsCommand),
    /// Write the tables out for other engines to read
    #[command(subcommand)]
    Export(ExportCommand),
    /// Serve the upstream contract from a deterministic campaign universe
    FakeUpstream(FakeArgs),
    /// Run the whole pipeline against an in-process fake upstream
    Demo(DemoArgs),
}

#[derive(Debug, Args, Clone, Default)]
pub struct ReprojectArgs {
    /// First date (UTC day, inclusive) to rebuild; with --to. Default: every date in the lake
    #[arg(long, requires = "to")]
    pub from: Option<NaiveDate>,
    /// Last date (inclusive) to rebuild; with --from
    #[arg(long, requires = "from")]
    pub to: Option<NaiveDate>,
    /// Project into a shadow copy and print what would change; change nothing
    #[arg(long, conflicts_with_all = ["diff", "as_of"])]
    pub dry_run: bool,
    /// Apply, and print what changed
    #[arg(long, conflicts_with = "as_of")]
    pub diff: bool,
    /// Use only events fetched before this instant (RFC 3339, e.g. 2025-11-24T09:00:00Z)
    #[arg(long, requires = "into")]
    pub as_of: Option<chrono::DateTime<chrono::Utc>>,
    /// With --as-of: the database file to build (the main database is untouched)
    #[arg(long, requires = "as_of")]
    pub into: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Every projected table and the lineage view as Parquet, Hive-partitioned by date
    /// (`<table>/date=YYYY-MM-DD/part-0.parquet`); each partition replaced atomically
    Parquet(ExportArgs),
}

#[derive(Debug, Args, Clone, Default)]
pub struct ExportArgs {
    /// Destination: a directory, file:///path or s3://bucket/prefix (with the AWS_* variables)
    /// [env ADLAKE_EXPORT_URL; config `[export] url`]
    #[arg(long)]
    pub into: Option<String>,
    /// First date (UTC day, inclusive) to export; with --to. Default: every date
    #[arg(long, requires = "to")]
    pub from: Option<NaiveDate>,
    /// Last date (inclusive); with --from
    #[arg(long, requires = "from")]
    pub to: Option<NaiveDate>,
    /// Comma-separated tables (default: every projected table and the lineage view) [config
    /// `[export] tables`]
    #[arg(long, value_delimiter = ',')]
    pub tables: Vec<String>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct ReportArgs {
    /// The date (UTC day) to report on. Default: the newest projected date
    #[arg(long)]
    pub date: Option<NaiveDate>,
    /// Where to write the page (replaced atomically)
    #[arg(long, default_value = "report.html")]
    pub out: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum RawCommand {
    /// One line per event
    Ls {
        /// Only events of this date (UTC day) or later
        #[arg(long)]
        from: Option<NaiveDate>,
        /// Only events of this date or earlier
        #[arg(long)]
        to: Option<NaiveDate>,
        /// Only this endpoint key, e.g. s1_daily_v3
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// An event's envelope as JSON
    Show { event_id: String },
    /// The exact original body bytes of an event (or of a body sha256) to stdout
    Cat { id: String },
    /// Re-hash bodies and check envelopes; exit 1 on any problem
    Verify {
        /// Check only this fraction of bodies (a rotating subset), e.g. 0.1
        #[arg(long)]
        sample: Option<f64>,
    },
}

#[derive(Debug, Args, Default, Clone)]
pub struct IngestArgs {
    /// One UTC day
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub date: Option<NaiveDate>,
    /// First date (UTC day, inclusive) to fetch; with --to. Default: today and each endpoint's
    /// lookback window before it
    #[arg(long, requires = "to")]
    pub from: Option<NaiveDate>,
    /// Last date (inclusive) to fetch; with --from
    #[arg(long, requires = "from")]
    pub to: Option<NaiveDate>,
    /// Comma-separated endpoint keys (default: all 15)
    #[arg(long, value_delimiter = ',')]
    pub endpoints: Vec<String>,
    /// Do not project the touched dates at the end
    #[arg(long)]
    pub no_project: bool,
    /// After projecting, export the projected dates as Parquet here (see `export parquet`)
    /// [env ADLAKE_EXPORT_URL; config `[export] url`]
    #[arg(long, conflicts_with = "no_project")]
    pub export: Option<String>,
    /// Upstream base URL [env ADLAKE_UPSTREAM_URL]
    #[arg(long)]
    pub upstream_url: Option<String>,
    /// Login base URL [env ADLAKE_AUTH_URL; default: the upstream URL]
    #[arg(long)]
    pub auth_url: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct FakeArgs {
    /// Address to listen on (port 0: any free port)
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub bind: String,
    #[command(flatten)]
    pub universe: UniverseArgs,
    /// Print the bound address as JSON on stdout when ready
    #[arg(long)]
    pub announce: bool,
}

#[derive(Debug, Args, Clone)]
pub struct UniverseArgs {
    /// Seed of the campaign universe: the same seed serves the same reports
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Campaigns in the universe
    #[arg(long, default_value_t = 40)]
    pub campaigns: usize,
    /// The fake's "today" (UTC); default: the real date
    #[arg(long)]
    pub today: Option<NaiveDate>,
    /// Fault injection: TARGET[@DATE]=KIND[*COUNT], TARGET an endpoint, `*` or `login`; KIND one
    /// of 502, 503, 504, 404, 429, throttle, timeout, reset, truncated, garbage, 401-once,
    /// slow=MS, redirect[-NNN]=ORIGIN, cursor-loop, ignore-page, renamed-column. Repeatable.
    #[arg(long = "fault")]
    pub faults: Vec<String>,
    /// Latency added to every report response, in ms
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Login accepted by the fake
    #[arg(long, default_value = "demo@adlake.test")]
    pub email: String,
    /// Password accepted by the fake
    #[arg(
        long,
        env = "FAKE_UPSTREAM_PASSWORD",
        default_value = "demo-password",
        hide_env_values = true
    )]
    pub password: String,
    /// Lifetime of issued tokens, seconds
    #[arg(long, default_value_t = 3600)]
    pub token_ttl_s: u64,
}

#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    /// Where the lake and database go
    #[arg(long, default_value = "data")]
    pub dir: PathBuf,
    /// Days to ingest, ending today
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Campaigns in the fake upstream's universe
    #[arg(long, default_value_t = 40)]
    pub campaigns: usize,
}
