//! `veille check`: validate a configuration and summarize it.

use std::path::Path;

use veille::config::{Config, SmtpSecurity, Writes};
use veille::judge::token::KeyOrigin;

use super::{CliError, load_config_with};

/// Checks writes nothing, not even the key `web.create_secret` asks for (see
/// `config::Writes`): it says the first run will create it. An invalid file is the
/// [`CliError::Config`] every command reports.
pub fn check(config_path: &Path) -> Result<(), CliError> {
    let config = load_config_with(config_path, Writes::Forbidden)?;
    print!("{}", summary(&config));
    Ok(())
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Which file defined what, when the configuration includes other files.
fn files(config: &Config) -> String {
    if config.files.len() < 2 {
        return String::new();
    }
    let folder = config.path.parent().unwrap_or(Path::new("/"));
    let mut out = format!("  defined in {} files:\n", config.files.len());
    for file in &config.files {
        let kinds = [
            ("source", "sources", &file.sources),
            ("watch", "watches", &file.watches),
            ("digest", "digests", &file.digests),
            ("alert rule", "alert rules", &file.alerts),
        ];
        let defined: Vec<String> = kinds
            .iter()
            .filter(|(_, _, ids)| !ids.is_empty())
            .map(|(one, many, ids)| {
                let shown = ids.iter().take(ID_LIST).map(|id| format!("{id:?}"));
                let more = ids.len().saturating_sub(ID_LIST);
                let more = (more > 0).then(|| format!("{more} more"));
                let list: Vec<String> = shown.chain(more).collect();
                format!("{} ({})", plural(ids.len(), one, many), list.join(", "))
            })
            .collect();
        let defined = if defined.is_empty() {
            "nothing".to_string()
        } else {
            defined.join("; ")
        };
        let name = file.path.strip_prefix(folder).unwrap_or(&file.path);
        out.push_str(&format!("    {}: {defined}\n", name.display()));
    }
    out
}

/// Ids listed per kind and file before "N more".
const ID_LIST: usize = 8;

fn summary(config: &Config) -> String {
    let mut out = format!("{}: valid\n", config.path.display());
    out.push_str(&format!(
        "  {}, {}, {}, {}\n",
        plural(config.sources.len(), "source", "sources"),
        plural(config.watches.len(), "watch", "watches"),
        plural(config.digests.len(), "digest", "digests"),
        plural(config.alerts.len(), "alert rule", "alert rules"),
    ));
    out.push_str(&files(config));
    out.push_str(&format!(
        "  database: {}\n",
        config.daemon.database.display()
    ));
    out.push_str(&format!("  time zone: {}\n", config.daemon.timezone));
    if let Some(listen) = config.daemon.listen {
        let metrics = if config.daemon.metrics_token.is_some() {
            "for the bearer of the metrics token"
        } else {
            "for this machine only"
        };
        out.push_str(&format!("  listener: {listen}; /metrics {metrics}\n"));
    }
    match &config.smtp {
        Some(smtp) => {
            let security = match smtp.security {
                SmtpSecurity::StartTls => "STARTTLS",
                SmtpSecurity::Tls => "TLS",
                SmtpSecurity::None => "no encryption",
            };
            out.push_str(&format!(
                "  mail: SMTP {}:{} ({security}) from {}\n",
                smtp.host, smtp.port, smtp.from
            ));
        }
        None => out.push_str(&format!(
            "  mail: .eml files in {} (no [smtp] section)\n",
            config.daemon.mail_dir.display()
        )),
    }
    out.push_str(&network(config));
    for source in &config.sources {
        if let Some(credentials) = &source.credentials {
            out.push_str(&format!(
                "  source {:?}: logs in as {:?} (HTTP Basic, sent to {} only)\n",
                source.id.as_str(),
                credentials.username(),
                source.url.origin().ascii_serialization(),
            ));
        }
    }
    // A preset's URL is derived: show it, so the admin can open it by hand.
    for source in &config.sources {
        if let Some(preset) = source.preset {
            let limit = source
                .per_host
                .map(|n| format!(", {n} at a time to this host"))
                .unwrap_or_default();
            out.push_str(&format!(
                "  source {:?} ({preset}): {} every {}{limit}\n",
                source.id.as_str(),
                source.url,
                veille::config::format_duration(source.every),
            ));
        }
    }
    for digest in &config.digests {
        let times: Vec<String> = digest
            .schedule
            .at
            .iter()
            .map(|t| t.format("%H:%M").to_string())
            .collect();
        out.push_str(&format!(
            "  digest {:?}: {} at {}, to {}\n",
            digest.id.as_str(),
            digest.schedule.days,
            times.join(", "),
            digest
                .to
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for alert in &config.alerts {
        let spike = alert.spike.map_or_else(
            || "no spike alerts".to_string(),
            |s| {
                format!(
                    "spike above {}× usual and {} mentions in {}",
                    s.factor,
                    s.min_mentions,
                    veille::config::format_duration(s.window)
                )
            },
        );
        let quiet = alert
            .quiet_hours
            .map(|q| {
                format!(
                    ", quiet {}–{}{}",
                    q.from.format("%H:%M"),
                    q.to.format("%H:%M"),
                    q.unless_score
                        .map(|u| format!(" unless score ≥ {u}"))
                        .unwrap_or_default()
                )
            })
            .unwrap_or_default();
        let crisis = if alert.crisis {
            "; receives crisis verdicts at once"
        } else {
            ""
        };
        out.push_str(&format!(
            "  alert {:?}: {} → {}; score ≥ {}, at most one mail per {}; {spike}{quiet}{crisis}\n",
            alert.id.as_str(),
            alert
                .watches
                .iter()
                .map(|w| w.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            alert
                .to
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            alert.min_score,
            veille::config::format_duration(alert.throttle),
        ));
    }
    if let Some(web) = &config.web {
        let listen = config
            .daemon
            .listen
            .map_or_else(|| "nowhere".to_string(), |l| l.to_string());
        let links = web.base_url.as_ref().map_or_else(
            || "no judgment links in mail (no base_url)".to_string(),
            |base| {
                format!(
                    "judgment links to {base} valid {}",
                    veille::config::format_duration(web.link_ttl)
                )
            },
        );
        let login = if web.password_hash.is_some() {
            format!("login as {:?}", web.user)
        } else {
            "no login (loopback only)".to_string()
        };
        out.push_str(&format!(
            "  web: /review and /j/… on {listen}, {login}; {links}; review of the last {} day(s)\n",
            web.review_days
        ));
        if web.key_origin == KeyOrigin::Pending {
            out.push_str(&format!(
                "  web: the link key {} does not exist yet; the first `veille run` creates it (web.create_secret)\n",
                web.secret_file.display()
            ));
        }
    }
    for warning in config.warnings() {
        out.push_str(&format!("warning: {warning}\n"));
    }
    out
}

/// The network policy: what sources may reach, and the proxy that resolves names instead
/// of veille (see `veille::fetch::policy`).
fn network(config: &Config) -> String {
    let allowed = &config.daemon.allow_private_addresses;
    let mut out = if allowed.is_empty() {
        "  network: sources may not reach internal addresses (none allowed)\n".to_string()
    } else {
        format!(
            "  network: sources may not reach internal addresses (allowed: {})\n",
            allowed
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    // The variables reqwest reads; their values may hold a proxy password: never shown.
    let proxies: Vec<&str> = [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ]
    .into_iter()
    .filter(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
    .collect();
    if !proxies.is_empty() {
        out.push_str(&format!(
            "  network: through the proxy of {}: names are resolved by the proxy, whose own policy applies; IP addresses are still checked, and the proxy's address must be allowed if it is internal\n",
            proxies.join(", ")
        ));
    }
    out
}
