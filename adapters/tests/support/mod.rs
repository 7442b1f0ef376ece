//! Test support: local fakes of the platforms' APIs.

// Each test binary uses only its own platform's fake.
#![allow(dead_code)]

pub(crate) mod google_ads_fake;
pub(crate) mod graphql;
pub(crate) mod gumroad_fake;
pub(crate) mod linkedin_fake;
pub(crate) mod meta_ads_fake;
pub(crate) mod reddit_fake;
pub(crate) mod shopify_fake;
pub(crate) mod stripe_fake;
pub(crate) mod tiktok_fake;
pub(crate) mod x_fake;
pub(crate) mod youtube_fake;

/// A fake platform's server on a free local port, stopped when dropped.
pub(crate) struct LocalServer {
    base_url: String,
    task: tokio::task::JoinHandle<()>,
}

impl LocalServer {
    /// Serves `app` on `127.0.0.1:0`.
    pub(crate) async fn start(app: axum::Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free local port");
        let address = listener.local_addr().expect("a bound address");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the fake serves");
        });
        Self { base_url: format!("http://{address}"), task }
    }

    /// `http://127.0.0.1:{port}`.
    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The resilience the channel clients' stories use: four quick attempts, no jitter, and
/// `per_request_timeout` (short where a story loses an answer on purpose).
pub(crate) fn channel_settings(per_request_timeout: std::time::Duration) -> boardroom_adapters::ResilienceSettings {
    use std::time::Duration;
    boardroom_adapters::ResilienceSettings {
        retry: boardroom_adapters::RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(400),
            jitter: 0.0,
        },
        failure_threshold: 5,
        cool_down: Duration::from_secs(30),
        budget: boardroom_adapters::CallBudget { per_request_timeout, default_deadline: Duration::from_secs(20) },
    }
}
