//! `[smtp]`: the mail server, its security and login, and mail addresses.

use std::ops::Range;

use lettre::message::Mailbox;

use super::Validator;
use crate::config::raw;
use crate::config::raw::{OneOrMany, RawSmtp, S};
use crate::config::types::is_loopback_host;
use crate::config::{SmtpConfig, SmtpSecurity, defaults};
use crate::model::Secret;

impl Validator<'_> {
    pub(super) fn smtp(&mut self, raw: RawSmtp, span: Range<usize>) -> Option<SmtpConfig> {
        let start_errors = self.report.count();
        if let Some(password) = &raw.password {
            self.error(
                password.span(),
                "smtp.password",
                format!(
                    "passwords are never written in the configuration: put it in a file named by `password_file` (mode 0600) or in the {} environment variable",
                    defaults::SMTP_PASSWORD_ENV
                ),
            );
        }
        let host = raw.host.get_ref().trim().to_string();
        if host.is_empty() || host.contains(['/', ' ', ':']) {
            self.error(
                raw.host.span(),
                "smtp.host",
                format!(
                    "invalid host {:?}: write a host name or IP address, without scheme or port",
                    raw.host.get_ref()
                ),
            );
        }
        let security = match raw.security.as_ref().map(|s| s.get_ref().as_str()) {
            None | Some("starttls") => SmtpSecurity::StartTls,
            Some("tls") => SmtpSecurity::Tls,
            Some("none") => SmtpSecurity::None,
            Some(other) => {
                let span = raw.security.as_ref().map_or(span.clone(), S::span);
                self.error(
                    span,
                    "smtp.security",
                    format!("unknown security {other:?}: use \"starttls\", \"tls\" or \"none\""),
                );
                SmtpSecurity::StartTls
            }
        };
        let port = match &raw.port {
            None => match security {
                SmtpSecurity::StartTls => defaults::SMTP_PORT_STARTTLS,
                SmtpSecurity::Tls => defaults::SMTP_PORT_TLS,
                SmtpSecurity::None => defaults::SMTP_PORT_NONE,
            },
            Some(port) => match u16::try_from(*port.get_ref()) {
                Ok(p) if p > 0 => p,
                _ => {
                    self.error(
                        port.span(),
                        "smtp.port",
                        format!("invalid port {}: use 1 to 65535", port.get_ref()),
                    );
                    0
                }
            },
        };
        let from = self.mailbox(&raw.from, "smtp.from");
        let (password_file, password) = match &raw.password_file {
            Some(file) => self.secret_file(file, "smtp.password_file").unzip(),
            None => (
                None,
                (self.env)(defaults::SMTP_PASSWORD_ENV).map(Secret::new),
            ),
        };
        let username = raw.username.as_ref().map(|u| u.get_ref().clone());
        if let Some(user) = &raw.username
            && password.is_none()
            && raw.password_file.is_none()
        {
            self.error(
                user.span(),
                "smtp.username",
                format!(
                    "a username is set but no password: set `password_file` or the {} environment variable",
                    defaults::SMTP_PASSWORD_ENV
                ),
            );
        }
        if security == SmtpSecurity::None
            && let Some(user) = &raw.username
            && !is_loopback_host(&host)
        {
            let span = raw.security.as_ref().map_or(user.span(), S::span);
            self.error(
                span,
                "smtp.security",
                format!(
                    "security = \"none\" would send the login {:?} and its password unencrypted to {host}, another machine: set security = \"starttls\" (port 587) or \"tls\" (port 465); \"none\" with a login is only for a relay on this machine (localhost, 127.0.0.1, ::1)",
                    user.get_ref()
                ),
            );
        }
        if self.report.count() > start_errors {
            return None;
        }
        Some(SmtpConfig {
            host,
            port,
            security,
            username,
            password,
            password_file,
            from: from?,
        })
    }

    pub(super) fn mailbox(&mut self, value: &S<String>, key: &str) -> Option<Mailbox> {
        match value.get_ref().trim().parse::<Mailbox>() {
            Ok(mailbox) => Some(mailbox),
            Err(e) => {
                self.error(value.span(), key, format!("invalid address {:?}: {e}; write \"name@example.org\" or \"Name <name@example.org>\"", value.get_ref()));
                None
            }
        }
    }

    pub(super) fn mailboxes(&mut self, value: S<OneOrMany>, key: &str) -> Vec<Mailbox> {
        let span = value.span();
        let list = raw::list(value);
        if list.is_empty() {
            self.error(span, key, "at least one address is needed");
        }
        list.iter().filter_map(|v| self.mailbox(v, key)).collect()
    }
}
