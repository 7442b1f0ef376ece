//! The running service: storage, event log, swarm tree and HTTP server, with one
//! shutdown path.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use boardroom_adapters::SandboxMarket;
use boardroom_agents::brain::{Brain, OfflineBrain, RemoteBrain};
use boardroom_agents::{AgentRegistry, SwarmMedia};
use boardroom_memory::{EventLog, EventLogConfig, JOURNAL_FILE, MediaLibrary, SharedStore};
use boardroom_supervisor::{SwarmRoot, SwarmServices};
use std::time::Duration;
use tokio::net::TcpListener;

use crate::config::{MediaLocation, Settings};
use crate::http::crypto::CredentialSealer;
use crate::http::{self, ApiCallMeter, AppState};
use crate::markets::ConnectedMarkets;
use boardroom_memory::RedisLink;

/// A built application, listening but not yet serving.
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Opens the database (applying migrations), starts the event log and the swarm
    /// root, and binds the listener. Binding to port 0 picks a free port (tests).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with(settings, AgentRegistry::standard()).await
    }

    /// Like [`Application::build`] with a chosen set of agents.
    pub async fn build_with(mut settings: Settings, registry: AgentRegistry) -> anyhow::Result<Self> {
        // Parse and validate the built-in personalities now: a broken profile should stop
        // start-up, not the first swarm that needs it.
        let personalities = boardroom_personalities::built_in();
        tracing::debug!(count = personalities.len(), "personality profiles loaded");
        let store: SharedStore =
            boardroom_memory::connect_with(&settings.database_url, settings.database_pool)
                .await
                .with_context(|| format!("failed to open the database at {}", redact(&settings.database_url)))?;
        // Events an earlier process could not write before it had to stop come first,
        // before any swarm appends: their tenants' numbering goes on from them.
        let journal = settings.data_dir.join(JOURNAL_FILE);
        EventLog::replay_journal(&store, &journal).await.context("failed to write the event journal")?;
        let events =
            EventLog::start(store.clone(), EventLogConfig { journal: Some(journal), ..EventLogConfig::default() });
        let media = match &settings.media {
            MediaLocation::Folder(folder) => MediaLibrary::in_folder(store.clone(), folder),
            MediaLocation::Bucket { url, options } => MediaLibrary::in_bucket(store.clone(), url, options.0.clone()),
        }
        .context("failed to set up the media store")?;
        // Files kept before the media store move there now; a store that does not answer
        // leaves them readable where they are until the next start.
        match media.housekeeping().await {
            Ok(done) if done.moved + done.swept > 0 => {
                tracing::info!(
                    moved = done.moved,
                    swept = done.swept,
                    location = media.location(),
                    "media store tidied"
                );
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, location = media.location(), "media housekeeping put off"),
        }
        let brain: Arc<dyn Brain> = match &settings.llm {
            Some(config) => Arc::new(RemoteBrain::new(config.clone()).context("failed to set up the LLM client")?),
            None => Arc::new(OfflineBrain),
        };
        let studio = match &settings.remote_media {
            Some(config) => boardroom_media::Studio::with_remote(
                boardroom_media::RemoteMedia::new(config.clone())
                    .context("failed to set up the remote media client")?,
            ),
            None => boardroom_media::Studio::offline(),
        };
        let redis: Option<Arc<RedisLink>> = settings
            .redis_url
            .as_deref()
            .map(|url| RedisLink::new(url, settings.redis_prefix.clone()))
            .transpose()
            .context("failed to set up Redis")?
            .map(Arc::new);
        let services = SwarmServices {
            store: store.clone(),
            events: events.clone(),
            brain,
            market: Arc::new(SandboxMarket::new(settings.sandbox_seed)),
            redis: redis.clone(),
            markets: Some(Arc::new(ConnectedMarkets::new(
                store.clone(),
                CredentialSealer::from_settings(&settings),
                events.clone(),
                settings.stripe.clone(),
            ))),
            media: Some(SwarmMedia { library: media.clone(), studio: studio.clone() }),
        };
        let swarms = SwarmRoot::start_with(services.clone(), registry, settings.supervisor.clone())
            .await
            .context("failed to start the swarm root")?;
        let listener =
            TcpListener::bind(settings.bind).await.with_context(|| format!("failed to listen on {}", settings.bind))?;
        // A node bound to any free port is reached, by the other nodes, on the port it got.
        if settings.bind.port() == 0
            && let Some(base) = settings.node.address.strip_suffix(":0")
        {
            settings.node.address = format!("{base}:{}", listener.local_addr()?.port());
        }
        let api_calls = Arc::new(ApiCallMeter::new(store.clone()));
        let live_relay = redis.clone().map(|redis| {
            http::LiveRelay::new(settings.node.name.clone(), redis, store.clone(), events.clone(), swarms.clone())
        });
        let state = AppState {
            services,
            store,
            media,
            studio,
            events,
            swarms,
            redis,
            api_calls,
            settings: Arc::new(settings),
            live: http::LiveStreams::default(),
            live_relay,
        };
        Ok(Self { listener, state })
    }

    /// Where the server listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| self.state.settings.bind)
    }

    /// The shared state the routes see (tests use it to reach the swarm and the log).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGTERM or Ctrl+C, then shuts down in order.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes, then: stop accepting HTTP and finish in-flight
    /// requests, stop the swarm tree (each agent finishes its message), persist every
    /// accepted event, close the database. Everything after HTTP takes at most the
    /// shutdown grace (`SHUTDOWN_GRACE_SECS`): with the database down, the swarms are
    /// left unfinished (their checkpoints resume them) and the events the database did
    /// not take go to the journal, written at the next start.
    pub async fn run_until(self, stop: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let Self { listener, state } = self;
        crate::cluster::join(&state).await?;
        if state.settings.demo_tenant {
            crate::demo::ensure(&state).await?;
        }
        // The autopilot businesses no node runs (all of them, on a node alone) start
        // before the server answers; the node's beat adopts more as they come free.
        let mut adoption = crate::cluster::Adoption::default();
        let adopted =
            crate::cluster::adopt(&state, &mut adoption).await.context("failed to start the autopilot businesses")?;
        if adopted > 0 {
            tracing::info!(tenants = adopted, node = %state.settings.node.name, "autopilot swarms running");
        }
        let beat = tokio::spawn(crate::cluster::run(state.clone(), adoption));
        let meter = tokio::spawn(state.api_calls.clone().run());
        let relay = state.live_relay.clone().map(|relay| tokio::spawn(relay.run()));
        tracing::info!(address = %listener.local_addr()?, database = state.store.backend().as_str(), "boardroom is serving");
        let live = state.live.clone();
        // Live streams never end by themselves: end them as shutdown begins, or the
        // graceful shutdown would wait for every viewer to leave.
        let stop = async move {
            stop.await;
            live.close();
        };
        axum::serve(listener, http::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(stop)
            .await
            .context("HTTP server failed")?;
        meter.abort();
        beat.abort();
        if let Some(relay) = relay {
            relay.abort();
        }
        let grace = state.settings.shutdown_grace;
        let deadline = tokio::time::Instant::now() + grace;
        // The event log gets the last fifth of the grace (at least a second) to itself.
        let others_until = deadline - (grace / 5).max(Duration::from_secs(1)).min(grace);
        match tokio::time::timeout_at(others_until, state.api_calls.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(%error, "API call counts of the last moments not written"),
            Err(_) => tracing::error!("API call counts of the last moments not written: the database did not answer"),
        }
        tracing::info!("HTTP stopped; stopping the swarm tree");
        // Swarms still busy at `others_until` (waiting on a database that is down) are
        // killed; their checkpoints resume the work at the next start.
        state.swarms.shutdown_within(others_until.saturating_duration_since(tokio::time::Instant::now())).await;
        let report = state.events.close_within(deadline).await;
        if report.journaled > 0 {
            tracing::warn!(
                events = report.journaled,
                "event log closed; events kept in the journal for the next start"
            );
        } else {
            tracing::info!("event log flushed");
        }
        // Only now, with the swarms' last events written under their leases, may another
        // node take the tenants over.
        crate::cluster::leave(&state, deadline.max(tokio::time::Instant::now() + Duration::from_millis(250))).await;
        if tokio::time::timeout_at(
            deadline.max(tokio::time::Instant::now() + Duration::from_millis(250)),
            state.store.close(),
        )
        .await
        .is_err()
        {
            tracing::warn!("database connections not closed in time");
        }
        Ok(())
    }
}

/// Completes on SIGTERM or Ctrl+C.
///
/// The handlers are installed when this is called, not when the future is first
/// polled: a SIGTERM that comes the moment the server says it is serving must already
/// find them (else the default action kills the process before it flushes anything).
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind: SignalKind, name: &'static str| match signal(kind) {
            Ok(stream) => Some(stream),
            Err(error) => {
                tracing::error!(%error, "cannot listen for {name}");
                None
            }
        };
        let mut interrupt = listen(SignalKind::interrupt(), "Ctrl+C");
        let mut terminate = listen(SignalKind::terminate(), "SIGTERM");
        async move {
            let received = async |stream: &mut Option<tokio::signal::unix::Signal>| match stream {
                Some(stream) => stream.recv().await,
                None => std::future::pending().await,
            };
            tokio::select! {
                _ = received(&mut interrupt) => tracing::info!("Ctrl+C received; shutting down"),
                _ = received(&mut terminate) => tracing::info!("SIGTERM received; shutting down"),
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl+C");
            std::future::pending::<()>().await;
        }
        tracing::info!("Ctrl+C received; shutting down");
    }
}

/// A database URL without its password, for messages.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted_from_database_urls() {
        assert_eq!(super::redact("postgres://app:hunter2@db:5432/x"), "postgres://app:***@db:5432/x");
        assert_eq!(super::redact("postgres://postgres@db/x"), "postgres://postgres@db/x");
        assert_eq!(super::redact("sqlite://data/boardroom.db"), "sqlite://data/boardroom.db");
    }
}
