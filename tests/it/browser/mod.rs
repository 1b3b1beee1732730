//! The judgment pages in a real browser: headless Chromium through ChromeDriver (see
//! `browser/driver.rs`), against the daemon's own router on 127.0.0.1, a SQLite file in a
//! temp folder, a feed served on 127.0.0.1 and a digest delivered to an SMTP sink on
//! 127.0.0.1. What a reader does: open a judgment link from the mail, press the button;
//! then judge on `/review` with the keyboard.

mod driver;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use fantoccini::Locator;
use tokio::sync::watch;
use veille::clock::ManualClock;
use veille::model::MentionId;
use veille::model::Verdict;
use veille::{App, scheduler};

use driver::Browser;

use crate::common::{
    self, HttpServer, Response, RssItem, SmtpSink, app, daemon_table, rss, smtp_table,
};

const TITLES: [&str; 4] = [
    "Acme opens a plant in Lyon",
    "Acme recalls a batch of kettles",
    "Acme wins a rail contract",
    "Acme names a new chief executive",
];

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 13, 0, 0)
        .single()
        .expect("valid time")
}

fn feed() -> String {
    let items: Vec<RssItem> = TITLES
        .iter()
        .enumerate()
        .map(|(n, &title)| {
            RssItem::new(format!("item-{n}"), title)
                .link(format!("https://news{n}.example/acme-{n}"))
                .description(format!("Acme story {n}."))
                .pub_date(format!("Fri, 27 Nov 2026 10:0{n}:00 +0000"))
        })
        .collect();
    rss(&items)
}

/// The verdict, who and via of a mention's current judgment.
fn verdict_of(app: &App, mention: i64) -> Option<(Verdict, String, String)> {
    app.store
        .judgment_of(MentionId(mention))
        .expect("judgment")
        .map(|j| (j.verdict, j.who, j.via))
}

async fn current_mention(browser: &Browser) -> i64 {
    let value = browser
        .client
        .execute(
            "const s = document.querySelector('article.story.current'); return s ? Number(s.dataset.mention) : null;",
            vec![],
        )
        .await
        .expect("script");
    value.as_i64().expect("a highlighted story")
}

async fn wait_for(browser: &Browser, id: &str) -> String {
    let found = browser
        .client
        .wait()
        .at_most(Duration::from_secs(5))
        .for_element(Locator::Id(id))
        .await;
    match found {
        Ok(element) => element.text().await.expect("text"),
        Err(e) => {
            let page = browser.client.source().await.unwrap_or_default();
            panic!("no #{id} on the page: {e}\n{page}")
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_judges_from_the_mail_and_from_the_review_page_keyboard() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = HttpServer::start();
    http.route("/feed.xml", Response::ok("application/rss+xml", feed()));
    let smtp = SmtpSink::start();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    std::fs::write(
        dir.path().join("web-secret"),
        "lCAwtZ6RPgu5dbTiGPDiwoOKZoJzp4o0ZrTIva0AjsY=\n",
    )
    .expect("secret");
    let config_path = common::write_config(
        dir.path(),
        &format!(
            r#"{daemon}{smtp}
[web]
base_url = "{base}/"
secret_file = "web-secret"

[[source]]
id = "wire"
url = "{feed}"

[[watch]]
id = "acme"
name = "Acme"
query = "Acme"

[[digest]]
id = "daily"
name = "Daily"
to = "comms@example.org"
"#,
            daemon = daemon_table("veille.db", "timezone = \"Europe/Paris\""),
            smtp = smtp_table(smtp.addr.port()),
            feed = http.url("/feed.xml"),
        ),
    );
    let app = app(&config_path, Arc::new(ManualClock::new(now())));
    scheduler::run_once(&app)
        .await
        .expect("poll and mail the digest");
    let mails = smtp.wait_for(1, Duration::from_secs(5));
    assert_eq!(mails.len(), 1, "one digest delivered");
    let html = mails[0].html();
    let link = html
        .split("href=\"")
        .filter_map(|rest| rest.split('"').next())
        .map(|href| href.replace("&amp;", "&"))
        .find(|href| href.starts_with(&format!("{base}/j/")) && href.contains("/relevant/"))
        .unwrap_or_else(|| panic!("no judgment link in the digest: {html}"));
    let mention: i64 = link
        .split("/j/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|id| id.parse().ok())
        .expect("a mention id in the link");

    let (_stop, stopped) = watch::channel(false);
    let (_apps, receiver) = watch::channel(app.clone());
    tokio::spawn(veille::web::serve(listener, receiver, stopped));
    let browser = Browser::start().await;

    // The link from the mail: a confirmation page, styled (the CSP lets our stylesheet in),
    // and nothing stored until the button.
    browser.client.goto(&link).await.expect("open the link");
    let button = browser
        .client
        .find(Locator::Id("confirm"))
        .await
        .expect("the confirmation button");
    let background = browser
        .client
        .execute(
            "return getComputedStyle(document.querySelector('header.bar')).backgroundColor",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(background, serde_json::json!("rgb(32, 48, 74)"));
    assert_eq!(
        verdict_of(&app, mention),
        None,
        "opening the link stored nothing"
    );
    button.click().await.expect("press the button");
    let recorded = wait_for(&browser, "recorded").await;
    assert!(recorded.contains("Recorded as Relevant"), "{recorded}");
    assert_eq!(
        verdict_of(&app, mention),
        Some((
            Verdict::Relevant,
            "mail link".to_string(),
            "mail".to_string()
        ))
    );

    // The review page: the three stories left; j j k lands on the second, r judges it.
    browser
        .client
        .goto(&format!("{base}/review"))
        .await
        .expect("open /review");
    let ids: Vec<i64> = browser
        .client
        .execute(
            "return Array.from(document.querySelectorAll('article.story')).map(s => Number(s.dataset.mention));",
            vec![],
        )
        .await
        .expect("script")
        .as_array()
        .expect("ids")
        .iter()
        .filter_map(serde_json::Value::as_i64)
        .collect();
    assert_eq!(ids.len(), 3, "the judged story left the page: {ids:?}");
    assert!(!ids.contains(&mention));
    assert_eq!(
        current_mention(&browser).await,
        ids[0],
        "the first story starts highlighted"
    );
    for key in ['j', 'j', 'k'] {
        browser.press(key).await;
    }
    assert_eq!(current_mention(&browser).await, ids[1]);
    browser.press('r').await;
    let done = wait_for(&browser, "recorded").await;
    assert!(done.contains("Marked Relevant"), "{done}");
    assert_eq!(
        verdict_of(&app, ids[1]),
        Some((Verdict::Relevant, "local".to_string(), "review".to_string()))
    );
    assert_eq!(
        verdict_of(&app, ids[0]),
        None,
        "only the highlighted story was judged"
    );
    assert_eq!(verdict_of(&app, ids[2]), None);
    // Back on the page, the highlight is on the story after the judged one.
    assert_eq!(current_mention(&browser).await, ids[2]);
    browser.close().await;
}
