//! The command line.

use anyhow::Context;
use boardroom_memory::{NewTenant, NewUser, Role, SharedStore, Tier, UserId};
use clap::{Parser, Subcommand};
use serde_json::json;

use crate::app::Application;
use crate::bench::{self, BenchOptions};
use crate::config::Settings;
use crate::telemetry;

/// Boardroom: supervised AI agent swarms that run online businesses.
///
/// Configuration comes from environment variables (DATABASE_URL, REDIS_URL, BIND,
/// SECRET_KEY, LOG_LEVEL, LOG_FORMAT, BOARDROOM_DATA_DIR, SWARM_*) and the optional
/// TOML file named by BOARDROOM_CONFIG; with none set, it runs on an embedded SQLite
/// database under ./data.
#[derive(Debug, Parser)]
#[command(name = "boardroom", version)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server and the swarms (the default).
    Serve,
    /// Create the database if needed and apply migrations, then exit.
    Migrate,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Re-seal every stored credential under the current SECRET_KEY (opening each with
    /// it or SECRET_KEY_PREVIOUS), then exit. Safe to run twice, and beside a running
    /// server.
    RotateSecrets,
    /// Measure the runtime on this machine and print the figures.
    Bench(BenchOptions),
    /// The nodes of a cluster on this database.
    #[command(subcommand)]
    Node(NodeCommand),
}

/// Cluster node commands.
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// List the nodes, their health and the businesses each runs.
    List,
    /// Ask a node to hand its businesses to the others and take no new ones (it keeps
    /// serving HTTP); it starts within one beat, at most 5 seconds.
    Drain {
        /// The node's name (`NODE_NAME`), as `node list` shows it.
        name: String,
    },
    /// Let a drained node take businesses again.
    Undrain {
        /// The node's name.
        name: String,
    },
}

/// Tenant commands.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant (and its owner, if the e-mail is new).
    Create {
        /// The business's name.
        #[arg(long)]
        name: String,
        /// The owner's e-mail address.
        #[arg(long, default_value = "owner@localhost")]
        owner: String,
        /// Personality profile: coachty, hustlebot or luxuryscaler.
        #[arg(long, default_value = "coachty", conflicts_with = "personality_file")]
        personality: String,
        /// A custom personality profile in TOML (the format of personalities/profiles/*.toml),
        /// validated now and kept with the tenant.
        #[arg(long, value_name = "PATH")]
        personality_file: Option<std::path::PathBuf>,
        /// Run this tenant's swarm from start-up (autopilot on).
        #[arg(long)]
        autopilot: bool,
    },
    /// List tenants.
    List,
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let _telemetry = telemetry::init(&settings.log_level, settings.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let open_browser = settings.open_browser;
            let application = Application::build(settings).await?;
            let live_view = format!("http://{}/app", application.local_addr());
            eprintln!("boardroom: the live view is at {live_view} (sign up at /signup; API docs at /api/docs)");
            if open_browser && interactive_desktop() {
                // Off the async threads: a text-mode browser would block until it closes.
                tokio::task::spawn_blocking(move || {
                    if let Err(error) = webbrowser::open(&live_view) {
                        tracing::debug!(%error, "no browser opened");
                    }
                });
            }
            application.run_until_stopped().await
        }
        Command::Migrate => {
            let store = open(&settings).await?;
            println!("database ready ({}): migrations applied", store.backend().as_str());
            store.close().await;
            Ok(())
        }
        Command::Tenant(command) => {
            let store = open(&settings).await?;
            let result = tenant(&store, command).await;
            store.close().await;
            result
        }
        Command::RotateSecrets => {
            let store = open(&settings).await?;
            let result = rotate_secrets(&settings, &store).await;
            store.close().await;
            result
        }
        Command::Bench(options) => bench::run(options).await,
        Command::Node(command) => {
            let store = open(&settings).await?;
            let result = node(&settings, &store, command).await;
            store.close().await;
            result
        }
    }
}

/// Businesses named per node by `node list` before it only counts the rest.
const TENANTS_SHOWN: usize = 12;

async fn node(settings: &Settings, store: &SharedStore, command: NodeCommand) -> anyhow::Result<()> {
    match command {
        NodeCommand::List => {
            let (now, nodes) = store.cluster_nodes().await?;
            let leases = store.live_leases().await?;
            let silent_after = i64::try_from((settings.node.lease_ttl * 2).as_millis()).unwrap_or(i64::MAX);
            println!("{:<28}  {:<22}  {:>6}  {:>8}  {:>8}  address", "node", "health", "swarms", "leases", "capacity");
            for node in &nodes {
                let silent_ms = now - node.seen_ms;
                let health = match (node.draining, silent_ms < silent_after) {
                    (_, false) => format!("silent for {} s", silent_ms / 1000),
                    (true, true) => "draining".to_owned(),
                    (false, true) => format!("up {} s", (now - node.started_ms) / 1000),
                };
                println!(
                    "{:<28}  {:<22}  {:>6}  {:>8}  {:>8}  {}",
                    node.name, health, node.swarms, node.leases, node.capacity, node.address
                );
                let mine: Vec<String> = leases
                    .iter()
                    .filter(|lease| lease.node == node.name)
                    .map(|lease| lease.tenant_id.to_string())
                    .collect();
                if !mine.is_empty() {
                    let shown = mine.iter().take(TENANTS_SHOWN).cloned().collect::<Vec<_>>().join(", ");
                    let more = mine.len().saturating_sub(TENANTS_SHOWN);
                    let more = if more > 0 { format!(" and {more} more") } else { String::new() };
                    println!("    businesses: {shown}{more}");
                }
            }
            // Leases of nodes that left no row (an operator removed it, or it never beat).
            let unlisted: Vec<String> = leases
                .iter()
                .filter(|lease| !nodes.iter().any(|node| node.name == lease.node))
                .map(|lease| format!("{} on {}", lease.tenant_id, lease.node))
                .collect();
            if !unlisted.is_empty() {
                println!("leases of unlisted nodes: {}", unlisted.join(", "));
            }
            if nodes.is_empty() {
                println!("no node has joined this database's cluster yet");
            }
            Ok(())
        }
        NodeCommand::Drain { name } => {
            anyhow::ensure!(
                store.set_node_draining(&name, true).await?,
                "no node named {name:?} (see `boardroom node list`)"
            );
            println!("node {name} is draining: it hands its businesses to the others within its next beat");
            Ok(())
        }
        NodeCommand::Undrain { name } => {
            anyhow::ensure!(
                store.set_node_draining(&name, false).await?,
                "no node named {name:?} (see `boardroom node list`)"
            );
            println!("node {name} takes businesses again");
            Ok(())
        }
    }
}

/// Stores from which `rotate-secrets` draws a progress bar; fewer finish at once.
const PROGRESS_BAR_FROM: usize = 100;

async fn rotate_secrets(settings: &Settings, store: &SharedStore) -> anyhow::Result<()> {
    let bar: std::cell::OnceCell<indicatif::ProgressBar> = std::cell::OnceCell::new();
    let report = crate::rotation::rotate_secrets(settings, store, |done, total| {
        if total < PROGRESS_BAR_FROM {
            return;
        }
        // Drawn on stderr, and only when it is a terminal.
        let bar = bar.get_or_init(|| {
            let style = indicatif::ProgressStyle::with_template("re-sealing stored credentials {bar:40} {pos}/{len}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            indicatif::ProgressBar::new(total as u64).with_style(style)
        });
        bar.set_position(done as u64);
    })
    .await?;
    if let Some(bar) = bar.get() {
        bar.finish_and_clear();
    }
    println!(
        "re-sealed {} stored credentials under the current SECRET_KEY ({} already were)",
        report.resealed, report.already_current
    );
    anyhow::ensure!(
        report.unreadable == 0,
        "{} stored credentials open under neither SECRET_KEY nor SECRET_KEY_PREVIOUS and were left as they are \
         (set SECRET_KEY_PREVIOUS to the secret they were sealed under, and run this again)",
        report.unreadable
    );
    Ok(())
}

async fn open(settings: &Settings) -> anyhow::Result<SharedStore> {
    boardroom_memory::connect(&settings.database_url).await.context("failed to open the database")
}

async fn tenant(store: &SharedStore, command: TenantCommand) -> anyhow::Result<()> {
    match command {
        TenantCommand::Create { name, owner, personality, personality_file, autopilot } => {
            // The API's rule for business names (1 to 100 characters, no control,
            // bidirectional-override or zero-width characters).
            let name =
                crate::http::names::parse_name(&name, 100).map_err(|problem| anyhow::anyhow!("--name {problem}"))?;
            let mut settings = json!({ "autopilot": autopilot });
            let personality = match personality_file {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read --personality-file {}", path.display()))?;
                    let profile = boardroom_personalities::Personality::from_toml(&text)
                        .with_context(|| format!("--personality-file {}", path.display()))?;
                    let name = profile.name.to_lowercase();
                    settings["personality_profile"] = serde_json::to_value(&profile)?;
                    name
                }
                None => boardroom_personalities::find(&personality)?.name.to_lowercase(),
            };
            let owner = owner_id(store, &owner).await?;
            let tenant = store
                .create_tenant(NewTenant { user_id: owner, name, domain: None, personality, settings })
                .await
                .context("failed to create the tenant")?;
            println!("created tenant {} ({}) for user {}", tenant.id, tenant.name, tenant.user_id);
            Ok(())
        }
        TenantCommand::List => {
            let mut after = None;
            println!("{:>6}  {:>6}  {:<14}  {:<8}  name", "id", "owner", "personality", "active");
            loop {
                let page = store.list_tenants(after, 500).await?;
                let Some(last) = page.last() else { break };
                after = Some(last.id);
                for tenant in &page {
                    println!(
                        "{:>6}  {:>6}  {:<14}  {:<8}  {}",
                        tenant.id, tenant.user_id, tenant.personality, tenant.is_active, tenant.name
                    );
                }
            }
            Ok(())
        }
    }
}

/// The owner's id, creating a login-less account for a new address. Such accounts are
/// plain users: the admin is whoever signs up first.
async fn owner_id(store: &SharedStore, email: &str) -> anyhow::Result<UserId> {
    let email = email.trim().to_lowercase();
    anyhow::ensure!(email.contains('@') && email.len() >= 3, "--owner must be an e-mail address");
    if let Some(user) = store.user_by_email(&email).await? {
        return Ok(user.id);
    }
    let user = store
        .create_user(NewUser {
            email,
            // Not a valid PHC string: no password can ever match it.
            password_hash: "!".into(),
            role: Role::User,
            tier: Tier::Free,
        })
        .await?;
    Ok(user.id)
}

/// Whether a person started this in a terminal on a machine with a display, where
/// opening their browser on the live view is welcome (never on a server or in CI).
fn interactive_desktop() -> bool {
    use std::io::IsTerminal;
    let display = cfg!(any(target_os = "macos", target_os = "windows"))
        || std::env::var_os("DISPLAY").is_some()
        || std::env::var_os("WAYLAND_DISPLAY").is_some();
    std::io::stdout().is_terminal() && std::env::var_os("CI").is_none() && display
}
