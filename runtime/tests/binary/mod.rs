//! Running the real `boardroom` binary from a test, as an operator would: a clean
//! environment, a working folder of its own, its address read from its log, and no
//! server outliving its test.

#![allow(dead_code, reason = "each test file uses some of these")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub(crate) const BINARY: &str = env!("CARGO_BIN_EXE_boardroom");

/// A fresh working folder, as on a machine that never ran Boardroom.
pub(crate) fn fresh_folder() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("boardroom-process-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp folder");
    dir
}

/// `boardroom` with a clean environment in `folder`; only PATH and the variables given.
pub(crate) fn boardroom(folder: &Path, vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(BINARY);
    command.current_dir(folder).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    for (name, value) in vars {
        command.env(name, value);
    }
    command
}

/// A `boardroom serve` this test started: killed when the test ends without having
/// stopped it (a failed assertion), so no server outlives its test.
pub(crate) struct Server(pub(crate) Child);

impl std::ops::Deref for Server {
    type Target = Child;

    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Server {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Starts `serve` on a free port and returns the server and its address, read from the
/// "serving" log line.
pub(crate) fn serve(folder: &Path) -> (Server, String) {
    serve_with(folder, &[])
}

/// Like [`serve`], with more variables.
pub(crate) fn serve_with(folder: &Path, vars: &[(&str, &str)]) -> (Server, String) {
    // Port 0 so parallel tests never collide; everything else stays at its default.
    let mut vars = vars.to_vec();
    vars.push(("BIND", "127.0.0.1:0"));
    let mut child = Server(
        boardroom(folder, &vars).stderr(Stdio::piped()).stdout(Stdio::null()).spawn().expect("boardroom starts"),
    );
    let stderr = child.stderr.take().expect("stderr");
    let (found, address) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if !sent && line.contains("boardroom is serving") {
                let address =
                    line.split("address=").nth(1).and_then(|rest| rest.split_whitespace().next()).map(str::to_owned);
                let _ = found.send(address);
                sent = true;
            } else {
                // Shown when a test fails: what the server said.
                eprintln!("boardroom: {line}");
            }
        }
    });
    let address = address
        .recv_timeout(Duration::from_secs(60))
        .ok()
        .flatten()
        .expect("boardroom logged the address it serves on");
    (child, address)
}

pub(crate) fn sigterm(child: &Child) {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill runs");
    assert!(status.success());
}

pub(crate) fn wait_for_exit(child: &mut Child) -> std::process::ExitStatus {
    for _ in 0..600 {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("boardroom did not exit within 30 s of SIGTERM");
}

/// Polls `check` every 100 ms for at most `within`; panics saying `what` if it never holds.
pub(crate) async fn until<F: std::future::Future<Output = bool>>(
    within: Duration,
    what: &str,
    mut check: impl FnMut() -> F,
) {
    let deadline = tokio::time::Instant::now() + within;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "{what} did not happen within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
