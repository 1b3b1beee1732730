//! Password checks (argon2), on [`WORKERS`] thread of their own behind a queue of
//! [`QUEUE`] places, each thread with argon2 memory it keeps.
//!
//! An argon2 check is built to cost memory: the hashes `veille hash-password` prints
//! (`Argon2::default()`: argon2id, m=19456 KiB, t=2, p=1, OWASP's recommendation) fill
//! 19 MiB per check. Run in tokio's blocking pool, as they were, every parallel login got
//! its own thread (up to 512) and its own 19 MiB: 200 parallel wrong posts took the daemon
//! from 28 MB to 3 GB, and kept it. A bounded pool alone is not enough either: allocating
//! the 19 MiB afresh for each check, two threads left glibc's allocator holding three
//! copies per thread arena (200 MB after 12 checks, measured). So each thread allocates its
//! argon2 memory once, at its first check, and reuses it (`hash_password_into_with_memory`);
//! the daemon's memory for password checks is then exactly `WORKERS` × the hash's memory
//! cost, whatever arrives. A post that finds the queue full is answered at once (503 with
//! `Retry-After`) and nothing is hashed for it.
//!
//! Trade-offs: after the first login the daemon keeps that memory (19 MiB with our hashes),
//! for a bound that holds under attack. One thread: a few checks a second is all a login
//! page needs once the throttle (`super::throttle`) has had its say, it leaves the other
//! cores to polling, and during a flood the admin's own attempt waits at most a queue's
//! worth of checks (or finds the queue full and retries a moment later). A hash made
//! elsewhere with a larger memory cost costs that much.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use argon2::password_hash::phc::Output;
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use tokio::sync::oneshot;

/// Threads that check passwords.
pub const WORKERS: usize = 1;
/// Checks that may wait for a thread; one more is refused.
pub const QUEUE: usize = 8;

/// One login to check.
pub struct Job {
    pub configured_user: String,
    pub password_hash: String,
    pub user: String,
    pub password: String,
    /// Where the answer goes: whether the login is right, or why it cannot be checked.
    pub reply: oneshot::Sender<Result<bool, String>>,
}

/// No place in the queue (or no thread to check): try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy {
    /// The first refusal since the queue last had room: worth one log line.
    pub first: bool,
}

/// The threads and their queue. Dropping it ends the threads once the queue is empty.
#[derive(Debug)]
pub struct Checker {
    jobs: Option<SyncSender<Job>>,
    saturated: AtomicBool,
}

impl Checker {
    /// Starts the threads.
    pub fn start() -> Checker {
        let (jobs, queue) = mpsc::sync_channel::<Job>(QUEUE);
        let queue = Arc::new(Mutex::new(queue));
        let mut started = 0;
        for n in 0..WORKERS {
            let queue = queue.clone();
            match std::thread::Builder::new()
                .name(format!("veille-login-{n}"))
                .spawn(move || work(&queue))
            {
                Ok(_) => started += 1,
                Err(e) => tracing::error!(error = %e, "cannot start a password-check thread"),
            }
        }
        Checker {
            jobs: (started > 0).then_some(jobs),
            saturated: AtomicBool::new(false),
        }
    }

    /// Queues a check; the answer comes on the job's `reply`.
    pub fn submit(&self, job: Job) -> Result<(), Busy> {
        let sent = match &self.jobs {
            Some(jobs) => jobs.try_send(job),
            None => Err(TrySendError::Disconnected(job)),
        };
        match sent {
            Ok(()) => {
                self.saturated.store(false, Ordering::Relaxed);
                Ok(())
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(Busy {
                first: !self.saturated.swap(true, Ordering::Relaxed),
            }),
        }
    }
}

fn work(queue: &Mutex<Receiver<Job>>) {
    let mut memory = Vec::new();
    loop {
        let job = {
            let queue = queue.lock().unwrap_or_else(|p| p.into_inner());
            queue.recv()
        };
        let Ok(job) = job else {
            return;
        };
        let checked = check_login(
            &mut memory,
            &job.configured_user,
            &job.password_hash,
            &job.user,
            &job.password,
        );
        // The client may have gone; nobody is waiting then.
        let _ = job.reply.send(checked);
    }
}

/// Checks a login, with `memory` as argon2's working memory (grown or shrunk to the hash's
/// memory cost, then kept). The password is checked even for a wrong user name, so the
/// answer takes as long either way.
pub fn check_login(
    memory: &mut Vec<Block>,
    configured_user: &str,
    password_hash: &str,
    user: &str,
    password: &str,
) -> Result<bool, String> {
    let password_ok = verify(memory, password_hash, password.as_bytes())
        .map_err(|e| format!("web.password_hash cannot be used: {e}"))?;
    Ok(password_ok && user == configured_user)
}

/// What `PasswordVerifier::verify_password` does, in memory we keep: the hash's algorithm,
/// version, parameters and salt applied to `password`, the output compared in constant
/// time (`Output`'s equality).
fn verify(memory: &mut Vec<Block>, hash: &str, password: &[u8]) -> Result<bool, String> {
    let parsed = PasswordHash::new(hash).map_err(|e| format!("not a PHC string: {e}"))?;
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return Err("the PHC string has no salt or no hash".to_string());
    };
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(|e| e.to_string())?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    let params = Params::try_from(&parsed).map_err(|e| e.to_string())?;
    let blocks = params.block_count();
    if memory.len() > blocks {
        memory.truncate(blocks);
        memory.shrink_to_fit();
    } else if memory.len() < blocks {
        memory.reserve_exact(blocks - memory.len());
        memory.resize(blocks, Block::new());
    }
    let mut output = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt.as_ref(), &mut output, &mut memory[..])
        .map_err(|e| e.to_string())?;
    let computed = Output::new(&output).map_err(|e| e.to_string())?;
    Ok(computed == *expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash_with(
        algorithm: Algorithm,
        version: Version,
        m: u32,
        t: u32,
        p: u32,
        password: &str,
    ) -> String {
        use argon2::PasswordHasher;
        let params = Params::new(m, t, p, None).unwrap_or_else(|e| panic!("{e}"));
        Argon2::new(algorithm, version, params)
            .hash_password(password.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"))
            .to_string()
    }

    fn cheap_hash(password: &str) -> String {
        hash_with(Algorithm::Argon2id, Version::V0x13, 8, 1, 1, password)
    }

    #[test]
    fn kept_memory_verifies_like_the_library_for_every_kind_of_hash() {
        use argon2::PasswordVerifier;
        let mut memory = Vec::new();
        let hashes = [
            hash_with(
                Algorithm::Argon2id,
                Version::V0x13,
                256,
                2,
                1,
                "correct horse",
            ),
            hash_with(
                Algorithm::Argon2i,
                Version::V0x13,
                64,
                1,
                2,
                "correct horse",
            ),
            hash_with(
                Algorithm::Argon2d,
                Version::V0x10,
                32,
                3,
                1,
                "correct horse",
            ),
            hash_with(
                Algorithm::Argon2id,
                Version::V0x13,
                512,
                1,
                4,
                "correct horse",
            ),
        ];
        for hash in &hashes {
            let parsed = PasswordHash::new(hash).unwrap_or_else(|e| panic!("{e}"));
            for password in ["correct horse", "correct hors", "", "correct horse "] {
                let library = Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok();
                let ours = verify(&mut memory, hash, password.as_bytes());
                assert_eq!(ours, Ok(library), "{hash} {password:?}");
            }
            // The memory follows the hash's cost (grown, or shrunk after a smaller one).
            let blocks = Params::try_from(&parsed)
                .unwrap_or_else(|e| panic!("{e}"))
                .block_count();
            assert_eq!(memory.len(), blocks, "{hash}");
        }
        assert_eq!(
            check_login(&mut memory, "admin", &hashes[0], "root", "correct horse"),
            Ok(false),
            "the right password under another name"
        );
        assert_eq!(
            check_login(&mut memory, "admin", &hashes[0], "admin", "correct horse"),
            Ok(true)
        );
        let broken = check_login(
            &mut memory,
            "admin",
            "$argon2id$v=19$nonsense",
            "admin",
            "x",
        );
        assert!(broken.is_err_and(|e| e.contains("web.password_hash")));
    }

    fn job(hash: &str, password: &str) -> (Job, oneshot::Receiver<Result<bool, String>>) {
        let (reply, answer) = oneshot::channel();
        (
            Job {
                configured_user: "admin".into(),
                password_hash: hash.into(),
                user: "admin".into(),
                password: password.into(),
                reply,
            },
            answer,
        )
    }

    #[test]
    fn checks_answer_and_a_full_queue_refuses_at_once() {
        let hash = cheap_hash("correct horse");
        let checker = Checker::start();
        let (right, answer) = job(&hash, "correct horse");
        assert_eq!(checker.submit(right), Ok(()));
        assert_eq!(answer.blocking_recv().ok(), Some(Ok(true)));
        let (wrong, answer) = job(&hash, "wrong");
        assert_eq!(checker.submit(wrong), Ok(()));
        assert_eq!(answer.blocking_recv().ok(), Some(Ok(false)));

        // A queue nobody reads: one place, then refusals (the first one says so).
        let (jobs, _queue) = mpsc::sync_channel::<Job>(1);
        let stalled = Checker {
            jobs: Some(jobs),
            saturated: AtomicBool::new(false),
        };
        assert_eq!(stalled.submit(job(&hash, "a").0), Ok(()));
        assert_eq!(stalled.submit(job(&hash, "b").0), Err(Busy { first: true }));
        assert_eq!(
            stalled.submit(job(&hash, "c").0),
            Err(Busy { first: false })
        );
    }
}
