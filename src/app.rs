//! The running application: configuration plus the handles to the outside world.
//!
//! An [`App`] is built once from a validated [`Config`] and passed down to every stage that
//! does I/O; there are no globals. It is cheap to clone (everything inside is shared).

use std::sync::Arc;

use crate::alert::Rules;
use crate::clock::Clock;
use crate::config::Config;
use crate::fetch::policy::NetworkPolicy;
use crate::fetch::{FetchError, FetchSettings, Fetcher};
use crate::isolation::Extractor;
use crate::judge::learned::Learned;
use crate::mail::{MailError, Mailer};
use crate::matching::Matcher;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error("cannot set up fetching: {0}")]
    Fetch(#[from] FetchError),
    #[error("cannot set up the alert rules: {0}")]
    Alerts(String),
}

/// The fetcher's settings a configuration asks for.
fn fetch_settings(config: &Config) -> FetchSettings {
    FetchSettings {
        connect_timeout: config.daemon.connect_timeout,
        total_timeout: config.daemon.fetch_timeout,
        max_concurrent: config.daemon.max_concurrent_fetches,
        per_host: config.daemon.per_host_concurrency,
        host_limits: host_limits(config),
        network: NetworkPolicy::allowing(config.daemon.allow_private_addresses.clone()),
        ..FetchSettings::new(config.daemon.user_agent.clone())
    }
}

/// Per-host limits the sources ask for (presets of rate-limited platforms): the lowest
/// over the sources of each host.
fn host_limits(config: &Config) -> std::collections::BTreeMap<String, usize> {
    let mut limits = std::collections::BTreeMap::new();
    for source in &config.sources {
        if let Some(limit) = source.per_host
            && let Some(key) = crate::fetch::politeness::host_key(&source.url)
        {
            limits
                .entry(key)
                .and_modify(|l: &mut usize| *l = (*l).min(limit))
                .or_insert(limit);
        }
    }
    limits
}

/// The running application. Its fields come in two parts: what one configuration makes
/// (built by `Configured::new`, swapped whole by a reload) and what lasts as long as the
/// process (the database, the clock, counters, locks, learned models, parser processes),
/// which a reload keeps as it is.
#[derive(Clone)]
pub struct App {
    // What one configuration makes.
    pub config: Arc<Config>,
    pub fetcher: Fetcher,
    pub matcher: Arc<Matcher>,
    pub mailer: Mailer,
    /// The `[[alert]]` rules, compiled.
    pub alerting: Arc<Rules>,
    // What lasts across reloads.
    pub store: Arc<Store>,
    pub clock: Arc<dyn Clock>,
    /// Counters keep counting across reloads.
    pub metrics: Arc<Metrics>,
    /// One alert decision at a time: two runs ending together must not both decide that a
    /// rule may mail now.
    pub alert_lock: Arc<tokio::sync::Mutex<()>>,
    /// Woken whenever mail is queued, so the daemon's sender delivers it at once.
    pub mail_queued: Arc<tokio::sync::Notify>,
    /// The per-watch classifiers learned from judgments (see `crate::judge::learned`).
    pub learned: Arc<Learned>,
    /// Where documents are parsed: in this process, or in parser processes under the
    /// daemon (see `crate::isolation`).
    pub extractor: Extractor,
}

/// What one configuration makes: the configuration itself and the handles built from it.
struct Configured {
    config: Arc<Config>,
    fetcher: Fetcher,
    matcher: Arc<Matcher>,
    mailer: Mailer,
    alerting: Arc<Rules>,
}

impl Configured {
    /// Builds the handles of `config`; `fetcher` is kept instead of a new one when given
    /// (its connection pool and per-host slots then carry over).
    fn new(config: Config, fetcher: Option<Fetcher>) -> Result<Configured, AppError> {
        let fetcher = match fetcher {
            Some(fetcher) => fetcher,
            None => Fetcher::new(fetch_settings(&config))?,
        };
        let matcher = Matcher::new(
            config
                .watches
                .iter()
                .map(|w| (w.id.clone(), w.query.clone()))
                .collect(),
        );
        let mailer = Mailer::from_config(&config)?;
        let alerting = Rules::new(&config).map_err(AppError::Alerts)?;
        Ok(Configured {
            config: Arc::new(config),
            fetcher,
            matcher: Arc::new(matcher),
            mailer,
            alerting: Arc::new(alerting),
        })
    }

    /// `app` with this configured part in place of its own; the lasting part is kept.
    fn over(self, app: &App) -> App {
        App {
            config: self.config,
            fetcher: self.fetcher,
            matcher: self.matcher,
            mailer: self.mailer,
            alerting: self.alerting,
            ..app.clone()
        }
    }
}

impl App {
    /// Opens the database (creating it if needed) and sets up fetching and mail.
    pub fn new(config: Config, clock: Arc<dyn Clock>) -> Result<App, AppError> {
        let store = Arc::new(Store::open(&config.daemon.database)?);
        let configured = Configured::new(config, None)?;
        store.set_dedup(configured.config.dedup.clone());
        Ok(App {
            config: configured.config,
            fetcher: configured.fetcher,
            matcher: configured.matcher,
            mailer: configured.mailer,
            alerting: configured.alerting,
            store,
            clock,
            metrics: Arc::new(Metrics::new()),
            alert_lock: Arc::new(tokio::sync::Mutex::new(())),
            mail_queued: Arc::new(tokio::sync::Notify::new()),
            learned: Arc::new(Learned::new()),
            extractor: Extractor::InProcess,
        })
    }

    /// The same process with a new configuration (a reload): the configured part is built
    /// anew and swapped in, everything else is kept. The database path itself is not
    /// changed by a reload: the caller keeps the old one and says so. The fetcher (its
    /// connection pool and its fetch limits) is kept when the fetch settings did not
    /// change, so polls still in flight and new ones share one set of per-host slots across
    /// the reload. Nothing changes when the new setup cannot be built.
    pub fn reconfigured(&self, config: Config) -> Result<App, AppError> {
        let keep =
            (fetch_settings(&config) == *self.fetcher.settings()).then(|| self.fetcher.clone());
        let configured = Configured::new(config, keep)?;
        self.store.set_dedup(configured.config.dedup.clone());
        Ok(configured.over(self))
    }

    /// Runs a store call at once, on this thread, with no await before it: for the one write
    /// that must follow what precedes it with nothing in between (a mail marked sent as soon
    /// as the server accepted it, see `crate::mail`). A task is only ever stopped at an
    /// await, so nothing (a shutdown dropping the sender, another task) can come between.
    /// On the multi-threaded runtime the thread's other tasks move to other threads
    /// meanwhile (`block_in_place`); on a current-thread runtime the call simply blocks.
    pub fn db_now<R>(&self, call: impl FnOnce(&Store) -> R) -> R {
        let multi_threaded = tokio::runtime::Handle::try_current().is_ok_and(|handle| {
            handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
        });
        if multi_threaded {
            tokio::task::block_in_place(|| call(&self.store))
        } else {
            call(&self.store)
        }
    }

    /// Runs a store call on the blocking pool, off the async threads.
    pub async fn db<R, F>(&self, call: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Store) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || call(&store))
            .await
            .unwrap_or_else(|e| {
                Err(StoreError::other(
                    "running a database call",
                    format!("the call did not finish: {e}"),
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;

    fn app_with(dir: &std::path::Path, per_host: u32) -> (App, Config) {
        let text = format!(
            "[daemon]\ndatabase = \"v.db\"\nper_host_concurrency = {per_host}\n\n[[source]]\nid = \"s\"\nurl = \"file:f.xml\"\n"
        );
        let path = dir.join("veille.toml");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        let config = crate::config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let app = App::new(config.clone(), Arc::new(SystemClock)).unwrap_or_else(|e| panic!("{e}"));
        (app, config)
    }

    #[tokio::test]
    async fn a_reload_keeps_the_fetch_limits_unless_they_change() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (app, same) = app_with(dir.path(), 2);
        let reloaded = app.reconfigured(same).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            reloaded
                .fetcher
                .politeness()
                .is_shared_with(app.fetcher.politeness())
        );

        let other_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (_, changed) = app_with(other_dir.path(), 3);
        let reloaded = app.reconfigured(changed).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !reloaded
                .fetcher
                .politeness()
                .is_shared_with(app.fetcher.politeness())
        );
        assert_eq!(reloaded.fetcher.settings().per_host, 3);
    }

    #[tokio::test]
    async fn a_reload_swaps_the_configured_part_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (app, mut config) = app_with(dir.path(), 2);
        config.daemon.user_agent = "veille-reloaded".to_string();
        let reloaded = app.reconfigured(config).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(reloaded.config.daemon.user_agent, "veille-reloaded");
        assert!(!Arc::ptr_eq(&reloaded.config, &app.config));
        assert!(!Arc::ptr_eq(&reloaded.matcher, &app.matcher));
        assert!(Arc::ptr_eq(&reloaded.store, &app.store));
        assert!(Arc::ptr_eq(&reloaded.clock, &app.clock));
        assert!(Arc::ptr_eq(&reloaded.metrics, &app.metrics));
        assert!(Arc::ptr_eq(&reloaded.alert_lock, &app.alert_lock));
        assert!(Arc::ptr_eq(&reloaded.mail_queued, &app.mail_queued));
        assert!(Arc::ptr_eq(&reloaded.learned, &app.learned));
    }

    #[tokio::test]
    async fn a_reload_applies_a_changed_network_policy() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (app, mut config) = app_with(dir.path(), 2);
        assert!(app.fetcher.settings().network.allowed().is_empty());
        let lan: ipnet::IpNet = "10.20.0.0/16".parse().unwrap_or_else(|e| panic!("{e}"));
        config.daemon.allow_private_addresses = vec![lan];
        let reloaded = app.reconfigured(config).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(reloaded.fetcher.settings().network.allowed(), [lan]);
        let host: std::net::IpAddr = "10.20.1.1".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(reloaded.fetcher.settings().network.check(host).is_ok());
        assert!(app.fetcher.settings().network.check(host).is_err());
    }
}
