//! Where untrusted documents are parsed: in child processes, so that no document can take
//! the daemon down or hold it.
//!
//! Every feed and page veille reads was written by someone else, possibly by the very
//! people a brand is in conflict with. `extract` bounds what it reads (nesting, items, text,
//! time) and never recurses as deep as its input, but it stands on parsers we did not write
//! (feed-rs, quick-xml, html5ever), and some failures cannot be caught inside a process: a
//! stack overflow or an allocation failure aborts it, and a parser stuck in a loop cannot be
//! stopped from another thread. Whatever happens while a document is parsed must cost that
//! one source one poll, not the daemon, and never the crisis alert of another source.
//!
//! So the daemon (`veille run`) parses in worker processes: the same binary started with a
//! hidden argument ([`WORKER_ARG`]), from `/proc/self/exe` (the running binary even after an
//! upgrade replaced the file, so both sides always speak the same protocol). A worker reads
//! one document at a time on its standard input and answers with the items or the error on
//! its standard output. It opens no connection, database or configuration, limits its
//! own address space ([`WORKER_MEMORY`]) at start, and sits in a process group of its own
//! (a Ctrl-C in the terminal stops the daemon, which then lets polls in flight finish).
//!
//! - A worker that dies while parsing (abort, signal, out of memory) fails that document's
//!   poll with the reason; the next document gets a new worker. A poll that fails this way
//!   is recorded on its source like any failure and retried later with backoff.
//! - A worker that has not answered after [`DEADLINE`] is killed, and the poll fails with
//!   "took longer than …".
//! - At most [`Extractor::workers`]' count run at once (one per core: parsing is CPU work);
//!   idle workers wait for the next document, so a poll cycle starts a handful of
//!   processes, not one per source.
//!
//! The trade-off: each document crosses a pipe twice (bytes in, items out), a few percent
//! of the parse time, and a worker costs a few megabytes while it lives. Tests and other
//! library users that build an [`crate::App`] themselves parse in-process
//! ([`Extractor::InProcess`], on the blocking pool, panics caught), which is what every
//! pure `extract` guarantee already makes safe for the inputs we know of.
//!
//! Wire format, both ways: a 4-byte big-endian length and that many bytes. A request is two
//! frames: the [`Document`] without its body (postcard), then the body as raw bytes (no
//! encoding cost for 10 MiB). The answer is one frame: `Result<Vec<WireItem>, String>`
//! (postcard).

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, ChildStdout};

use crate::extract;
use crate::extract::select::{PageSelect, SelectTexts};
use crate::model::SourceKind;
use crate::model::{Item, SourceId};

/// The hidden first argument that makes the `veille` binary a parsing worker.
pub const WORKER_ARG: &str = "__extract-worker";

/// How long a worker may take to answer for one document before it is killed. Far above
/// what any real document takes (milliseconds), and above extraction's own time budget, so
/// that this is the backstop for what the budget cannot interrupt.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// The address space a worker allows itself. A document is at most 10 MiB and at most
/// 5,000 items: a worker needs tens of megabytes; an allocation beyond this ends the worker
/// (and that document's poll), not the daemon.
pub const WORKER_MEMORY: u64 = 1 << 30;

/// The largest frame either side accepts (a 10 MiB body, or the items read from one).
const MAX_FRAME: usize = 256 * 1024 * 1024;

/// One document to parse.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Document {
    pub kind: SourceKind,
    /// The Content-Type it was served with (its charset counts).
    pub content_type: Option<String>,
    /// The URL it was fetched from, after redirects: relative links resolve against it.
    pub base: String,
    /// Page sources: the selectors, as written (a worker compiles them itself).
    pub select: Option<SelectTexts>,
    #[serde(skip)]
    pub body: Vec<u8>,
}

/// An item as it crosses the pipe (the source id stays on the daemon's side).
#[derive(Debug, Serialize, Deserialize)]
struct WireItem {
    identity: String,
    url: Option<String>,
    title: String,
    text: String,
    published: Option<chrono::DateTime<chrono::Utc>>,
    author: Option<String>,
    lang: Option<String>,
}

impl WireItem {
    fn of(item: Item) -> WireItem {
        WireItem {
            identity: item.identity,
            url: item.url,
            title: item.title,
            text: item.text,
            published: item.published,
            author: item.author,
            lang: item.lang,
        }
    }

    fn into_item(self, source: &SourceId) -> Item {
        Item {
            source: source.clone(),
            identity: self.identity,
            url: self.url,
            title: self.title,
            text: self.text,
            published: self.published,
            author: self.author,
            lang: self.lang,
        }
    }
}

type Answer = Result<Vec<WireItem>, String>;

/// Parses a document here, in this process: what a worker does with each request, and what
/// [`Extractor::InProcess`] does on the blocking pool. A panic becomes an error.
pub fn extract_here(source: &SourceId, document: &Document) -> Result<Vec<Item>, String> {
    let select = match &document.select {
        Some(texts) => Some(PageSelect::from_texts(texts)?),
        None => None,
    };
    let parse = || match document.kind {
        SourceKind::Feed => extract::feed_document(
            source,
            &document.body,
            document.content_type.as_deref(),
            Some(&document.base),
        ),
        SourceKind::Page => extract::page::page(
            source,
            &document.body,
            document.content_type.as_deref(),
            &document.base,
            select.as_ref(),
        ),
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(parse)) {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(concat!(
            "the parser failed on this document (a bug in veille or a library it uses); ",
            "it was not read"
        )
        .to_string()),
    }
}

/// How the daemon parses documents (kept across reloads; cheap to clone).
#[derive(Clone, Default)]
pub enum Extractor {
    /// On the blocking pool of this process (tests, library users).
    #[default]
    InProcess,
    /// In worker processes (`veille run`).
    Workers(Arc<Pool>),
}

impl std::fmt::Debug for Extractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Extractor::InProcess => f.write_str("Extractor::InProcess"),
            Extractor::Workers(pool) => write!(f, "Extractor::Workers({})", pool.count),
        }
    }
}

impl Extractor {
    /// Worker processes of the running binary, as many at once as there are cores.
    pub fn workers() -> Extractor {
        let program = PathBuf::from("/proc/self/exe");
        let program = if program.exists() {
            program
        } else {
            std::env::current_exe().unwrap_or(program)
        };
        let count = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Extractor::Workers(Arc::new(Pool::new(program, count, DEADLINE)))
    }

    /// Worker processes of `program` (which must answer to [`WORKER_ARG`]).
    pub fn workers_of(program: PathBuf, count: usize, deadline: Duration) -> Extractor {
        Extractor::Workers(Arc::new(Pool::new(program, count, deadline)))
    }

    /// The items of one document of `source`, or why it cannot be read.
    pub async fn extract(
        &self,
        source: &SourceId,
        document: Document,
    ) -> Result<Vec<Item>, String> {
        match self {
            Extractor::InProcess => {
                let source = source.clone();
                tokio::task::spawn_blocking(move || extract_here(&source, &document))
                    .await
                    .unwrap_or_else(|e| Err(format!("extraction did not finish: {e}")))
            }
            Extractor::Workers(pool) => pool.extract(source, &document).await,
        }
    }
}

/// Worker processes, started as needed, at most `count` at once.
pub struct Pool {
    program: PathBuf,
    count: usize,
    deadline: Duration,
    slots: tokio::sync::Semaphore,
    idle: Mutex<Vec<Worker>>,
}

impl Pool {
    fn new(program: PathBuf, count: usize, deadline: Duration) -> Pool {
        let count = count.max(1);
        Pool {
            program,
            count,
            deadline,
            slots: tokio::sync::Semaphore::new(count),
            idle: Mutex::new(Vec::new()),
        }
    }

    async fn extract(&self, source: &SourceId, document: &Document) -> Result<Vec<Item>, String> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| "the parser pool is closed".to_string())?;
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        // A worker that died while idle fails at the first write: start a fresh one then,
        // so that only a worker that was handed this document can blame it.
        let mut worker = match idle {
            Some(mut worker) => match worker.send(document).await {
                Ok(()) => worker,
                Err(_) => {
                    worker.stop().await;
                    self.fresh_worker_with(document).await?
                }
            },
            None => self.fresh_worker_with(document).await?,
        };
        match tokio::time::timeout(self.deadline, worker.receive()).await {
            Ok(Ok(answer)) => {
                self.idle
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(worker);
                answer.map(|items| items.into_iter().map(|i| i.into_item(source)).collect())
            }
            Ok(Err(_)) => {
                let how = worker.stop().await;
                tracing::warn!(how = %how, "a parser process died on this document; the next document gets a new one");
                Err(format!(
                    "this document crashed the parser ({how}): it was not read; veille goes on and tries again at the next poll"
                ))
            }
            Err(_) => {
                worker.stop().await;
                tracing::warn!(
                    seconds = self.deadline.as_secs(),
                    "a parser process took too long on this document and was stopped"
                );
                Err(format!(
                    "reading this document took longer than {} s: stopped",
                    self.deadline.as_secs()
                ))
            }
        }
    }

    async fn fresh_worker_with(&self, document: &Document) -> Result<Worker, String> {
        let mut worker = Worker::start(&self.program).map_err(|e| {
            format!(
                "cannot start a parser process ({}): {e}",
                self.program.display()
            )
        })?;
        match worker.send(document).await {
            Ok(()) => Ok(worker),
            Err(e) => {
                let how = worker.stop().await;
                Err(format!(
                    "a new parser process did not take the document ({how}): {e}"
                ))
            }
        }
    }
}

/// One worker process and its pipes.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
}

impl Worker {
    fn start(program: &std::path::Path) -> io::Result<Worker> {
        let mut child = tokio::process::Command::new(program)
            .arg(WORKER_ARG)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .env_remove("RUST_LOG")
            .process_group(0)
            .kill_on_drop(true)
            .spawn()?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(io::Error::other("the worker has no pipes"));
        };
        Ok(Worker {
            child,
            stdin,
            stdout,
        })
    }

    async fn send(&mut self, document: &Document) -> io::Result<()> {
        let head = postcard::to_stdvec(document).map_err(io::Error::other)?;
        write_frame(&mut self.stdin, &head).await?;
        write_frame(&mut self.stdin, &document.body).await?;
        self.stdin.flush().await
    }

    async fn receive(&mut self) -> io::Result<Result<Vec<WireItem>, String>> {
        let frame = read_frame(&mut self.stdout).await?;
        postcard::from_bytes::<Answer>(&frame).map_err(io::Error::other)
    }

    /// Kills the worker (if it still runs) and says how it ended.
    async fn stop(mut self) -> String {
        let _ = self.child.start_kill();
        match self.child.wait().await {
            Ok(status) => describe_exit(status),
            Err(e) => format!("its end could not be read: {e}"),
        }
    }
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(signal) = status.signal() {
        let name = nix::sys::signal::Signal::try_from(signal)
            .map_or_else(|_| format!("signal {signal}"), |s| s.as_str().to_string());
        let meaning = match signal {
            6 => ": aborted, e.g. a stack overflow or out of memory",
            9 => ": killed",
            11 => ": invalid memory access",
            _ => "",
        };
        format!("killed by {name}{meaning}")
    } else {
        match status.code() {
            Some(code) => format!("exited with status {code}"),
            None => "ended".to_string(),
        }
    }
}

async fn write_frame(out: &mut ChildStdin, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len()).map_err(|_| io::Error::other("frame too large"))?;
    out.write_all(&len.to_be_bytes()).await?;
    out.write_all(bytes).await
}

async fn read_frame(input: &mut ChildStdout) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    input.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::other(format!("a frame of {len} bytes")));
    }
    let mut frame = vec![0u8; len];
    input.read_exact(&mut frame).await?;
    Ok(frame)
}

/// The worker's side: limits its memory, then answers documents read on standard input
/// until it closes. Returns when the daemon is gone (end of input) or on a broken pipe.
pub fn serve_worker() -> io::Result<()> {
    use nix::sys::resource::{Resource, setrlimit};
    if let Err(e) = setrlimit(Resource::RLIMIT_AS, WORKER_MEMORY, WORKER_MEMORY) {
        // Not fatal: the deadline and the daemon's crash handling still hold.
        eprintln!("veille parser: cannot limit its memory: {e}");
    }
    // A panic while parsing is caught and answered as that document's error (with its
    // message); the default hook would also print it, several lines of it, straight to
    // the daemon's standard error, around the log's one-line guarantee.
    std::panic::set_hook(Box::new(|_| {}));
    let source = SourceId::new("document");
    let mut input = io::stdin().lock();
    let mut output = io::stdout().lock();
    loop {
        let head = match read_frame_blocking(&mut input) {
            Ok(head) => head,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        };
        let body = read_frame_blocking(&mut input)?;
        let answer: Answer = match postcard::from_bytes::<Document>(&head) {
            Ok(mut document) => {
                document.body = body;
                extract_here(&source, &document)
                    .map(|items| items.into_iter().map(WireItem::of).collect())
            }
            Err(e) => Err(format!("the parser could not read its request: {e}")),
        };
        let bytes = postcard::to_stdvec(&answer).map_err(io::Error::other)?;
        let len = u32::try_from(bytes.len()).map_err(|_| io::Error::other("answer too large"))?;
        output.write_all(&len.to_be_bytes())?;
        output.write_all(&bytes)?;
        output.flush()?;
    }
}

fn read_frame_blocking(input: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    input.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::other(format!("a frame of {len} bytes")));
    }
    let mut frame = vec![0u8; len];
    input.read_exact(&mut frame)?;
    Ok(frame)
}
