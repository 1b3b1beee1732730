//! The judgment pages in a real browser: headless Chromium through ChromeDriver (see
//! `browser/driver.rs`), against the daemon's own router on 127.0.0.1 and a SQLite file in
//! a temp folder.

mod common;
#[path = "browser/driver.rs"]
mod driver;

use std::path::Path;
use std::sync::Arc;

use fantoccini::Locator;
use tokio::sync::watch;
use veille::clock::SystemClock;
use veille::{App, config};

use driver::Browser;

/// The daemon's router on a free port of 127.0.0.1; stops when the sender is dropped.
async fn serve(app: App) -> (String, watch::Sender<bool>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = watch::channel(false);
    let (_keep, apps) = watch::channel(app);
    tokio::spawn(async move {
        let _keep = _keep;
        veille::web::serve(listener, apps, stopped).await;
    });
    (base, stop)
}

fn app(dir: &Path) -> App {
    let path = dir.join("veille.toml");
    std::fs::write(
        &path,
        "[daemon]\ndatabase = \"veille.db\"\nmail_dir = \"mail\"\n\n[[source]]\nid = \"wire\"\nurl = \"http://127.0.0.1:9/feed.xml\"\n\n[[watch]]\nid = \"acme\"\nname = \"Acme\"\nquery = \"Acme\"\n",
    )
    .expect("write config");
    let config = config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    App::new(config, Arc::new(SystemClock)).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_browser_renders_a_styled_refusal_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (base, _stop) = serve(app(dir.path())).await;
    let browser = Browser::start().await;
    browser
        .client
        .goto(&format!("{base}/no-such-page"))
        .await
        .expect("goto");
    let heading = browser
        .client
        .find(Locator::Css("h1"))
        .await
        .expect("a heading")
        .text()
        .await
        .expect("text");
    assert_eq!(heading, "Not found");
    // The stylesheet loaded despite the strict Content-Security-Policy.
    let bar = browser
        .client
        .execute(
            "return getComputedStyle(document.querySelector('header.bar')).backgroundColor",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(bar, serde_json::json!("rgb(32, 48, 74)"));
    browser.close().await;
}
