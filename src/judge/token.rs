//! Signed one-click judgment links.
//!
//! A digest or an alert carries, under each story, three links: one per verdict. Whoever
//! holds the mail may judge that one mention without logging in, so the link itself is the
//! credential: it names the mention, the verdict and an expiry, and carries an HMAC-SHA256
//! of the three under a secret key only the daemon knows (`web.secret_file`). Changing any of
//! them (another mention, another verdict, a later expiry) breaks the signature.
//!
//! Design: the four parts are plain path segments (`j/{mention}/{verdict}/{expires}/{sig}`)
//! rather than one opaque blob, so an admin reading a log or a refusal page sees what the link
//! was for, and the web side can tell "expired" from "forged" in words. The signature covers
//! a version tag too, so a later format can never be confused with this one. Expired links are
//! refused even when their signature is good: a digest forwarded months later must not judge.
//! So are links that expire later than `web.link_ttl` (plus [`CLOCK_SKEW`]) from now: veille
//! never issues one, so a correctly signed link that says "valid until 2100" was made with a
//! leaked key (or before an admin shortened `link_ttl`); refusing it bounds what a leaked key
//! or an old copied demo key can do to the links' lifetime, and the daemon logs it. A link
//! may still be used several times until it expires: replaying one cannot mail the crisis
//! team twice (`crate::alert::may_escalate`).
//!
//! The key: `web.secret_file` holds base64 of 32 random bytes (`head -c 32 /dev/urandom |
//! base64`). [`LinkKey::from_bytes`] judges its strength on the decoded bytes when the file
//! is base64 (at least 32, not a repeated pattern, not a handful of distinct values) and on
//! the bytes as they are otherwise, but the HMAC key stays the file's bytes (trimmed):
//! decoding it would change every signature and void the links already mailed. The cost is
//! nothing: HMAC hashes its key either way.
//!
//! The same key signs the web pages' session cookies and CSRF tokens ([`mac`]), each under its
//! own purpose string, so a value signed for one use is never valid for another.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::Verdict;
use crate::model::MentionId;

type HmacSha256 = Hmac<Sha256>;

/// The shortest key accepted, in bytes: the size of the hash.
pub const MIN_KEY_BYTES: usize = 32;

/// How far ahead of `now + web.link_ttl` a link's expiry may lie and still be ours: a clock
/// set back a little (NTP) between mailing a link and checking it.
pub const CLOCK_SKEW: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// The tag signed with every link, for the link format of this version.
const LINK_PURPOSE: &str = "link-v1";

/// Why a link or a key was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TokenError {
    #[error("this link is damaged: a part of it is missing or unreadable")]
    Malformed,
    #[error("this link asks for an unknown verdict {0:?}")]
    UnknownVerdict(String),
    #[error("this link was not signed by this veille: it was changed or made up")]
    Forged,
    #[error("this link expired at {at}")]
    Expired { at: DateTime<Utc> },
    /// Correctly signed, but valid longer than any link this veille issues.
    #[error(
        "this link says it is valid until {at}, longer than web.link_ttl allows: it was not issued by this veille"
    )]
    BeyondLifetime { at: DateTime<Utc> },
    #[error("cannot use {path} as the link key (web.secret_file): {reason}")]
    KeyFile { path: PathBuf, reason: String },
}

/// The secret key of links, cookies and CSRF tokens. Its bytes never leave this type: no
/// `Debug` output, no accessor.
#[derive(Clone)]
pub struct LinkKey(Vec<u8>);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(…)")
    }
}

impl LinkKey {
    /// Reads the key file. Surrounding whitespace is dropped (a key written with `echo` ends
    /// with a newline); what remains must be at least [`MIN_KEY_BYTES`] long.
    pub fn from_file(path: &Path) -> Result<LinkKey, TokenError> {
        let bytes = std::fs::read(path).map_err(|e| TokenError::KeyFile {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        LinkKey::from_bytes(bytes.trim_ascii()).map_err(|e| match e {
            TokenError::KeyFile { reason, .. } => TokenError::KeyFile {
                path: path.to_path_buf(),
                reason,
            },
            other => other,
        })
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<LinkKey, TokenError> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(TokenError::KeyFile {
                path: PathBuf::new(),
                reason: format!(
                    "the key has {} bytes, at least {MIN_KEY_BYTES} are needed: write one with \
                     `head -c 32 /dev/urandom | base64 > FILE`",
                    bytes.len()
                ),
            });
        }
        Ok(LinkKey(bytes.to_vec()))
    }

    fn hmac(&self, purpose: &str, data: &[u8]) -> HmacSha256 {
        // HMAC takes keys of any length: this cannot fail.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(data);
        mac
    }
}

/// A MAC of `data` for one purpose ("session", "csrf", …), base64url without padding.
pub fn mac(key: &LinkKey, purpose: &str, data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(key.hmac(purpose, data).finalize().into_bytes())
}

/// Whether `given` is the MAC of `data` for `purpose`, compared in constant time.
pub fn mac_eq(key: &LinkKey, purpose: &str, data: &[u8], given: &str) -> bool {
    match URL_SAFE_NO_PAD.decode(given) {
        Ok(bytes) => key.hmac(purpose, data).verify_slice(&bytes).is_ok(),
        Err(_) => false,
    }
}

fn signed_part(mention: &str, verdict: &str, expires: &str) -> String {
    format!("{mention}|{verdict}|{expires}")
}

/// The path of a judgment link, to append to `web.base_url`:
/// `j/{mention}/{verdict}/{expires}/{signature}`.
pub fn link_path(
    key: &LinkKey,
    mention: MentionId,
    verdict: Verdict,
    expires: DateTime<Utc>,
) -> String {
    let (mention, expires) = (mention.0.to_string(), expires.timestamp().to_string());
    let sig = mac(
        key,
        LINK_PURPOSE,
        signed_part(&mention, verdict.as_str(), &expires).as_bytes(),
    );
    format!("j/{mention}/{}/{expires}/{sig}", verdict.as_str())
}

/// Checks a link's four segments, as received, against the key and the links' lifetime
/// (`web.link_ttl`). The signature is checked before the expiry, so a forged link never
/// learns whether its date would have passed.
pub fn verify(
    key: &LinkKey,
    mention: &str,
    verdict: &str,
    expires: &str,
    sig: &str,
    ttl: std::time::Duration,
    now: DateTime<Utc>,
) -> Result<(MentionId, Verdict), TokenError> {
    let id: i64 = mention.parse().map_err(|_| TokenError::Malformed)?;
    let at: i64 = expires.parse().map_err(|_| TokenError::Malformed)?;
    if sig.is_empty() {
        return Err(TokenError::Malformed);
    }
    if !mac_eq(
        key,
        LINK_PURPOSE,
        signed_part(mention, verdict, expires).as_bytes(),
        sig,
    ) {
        // A verdict outside the three is named as such, signed or not: the words are public.
        return Err(match verdict.parse::<Verdict>() {
            Err(_) => TokenError::UnknownVerdict(verdict.to_string()),
            Ok(_) => TokenError::Forged,
        });
    }
    let verdict = verdict
        .parse::<Verdict>()
        .map_err(|_| TokenError::UnknownVerdict(verdict.to_string()))?;
    let at = DateTime::from_timestamp(at, 0).ok_or(TokenError::Malformed)?;
    if now > at {
        return Err(TokenError::Expired { at });
    }
    let lifetime =
        chrono::Duration::from_std(ttl.saturating_add(CLOCK_SKEW)).unwrap_or(chrono::Duration::MAX);
    if now
        .checked_add_signed(lifetime)
        .is_some_and(|latest| at > latest)
    {
        return Err(TokenError::BeyondLifetime { at });
    }
    Ok((MentionId(id), verdict))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn key() -> LinkKey {
        LinkKey::from_bytes(b"0123456789abcdef0123456789abcdef").unwrap()
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap()
    }

    const TTL: std::time::Duration = crate::config::defaults::LINK_TTL;

    fn parts(path: &str) -> Vec<String> {
        path.split('/').map(str::to_string).collect()
    }

    fn check(
        key: &LinkKey,
        p: &[String],
        now: DateTime<Utc>,
    ) -> Result<(MentionId, Verdict), TokenError> {
        assert_eq!(p[0], "j");
        verify(key, &p[1], &p[2], &p[3], &p[4], TTL, now)
    }

    #[test]
    fn a_fresh_link_names_its_mention_and_verdict() {
        let expires = now() + chrono::Duration::days(14);
        for verdict in Verdict::ALL {
            let p = parts(&link_path(&key(), MentionId(42), verdict, expires));
            assert_eq!(check(&key(), &p, now()), Ok((MentionId(42), verdict)));
        }
    }

    #[test]
    fn tampering_with_any_part_is_forgery() {
        let expires = now() + chrono::Duration::days(14);
        let good = parts(&link_path(
            &key(),
            MentionId(42),
            Verdict::Irrelevant,
            expires,
        ));
        let cases: [(usize, &str); 4] = [
            (1, "43"),
            (2, "crisis"),
            (3, &(expires.timestamp() + 86_400).to_string()),
            (4, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ];
        for (index, value) in cases {
            let mut p = good.clone();
            p[index] = value.to_string();
            assert_eq!(
                check(&key(), &p, now()),
                Err(TokenError::Forged),
                "part {index}"
            );
        }
        let other = LinkKey::from_bytes(b"another key, just as long as the first").unwrap();
        assert_eq!(check(&other, &good, now()), Err(TokenError::Forged));
    }

    #[test]
    fn expired_malformed_and_unknown_verdicts_are_told_apart() {
        let expires = now() + chrono::Duration::days(1);
        let p = parts(&link_path(&key(), MentionId(7), Verdict::Relevant, expires));
        let later = expires + chrono::Duration::seconds(1);
        assert_eq!(
            check(&key(), &p, later),
            Err(TokenError::Expired { at: expires })
        );
        assert!(
            check(&key(), &p, expires).is_ok(),
            "valid up to its last second"
        );

        let mut unknown = p.clone();
        unknown[2] = "maybe".to_string();
        assert_eq!(
            check(&key(), &unknown, now()),
            Err(TokenError::UnknownVerdict("maybe".to_string()))
        );
        for (index, value) in [(1, "x"), (3, "soon"), (4, "")] {
            let mut bad = p.clone();
            bad[index] = value.to_string();
            assert_eq!(check(&key(), &bad, now()), Err(TokenError::Malformed));
        }
    }

    #[test]
    fn a_signed_link_valid_longer_than_links_live_was_not_issued_here() {
        let ttl = chrono::Duration::from_std(TTL).unwrap();
        let skew = chrono::Duration::from_std(CLOCK_SKEW).unwrap();
        let year_2100 = Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap();
        let cases = [
            ("issued now", now() + ttl, true),
            (
                "issued now, clock set back a little",
                now() + ttl + skew,
                true,
            ),
            (
                "a second too far",
                now() + ttl + skew + chrono::Duration::seconds(1),
                false,
            ),
            ("year 2100", year_2100, false),
        ];
        for (case, expires, ours) in cases {
            let p = parts(&link_path(&key(), MentionId(7), Verdict::Crisis, expires));
            let checked = check(&key(), &p, now());
            if ours {
                assert_eq!(checked, Ok((MentionId(7), Verdict::Crisis)), "{case}");
            } else {
                assert_eq!(
                    checked,
                    Err(TokenError::BeyondLifetime { at: expires }),
                    "{case}"
                );
            }
        }
        // The bound follows web.link_ttl: a longer lifetime accepts a later expiry.
        let p = parts(&link_path(
            &key(),
            MentionId(7),
            Verdict::Crisis,
            now() + ttl * 2,
        ));
        let long = verify(&key(), &p[1], &p[2], &p[3], &p[4], TTL * 2, now());
        assert!(long.is_ok(), "{long:?}");
    }

    #[test]
    fn macs_are_bound_to_their_purpose() {
        let tag = mac(&key(), "session", b"alice");
        assert!(mac_eq(&key(), "session", b"alice", &tag));
        assert!(!mac_eq(&key(), "csrf", b"alice", &tag));
        assert!(!mac_eq(&key(), "session", b"bob", &tag));
        assert!(!mac_eq(&key(), "session", b"alice", "not base64 !"));
    }

    #[test]
    fn short_or_missing_keys_are_refused_with_the_path() {
        assert!(LinkKey::from_bytes(b"short").is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "too short\n").unwrap();
        let error = LinkKey::from_file(&path).unwrap_err().to_string();
        assert!(
            error.contains("key") && error.contains("9 bytes"),
            "{error}"
        );
        assert!(error.contains(&path.display().to_string()), "{error}");
        let missing = LinkKey::from_file(&dir.path().join("none")).unwrap_err();
        assert!(matches!(missing, TokenError::KeyFile { .. }));
        std::fs::write(&path, "0123456789abcdef0123456789abcdef\n").unwrap();
        assert!(LinkKey::from_file(&path).is_ok());
        assert_eq!(format!("{:?}", key()), "LinkKey(…)", "never prints the key");
    }
}
