//! The browser tests' harness: Debian's `chromedriver` as a child process, a WebDriver session
//! (fantoccini) on headless Chromium, and screenshots under `target/ui-screenshots/`.
//! Installed by scripts/install-chromium.sh; without it the tests skip, unless `CI` is set.

pub mod dom;

use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tempfile::TempDir;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// How long closing the session (and with it Chromium) may take when the browser is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Headless Chromium driven over WebDriver; the session is closed and chromedriver killed
/// when dropped.
pub struct Browser {
    /// Runs the WebDriver calls; the test itself stays synchronous (the emulator helpers in
    /// tests/common use blocking HTTP, which must not run on an async runtime).
    rt: tokio::runtime::Runtime,
    client: Option<Client>,
    /// Dropped after the session closes (fields drop after `Drop::drop`).
    _driver: Driver,
    /// Chromium's profile, fresh per session.
    _profile: TempDir,
}

/// Starts chromedriver and a headless Chromium session, or `None` (after printing
/// "skipped: ...") when chromedriver is not installed outside CI. With `CI` set a missing
/// chromedriver fails the test.
pub fn start() -> Option<Browser> {
    if !Path::new(CHROMEDRIVER).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but {CHROMEDRIVER} is missing: run scripts/install-chromium.sh"
        );
        println!("skipped: {CHROMEDRIVER} is missing (scripts/install-chromium.sh installs it)");
        return None;
    }
    let port = free_port();
    let mut driver = Driver(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn chromedriver"),
    );
    let url = format!("http://127.0.0.1:{port}");
    wait_answering(&mut driver.0, &url);
    let profile = tempfile::tempdir().expect("a temp dir for Chromium's profile");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime for the WebDriver client");
    let client = rt
        .block_on(connect(&url, profile.path()))
        .unwrap_or_else(|e| panic!("a WebDriver session on {CHROMIUM} via {url}: {e}"));
    Some(Browser {
        rt,
        client: Some(client),
        _driver: driver,
        _profile: profile,
    })
}

impl Browser {
    /// The WebDriver session; use it inside [`Browser::block_on`].
    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("an open session")
    }

    /// Runs WebDriver calls to completion.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// Saves the current page as `target/ui-screenshots/<name>.png`; returns the path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let png = self
            .block_on(self.client().screenshot())
            .expect("a screenshot");
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
        std::fs::create_dir_all(&dir).expect("create target/ui-screenshots");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Closing the session makes chromedriver quit Chromium; killing chromedriver alone
        // would leave Chromium running.
        if let Some(client) = self.client.take() {
            let close = async { tokio::time::timeout(CLOSE_TIMEOUT, client.close()).await };
            let _ = self.rt.block_on(close);
        }
    }
}

/// The chromedriver process, killed when dropped (also when the session never opened).
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The session's capabilities: the flags keep Chromium off the network (this machine refuses
/// its background connections) and give it a fresh profile.
async fn connect(url: &str, profile: &Path) -> Result<Client, fantoccini::error::NewSessionError> {
    let args = [
        "--headless=new".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        format!("--user-data-dir={}", profile.display()),
        "--window-size=1400,900".into(),
    ];
    let caps = json!({"goog:chromeOptions": {"binary": CHROMIUM, "args": args}});
    let serde_json::Value::Object(caps) = caps else {
        unreachable!("a JSON object literal")
    };
    // chromedriver speaks plain HTTP on loopback: no TLS stack (and no crypto provider) needed.
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(url)
        .await
}

/// A port free on 127.0.0.1 at the time of asking.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

/// Polls chromedriver's `GET /status` (real time, bounded) until it answers.
fn wait_answering(driver: &mut Child, url: &str) {
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if http
            .get(format!("{url}/status"))
            .send()
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        if let Some(status) = driver.try_wait().expect("chromedriver's status") {
            panic!("chromedriver exited before answering on {url}: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "chromedriver did not answer on {url} within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
