//! Settings from environment variables and an optional TOML file.
//!
//! The environment wins over the file. Every value is parsed here, at the edge: a bad
//! one stops start-up with one line naming the variable and what was wrong.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use boardroom_agents::brain::RemoteBrainConfig;
use boardroom_memory::PoolSettings;
use boardroom_supervisor::{ChaosConfig, ChaosTenants, DEFAULT_SANDBOX_SEED, LeaseConfig, SupervisorConfig};
use ipnet::IpNet;
use serde::Deserialize;
use thiserror::Error;

/// A start-up configuration problem, naming the variable at fault.
#[derive(Debug, Error, PartialEq)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    /// The environment variable (or TOML key, in upper case) at fault.
    pub variable: String,
    /// What is wrong with it.
    pub problem: String,
}

impl ConfigError {
    fn new(variable: &str, problem: impl Into<String>) -> Self {
        Self { variable: variable.to_owned(), problem: problem.into() }
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// A server secret (`SECRET_KEY`, a webhook's signing secret). The key that seals
/// stored credentials is derived from `SECRET_KEY` (see `http::crypto`); sessions and
/// tokens are random and do not depend on it. Its `Debug` never shows the value.
#[derive(Clone, PartialEq)]
pub struct SecretKey(String);

impl SecretKey {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The raw secret.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// Everything `boardroom` needs to run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `sqlite:…` (the default, under the data folder) or `postgres://…`.
    pub database_url: String,
    /// `DATABASE_ACQUIRE_TIMEOUT_MS`: how long a query waits for a database connection
    /// (2 s), opening one included; past it the request answers 503 with `Retry-After`.
    pub database_pool: PoolSettings,
    /// Redis for sessions, throttles and cross-node fan-out; `None` keeps all in process.
    pub redis_url: Option<String>,
    /// `REDIS_PREFIX`: what every Redis key starts with (`boardroom:`), so deployments
    /// (and tests) can share one Redis.
    pub redis_prefix: String,
    /// Where the HTTP server listens.
    pub bind: SocketAddr,
    /// Server secret: stored credentials are sealed under a key derived from it.
    pub secret_key: SecretKey,
    /// `SECRET_KEY_PREVIOUS`: the secret before the current one, during a rotation; what
    /// it sealed still opens until `boardroom rotate-secrets` has re-sealed it.
    pub secret_key_previous: Option<SecretKey>,
    /// A `tracing` filter such as `info` or `boardroom=debug,info`.
    pub log_level: String,
    /// Text or JSON logs.
    pub log_format: LogFormat,
    /// Folder for the SQLite file and the generated secret.
    pub data_dir: PathBuf,
    /// `MEDIA_URL`: where files' bytes are kept (the `media` folder under the data
    /// folder unless it names an S3-compatible bucket).
    pub media: MediaLocation,
    /// Restart intensity, back-off and idleness of the swarm tree.
    pub supervisor: SupervisorConfig,
    /// The remote LLM, when a key is configured; `None` runs the offline brain.
    pub llm: Option<RemoteBrainConfig>,
    /// Pictures and voice-overs from the same API, with its key (`MEDIA_IMAGE_MODEL`,
    /// `MEDIA_SPEECH_MODEL` name the models); `None`: made offline only.
    pub remote_media: Option<boardroom_media::RemoteMediaConfig>,
    /// Seed of the sandbox market's worlds.
    pub sandbox_seed: u64,
    /// Time between autopilot cycles for tenants that do not set their own.
    pub autopilot_interval: Duration,
    /// `SANDBOX_DAY_SECS`: how long a simulated day lasts for a business on the sandbox
    /// with the offline brain while someone watches it (one cycle a day); see
    /// `tiers::autopilot_cadence`.
    pub sandbox_day: Duration,
    /// Create a demo tenant with autopilot on when the database has no tenant yet.
    pub demo_tenant: bool,
    /// Invite-only sign-up (`PRIVATE_MODE`). An admin's run-time toggle, once made, is
    /// stored in the database and wins over this.
    pub private_mode: bool,
    /// `STRIPE_WEBHOOK_SECRET` (`whsec_…`): verifies `POST /webhooks/stripe`; the route
    /// answers 404 `not_configured` without it. Redacted in `Debug`.
    pub stripe_webhook_secret: Option<SecretKey>,
    /// `SHOPIFY_WEBHOOK_SECRET`: verifies `POST /webhooks/shopify`; the route answers 404
    /// `not_configured` without it. Redacted in `Debug`.
    pub shopify_webhook_secret: Option<SecretKey>,
    /// `STRIPE_SECRET_KEY` (the platform's `sk_…` or `rk_…` key) and `STRIPE_API_BASE`
    /// (default `https://api.stripe.com`): Stripe Connect for the owners' payouts; the
    /// routes answer 404 `not_configured` without a key. Redacted in `Debug`.
    pub stripe: Option<StripePlatform>,
    /// `CACHE_SECS`: how long an authenticated caller, and a user's list of businesses,
    /// are remembered (2 s; 0 turns the caches off). Changes made in this process apply
    /// at once, changes made in another process within this time.
    pub cache_for: Duration,
    /// `OPEN_BROWSER`: open the live view in the browser when `serve` starts in a
    /// terminal on a desktop (default true; never without a display or under `CI`).
    pub open_browser: bool,
    /// `SHUTDOWN_GRACE_SECS`: how long stopping may take once HTTP has stopped (20 s):
    /// the swarms finish their messages and the event log writes what it holds; what
    /// the database has not taken by then (it is down) goes to the event journal in the
    /// data folder and is written at the next start.
    pub shutdown_grace: Duration,
    /// `TRUSTED_PROXIES`: the reverse proxies (addresses or networks) whose
    /// `X-Forwarded-For` and `X-Forwarded-Proto` are believed. Empty (the default): the
    /// TCP peer is the client and those headers are ignored.
    pub trusted_proxies: Vec<IpNet>,
    /// `METRICS_TOKEN`: the bearer token `GET /metrics` needs; without it `/metrics`
    /// answers 404 `not_configured`. Redacted in `Debug`.
    pub metrics_token: Option<SecretKey>,
    /// `SIGNUPS_PER_ADDRESS_PER_HOUR` (5): sign-ups one client address may make in an
    /// hour, all of them at once at most.
    pub signups_per_address_per_hour: u32,
    /// `SIGNUPS_PER_MINUTE` (30): sign-ups the whole service takes in a minute, from
    /// all addresses together.
    pub signups_per_minute: u32,
    /// This node in a cluster of nodes on one database (a cluster of one by default).
    pub node: NodeSettings,
}

/// This node's place in a cluster: several `boardroom` processes on one PostgreSQL (and
/// one Redis), each tenant's swarm on exactly one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSettings {
    /// `NODE_NAME`: unique in the cluster; the default, this machine's host name and
    /// the port `BIND` names, is unique for processes that cannot share a port. A node
    /// restarted under its name takes its tenants back at once.
    pub name: String,
    /// `NODE_ADDRESS`: where other nodes and operators reach this node's HTTP API
    /// (`http://<BIND>` by default; a wildcard bind address becomes the host name).
    pub address: String,
    /// `NODE_CAPACITY` (10000): how many swarms this node is sized for; nodes take
    /// unclaimed autopilot businesses in proportion to their free capacity.
    pub capacity: u32,
    /// `LEASE_TTL_SECS` (15): how long a node's hold on a tenant lasts unrenewed, so how
    /// soon another node takes over the tenants of a node that died.
    pub lease_ttl: Duration,
}

/// Where files' bytes are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaLocation {
    /// A local folder.
    Folder(PathBuf),
    /// An S3-compatible bucket: `s3://bucket/prefix` and the `AWS_*` settings that reach
    /// it (lower-cased names; values never shown).
    Bucket {
        /// `s3://bucket/prefix`.
        url: String,
        /// `aws_access_key_id`, `aws_endpoint`, … as the environment gave them.
        options: BucketOptions,
    },
}

/// The `AWS_*` settings of a bucket; `Debug` shows their names only.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct BucketOptions(pub Vec<(String, String)>);

impl std::fmt::Debug for BucketOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.iter().map(|(name, _)| name)).finish()
    }
}

/// The `AWS_*` variables a bucket's client reads (as `object_store` names them).
const BUCKET_VARIABLES: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT",
    "AWS_ENDPOINT_URL",
    "AWS_ALLOW_HTTP",
    "AWS_VIRTUAL_HOSTED_STYLE_REQUEST",
];

/// The keys a TOML config file may hold; each mirrors an environment variable.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    database_url: Option<String>,
    database_acquire_timeout_ms: Option<u64>,
    redis_url: Option<String>,
    redis_prefix: Option<String>,
    bind: Option<String>,
    secret_key: Option<String>,
    secret_key_previous: Option<String>,
    log_level: Option<String>,
    log_format: Option<String>,
    data_dir: Option<String>,
    media_url: Option<String>,
    swarm_max_restarts: Option<u32>,
    swarm_restart_window_secs: Option<u64>,
    swarm_idle_timeout_secs: Option<u64>,
    agent_idle_timeout_secs: Option<u64>,
    llm_api_key: Option<String>,
    llm_base_url: Option<String>,
    llm_models: Option<String>,
    media_image_model: Option<String>,
    media_speech_model: Option<String>,
    sandbox_seed: Option<u64>,
    autopilot_interval_secs: Option<u64>,
    sandbox_day_secs: Option<u64>,
    cache_secs: Option<u64>,
    open_browser: Option<bool>,
    shutdown_grace_secs: Option<u64>,
    demo_tenant: Option<bool>,
    private_mode: Option<bool>,
    stripe_webhook_secret: Option<String>,
    shopify_webhook_secret: Option<String>,
    stripe_secret_key: Option<String>,
    stripe_api_base: Option<String>,
    trusted_proxies: Option<String>,
    metrics_token: Option<String>,
    signups_per_address_per_hour: Option<u32>,
    signups_per_minute: Option<u32>,
    node_name: Option<String>,
    node_address: Option<String>,
    node_capacity: Option<u32>,
    lease_ttl_secs: Option<u64>,
}

/// The platform's Stripe account, for Connect.
#[derive(Debug, Clone, PartialEq)]
pub struct StripePlatform {
    /// The platform's secret key; redacted in `Debug`.
    pub secret_key: SecretKey,
    /// Where Stripe's API is (`https://api.stripe.com`, or a local server in tests).
    pub api_base: String,
}

/// The variables read, in the order they are documented (the bucket's `AWS_*` ones
/// after `MEDIA_URL`).
const VARIABLES: &[&str] = &[
    "BOARDROOM_CONFIG",
    "DATABASE_URL",
    "DATABASE_ACQUIRE_TIMEOUT_MS",
    "REDIS_URL",
    "BIND",
    "SECRET_KEY",
    "SECRET_KEY_PREVIOUS",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "BOARDROOM_DATA_DIR",
    "MEDIA_URL",
    // and BUCKET_VARIABLES, read with these
    "SWARM_MAX_RESTARTS",
    "SWARM_RESTART_WINDOW_SECS",
    "SWARM_IDLE_TIMEOUT_SECS",
    "AGENT_IDLE_TIMEOUT_SECS",
    "LLM_API_KEY",
    "OPENROUTER_API_KEY",
    "LLM_BASE_URL",
    "LLM_MODELS",
    "MEDIA_IMAGE_MODEL",
    "MEDIA_SPEECH_MODEL",
    "SANDBOX_SEED",
    "AUTOPILOT_INTERVAL_SECS",
    "SANDBOX_DAY_SECS",
    "DEMO_TENANT",
    "PRIVATE_MODE",
    "STRIPE_WEBHOOK_SECRET",
    "SHOPIFY_WEBHOOK_SECRET",
    "STRIPE_SECRET_KEY",
    "STRIPE_API_BASE",
    "REDIS_PREFIX",
    "CACHE_SECS",
    "OPEN_BROWSER",
    "SHUTDOWN_GRACE_SECS",
    "CHAOS_AGENT_PANIC_RATE",
    "CHAOS_ENABLE",
    "TRUSTED_PROXIES",
    "METRICS_TOKEN",
    "SIGNUPS_PER_ADDRESS_PER_HOUR",
    "SIGNUPS_PER_MINUTE",
    "NODE_NAME",
    "NODE_ADDRESS",
    "NODE_CAPACITY",
    "LEASE_TTL_SECS",
];

impl Settings {
    /// Reads the process environment (and the file `BOARDROOM_CONFIG` names, if any).
    pub fn from_env() -> Result<Self, ConfigError> {
        let env: HashMap<String, String> = VARIABLES
            .iter()
            .chain(BUCKET_VARIABLES)
            .filter_map(|name| std::env::var(name).ok().map(|value| (name.to_string(), value)))
            .collect();
        Self::load(&env)
    }

    /// Builds settings from the given variables (the environment, or a test's map).
    /// Creates the data folder and, in embedded mode, the stored secret if missing.
    pub fn load(env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let file = match non_empty(env, "BOARDROOM_CONFIG") {
            Some(path) => read_file(Path::new(&path))?,
            None => FileSettings::default(),
        };
        let pick = |name: &str, from_file: &Option<String>| non_empty(env, name).or_else(|| from_file.clone());

        let data_dir = PathBuf::from(pick("BOARDROOM_DATA_DIR", &file.data_dir).unwrap_or_else(|| "data".into()));
        let database_url = match pick("DATABASE_URL", &file.database_url) {
            Some(url) => parse_database_url(url)?,
            None => format!("sqlite://{}", data_dir.join("boardroom.db").display()),
        };
        let embedded = database_url.starts_with("sqlite:");
        let media = match pick("MEDIA_URL", &file.media_url) {
            None => MediaLocation::Folder(data_dir.join("media")),
            Some(url) => parse_media_url(&url, env)?,
        };
        let database_pool = match number(env, "DATABASE_ACQUIRE_TIMEOUT_MS", file.database_acquire_timeout_ms)? {
            Some(0) => return Err(ConfigError::new("DATABASE_ACQUIRE_TIMEOUT_MS", "must be at least 1 millisecond")),
            Some(millis) if millis > 60_000 => {
                return Err(ConfigError::new(
                    "DATABASE_ACQUIRE_TIMEOUT_MS",
                    format!("{millis} is too long (at most 60000: requests time out after 30 s)"),
                ));
            }
            Some(millis) => PoolSettings { acquire_timeout: Duration::from_millis(millis) },
            None => PoolSettings::default(),
        };
        let redis_url = pick("REDIS_URL", &file.redis_url).map(parse_redis_url).transpose()?;
        let redis_prefix = pick("REDIS_PREFIX", &file.redis_prefix)
            .unwrap_or_else(|| boardroom_memory::DEFAULT_REDIS_PREFIX.to_owned());
        let bind = match pick("BIND", &file.bind) {
            Some(text) => text.parse().map_err(|_| {
                ConfigError::new(
                    "BIND",
                    format!("{text:?} is not a socket address (expected host:port, e.g. 127.0.0.1:8080)"),
                )
            })?,
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
        };
        let log_level = pick("LOG_LEVEL", &file.log_level).unwrap_or_else(|| "info".into());
        tracing_subscriber::EnvFilter::try_new(&log_level)
            .map_err(|error| ConfigError::new("LOG_LEVEL", format!("{log_level:?} is not a log filter: {error}")))?;
        let log_format = match pick("LOG_FORMAT", &file.log_format).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::new("LOG_FORMAT", format!("{other:?} is not one of text, json")));
            }
        };

        let mut supervisor = SupervisorConfig::default();
        if let Some(max) = number(env, "SWARM_MAX_RESTARTS", file.swarm_max_restarts)? {
            supervisor.restart_intensity.max_restarts = max;
        }
        if let Some(secs) = number(env, "SWARM_RESTART_WINDOW_SECS", file.swarm_restart_window_secs)? {
            supervisor.restart_intensity.within = positive_secs("SWARM_RESTART_WINDOW_SECS", secs)?;
        }
        if let Some(secs) = number(env, "SWARM_IDLE_TIMEOUT_SECS", file.swarm_idle_timeout_secs)? {
            supervisor.idle_timeout = positive_secs("SWARM_IDLE_TIMEOUT_SECS", secs)?;
        }
        if let Some(secs) = number(env, "AGENT_IDLE_TIMEOUT_SECS", file.agent_idle_timeout_secs)? {
            supervisor.agent_idle_timeout = positive_secs("AGENT_IDLE_TIMEOUT_SECS", secs)?;
        }

        let secret_key = match pick("SECRET_KEY", &file.secret_key) {
            Some(secret) if secret.len() >= 32 => SecretKey(secret),
            Some(_) => {
                return Err(ConfigError::new(
                    "SECRET_KEY",
                    "must be at least 32 characters (try `openssl rand -hex 32`)",
                ));
            }
            None if embedded => stored_secret(&data_dir)?,
            None => {
                return Err(ConfigError::new(
                    "SECRET_KEY",
                    "required when DATABASE_URL points to PostgreSQL (try `openssl rand -hex 32`)",
                ));
            }
        };
        let secret_key_previous = match pick("SECRET_KEY_PREVIOUS", &file.secret_key_previous) {
            Some(secret) if secret.len() >= 32 => Some(SecretKey(secret)),
            Some(_) => {
                return Err(ConfigError::new(
                    "SECRET_KEY_PREVIOUS",
                    "must be at least 32 characters (the SECRET_KEY being rotated out)",
                ));
            }
            None => None,
        };

        let llm = RemoteBrainConfig::from_env(|name| match name {
            "LLM_API_KEY" => pick(name, &file.llm_api_key),
            "LLM_BASE_URL" => pick(name, &file.llm_base_url),
            "LLM_MODELS" => pick(name, &file.llm_models),
            other => non_empty(env, other),
        })
        .map_err(|message| {
            // The brain's messages start with the variable's name.
            match message.split_once(' ') {
                Some((variable, problem)) => ConfigError::new(variable, problem),
                None => ConfigError::new("LLM_API_KEY", message.as_str()),
            }
        })?;
        let remote_media = llm.as_ref().map(|llm| {
            let mut media = boardroom_media::RemoteMediaConfig::new(&llm.base_url, &llm.api_key);
            if let Some(model) = pick("MEDIA_IMAGE_MODEL", &file.media_image_model) {
                media.image_model = model;
            }
            if let Some(model) = pick("MEDIA_SPEECH_MODEL", &file.media_speech_model) {
                media.speech_model = model;
            }
            media
        });
        let sandbox_seed = number(env, "SANDBOX_SEED", file.sandbox_seed)?.unwrap_or(DEFAULT_SANDBOX_SEED);
        supervisor.chaos = chaos(env, sandbox_seed)?;
        let autopilot_interval = match number(env, "AUTOPILOT_INTERVAL_SECS", file.autopilot_interval_secs)? {
            Some(secs) if secs > crate::http::tiers::MAX_AUTOPILOT_INTERVAL_SECS => {
                return Err(ConfigError::new(
                    "AUTOPILOT_INTERVAL_SECS",
                    format!(
                        "{secs} is too long (at most {} seconds, 30 days)",
                        crate::http::tiers::MAX_AUTOPILOT_INTERVAL_SECS
                    ),
                ));
            }
            Some(secs) => positive_secs("AUTOPILOT_INTERVAL_SECS", secs)?,
            None => Duration::from_secs(1800),
        };
        let sandbox_day = match number(env, "SANDBOX_DAY_SECS", file.sandbox_day_secs)? {
            Some(secs @ 1..=MAX_SANDBOX_DAY_SECS) => Duration::from_secs(secs),
            Some(secs) => {
                return Err(ConfigError::new(
                    "SANDBOX_DAY_SECS",
                    format!("{secs} is not a whole number of seconds from 1 to {MAX_SANDBOX_DAY_SECS} (a day)"),
                ));
            }
            None => Duration::from_secs(DEFAULT_SANDBOX_DAY_SECS),
        };
        let demo_tenant = match non_empty(env, "DEMO_TENANT").as_deref() {
            None => file.demo_tenant.unwrap_or(true),
            Some("true" | "1" | "yes") => true,
            Some("false" | "0" | "no") => false,
            Some(other) => return Err(ConfigError::new("DEMO_TENANT", format!("{other:?} is not true or false"))),
        };
        let private_mode = flag(env, "PRIVATE_MODE", file.private_mode, false)?;
        let open_browser = flag(env, "OPEN_BROWSER", file.open_browser, true)?;
        let cache_for = match number(env, "CACHE_SECS", file.cache_secs)? {
            Some(secs) if secs > 60 => {
                return Err(ConfigError::new("CACHE_SECS", format!("{secs} is too long (at most 60 seconds)")));
            }
            Some(secs) => Duration::from_secs(secs),
            None => Duration::from_secs(2),
        };
        let shutdown_grace = match number(env, "SHUTDOWN_GRACE_SECS", file.shutdown_grace_secs)? {
            Some(secs) if secs > 600 => {
                return Err(ConfigError::new(
                    "SHUTDOWN_GRACE_SECS",
                    format!("{secs} is too long (at most 600 seconds)"),
                ));
            }
            Some(secs) => positive_secs("SHUTDOWN_GRACE_SECS", secs)?,
            None => Duration::from_secs(20),
        };
        let stripe_webhook_secret = pick("STRIPE_WEBHOOK_SECRET", &file.stripe_webhook_secret).map(SecretKey);
        let shopify_webhook_secret = pick("SHOPIFY_WEBHOOK_SECRET", &file.shopify_webhook_secret).map(SecretKey);
        let stripe = match pick("STRIPE_SECRET_KEY", &file.stripe_secret_key) {
            None => None,
            Some(key) if !(key.starts_with("sk_") || key.starts_with("rk_")) => {
                return Err(ConfigError::new(
                    "STRIPE_SECRET_KEY",
                    "must be a secret key (sk_…) or a restricted key (rk_…)",
                ));
            }
            Some(key) => {
                let api_base = pick("STRIPE_API_BASE", &file.stripe_api_base)
                    .unwrap_or_else(|| boardroom_adapters::STRIPE_API_BASE.to_owned());
                let local = ["http://localhost", "http://127.0.0.1"].iter().any(|origin| api_base.starts_with(origin));
                if !(api_base.starts_with("https://") || local) {
                    return Err(ConfigError::new(
                        "STRIPE_API_BASE",
                        "must be an https:// address (http:// only for localhost or 127.0.0.1)",
                    ));
                }
                Some(StripePlatform { secret_key: SecretKey(key), api_base: api_base.trim_end_matches('/').to_owned() })
            }
        };
        let trusted_proxies = match pick("TRUSTED_PROXIES", &file.trusted_proxies) {
            Some(list) => parse_trusted_proxies(&list)?,
            None => Vec::new(),
        };
        let metrics_token = match pick("METRICS_TOKEN", &file.metrics_token) {
            Some(token) if token.len() < 16 => {
                return Err(ConfigError::new(
                    "METRICS_TOKEN",
                    "must be at least 16 characters (try `openssl rand -hex 32`)",
                ));
            }
            token => token.map(SecretKey),
        };
        let signups_per_address_per_hour =
            count_at_least_one(env, "SIGNUPS_PER_ADDRESS_PER_HOUR", file.signups_per_address_per_hour, 5)?;
        let signups_per_minute = count_at_least_one(env, "SIGNUPS_PER_MINUTE", file.signups_per_minute, 30)?;
        let node = node_settings(env, &file, bind)?;
        supervisor.leases = Some(LeaseConfig { node: node.name.clone(), ttl: node.lease_ttl });

        Ok(Self {
            database_url,
            database_pool,
            redis_url,
            redis_prefix,
            bind,
            secret_key,
            secret_key_previous,
            log_level,
            log_format,
            data_dir,
            media,
            supervisor,
            llm,
            remote_media,
            sandbox_seed,
            autopilot_interval,
            sandbox_day,
            demo_tenant,
            private_mode,
            stripe_webhook_secret,
            shopify_webhook_secret,
            stripe,
            cache_for,
            open_browser,
            shutdown_grace,
            trusted_proxies,
            metrics_token,
            signups_per_address_per_hour,
            signups_per_minute,
            node,
        })
    }

    /// Whether this runs on the embedded SQLite database.
    pub fn is_embedded(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

fn non_empty(env: &HashMap<String, String>, name: &str) -> Option<String> {
    env.get(name).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty())
}

fn read_file(path: &Path) -> Result<FileSettings, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| ConfigError::new("BOARDROOM_CONFIG", format!("cannot read {}: {error}", path.display())))?;
    toml::from_str(&text)
        .map_err(|error| ConfigError::new("BOARDROOM_CONFIG", format!("{}: {}", path.display(), error.message())))
}

/// `s3://bucket/prefix` with the `AWS_*` variables, or a folder (`file:///path` or a
/// plain path).
fn parse_media_url(url: &str, env: &HashMap<String, String>) -> Result<MediaLocation, ConfigError> {
    if let Some(rest) = url.strip_prefix("s3://") {
        let bucket = rest.split('/').next().unwrap_or_default();
        if bucket.is_empty() {
            return Err(ConfigError::new("MEDIA_URL", format!("{url:?} names no bucket: use s3://bucket/prefix")));
        }
        let options = BUCKET_VARIABLES
            .iter()
            .filter_map(|name| non_empty(env, name).map(|value| (name.to_ascii_lowercase(), value)))
            .collect();
        return Ok(MediaLocation::Bucket { url: url.to_owned(), options: BucketOptions(options) });
    }
    if url.contains("://") && !url.starts_with("file://") {
        return Err(ConfigError::new(
            "MEDIA_URL",
            format!("{url:?} is neither s3://bucket/prefix nor a folder (file:///path or a path)"),
        ));
    }
    Ok(MediaLocation::Folder(PathBuf::from(url.strip_prefix("file://").unwrap_or(url))))
}

fn parse_database_url(url: String) -> Result<String, ConfigError> {
    let supported = ["sqlite:", "postgres://", "postgresql://"];
    if supported.iter().any(|prefix| url.starts_with(prefix)) {
        Ok(url)
    } else {
        Err(ConfigError::new("DATABASE_URL", format!("{url:?} is neither sqlite:PATH nor postgres://…")))
    }
}

fn parse_redis_url(url: String) -> Result<String, ConfigError> {
    redis::Client::open(url.as_str())
        .map(|_| url.clone())
        .map_err(|error| ConfigError::new("REDIS_URL", format!("{url:?} is not a Redis URL: {error}")))
}

fn number<T: std::str::FromStr>(
    env: &HashMap<String, String>,
    name: &'static str,
    from_file: Option<T>,
) -> Result<Option<T>, ConfigError> {
    match non_empty(env, name) {
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|_| ConfigError::new(name, format!("{text:?} is not a non-negative whole number"))),
        None => Ok(from_file),
    }
}

/// A true/false variable: `true`/`1`/`yes` or `false`/`0`/`no`; the file's value or
/// `default` when unset.
fn flag(
    env: &HashMap<String, String>,
    name: &'static str,
    from_file: Option<bool>,
    default: bool,
) -> Result<bool, ConfigError> {
    match non_empty(env, name).as_deref() {
        None => Ok(from_file.unwrap_or(default)),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(other) => Err(ConfigError::new(name, format!("{other:?} is not true or false"))),
    }
}

/// `CHAOS_AGENT_PANIC_RATE`: agents panic at this rate per message, for drills. Read
/// from the environment only (never a config file), and refused unless `CHAOS_ENABLE`
/// is `true` too, so a stray variable cannot make a production server fail on purpose.
/// The panics are seeded with `SANDBOX_SEED`, so a drill can be replayed.
fn chaos(env: &HashMap<String, String>, seed: u64) -> Result<Option<ChaosConfig>, ConfigError> {
    const RATE: &str = "CHAOS_AGENT_PANIC_RATE";
    let enabled = flag(env, "CHAOS_ENABLE", None, false)?;
    let Some(text) = non_empty(env, RATE) else { return Ok(None) };
    let panic_rate: f64 = match text.parse() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => rate,
        _ => return Err(ConfigError::new(RATE, format!("{text:?} is not a probability between 0 and 1 (e.g. 0.01)"))),
    };
    if !enabled {
        return Err(ConfigError::new(
            RATE,
            "makes agents panic on purpose; set CHAOS_ENABLE=true as well to confirm this is a drill",
        ));
    }
    Ok((panic_rate > 0.0).then_some(ChaosConfig { panic_rate, seed, tenants: ChaosTenants::All }))
}

/// A count of at least 1 (and at most 1,000,000); the file's value or `default` when unset.
fn count_at_least_one(
    env: &HashMap<String, String>,
    name: &'static str,
    from_file: Option<u32>,
    default: u32,
) -> Result<u32, ConfigError> {
    match number(env, name, from_file)? {
        None => Ok(default),
        Some(0) => Err(ConfigError::new(name, "must be at least 1")),
        Some(count) if count > 1_000_000 => {
            Err(ConfigError::new(name, format!("{count} is too many (at most 1000000)")))
        }
        Some(count) => Ok(count),
    }
}

/// `TRUSTED_PROXIES`: comma-separated addresses (`10.0.0.7`) and networks
/// (`10.0.0.0/8`, `2001:db8::/32`).
fn parse_trusted_proxies(list: &str) -> Result<Vec<IpNet>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry.parse::<IpNet>().or_else(|_| entry.parse::<std::net::IpAddr>().map(IpNet::from)).map_err(|_| {
                ConfigError::new(
                    "TRUSTED_PROXIES",
                    format!("{entry:?} is not an address or network (e.g. 10.0.0.7 or 10.0.0.0/8)"),
                )
            })
        })
        .collect()
}

/// One simulated day a minute while someone watches.
const DEFAULT_SANDBOX_DAY_SECS: u64 = 60;
/// A simulated day may last as long as a real one, no longer.
const MAX_SANDBOX_DAY_SECS: u64 = 86_400;

/// Longest `LEASE_TTL_SECS`: a dead node's tenants wait this long for a new home.
const MAX_LEASE_TTL_SECS: u64 = 3600;

fn node_settings(
    env: &HashMap<String, String>,
    file: &FileSettings,
    bind: SocketAddr,
) -> Result<NodeSettings, ConfigError> {
    let pick = |name: &str, from_file: &Option<String>| non_empty(env, name).or_else(|| from_file.clone());
    let host = host_name();
    let name = match pick("NODE_NAME", &file.node_name) {
        Some(name) if name.len() > 100 || name.chars().any(|c| c.is_control() || c.is_whitespace()) => {
            return Err(ConfigError::new("NODE_NAME", "must be at most 100 characters, without spaces"));
        }
        Some(name) => name,
        None => format!("{host}:{}", bind.port()),
    };
    let address = match pick("NODE_ADDRESS", &file.node_address) {
        Some(address) if address.starts_with("http://") || address.starts_with("https://") => {
            address.trim_end_matches('/').to_owned()
        }
        Some(address) => {
            return Err(ConfigError::new("NODE_ADDRESS", format!("{address:?} is not an http:// or https:// address")));
        }
        None if bind.ip().is_unspecified() => format!("http://{host}:{}", bind.port()),
        None => format!("http://{bind}"),
    };
    let capacity = count_at_least_one(env, "NODE_CAPACITY", file.node_capacity, 10_000)?;
    let lease_ttl = match number(env, "LEASE_TTL_SECS", file.lease_ttl_secs)? {
        Some(secs @ 3..=MAX_LEASE_TTL_SECS) => Duration::from_secs(secs),
        Some(secs) => {
            return Err(ConfigError::new(
                "LEASE_TTL_SECS",
                format!("{secs} is not a whole number of seconds from 3 to {MAX_LEASE_TTL_SECS}"),
            ));
        }
        None => Duration::from_secs(15),
    };
    Ok(NodeSettings { name, address, capacity, lease_ttl })
}

/// This machine's name (`localhost` when it cannot be read).
fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

fn positive_secs(name: &'static str, secs: u64) -> Result<Duration, ConfigError> {
    if secs == 0 {
        return Err(ConfigError::new(name, "must be at least 1 second"));
    }
    Ok(Duration::from_secs(secs))
}

/// The embedded mode's secret: generated once, kept in the data folder (mode 0600) so
/// sealed credentials stay readable across restarts.
fn stored_secret(data_dir: &Path) -> Result<SecretKey, ConfigError> {
    let path = data_dir.join("secret_key");
    let fail = |what: &str, error: std::io::Error| {
        ConfigError::new("SECRET_KEY", format!("not set, and {what} {}: {error}", path.display()))
    };
    match std::fs::read_to_string(&path) {
        Ok(secret) if secret.trim().len() >= 32 => return Ok(SecretKey(secret.trim().to_owned())),
        Ok(_) => {
            return Err(ConfigError::new("SECRET_KEY", format!("stored secret in {} is too short", path.display())));
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(fail("cannot read", error)),
    }
    std::fs::create_dir_all(data_dir).map_err(|error| fail("cannot create the folder of", error))?;
    let secret: String = {
        use rand::Rng;
        let bytes: [u8; 32] = rand::rng().random();
        hex::encode(bytes)
    };
    write_private(&path, &secret).map_err(|error| fail("cannot write", error))?;
    Ok(SecretKey(secret))
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("boardroom-config-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn defaults_need_no_environment_and_generate_a_stable_secret() {
        let dir = temp_dir();
        let vars = env(&[("BOARDROOM_DATA_DIR", dir.to_str().expect("utf-8 path"))]);
        let first = Settings::load(&vars).expect("defaults load");
        assert_eq!(first.bind, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert!(first.database_url.starts_with("sqlite://") && first.database_url.ends_with("boardroom.db"));
        assert_eq!(first.redis_url, None);
        assert_eq!(first.database_pool.acquire_timeout, Duration::from_secs(2));
        assert_eq!(first.secret_key.expose().len(), 64);
        let second = Settings::load(&vars).expect("defaults load again");
        assert_eq!(first.secret_key, second.secret_key, "the generated secret is kept");
        assert!(!format!("{first:?}").contains(first.secret_key.expose()), "Debug must not leak the secret");
        assert_eq!(first.stripe_webhook_secret, None);

        let mut with_webhooks = vars.clone();
        with_webhooks.insert("STRIPE_WEBHOOK_SECRET".into(), "whsec_do_not_show".into());
        with_webhooks.insert("SHOPIFY_WEBHOOK_SECRET".into(), "shpss_do_not_show".into());
        let webhooks = Settings::load(&with_webhooks).expect("webhook secrets load");
        assert_eq!(webhooks.stripe_webhook_secret.as_ref().map(SecretKey::expose), Some("whsec_do_not_show"));
        assert_eq!(webhooks.shopify_webhook_secret.as_ref().map(SecretKey::expose), Some("shpss_do_not_show"));
        let shown = format!("{webhooks:?}");
        assert!(!shown.contains("do_not_show"), "Debug must not leak webhook secrets: {shown}");
        assert!(first.trusted_proxies.is_empty() && first.metrics_token.is_none());
        assert_eq!((first.signups_per_address_per_hour, first.signups_per_minute), (5, 30));

        let mut behind_a_proxy = vars.clone();
        behind_a_proxy.insert("TRUSTED_PROXIES".into(), " 10.0.0.7, 172.16.0.0/12,2001:db8::/32 ".into());
        behind_a_proxy.insert("METRICS_TOKEN".into(), "metrics-do_not_show-0123".into());
        let proxied = Settings::load(&behind_a_proxy).expect("proxies load");
        let proxies: Vec<String> = proxied.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(proxies, ["10.0.0.7/32", "172.16.0.0/12", "2001:db8::/32"]);
        assert!(!format!("{proxied:?}").contains("do_not_show"), "Debug must not leak the metrics token");
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let dir = temp_dir();
        let base = [("BOARDROOM_DATA_DIR", dir.to_str().expect("utf-8 path"))];
        let cases = [
            ("BIND", "localhost", "BIND: \"localhost\" is not a socket address"),
            ("DATABASE_URL", "mysql://x", "DATABASE_URL: \"mysql://x\" is neither"),
            ("LOG_FORMAT", "xml", "LOG_FORMAT: \"xml\" is not one of text, json"),
            ("SWARM_MAX_RESTARTS", "-1", "SWARM_MAX_RESTARTS: \"-1\" is not a non-negative whole number"),
            ("REDIS_URL", "http://nope", "REDIS_URL: \"http://nope\" is not a Redis URL"),
            ("SECRET_KEY", "short", "SECRET_KEY: must be at least 32 characters"),
            ("SECRET_KEY_PREVIOUS", "short", "SECRET_KEY_PREVIOUS: must be at least 32 characters"),
            (
                "AUTOPILOT_INTERVAL_SECS",
                "18446744073709551616",
                "AUTOPILOT_INTERVAL_SECS: \"18446744073709551616\" is not",
            ),
            (
                "AUTOPILOT_INTERVAL_SECS",
                "9223372036854775808",
                "AUTOPILOT_INTERVAL_SECS: 9223372036854775808 is too long",
            ),
            ("AUTOPILOT_INTERVAL_SECS", "2592001", "AUTOPILOT_INTERVAL_SECS: 2592001 is too long"),
            ("SANDBOX_DAY_SECS", "0", "SANDBOX_DAY_SECS: 0 is not a whole number of seconds from 1 to 86400"),
            ("SANDBOX_DAY_SECS", "86401", "SANDBOX_DAY_SECS: 86401 is not a whole number of seconds from 1 to 86400"),
            ("SHUTDOWN_GRACE_SECS", "0", "SHUTDOWN_GRACE_SECS: must be at least 1 second"),
            ("SHUTDOWN_GRACE_SECS", "601", "SHUTDOWN_GRACE_SECS: 601 is too long"),
            (
                "DATABASE_ACQUIRE_TIMEOUT_MS",
                "2s",
                "DATABASE_ACQUIRE_TIMEOUT_MS: \"2s\" is not a non-negative whole number",
            ),
            ("DATABASE_ACQUIRE_TIMEOUT_MS", "0", "DATABASE_ACQUIRE_TIMEOUT_MS: must be at least 1 millisecond"),
            (
                "TRUSTED_PROXIES",
                "10.0.0.1, proxy.local",
                "TRUSTED_PROXIES: \"proxy.local\" is not an address or network",
            ),
            ("TRUSTED_PROXIES", "10.0.0.0/33", "TRUSTED_PROXIES: \"10.0.0.0/33\" is not an address or network"),
            ("METRICS_TOKEN", "short", "METRICS_TOKEN: must be at least 16 characters"),
            ("SIGNUPS_PER_ADDRESS_PER_HOUR", "0", "SIGNUPS_PER_ADDRESS_PER_HOUR: must be at least 1"),
            ("SIGNUPS_PER_MINUTE", "many", "SIGNUPS_PER_MINUTE: \"many\" is not a non-negative whole number"),
        ];
        for (name, value, expected) in cases {
            let mut vars = env(&base);
            vars.insert(name.into(), value.into());
            let error = Settings::load(&vars).expect_err(name).to_string();
            assert!(error.starts_with(expected), "{name}: got {error:?}");
        }
    }

    #[test]
    fn private_mode_is_off_unless_the_environment_or_the_file_turns_it_on() {
        let dir = temp_dir();
        let folder = dir.to_str().expect("utf-8");
        let off = Settings::load(&env(&[("BOARDROOM_DATA_DIR", folder)])).expect("loads");
        assert!(!off.private_mode);
        let on = Settings::load(&env(&[("BOARDROOM_DATA_DIR", folder), ("PRIVATE_MODE", "true")])).expect("loads");
        assert!(on.private_mode);
        let error =
            Settings::load(&env(&[("BOARDROOM_DATA_DIR", folder), ("PRIVATE_MODE", "maybe")])).expect_err("bad flag");
        assert_eq!(error.to_string(), "PRIVATE_MODE: \"maybe\" is not true or false");

        let file = dir.join("boardroom.toml");
        std::fs::write(&file, "private_mode = true\n").expect("write");
        let from_file = Settings::load(&env(&[
            ("BOARDROOM_DATA_DIR", folder),
            ("BOARDROOM_CONFIG", file.to_str().expect("utf-8")),
        ]))
        .expect("loads");
        assert!(from_file.private_mode);
    }

    #[test]
    fn a_previous_secret_key_is_optional_and_never_shown() {
        let dir = temp_dir();
        let folder = dir.to_str().expect("utf-8");
        let without = Settings::load(&env(&[("BOARDROOM_DATA_DIR", folder)])).expect("loads");
        assert_eq!(without.secret_key_previous, None);
        let previous = "previous-secret-0123456789abcdef-do-not-show";
        let with =
            Settings::load(&env(&[("BOARDROOM_DATA_DIR", folder), ("SECRET_KEY_PREVIOUS", previous)])).expect("loads");
        assert_eq!(with.secret_key_previous.as_ref().map(SecretKey::expose), Some(previous));
        assert!(!format!("{with:?}").contains("do-not-show"), "Debug must not leak the previous secret");
    }

    #[test]
    fn chaos_is_off_by_default_and_refused_unless_confirmed() {
        let dir = temp_dir();
        let folder = dir.to_str().expect("utf-8");
        let off = Settings::load(&env(&[("BOARDROOM_DATA_DIR", folder)])).expect("loads");
        assert_eq!(off.supervisor.chaos, None);

        let unconfirmed = Settings::load(&env(&[("BOARDROOM_DATA_DIR", folder), ("CHAOS_AGENT_PANIC_RATE", "0.01")]))
            .expect_err("not confirmed");
        assert_eq!(unconfirmed.variable, "CHAOS_AGENT_PANIC_RATE");
        assert!(unconfirmed.problem.contains("CHAOS_ENABLE=true"), "{unconfirmed}");
        for bad in ["often", "1.5", "-0.1", "NaN"] {
            let error = Settings::load(&env(&[
                ("BOARDROOM_DATA_DIR", folder),
                ("CHAOS_ENABLE", "true"),
                ("CHAOS_AGENT_PANIC_RATE", bad),
            ]))
            .expect_err(bad);
            assert_eq!(
                error.to_string(),
                format!("CHAOS_AGENT_PANIC_RATE: {bad:?} is not a probability between 0 and 1 (e.g. 0.01)")
            );
        }

        let on = Settings::load(&env(&[
            ("BOARDROOM_DATA_DIR", folder),
            ("CHAOS_ENABLE", "true"),
            ("CHAOS_AGENT_PANIC_RATE", "0.01"),
            ("SANDBOX_SEED", "5"),
        ]))
        .expect("confirmed drill");
        assert_eq!(on.supervisor.chaos, Some(ChaosConfig { panic_rate: 0.01, seed: 5, tenants: ChaosTenants::All }));
    }

    #[test]
    fn postgres_requires_a_secret_key() {
        let vars = env(&[("DATABASE_URL", "postgres://postgres@127.0.0.1/x")]);
        let error = Settings::load(&vars).expect_err("no secret");
        assert_eq!(error.variable, "SECRET_KEY");
    }

    #[test]
    fn the_environment_overrides_the_config_file() {
        let dir = temp_dir();
        let file = dir.join("boardroom.toml");
        std::fs::write(&file, "bind = \"127.0.0.1:9000\"\nlog_level = \"debug\"\nswarm_max_restarts = 7\ndatabase_acquire_timeout_ms = 750\n")
            .expect("write");
        let vars = env(&[
            ("BOARDROOM_CONFIG", file.to_str().expect("utf-8")),
            ("BOARDROOM_DATA_DIR", dir.to_str().expect("utf-8")),
            ("BIND", "127.0.0.1:9100"),
        ]);
        let settings = Settings::load(&vars).expect("loads");
        assert_eq!(settings.bind.port(), 9100);
        assert_eq!(settings.database_pool.acquire_timeout, Duration::from_millis(750));
        assert_eq!(settings.log_level, "debug");
        assert_eq!(settings.supervisor.restart_intensity.max_restarts, 7);

        std::fs::write(&file, "bnd = \"x\"\n").expect("write");
        let error = Settings::load(&vars).expect_err("unknown key");
        assert_eq!(error.variable, "BOARDROOM_CONFIG");
        assert!(error.problem.contains("bnd"), "{error}");
    }

    #[test]
    fn files_go_under_the_data_folder_unless_media_url_names_a_bucket_or_a_folder() {
        let dir = temp_dir();
        let data = dir.to_str().expect("utf-8");
        let settings = Settings::load(&env(&[("BOARDROOM_DATA_DIR", data)])).expect("loads");
        assert_eq!(settings.media, MediaLocation::Folder(dir.join("media")));

        let bucket = env(&[
            ("BOARDROOM_DATA_DIR", data),
            ("MEDIA_URL", "s3://shop-files/boardroom"),
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "very-secret"),
            ("AWS_ENDPOINT", "https://s3.example.com"),
        ]);
        let settings = Settings::load(&bucket).expect("loads");
        let MediaLocation::Bucket { url, options } = &settings.media else { panic!("a bucket: {:?}", settings.media) };
        assert_eq!(url, "s3://shop-files/boardroom");
        assert!(options.0.contains(&("aws_endpoint".to_owned(), "https://s3.example.com".to_owned())));
        let shown = format!("{settings:?}");
        assert!(shown.contains("aws_secret_access_key") && !shown.contains("very-secret"), "{shown}");

        let folder = env(&[("BOARDROOM_DATA_DIR", data), ("MEDIA_URL", "file:///srv/boardroom-files")]);
        assert_eq!(Settings::load(&folder).expect("loads").media, MediaLocation::Folder("/srv/boardroom-files".into()));
        for bad in ["s3://", "s3:///prefix", "gs://bucket/x", "https://example.com/files"] {
            let error = Settings::load(&env(&[("BOARDROOM_DATA_DIR", data), ("MEDIA_URL", bad)])).expect_err(bad);
            assert_eq!(error.variable, "MEDIA_URL", "{bad}");
        }
    }
}
