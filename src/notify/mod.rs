//! Mail: rendering, composing, and delivering what the outbox holds.
//!
//! notify is handed what to send (a built digest, an outbox row); it never queries mentions
//! itself. Delivery goes through lettre: SMTP when `[smtp]` is configured, otherwise `.eml`
//! files in `daemon.mail_dir` (handy for the demo and for a first look before wiring a mail
//! server). Every mail carries a `Message-ID` fixed when it was queued, so a retry after a
//! crash is recognisably the same mail. `.eml` files are written by lettre under the
//! process umask, which the command line sets to 077: they are private to veille's user.
//!
//! # Delivery, and the window it cannot close
//! The sender (`crate::scheduler::deliver_pending`) sends one outbox mail, then records the
//! outcome before anything else: no await, log line, metric or other mail comes between the
//! server's answer and the write (`App::db_now`), and marks are never batched. (Not
//! covered: two processes delivering at the same moment, the daemon and `veille judge` say,
//! can both pick the same pending mail; nothing claims a row before sending it.)
//! What remains is the time from the server's "250 accepted" to that write reaching the WAL:
//! a few milliseconds, more when a group commit of source runs is open (it is committed
//! first, or a rolled-back batch would take the mark with it). A crash inside it (kill -9,
//! out of memory; with `synchronous = NORMAL`, a power cut can also undo the last commits)
//! leaves the mail pending, and the next start sends it again. The duplicate is the same
//! bytes, with the Message-ID fixed when the mail was queued, so clients that deduplicate
//! by Message-ID show it once and the others thread it with the first (a test in
//! `tests/it/e2e.rs` resends one). Marking before sending would turn the same crash into a
//! mail never sent: for an alert or a digest, a duplicate is the lesser harm. Closing the
//! window for good would take the server's help (no SMTP extension lets a client ask
//! "did you already take this one?").

pub mod alert;
pub mod render;

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::address::Envelope;
use lettre::message::{Mailbox, MessageBuilder, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{
    Address, AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};
use xxhash_rust::xxh3::xxh3_64;

use crate::config::{Config, SmtpSecurity};
use crate::digest::Digest;
use crate::store::{NewMail, OutboxMail};
pub use render::{Rendered, render_digest};

/// Sender used when there is no `[smtp]` section (mail only goes to files then).
pub const DEFAULT_FROM: &str = "veille <veille@localhost>";
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait between two delivery attempts of a pending mail.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(60 * 60);

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Render(#[from] render::RenderError),
    #[error("cannot compose the mail: {0}")]
    Compose(String),
    #[error("cannot set up mail delivery: {0}")]
    Setup(String),
}

/// Turns a rendered digest into an outbox row.
pub fn compose_digest(
    digest: &Digest,
    rendered: &Rendered,
    from: &Mailbox,
    to: &[Mailbox],
    now: DateTime<Utc>,
) -> Result<NewMail, NotifyError> {
    let key = format!("digest:{}:{}", digest.id, digest.window_end.timestamp());
    compose(key, "digest", rendered, from, to, now)
}

fn compose(
    key: String,
    kind: &str,
    rendered: &Rendered,
    from: &Mailbox,
    to: &[Mailbox],
    now: DateTime<Utc>,
) -> Result<NewMail, NotifyError> {
    compose_with(key, kind, rendered, from, to, now, |builder| builder)
}

/// [`compose`], with a hook that adds headers of its own kind of mail (alert threading).
fn compose_with(
    key: String,
    kind: &str,
    rendered: &Rendered,
    from: &Mailbox,
    to: &[Mailbox],
    now: DateTime<Utc>,
    headers: impl FnOnce(MessageBuilder) -> MessageBuilder,
) -> Result<NewMail, NotifyError> {
    let message_id = message_id(&key, from, now);
    let mut builder = headers(Message::builder())
        .from(from.clone())
        .subject(rendered.subject.clone())
        .message_id(Some(message_id.clone()))
        .date(now.into());
    for mailbox in to {
        builder = builder.to(mailbox.clone());
    }
    let message = builder
        .multipart(MultiPart::alternative_plain_html(
            rendered.text.clone(),
            rendered.html.clone(),
        ))
        .map_err(|e| NotifyError::Compose(e.to_string()))?;
    Ok(NewMail {
        key,
        kind: kind.to_string(),
        sender: from.email.to_string(),
        recipients: to.iter().map(|m| m.email.to_string()).collect(),
        subject: rendered.subject.clone(),
        message_id,
        body: message.formatted(),
    })
}

/// A Message-ID unique to this queued mail: derived from its outbox key, the time it was
/// queued and this process, under the sender's domain.
fn message_id(key: &str, from: &Mailbox, now: DateTime<Utc>) -> String {
    let seed = format!(
        "{key}|{}|{}",
        now.timestamp_nanos_opt().unwrap_or_default(),
        std::process::id()
    );
    format!(
        "<veille.{:016x}@{}>",
        xxh3_64(seed.as_bytes()),
        from.email.domain()
    )
}

/// How long to wait before trying a pending mail again after `attempts` failures.
pub fn retry_delay(attempts: u32) -> Duration {
    let factor = 1u32.checked_shl(attempts.min(16)).unwrap_or(u32::MAX);
    Duration::from_secs(60)
        .saturating_mul(factor)
        .min(MAX_RETRY_DELAY)
}

/// Why a delivery failed, in words an admin can act on. Never contains the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DeliveryError {
    pub message: String,
    /// The server refused this mail for good (a 5xx reply about the mail or its
    /// recipients): retrying cannot help, so the mail is marked failed and reported.
    /// Authentication and TLS problems are not permanent: once the admin fixes the
    /// configuration, the waiting mail goes out.
    pub permanent: bool,
}

impl DeliveryError {
    fn transient(message: String) -> DeliveryError {
        DeliveryError {
            message,
            permanent: false,
        }
    }
}

/// Where mail goes.
#[derive(Clone)]
pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        /// `host:port`, for receipts and logs.
        server: String,
    },
    Files {
        dir: PathBuf,
        transport: AsyncFileTransport<Tokio1Executor>,
    },
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mailer::Smtp { server, .. } => write!(f, "Mailer::Smtp({server})"),
            Mailer::Files { dir, .. } => write!(f, "Mailer::Files({})", dir.display()),
        }
    }
}

impl Mailer {
    pub fn from_config(config: &Config) -> Result<Mailer, NotifyError> {
        let Some(smtp) = &config.smtp else {
            let dir = config.daemon.mail_dir.clone();
            std::fs::create_dir_all(&dir).map_err(|e| {
                NotifyError::Setup(format!("cannot create mail_dir {}: {e}", dir.display()))
            })?;
            return Ok(Mailer::Files {
                transport: AsyncFileTransport::new(&dir),
                dir,
            });
        };
        let builder = match smtp.security {
            SmtpSecurity::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
            }
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host),
            SmtpSecurity::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                &smtp.host,
            )),
        }
        .map_err(|e| NotifyError::Setup(format!("SMTP server {}: {e}", smtp.host)))?;
        let mut builder = builder.port(smtp.port).timeout(Some(SMTP_TIMEOUT));
        if let Some(user) = &smtp.username {
            let password = smtp
                .password
                .as_ref()
                .map(|p| p.expose().to_string())
                .unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(Mailer::Smtp {
            transport: builder.build(),
            server: format!("{}:{}", smtp.host, smtp.port),
        })
    }

    /// The address mail is sent from.
    pub fn sender(config: &Config) -> Result<Mailbox, NotifyError> {
        match &config.smtp {
            Some(smtp) => Ok(smtp.from.clone()),
            None => DEFAULT_FROM
                .parse()
                .map_err(|e| NotifyError::Setup(format!("default sender {DEFAULT_FROM:?}: {e}"))),
        }
    }

    /// Delivers one outbox mail; returns a receipt (file path, or the server's reply).
    pub async fn deliver(&self, mail: &OutboxMail) -> Result<String, DeliveryError> {
        let envelope = envelope_of(mail)?;
        match self {
            Mailer::Files { dir, transport } => transport
                .send_raw(&envelope, &mail.body)
                .await
                .map(|id| dir.join(format!("{id}.eml")).display().to_string())
                .map_err(|e| {
                    DeliveryError::transient(format!(
                        "cannot write the mail to {}: {e}",
                        dir.display()
                    ))
                }),
            Mailer::Smtp { transport, server } => {
                match transport.send_raw(&envelope, &mail.body).await {
                    Ok(response) => Ok(format!(
                        "{server}: {} {}",
                        response.code(),
                        response.message().collect::<Vec<_>>().join(" ")
                    )),
                    Err(e) => {
                        let (message, permanent) = describe_smtp_error(server, &e);
                        Err(DeliveryError { message, permanent })
                    }
                }
            }
        }
    }
}

fn envelope_of(mail: &OutboxMail) -> Result<Envelope, DeliveryError> {
    let parse = |text: &str| {
        text.parse::<Address>().map_err(|e| DeliveryError {
            permanent: true,
            message: format!("invalid address {text:?} in outbox mail {}: {e}", mail.id),
        })
    };
    let from = parse(&mail.sender)?;
    let to = mail
        .recipients
        .iter()
        .map(|r| parse(r))
        .collect::<Result<Vec<_>, _>>()?;
    Envelope::new(Some(from), to).map_err(|e| DeliveryError {
        permanent: true,
        message: format!("invalid envelope for outbox mail {}: {e}", mail.id),
    })
}

/// SMTP errors sorted into what an admin can do about them, and whether retrying can help.
fn describe_smtp_error(server: &str, error: &lettre::transport::smtp::Error) -> (String, bool) {
    let detail = crate::error_chain(error);
    let code = error.status().map(|c| c.to_string());
    let (kind, permanent) = classify_smtp(
        code.as_deref(),
        error.is_tls(),
        error.is_timeout(),
        error.is_permanent(),
        &detail,
    );
    (format!("SMTP {server}: {kind}: {detail}"), permanent)
}

/// The words for an SMTP failure and whether it is final. Authentication (530/534/535) is
/// an admin's configuration problem, not the mail's: it is retried so the mail goes out
/// once the password is fixed.
fn classify_smtp(
    code: Option<&str>,
    tls: bool,
    timeout: bool,
    permanent: bool,
    detail: &str,
) -> (&'static str, bool) {
    if tls {
        return ("TLS failed (check smtp.security and the port)", false);
    }
    if timeout {
        return ("timed out", false);
    }
    if let Some(code) = code {
        if ["530", "534", "535"].iter().any(|c| code.starts_with(c)) {
            return ("authentication failed (check username and password)", false);
        }
        if ["550", "551", "553"].iter().any(|c| code.starts_with(c)) {
            return ("recipient or sender rejected", true);
        }
        if code.starts_with("552") {
            return ("message too large for the server", true);
        }
        if permanent {
            return ("rejected permanently", true);
        }
        return ("temporarily refused", false);
    }
    if detail.contains("onnection refused") {
        return (
            "connection refused (is the SMTP server running, host and port right?)",
            false,
        );
    }
    ("delivery failed", false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_failures_are_sorted_for_the_admin() {
        let cases = [
            (
                Some("535"),
                false,
                false,
                true,
                "",
                "authentication failed",
                false,
            ),
            (
                Some("550"),
                false,
                false,
                true,
                "",
                "recipient or sender rejected",
                true,
            ),
            (
                Some("554"),
                false,
                false,
                true,
                "",
                "rejected permanently",
                true,
            ),
            (
                Some("451"),
                false,
                false,
                false,
                "",
                "temporarily refused",
                false,
            ),
            (None, true, false, false, "", "TLS failed", false),
            (None, false, true, false, "", "timed out", false),
            (
                None,
                false,
                false,
                false,
                "Connection refused (os error 111)",
                "connection refused",
                false,
            ),
        ];
        for (code, tls, timeout, permanent, detail, words, is_final) in cases {
            let (kind, final_) = classify_smtp(code, tls, timeout, permanent, detail);
            assert!(kind.starts_with(words), "{code:?}: {kind}");
            assert_eq!(final_, is_final, "{code:?}");
        }
    }

    #[test]
    fn retry_delay_grows_and_caps() {
        let minutes: Vec<u64> = (0..9).map(|n| retry_delay(n).as_secs() / 60).collect();
        assert_eq!(minutes, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }
}
