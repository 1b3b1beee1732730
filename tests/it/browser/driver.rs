//! Headless Chromium driven through ChromeDriver (WebDriver), for the browser tests.
//!
//! ChromeDriver runs on a free port of 127.0.0.1 in its own process group; it starts
//! Chromium (headless, no sandbox: CI runs as root) with a fresh profile in a temp folder.
//! Dropping the [`Browser`] kills the whole group, so neither process outlives a failing
//! test. The Debian packages `chromium` and `chromium-driver` provide both binaries; when
//! one is missing the test fails and says what to install, rather than passing silently.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource as _, KeyAction, KeyActions};
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Chromium's flags: headless, and quiet (no network of its own, no first-run UI).
const CHROMIUM_ARGS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

/// Kills ChromeDriver's process group (Chromium included) and removes the profile.
struct Processes {
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Processes {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.driver.id()) {
            let group = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A WebDriver session on a headless Chromium of its own.
pub struct Browser {
    pub client: Client,
    _processes: Processes,
}

impl Browser {
    /// Starts ChromeDriver and a Chromium session; panics, saying what to install, when
    /// either binary is missing.
    pub async fn start() -> Browser {
        for binary in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(binary).exists(),
                "{binary} is missing: the browser tests need headless Chromium and \
                 ChromeDriver; install them with `apt-get install chromium chromium-driver`"
            );
        }
        let port = free_port();
        let profile = tempfile::tempdir().expect("a temp folder for the Chromium profile");
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so the Drop guard can kill it and the Chromium it
            // starts in one go.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
        let processes = Processes {
            driver,
            _profile: profile,
        };
        wait_for_port(port, Duration::from_secs(10));
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| a.to_string()).collect();
        args.push(format!(
            "--user-data-dir={}",
            processes._profile.path().display()
        ));
        args.push("--window-size=1024,768".to_string());
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_string(),
            serde_json::json!({ "binary": CHROMIUM, "args": args }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|e| panic!("cannot open a Chromium session through ChromeDriver: {e}"));
        Browser {
            client,
            _processes: processes,
        }
    }

    /// Presses and releases one key on whatever has the focus.
    pub async fn press(&self, key: char) {
        let keys = KeyActions::new(format!("key-{key}"))
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        self.client
            .perform_actions(keys)
            .await
            .unwrap_or_else(|e| panic!("cannot press {key}: {e}"));
    }

    /// Ends the session cleanly (ChromeDriver closes Chromium); Drop kills what is left.
    pub async fn close(self) {
        let Browser { client, _processes } = self;
        let _ = client.close().await;
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

fn wait_for_port(port: u16, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "ChromeDriver did not listen on port {port} within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
