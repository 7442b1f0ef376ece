//! A real browser for the live view's stories: headless Chromium driven through
//! ChromeDriver over the W3C WebDriver protocol, spoken by `fantoccini`.
//!
//! [`Browser::launch`] starts a `chromedriver` of its own on a free port and a Chromium
//! session with a fresh profile. When either program is missing the test **fails**,
//! naming what to install: a browser story that cannot run must not pass.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
/// How long a wait for a page condition lasts before the test fails.
const PATIENCE: Duration = Duration::from_secs(20);

/// A Chromium session and the ChromeDriver that runs it; both end when dropped.
pub struct Browser {
    client: Client,
    driver: Child,
    _profile: PathBuf,
}

/// A program the browser stories need, found on the `PATH` or at its usual place.
fn program(names: &[&str]) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH").unwrap_or_default();
    names.iter().find_map(|name| {
        std::env::split_paths(&paths)
            .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/lib/chromium")])
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

impl Browser {
    /// Starts ChromeDriver and a headless Chromium with a `width`×`height` window.
    pub async fn launch(width: u32, height: u32) -> Browser {
        const INSTALL: &str = "install them with `apt-get install chromium chromium-driver` (Debian) \
                               or put `chromium` and `chromedriver` on the PATH";
        let chromium = program(&["chromium", "chromium-browser", "google-chrome"]).unwrap_or_else(|| {
            panic!("the live view's browser tests need Chromium, which is not installed: {INSTALL}")
        });
        let chromedriver = program(&["chromedriver"]).unwrap_or_else(|| {
            panic!("the live view's browser tests need ChromeDriver, which is not installed: {INSTALL}")
        });
        let port = free_port();
        let mut command = Command::new(&chromedriver);
        // A process group of its own: the Chromium it starts is in it too, so a failed
        // story (which never closes its session) can end both at once.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let driver = command
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("could not start {}: {error}", chromedriver.display()));
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let ready = async {
            loop {
                if let Ok(response) = client.get(format!("{base}/status")).send().await
                    && let Ok(status) = response.json::<Value>().await
                    && status["value"]["ready"] == true
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::time::timeout(PATIENCE, ready).await.expect("chromedriver answers /status");

        let profile = std::env::temp_dir().join(format!("boardroom-chromium-{}", uuid::Uuid::new_v4().simple()));
        let chrome_options = json!({
            "binary": chromium.display().to_string(),
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--hide-scrollbars",
                format!("--user-data-dir={}", profile.display()),
                format!("--window-size={width},{height}"),
            ],
        });
        let capabilities = serde_json::Map::from_iter([
            ("browserName".to_owned(), json!("chrome")),
            ("goog:chromeOptions".to_owned(), chrome_options),
        ]);
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&base)
            .await
            .unwrap_or_else(|error| panic!("chromedriver did not start Chromium: {error}"));
        let browser = Browser { client, driver, _profile: profile };
        browser.resize(width, height).await;
        browser
    }

    /// Sets the viewport's size (the window's inner size, as a device would have it).
    pub async fn resize(&self, width: u32, height: u32) {
        let chrome = self.window_chrome().await;
        self.client.set_window_size(width, height + chrome).await.unwrap_or_else(|error| panic!("resize: {error}"));
    }

    /// How much taller the window is than its viewport (0 when headless).
    async fn window_chrome(&self) -> u32 {
        let (_, outer) = self.client.get_window_size().await.unwrap_or_else(|error| panic!("window size: {error}"));
        let inner = self.run("return window.innerHeight").await.as_u64().unwrap_or(outer);
        u32::try_from(outer.saturating_sub(inner)).unwrap_or(0)
    }

    /// Loads a URL and waits for the page to be ready.
    pub async fn visit(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|error| panic!("visit {url}: {error}"));
    }

    /// The page's current URL.
    pub async fn url(&self) -> String {
        self.client.current_url().await.map(String::from).unwrap_or_else(|error| panic!("current url: {error}"))
    }

    async fn find(&self, selector: &str) -> fantoccini::elements::Element {
        self.client.find(Locator::Css(selector)).await.unwrap_or_else(|error| panic!("no element {selector}: {error}"))
    }

    /// Waits until `selector` matches a visible element, then clicks it. A page that
    /// redraws the element between finding and clicking it (a live event arriving) is
    /// waited for again and the new element clicked.
    pub async fn click(&self, selector: &str) {
        const ATTEMPTS: usize = 5;
        for attempt in 1..=ATTEMPTS {
            self.wait_for(&format!("{selector} is on the page"), &visible_script(selector)).await;
            match self.find(selector).await.click().await {
                Ok(()) => return,
                Err(error) if error.is_stale_element_reference() && attempt < ATTEMPTS => continue,
                Err(error) => panic!("click {selector}: {error}"),
            }
        }
    }

    /// Waits for `selector`, clears it and types `text` into it.
    pub async fn fill(&self, selector: &str, text: &str) {
        self.wait_for(&format!("{selector} is on the page"), &visible_script(selector)).await;
        let element = self.find(selector).await;
        element.clear().await.unwrap_or_else(|error| panic!("clear {selector}: {error}"));
        element.send_keys(text).await.unwrap_or_else(|error| panic!("type into {selector}: {error}"));
    }

    /// Fills and sends the form at `site` + `page` (`/signup` or `/login`), which logs in
    /// and leads to the dashboard.
    pub async fn enter(&self, site: &str, page: &str, email: &str, password: &str) {
        self.visit(&format!("{site}{page}")).await;
        self.fill("#email", email).await;
        self.fill("#password", password).await;
        self.click("#submit").await;
    }

    /// Runs a script in the page (`return …` gives its value).
    pub async fn run(&self, script: &str) -> Value {
        self.client.execute(script, Vec::new()).await.unwrap_or_else(|error| panic!("script failed: {error}"))
    }

    /// Waits until `script` returns something truthy and returns it; fails the test,
    /// naming `what`, after 20 seconds.
    pub async fn wait_for(&self, what: &str, script: &str) -> Value {
        self.wait_for_within(what, script, PATIENCE).await
    }

    /// Like [`Browser::wait_for`], for something that takes longer to come than a page
    /// does (the swarm's work under a tier's throttle, say).
    pub async fn wait_for_within(&self, what: &str, script: &str, patience: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + patience;
        // A page still loading (or the previous page) may lack what the script reads.
        let guarded = format!("try {{ {script} }} catch (_) {{ return null; }}");
        loop {
            let value = self.run(&guarded).await;
            let truthy = !matches!(&value, Value::Null | Value::Bool(false)) && value != json!(0) && value != json!("");
            if truthy {
                return value;
            }
            if tokio::time::Instant::now() > deadline {
                let page = self.run("return document.body ? document.body.innerText.slice(0, 2000) : ''").await;
                panic!("waited {patience:?} for {what}; the page says:\n{}", page.as_str().unwrap_or_default());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Saves a PNG of the viewport to `path` (folders created) and returns the path.
    pub async fn screenshot(&self, path: &Path) -> PathBuf {
        let png = self.client.screenshot().await.unwrap_or_else(|error| panic!("screenshot: {error}"));
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).expect("screenshot folder");
        }
        std::fs::write(path, png).expect("screenshot written");
        path.to_path_buf()
    }

    /// Ends the session and the driver.
    pub async fn quit(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A failed test still must not leave a driver and its Chromium running: end the
        // driver's whole process group (`kill`, as the workspace forbids `unsafe`).
        #[cfg(unix)]
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn visible_script(selector: &str) -> String {
    let selector = serde_json::to_string(selector).unwrap_or_default();
    format!("const e = document.querySelector({selector}); return !!e && e.offsetParent !== null && !e.disabled;")
}
