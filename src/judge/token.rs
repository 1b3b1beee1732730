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

use crate::model::MentionId;
use crate::model::Verdict;

type HmacSha256 = Hmac<Sha256>;

/// How long a judgment link in a mail stays valid, unless `web.link_ttl` says otherwise.
pub const LINK_TTL: std::time::Duration = std::time::Duration::from_secs(14 * 24 * 3600);

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

/// The command that writes a good key, named in every refusal of a weak one.
pub const GOOD_KEY_COMMAND: &str = "head -c 32 /dev/urandom | base64 > FILE";

/// Fewer distinct byte values (or steps between neighbours) than this in 32 or more bytes is
/// a pattern, not randomness: 32 random bytes have at least 23 of each in 20,000 draws, the
/// documented base64 form and 64 hex digits too.
const MIN_DISTINCT: usize = 16;

/// Bits per character of a text key that is not base64 (printable ASCII: log2 95 ≈ 6.57), in
/// hundredths; decoded base64 and raw bytes carry 8 bits per byte.
const TEXT_CENTIBITS_PER_CHAR: usize = 657;

/// Why `key` (the file's bytes, trimmed) is too weak to sign links, or None. Its strength is
/// judged on the bytes it stands for: the decoded bytes when it is base64 (the documented
/// form), else the bytes as they are. Table-tested below.
pub fn key_weakness(key: &[u8]) -> Option<String> {
    if let Some(period) = period(key) {
        return Some(repeated(&key[..period]));
    }
    let decoded = decode_base64(key);
    let (material, form) = match &decoded {
        Some(bytes) => (bytes.as_slice(), "after base64 decoding"),
        None => (key, "as written (not base64)"),
    };
    if let Some(period) = period(material) {
        return Some(format!(
            "the key repeats a pattern of {period} byte(s) {form}, so it is easy to guess"
        ));
    }
    if material.len() < MIN_KEY_BYTES {
        return Some(format!(
            "the key holds {} bytes {form}, at least {MIN_KEY_BYTES} random bytes are needed",
            material.len()
        ));
    }
    let distinct = |values: &mut dyn Iterator<Item = u8>| {
        let mut seen = [false; 256];
        values.for_each(|v| seen[usize::from(v)] = true);
        seen.iter().filter(|s| **s).count()
    };
    let values = distinct(&mut material.iter().copied());
    let steps = distinct(&mut material.windows(2).map(|w| w[1].wrapping_sub(w[0])));
    if values < MIN_DISTINCT || steps < MIN_DISTINCT {
        return Some(format!(
            "the key has only {} different byte values and {} different steps between them {form}: it is a pattern, not random bytes",
            values, steps
        ));
    }
    let printable =
        decoded.is_none() && material.iter().all(|b| b.is_ascii_graphic() || *b == b' ');
    if printable && material.len() * TEXT_CENTIBITS_PER_CHAR < MIN_KEY_BYTES * 8 * 100 {
        return Some(format!(
            "the key is {} characters of text {form}; text carries less than a byte of chance per character, so at least {} characters are needed",
            material.len(),
            (MIN_KEY_BYTES * 8 * 100).div_ceil(TEXT_CENTIBITS_PER_CHAR)
        ));
    }
    None
}

/// 32 bytes from the system's random source.
fn random_key(path: &Path) -> Result<Vec<u8>, TokenError> {
    let mut key = vec![0u8; MIN_KEY_BYTES];
    getrandom::fill(&mut key).map_err(|e| TokenError::KeyFile {
        path: path.to_path_buf(),
        reason: format!("no random source to create a key: {e}"),
    })?;
    Ok(key)
}

/// The longest pattern looked for: a key file can be of any size, and each length tried
/// costs a pass over it. A longer repeated pattern fails the distinct-values test anyway
/// unless it is itself random.
const MAX_PERIOD: usize = 64;

/// The shortest period of `bytes` (up to [`MAX_PERIOD`]) when it repeats at least twice
/// (`abab` → 2), else None.
fn period(bytes: &[u8]) -> Option<usize> {
    (1..=(bytes.len() / 2).min(MAX_PERIOD))
        .find(|&p| bytes.iter().skip(p).zip(bytes).all(|(a, b)| a == b))
}

fn repeated(unit: &[u8]) -> String {
    match std::str::from_utf8(unit) {
        Ok(text) if unit.iter().all(u8::is_ascii_graphic) => {
            format!("the key is {text:?} repeated, so it is easy to guess")
        }
        _ => format!(
            "the key is a pattern of {} byte(s) repeated, so it is easy to guess",
            unit.len()
        ),
    }
}

/// The bytes a base64 key stands for (standard or URL-safe alphabet, padded or not), or None
/// when `key` is not base64.
fn decode_base64(key: &[u8]) -> Option<Vec<u8>> {
    use base64::alphabet;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    let lenient = GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true);
    [
        GeneralPurpose::new(&alphabet::STANDARD, lenient),
        GeneralPurpose::new(&alphabet::URL_SAFE, lenient),
    ]
    .iter()
    .find_map(|engine| engine.decode(key).ok())
}

/// Where a configuration's link key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrigin {
    /// Read from `web.secret_file`.
    Read,
    /// Written to `web.secret_file` just now, because it did not exist and
    /// `web.create_secret` asks for it.
    Created,
    /// `web.secret_file` does not exist yet and will be created by the first command that
    /// runs veille (`web.create_secret`); the configuration was loaded without writing
    /// (`veille check`), so the key in memory is a random stand-in that signs nothing.
    Pending,
}

impl LinkKey {
    /// The key of `web.secret_file`. When the file does not exist and `create` is set, a new
    /// random key is written there first ([`LinkKey::create_file`]) if `write` allows it, or
    /// stood in for in memory if not. Without `create`, a missing file is an error.
    pub fn open(
        path: &Path,
        create: bool,
        write: bool,
    ) -> Result<(LinkKey, KeyOrigin), TokenError> {
        let missing = create
            && matches!(std::fs::symlink_metadata(path), Err(e) if e.kind() == std::io::ErrorKind::NotFound);
        if !missing {
            return Ok((LinkKey::from_file(path)?, KeyOrigin::Read));
        }
        if !write {
            return Ok((LinkKey(random_key(path)?), KeyOrigin::Pending));
        }
        let origin = if LinkKey::create_file(path)? {
            tracing::info!(path = %path.display(), "created a new link key (web.create_secret): links mailed with any earlier key are void");
            KeyOrigin::Created
        } else {
            // Another process created it between our look and our write: use theirs.
            KeyOrigin::Read
        };
        Ok((LinkKey::from_file(path)?, origin))
    }

    /// Writes a new key to `path` (base64 of 32 random bytes and a newline, mode 0600,
    /// creating its folder) unless a file is there. Atomic: the key is written whole to a
    /// temporary file beside it, then hard-linked to `path`, which fails if `path` exists;
    /// so two processes starting at once never read a half-written key, and both end up
    /// using the one that won. Returns whether this call created it.
    pub fn create_file(path: &Path) -> Result<bool, TokenError> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let failed = |e: std::io::Error| TokenError::KeyFile {
            path: path.to_path_buf(),
            reason: format!("cannot create it (web.create_secret): {e}"),
        };
        let text = format!(
            "{}\n",
            base64::engine::general_purpose::STANDARD.encode(random_key(path)?)
        );
        let folder = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(folder).map_err(failed)?;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("key");
        let unique: String = random_key(path)?[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let temporary = folder.join(format!(".{name}.{unique}.new"));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)
            .map_err(failed)?;
        let written = file
            .write_all(text.as_bytes())
            .and_then(|()| file.sync_all());
        let linked = written
            .map_err(failed)
            .map(|()| std::fs::hard_link(&temporary, path));
        let _ = std::fs::remove_file(&temporary);
        match linked? {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(failed(e)),
        }
    }

    /// Reads the key file. Surrounding whitespace is dropped (a key written with `echo` ends
    /// with a newline); what remains must be a strong key ([`key_weakness`]). The HMAC key is
    /// those bytes as written, base64 or not, so links already mailed stay valid.
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

    /// A key from its bytes (the file's, trimmed), refused when weak ([`key_weakness`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<LinkKey, TokenError> {
        if let Some(weakness) = key_weakness(bytes) {
            return Err(TokenError::KeyFile {
                path: PathBuf::new(),
                reason: format!("{weakness}: write a good one with `{GOOD_KEY_COMMAND}`"),
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

    /// `head -c 32 /dev/urandom | base64`, as the README says.
    const GOOD: &str = "Sj3k6DM1eiEgrANAocpp8ur6v0oDDmNyTb75v3SConU=";

    fn key() -> LinkKey {
        LinkKey::from_bytes(GOOD.as_bytes()).unwrap()
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap()
    }

    const TTL: std::time::Duration = super::LINK_TTL;

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
        let other = LinkKey::from_bytes(b"U0uvoGREeA59UtbNluHqVcFeXWcVnqcDTZamKnErx0s=").unwrap();
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
    fn weak_keys_are_refused_and_good_ones_of_every_usual_form_accepted() {
        let hex64 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        // 32 random bytes as a binary file (`head -c 32 /dev/urandom > FILE`).
        let raw = decode_base64(b"PJ0aZwadTO1zMClrOz8LLk4IBZitlCAOgLndM+ta2wk=").unwrap();
        let cases: [(&str, &[u8], Option<&str>); 15] = [
            ("the documented form", GOOD.as_bytes(), None),
            (
                "base64 without padding",
                GOOD.trim_end_matches('=').as_bytes(),
                None,
            ),
            (
                "url-safe base64",
                b"lCAwtZ6RPgu5dbTiGPDiwoOKZoJzp4o0ZrTIva0AjsY",
                None,
            ),
            (
                "64 hex digits (openssl rand -hex 32)",
                hex64.as_bytes(),
                None,
            ),
            ("raw random bytes", &raw, None),
            (
                "a long random text",
                b"q7#Rv!2m@Lx9$Tp4&Wz8*Nc1^Hb6%Kd3+Fs5?Gj0",
                None,
            ),
            ("32 times a", &[b'a'; 32], Some("\"a\" repeated")),
            ("44 times a, base64", &[b'a'; 44], Some("\"a\" repeated")),
            (
                "a short pattern",
                b"abc123abc123abc123abc123abc123abc123abc1",
                Some("\"abc123\" repeated"),
            ),
            ("32 equal raw bytes", &[42u8; 32], Some("repeated")),
            (
                "32 alphanumerics are 24 bytes of base64",
                b"k9T2mQ7vX4pL8sW1zR6yB3nC5hJ0dF2g",
                Some("24 bytes after base64 decoding"),
            ),
            (
                "openssl rand -hex 16",
                &hex64.as_bytes()[..32],
                Some("24 bytes"),
            ),
            (
                "few distinct bytes",
                b"!!~~!~~!!~!~!~~!!!~~!~!~~!!~!~~!~!!~~!~!",
                Some("only 2 different byte values"),
            ),
            (
                "a run of the alphabet",
                b"!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGH",
                Some("different steps"),
            ),
            (
                "a short text",
                b"correct horse battery staple again",
                Some("at least 39 characters"),
            ),
        ];
        for (case, key, weakness) in cases {
            let found = key_weakness(key);
            match (weakness, &found) {
                (None, None) => {}
                (Some(words), Some(found)) => assert!(found.contains(words), "{case}: {found}"),
                _ => panic!("{case}: expected {weakness:?}, found {found:?}"),
            }
            if let Err(TokenError::KeyFile { reason, .. }) = LinkKey::from_bytes(key) {
                assert!(reason.contains(GOOD_KEY_COMMAND), "{case}: {reason}");
            }
        }
    }

    #[test]
    fn a_missing_key_is_created_once_private_and_shared_by_racing_processes() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/web-secret");

        // Not asked to create: an error, as before. Asked but not allowed to write (check):
        // a stand-in, and nothing on disk.
        assert!(LinkKey::open(&path, false, true).is_err());
        let (_, origin) = LinkKey::open(&path, true, false).unwrap();
        assert_eq!(origin, KeyOrigin::Pending);
        assert!(!path.exists());

        // Eight threads start at once: one creates, all use its key.
        let keys: Vec<(LinkKey, KeyOrigin)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| LinkKey::open(&path, true, true).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let created = keys
            .iter()
            .filter(|(_, o)| *o == KeyOrigin::Created)
            .count();
        assert_eq!(
            created,
            1,
            "{:?}",
            keys.iter().map(|(_, o)| o).collect::<Vec<_>>()
        );
        let tags: std::collections::HashSet<String> =
            keys.iter().map(|(k, _)| mac(k, "test", b"x")).collect();
        assert_eq!(tags.len(), 1, "one key for all");

        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.len(), 45, "base64 of 32 bytes and a newline: {text:?}");
        assert_eq!(key_weakness(text.trim().as_bytes()), None);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("web-secret")]);

        // A later start reads it: the links it signed stay valid.
        let (again, origin) = LinkKey::open(&path, true, true).unwrap();
        assert_eq!(origin, KeyOrigin::Read);
        assert_eq!(mac(&again, "test", b"x"), mac(&keys[0].0, "test", b"x"));
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
        std::fs::write(&path, format!("{GOOD}\n")).unwrap();
        let read = LinkKey::from_file(&path).unwrap();
        // The HMAC key is the file's text, not the bytes it decodes to: links mailed before
        // keys were checked stay valid.
        let expires = now() + chrono::Duration::days(1);
        let by_text = LinkKey(GOOD.as_bytes().to_vec());
        let p = parts(&link_path(
            &by_text,
            MentionId(3),
            Verdict::Relevant,
            expires,
        ));
        assert!(check(&read, &p, now()).is_ok());
        assert_eq!(format!("{:?}", key()), "LinkKey(…)", "never prints the key");
    }
}
