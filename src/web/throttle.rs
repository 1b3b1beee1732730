//! Failed-login throttling: per client, and overall.
//!
//! Each login attempt is counted when it starts (so a burst of parallel posts cannot all
//! slip through before the first one fails; one the password-check queue then refuses
//! counts too) and forgiven when it succeeds. The first
//! [`Policy::free`] attempts in a row are free; each one after that makes the next attempt
//! wait longer (1 s, 2 s, 4 s… up to [`Policy::max_delay`]), and an attempt made before
//! that moment is refused with 429 and `Retry-After`, without hashing anything. A record is
//! forgotten once it has seen no attempt for [`Policy::forget_after`].
//!
//! | scope | free | then waits | at most | forgotten after |
//! |---|---|---|---|---|
//! | one client ([`CLIENT`]) | 5 | 1 s, doubling | 5 min | 15 min without an attempt |
//! | everyone together ([`OVERALL`]) | 30 | 1 s, doubling | 1 min | 15 min without an attempt |
//!
//! **A throttle that ends, not a lockout.** Locking the account after N failures would let
//! anyone lock the real admin out for as long as they keep trying. Here the worst a client
//! suffers is one attempt per 5 minutes from its own address (12 an hour, about a hundred
//! thousand a year against an argon2id hash), and a correct password forgives its address
//! at once. The overall limit is what holds when the guesses come from many addresses (or
//! from a proxy that forwards forged headers): at most one attempt a minute for everyone
//! once it is reached, and during such an attack the admin competes for that minute. The
//! way out that an attacker cannot take from them: requests from this machine itself (a
//! loopback peer without proxy headers, e.g. through `ssh -L`) are exempt from the overall
//! limit (still throttled per client); a proxy that sends no headers at all makes everyone
//! look like that one local client, and its per-client limit then acts as the overall one.
//!
//! Memory: at most [`MAX_CLIENTS`] records (about 64 bytes each); when the table is full of
//! clients seen recently, a new client is only subject to the overall limit.
//!
//! Time comes from the application clock, so tests can move it.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::guard::{Client, ClientKey};

/// How one scope is throttled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Attempts in a row allowed without waiting.
    pub free: u32,
    /// The wait after the first attempt past the free ones; doubles with each attempt.
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// A record with no attempt for this long starts over.
    pub forget_after: Duration,
}

/// One client (address, or IPv6 /64).
pub const CLIENT: Policy = Policy {
    free: 5,
    first_delay: Duration::from_secs(1),
    max_delay: Duration::from_secs(5 * 60),
    forget_after: Duration::from_secs(15 * 60),
};

/// Everyone together, except this machine itself.
pub const OVERALL: Policy = Policy {
    free: 30,
    first_delay: Duration::from_secs(1),
    max_delay: Duration::from_secs(60),
    forget_after: Duration::from_secs(15 * 60),
};

/// Most clients remembered at once.
pub const MAX_CLIENTS: usize = 10_000;

impl Policy {
    /// The wait after the `attempts`-th attempt in a row.
    pub fn delay(&self, attempts: u32) -> Duration {
        let Some(past_free) = attempts.checked_sub(self.free + 1) else {
            return Duration::ZERO;
        };
        let factor = 1u32.checked_shl(past_free.min(31)).unwrap_or(u32::MAX);
        self.first_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

/// Which limit refused an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Client,
    Overall,
}

impl Scope {
    /// As a metric label.
    pub fn label(self) -> &'static str {
        match self {
            Scope::Client => "client",
            Scope::Overall => "overall",
        }
    }
}

/// An attempt that must wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub scope: Scope,
    /// Whole seconds, at least 1 (for `Retry-After`).
    pub retry_after: u64,
    /// The first refusal of this episode: worth one log line.
    pub first: bool,
}

#[derive(Debug, Clone, Copy)]
struct Record {
    attempts: u32,
    last: DateTime<Utc>,
    not_before: DateTime<Utc>,
    /// A refusal was logged since the record started.
    warned: bool,
}

impl Record {
    fn new(now: DateTime<Utc>) -> Record {
        Record {
            attempts: 0,
            last: now,
            not_before: now,
            warned: false,
        }
    }

    fn forgotten(&self, policy: &Policy, now: DateTime<Utc>) -> bool {
        now.signed_duration_since(self.last)
            .to_std()
            .is_ok_and(|idle| idle >= policy.forget_after)
    }

    /// The refusal, if an attempt now is too early.
    fn check(&mut self, scope: Scope, now: DateTime<Utc>) -> Option<Refused> {
        let wait = self.not_before.signed_duration_since(now);
        if wait <= chrono::TimeDelta::zero() {
            return None;
        }
        let millis = u64::try_from(wait.num_milliseconds()).unwrap_or(0);
        let first = !self.warned;
        self.warned = true;
        Some(Refused {
            scope,
            retry_after: millis.div_ceil(1000).max(1),
            first,
        })
    }

    fn count(&mut self, policy: &Policy, now: DateTime<Utc>) {
        self.attempts = self.attempts.saturating_add(1);
        self.last = now;
        let delay = chrono::TimeDelta::from_std(policy.delay(self.attempts))
            .unwrap_or(chrono::TimeDelta::MAX);
        self.not_before = now.checked_add_signed(delay).unwrap_or(now);
    }
}

/// The throttle's state: one record per client, one for everyone.
#[derive(Debug)]
pub struct Throttle {
    client: Policy,
    overall_policy: Policy,
    clients: HashMap<ClientKey, Record>,
    overall: Record,
    max_clients: usize,
}

impl Default for Throttle {
    fn default() -> Throttle {
        Throttle::new(CLIENT, OVERALL, MAX_CLIENTS)
    }
}

impl Throttle {
    pub fn new(client: Policy, overall: Policy, max_clients: usize) -> Throttle {
        Throttle {
            client,
            overall_policy: overall,
            clients: HashMap::new(),
            overall: Record::new(DateTime::<Utc>::MIN_UTC),
            max_clients,
        }
    }

    /// An attempt by `client` now: counted and allowed, or refused (and not counted).
    pub fn attempt(&mut self, client: &Client, now: DateTime<Utc>) -> Result<(), Refused> {
        let policy = self.client;
        if let Some(record) = self.clients.get_mut(&client.key)
            && record.forgotten(&policy, now)
        {
            *record = Record::new(now);
        }
        if let Some(refused) = self
            .clients
            .get_mut(&client.key)
            .and_then(|r| r.check(Scope::Client, now))
        {
            return Err(refused);
        }
        if !client.local {
            if self.overall.forgotten(&self.overall_policy, now) {
                self.overall = Record::new(now);
            }
            if let Some(refused) = self.overall.check(Scope::Overall, now) {
                return Err(refused);
            }
            self.overall.count(&self.overall_policy, now);
        }
        if !self.clients.contains_key(&client.key) && self.clients.len() >= self.max_clients {
            self.clients.retain(|_, r| !r.forgotten(&policy, now));
        }
        if self.clients.len() < self.max_clients || client.local {
            self.clients
                .entry(client.key)
                .or_insert_with(|| Record::new(now))
                .count(&policy, now);
        }
        Ok(())
    }

    /// `client` logged in: its address starts over, and its attempt no longer counts
    /// against everyone.
    pub fn succeeded(&mut self, client: &Client) {
        self.clients.remove(&client.key);
        if !client.local {
            self.overall.attempts = self.overall.attempts.saturating_sub(1);
        }
    }

    /// Clients remembered now.
    #[cfg(test)]
    pub fn clients(&self) -> usize {
        self.clients.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0)
            .single()
            .unwrap_or_else(|| panic!("time"))
    }

    fn client(n: u8) -> Client {
        Client {
            key: ClientKey::Addr(std::net::IpAddr::from([203, 0, 113, n])),
            local: false,
        }
    }

    fn secs(n: i64) -> chrono::TimeDelta {
        chrono::TimeDelta::seconds(n)
    }

    #[test]
    fn delays_grow_from_the_first_attempt_past_the_free_ones() {
        let delays: Vec<u64> = (1..=16).map(|n| CLIENT.delay(n).as_secs()).collect();
        assert_eq!(
            delays,
            [0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
        );
        assert_eq!(OVERALL.delay(30), Duration::ZERO);
        assert_eq!(OVERALL.delay(31), Duration::from_secs(1));
        assert_eq!(OVERALL.delay(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn a_client_waits_longer_and_longer_then_is_forgotten() {
        let mut throttle = Throttle::default();
        let one = client(1);
        for _ in 0..6 {
            assert_eq!(throttle.attempt(&one, now()), Ok(()));
        }
        // The sixth made the next one wait a second: refused, logged once.
        let refused = throttle.attempt(&one, now());
        assert_eq!(
            refused,
            Err(Refused {
                scope: Scope::Client,
                retry_after: 1,
                first: true
            })
        );
        assert!(matches!(
            throttle.attempt(&one, now()),
            Err(Refused { first: false, .. })
        ));
        // Another client is not affected.
        assert_eq!(throttle.attempt(&client(2), now()), Ok(()));
        // A second later: allowed, and the next waits two.
        assert_eq!(throttle.attempt(&one, now() + secs(1)), Ok(()));
        assert!(matches!(
            throttle.attempt(&one, now() + secs(2)),
            Err(Refused { retry_after: 1, .. })
        ));
        assert_eq!(throttle.attempt(&one, now() + secs(3)), Ok(()));
        assert!(matches!(
            throttle.attempt(&one, now() + secs(3)),
            Err(Refused { retry_after: 4, .. })
        ));
        // Fifteen quiet minutes: a fresh start, five free attempts again.
        let later = now() + secs(3 + 15 * 60);
        for _ in 0..6 {
            assert_eq!(throttle.attempt(&one, later), Ok(()));
        }
        assert!(throttle.attempt(&one, later).is_err());
    }

    #[test]
    fn a_success_forgives_the_client() {
        let mut throttle = Throttle::default();
        let one = client(1);
        for _ in 0..6 {
            assert_eq!(throttle.attempt(&one, now()), Ok(()));
        }
        throttle.succeeded(&one);
        assert_eq!(throttle.attempt(&one, now()), Ok(()));
    }

    #[test]
    fn many_clients_meet_the_overall_limit_but_this_machine_does_not() {
        let mut throttle = Throttle::default();
        for n in 0..30 {
            assert_eq!(throttle.attempt(&client(n), now()), Ok(()), "{n}");
        }
        // The 31st attempt overall is allowed and makes everyone wait a second.
        assert_eq!(throttle.attempt(&client(100), now()), Ok(()));
        let refused = throttle.attempt(&client(101), now());
        assert_eq!(
            refused,
            Err(Refused {
                scope: Scope::Overall,
                retry_after: 1,
                first: true
            })
        );
        assert!(matches!(
            throttle.attempt(&client(102), now()),
            Err(Refused {
                scope: Scope::Overall,
                first: false,
                ..
            })
        ));
        let local = Client {
            key: ClientKey::Addr(std::net::IpAddr::from([127, 0, 0, 1])),
            local: true,
        };
        assert_eq!(throttle.attempt(&local, now()), Ok(()));
        // A proxy's unnamed clients are one client, and count overall too.
        let unnamed = Client {
            key: ClientKey::UnknownBehindProxy,
            local: false,
        };
        assert!(matches!(
            throttle.attempt(&unnamed, now()),
            Err(Refused {
                scope: Scope::Overall,
                ..
            })
        ));
    }

    #[test]
    fn the_table_stays_bounded_and_the_overall_limit_still_holds() {
        let mut throttle = Throttle::new(CLIENT, OVERALL, 4);
        for n in 0..10 {
            assert_eq!(throttle.attempt(&client(n), now()), Ok(()));
        }
        assert_eq!(throttle.clients(), 4);
        // Forgotten records make room again.
        let later = now() + secs(16 * 60);
        assert_eq!(throttle.attempt(&client(50), later), Ok(()));
        assert_eq!(throttle.clients(), 1);
    }
}
