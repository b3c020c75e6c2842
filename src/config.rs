//! Settings: built-in defaults, overridden by the TOML file (`--config`), then by `ADLAKE_*`
//! environment variables, then by flags. Resolution is a pure function of those inputs (env is
//! passed in), so precedence is unit-tested. Credentials are not settings: see `secrets`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::cli::Global;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file `{}` is not valid", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("{name} = `{value}` is not valid: {expected}")]
    BadValue { name: String, value: String, expected: &'static str },
    #[error("unknown endpoint `{key}` in {origin}; known endpoints: {known}")]
    UnknownEndpoint { key: String, origin: String, known: String },
    #[error("no upstream URL: set ADLAKE_UPSTREAM_URL, `upstream.url` in the config file, or --upstream-url")]
    MissingUpstream,
    #[error("in {origin}: {source}")]
    AlertRule {
        origin: String,
        #[source]
        source: crate::alerts::rules::RuleError,
    },
    #[error("the reader copy `{}` is the database itself; name another file", path.display())]
    ReaderCopyIsTheDatabase { path: PathBuf },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    lake: Option<String>,
    db: Option<FileDb>,
    lock_wait_ms: Option<u64>,
    #[serde(default)]
    export: FileExport,
    #[serde(default)]
    upstream: FileUpstream,
    #[serde(default)]
    endpoints: BTreeMap<String, FileEndpoint>,
    #[serde(default)]
    projector: FileProjector,
    /// Alert rules, `[[alerts]]`.
    #[serde(default)]
    alerts: Vec<toml::Table>,
    /// A TOML file of `[[alerts]]` rules of its own (relative to the config file).
    alerts_file: Option<PathBuf>,
    #[serde(default)]
    alerts_delivery: FileAlertsDelivery,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAlertsDelivery {
    attempts: Option<u32>,
    retry_base_ms: Option<u64>,
    timeout_ms: Option<u64>,
    retry_for_hours: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertsFile {
    #[serde(default)]
    alerts: Vec<toml::Table>,
}

/// `db = "path"`, or a `[db]` table: `path`, and `reader_copy` (see [`Settings::reader_copy`]).
/// Not `#[serde(untagged)]`: that would answer a misspelt key in the table with "did not
/// match any variant" instead of naming it.
#[derive(Debug)]
enum FileDb {
    Path(PathBuf),
    Table(FileDbTable),
}

impl<'de> Deserialize<'de> for FileDb {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match toml::Value::deserialize(deserializer)? {
            toml::Value::String(path) => Ok(FileDb::Path(path.into())),
            table @ toml::Value::Table(_) => table
                .try_into()
                .map(FileDb::Table)
                .map_err(|e| D::Error::custom(format!("[db]: {e}"))),
            other => Err(D::Error::custom(format!(
                "`db` is a path or a table of `path` and `reader_copy`, not a {}",
                other.type_str()
            ))),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDbTable {
    path: Option<PathBuf>,
    reader_copy: Option<PathBuf>,
}

/// `[export]`: where `ingest` exports the dates it projected, and which tables.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileExport {
    url: Option<String>,
    tables: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileProjector {
    /// networkId → media source, replacing the built-in map entry by entry.
    #[serde(default)]
    network_map: BTreeMap<String, String>,
    /// media source → endpoints whose spend counts, in precedence order.
    #[serde(default)]
    spend_precedence: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileUpstream {
    url: Option<String>,
    auth_url: Option<String>,
    secrets_file: Option<PathBuf>,
    timeout_ms: Option<u64>,
    retry_base_ms: Option<u64>,
    max_wait_ms: Option<u64>,
    requests_per_second: Option<f64>,
    per_endpoint_concurrency: Option<usize>,
    page_limit: Option<u32>,
    max_pages: Option<u32>,
    lookback_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct FileEndpoint {
    pub lookback_days: Option<u32>,
    pub attempts: Option<u32>,
    /// Dates at least this many days old with a successful non-empty fetch are not re-fetched
    /// by incremental runs.
    pub skip_final_after_days: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub lake: String,
    pub db: PathBuf,
    /// A copy of the database that `ingest` and `reproject` replace atomically after each
    /// write, for readers that must never wait for the writer's lock (`[db] reader_copy`,
    /// `ADLAKE_READER_COPY`).
    pub reader_copy: Option<PathBuf>,
    /// Where `ingest` exports the dates it projected as Parquet, and which tables (empty:
    /// all): `[export]`, `ADLAKE_EXPORT_URL`, `ingest --export`.
    pub export_url: Option<String>,
    pub export_tables: Vec<String>,
    pub lock_wait: Duration,
    pub upstream: UpstreamSettings,
    pub projector: adlake_replay::project::ProjectorConfig,
    /// Project only events fetched before this instant (`reproject --as-of`).
    pub as_of: Option<chrono::DateTime<chrono::Utc>>,
    /// Alert rules, checked at load, and how their messages are delivered.
    pub alerts: AlertSettings,
}

#[derive(Debug, Clone)]
pub struct AlertSettings {
    pub rules: Vec<crate::alerts::rules::Rule>,
    /// Tries per message and channel (the first included).
    pub attempts: u32,
    /// Wait before the second try; doubled for each later one.
    pub retry_base: Duration,
    pub timeout: Duration,
    /// A message not delivered yet is tried again by later runs for this long after its
    /// firing; then it is given up.
    pub retry_for: chrono::Duration,
}

#[derive(Debug, Clone)]
pub struct UpstreamSettings {
    pub url: Option<String>,
    pub auth_url: Option<String>,
    pub secrets_file: Option<PathBuf>,
    pub timeout: Duration,
    pub retry_base: Duration,
    pub max_wait: Duration,
    pub requests_per_second: f64,
    pub per_endpoint_concurrency: usize,
    pub page_limit: u32,
    pub max_pages: u32,
    pub endpoints: BTreeMap<&'static str, EndpointSettings>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointSettings {
    pub lookback_days: u32,
    pub attempts: u32,
    pub skip_final_after_days: Option<u32>,
}

impl UpstreamSettings {
    pub fn endpoint(&self, key: &str) -> EndpointSettings {
        self.endpoints.get(key).copied().unwrap_or(EndpointSettings {
            lookback_days: 3,
            attempts: 3,
            skip_final_after_days: None,
        })
    }
}

pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

pub fn load(global: &Global, env: Env<'_>) -> Result<Settings, ConfigError> {
    let file = match &global.config {
        Some(path) => read_file(path)?,
        None => FileConfig::default(),
    };
    let origin = global
        .config
        .as_ref()
        .map_or("config".to_string(), |p| format!("config file `{}`", p.display()));
    for key in file.endpoints.keys() {
        check_endpoint(key, &origin)?;
    }
    let env_u64 = |name: &str| -> Result<Option<u64>, ConfigError> {
        env(name)
            .map(|v| {
                v.trim().parse().map_err(|_| ConfigError::BadValue {
                    name: name.into(),
                    value: v,
                    expected: "a whole number",
                })
            })
            .transpose()
    };
    let env_f64 = |name: &str| -> Result<Option<f64>, ConfigError> {
        env(name)
            .map(|v| match v.trim().parse::<f64>() {
                Ok(x) if x > 0.0 && x.is_finite() => Ok(x),
                _ => Err(ConfigError::BadValue {
                    name: name.into(),
                    value: v,
                    expected: "a positive number",
                }),
            })
            .transpose()
    };
    let up = file.upstream;

    let lake = global
        .lake
        .clone()
        .or_else(|| env("ADLAKE_LAKE"))
        .or(file.lake)
        .unwrap_or_else(|| "./data/lake".into());
    let (file_db, file_reader_copy) = match file.db {
        Some(FileDb::Path(path)) => (Some(path), None),
        Some(FileDb::Table(t)) => (t.path, t.reader_copy),
        None => (None, None),
    };
    let db = global
        .db
        .clone()
        .or_else(|| env("ADLAKE_DB").map(PathBuf::from))
        .or(file_db)
        .unwrap_or_else(|| "./data/monitoring.duckdb".into());
    let reader_copy = env("ADLAKE_READER_COPY").map(PathBuf::from).or(file_reader_copy);
    if let Some(copy) = &reader_copy {
        if copy == &db {
            return Err(ConfigError::ReaderCopyIsTheDatabase { path: copy.clone() });
        }
    }
    let lock_wait_ms = global
        .lock_wait_ms
        .or(env_u64("ADLAKE_LOCK_WAIT_MS")?)
        .or(file.lock_wait_ms)
        .unwrap_or(30_000);

    let lookback_default = up.lookback_days.unwrap_or(3);
    let mut endpoints = BTreeMap::new();
    for spec in adlake_replay::ENDPOINTS.iter() {
        let from_file = file.endpoints.get(spec.key).cloned().unwrap_or_default();
        let (lookback, skip) =
            if spec.key == "s1_reconciled" { (5, Some(4)) } else { (lookback_default, None) };
        endpoints.insert(
            spec.key,
            EndpointSettings {
                lookback_days: from_file.lookback_days.unwrap_or(lookback),
                attempts: from_file.attempts.unwrap_or(if spec.critical { 4 } else { 3 }).max(1),
                skip_final_after_days: from_file.skip_final_after_days.or(skip),
            },
        );
    }

    let upstream = UpstreamSettings {
        url: env("ADLAKE_UPSTREAM_URL").or(up.url),
        auth_url: env("ADLAKE_AUTH_URL").or(up.auth_url),
        secrets_file: env("ADLAKE_SECRETS_FILE").map(PathBuf::from).or(up.secrets_file),
        timeout: Duration::from_millis(
            env_u64("ADLAKE_HTTP_TIMEOUT_MS")?.or(up.timeout_ms).unwrap_or(120_000),
        ),
        retry_base: Duration::from_millis(
            env_u64("ADLAKE_RETRY_BASE_MS")?.or(up.retry_base_ms).unwrap_or(1_000),
        ),
        max_wait: Duration::from_millis(
            env_u64("ADLAKE_MAX_WAIT_MS")?.or(up.max_wait_ms).unwrap_or(10_000),
        ),
        requests_per_second: env_f64("ADLAKE_RPS")?.or(up.requests_per_second).unwrap_or(20.0),
        per_endpoint_concurrency: up.per_endpoint_concurrency.unwrap_or(2).max(1),
        page_limit: env_u64("ADLAKE_PAGE_LIMIT")?
            .map(|v| v as u32)
            .or(up.page_limit)
            .unwrap_or(500)
            .max(1),
        max_pages: up.max_pages.unwrap_or(50).max(1),
        endpoints,
    };
    let mut projector = adlake_replay::project::ProjectorConfig::default();
    projector.network_map.extend(file.projector.network_map);
    for (media, endpoints) in file.projector.spend_precedence {
        let keys = endpoints
            .iter()
            .map(|e| {
                check_endpoint(e, &format!("{origin} [projector.spend_precedence]")).map(|s| s.key)
            })
            .collect::<Result<Vec<_>, _>>()?;
        projector.spend_precedence.insert(media, keys);
    }
    let mut alert_entries = file.alerts;
    let mut alert_origin = origin.clone();
    if let Some(path) = &file.alerts_file {
        let path = match global.config.as_ref().and_then(|c| c.parent()) {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.clone(),
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|source| ConfigError::Read { path: path.clone(), source })?;
        let rules: AlertsFile = toml::from_str(&text)
            .map_err(|source| ConfigError::Parse { path: path.clone(), source })?;
        if !alert_entries.is_empty() {
            alert_origin = format!("{origin} and alerts file `{}`", path.display());
        } else {
            alert_origin = format!("alerts file `{}`", path.display());
        }
        alert_entries.extend(rules.alerts);
    }
    let rules = crate::alerts::rules::load(&alert_entries)
        .map_err(|source| ConfigError::AlertRule { origin: alert_origin, source })?;
    let delivery = file.alerts_delivery;
    let alerts = AlertSettings {
        rules,
        attempts: delivery.attempts.unwrap_or(3).clamp(1, 10),
        retry_base: Duration::from_millis(
            env_u64("ADLAKE_ALERT_RETRY_BASE_MS")?.or(delivery.retry_base_ms).unwrap_or(1_000),
        ),
        timeout: Duration::from_millis(delivery.timeout_ms.unwrap_or(10_000)),
        retry_for: chrono::Duration::hours(i64::from(delivery.retry_for_hours.unwrap_or(24))),
    };
    Ok(Settings {
        alerts,
        lake,
        db,
        reader_copy,
        export_url: env("ADLAKE_EXPORT_URL").or(file.export.url),
        export_tables: file.export.tables.unwrap_or_default(),
        lock_wait: Duration::from_millis(lock_wait_ms),
        upstream,
        projector,
        as_of: None,
    })
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse { path: path.to_owned(), source })
}

pub fn check_endpoint(
    key: &str,
    origin: &str,
) -> Result<&'static adlake_replay::EndpointSpec, ConfigError> {
    adlake_replay::endpoint(key).ok_or_else(|| ConfigError::UnknownEndpoint {
        key: key.to_owned(),
        origin: origin.to_owned(),
        known: adlake_replay::registry::keys().collect::<Vec<_>>().join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn defaults_then_file_then_env_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "lake = \"/file/lake\"\ndb = \"/file/db\"\n[upstream]\nretry_base_ms = 7\nurl = \"http://file\"\n[endpoints.taboola_report]\nlookback_days = 9\n",
        )
        .unwrap();
        let none = env_of(&[]);
        let defaults = load(&Global::default(), &none).unwrap();
        assert_eq!(defaults.lake, "./data/lake");
        assert_eq!(defaults.upstream.retry_base, Duration::from_millis(1000));
        assert_eq!(defaults.upstream.endpoint("s1_reconciled").lookback_days, 5);
        assert_eq!(defaults.upstream.endpoint("s1_daily_v3").attempts, 4);
        assert_eq!(defaults.upstream.endpoint("taboola_report").attempts, 3);

        let g = Global { config: Some(path.clone()), ..Default::default() };
        let file = load(&g, &none).unwrap();
        assert_eq!((file.lake.as_str(), file.upstream.retry_base.as_millis()), ("/file/lake", 7));
        assert_eq!(file.upstream.endpoint("taboola_report").lookback_days, 9);

        let env = env_of(&[
            ("ADLAKE_LAKE", "/env/lake"),
            ("ADLAKE_RETRY_BASE_MS", "3"),
            ("ADLAKE_UPSTREAM_URL", "http://env"),
        ]);
        let with_env = load(&g, &env).unwrap();
        assert_eq!(with_env.lake, "/env/lake");
        assert_eq!(with_env.db, PathBuf::from("/file/db"));
        assert_eq!(with_env.upstream.retry_base.as_millis(), 3);
        assert_eq!(with_env.upstream.url.as_deref(), Some("http://env"));

        let flags =
            Global { config: Some(path), lake: Some("/flag/lake".into()), ..Default::default() };
        assert_eq!(load(&flags, &env).unwrap().lake, "/flag/lake");
    }

    #[test]
    fn rejects_unknown_endpoints_and_bad_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[endpoints.tiktok_report]\nattempts = 2\n").unwrap();
        let g = Global { config: Some(path), ..Default::default() };
        let err = load(&g, &env_of(&[])).unwrap_err().to_string();
        assert!(err.contains("tiktok_report") && err.contains("taboola_report"), "{err}");
        let err = load(&Global::default(), &env_of(&[("ADLAKE_MAX_WAIT_MS", "soon")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("ADLAKE_MAX_WAIT_MS") && err.contains("soon"), "{err}");
    }

    #[test]
    fn db_as_a_table_names_the_reader_copy_and_export_settings_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[db]\npath = \"/v/m.duckdb\"\nreader_copy = \"/v/readers.duckdb\"\n[export]\nurl = \"s3://b/p\"\ntables = [\"campaign_index\"]\n",
        )
        .unwrap();
        let g = Global { config: Some(path.clone()), ..Default::default() };
        let s = load(&g, &env_of(&[])).unwrap();
        assert_eq!(s.db, PathBuf::from("/v/m.duckdb"));
        assert_eq!(s.reader_copy, Some(PathBuf::from("/v/readers.duckdb")));
        assert_eq!(s.export_url.as_deref(), Some("s3://b/p"));
        assert_eq!(s.export_tables, vec!["campaign_index".to_string()]);
        let env = env_of(&[("ADLAKE_READER_COPY", "/v/m.duckdb")]);
        let err = load(&g, &env).unwrap_err().to_string();
        assert!(err.contains("reader copy") && err.contains("/v/m.duckdb"), "{err}");
    }

    #[test]
    fn a_misspelt_key_in_the_db_table_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[db]\npath = \"/v/m.duckdb\"\nreader_cpy = \"/v/r.duckdb\"\n")
            .unwrap();
        let g = Global { config: Some(path), ..Default::default() };
        let err = format!("{:#}", anyhow::Error::new(load(&g, &env_of(&[])).unwrap_err()));
        assert!(err.contains("reader_cpy"), "{err}");
    }
}
