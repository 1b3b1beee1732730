//! Real servers on 127.0.0.1 for the end-to-end tests: an HTTP server that serves feed
//! bytes and an SMTP sink that speaks enough of RFC 5321 for lettre (EHLO, MAIL, RCPT,
//! DATA, RSET, NOOP, QUIT). Each runs on its own thread with its own tokio runtime, so both
//! async tests and tests that drive the `veille` binary as a process can use them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// What the test HTTP server answers.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status: 200,
            headers: vec![("Content-Type".to_string(), content_type.to_string())],
            body: body.into(),
        }
    }

    pub fn status(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
}

/// A request as the handler sees it.
#[derive(Clone, Debug)]
pub struct Request {
    pub path: String,
    pub headers: HashMap<String, String>,
}

type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// A TCP server on its own thread and tokio runtime, stopped (and joined) on drop.
struct ServerThread {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerThread {
    /// Binds `addr` and runs `serve` on every accepted connection.
    fn start<F, Fut>(addr: SocketAddr, serve: F) -> ServerThread
    where
        F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = std::io::Result<()>> + Send + 'static,
    {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("test runtime");
            rt.block_on(async move {
                let listener = TcpListener::bind(addr).await.expect("bind test server");
                addr_tx
                    .send(listener.local_addr().expect("local addr"))
                    .expect("send addr");
                let accept = async {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        tokio::spawn(serve(stream));
                    }
                };
                tokio::select! {
                    () = accept => {}
                    _ = stop_rx => {}
                }
            });
        });
        let addr = addr_rx.recv().expect("test server address");
        ServerThread {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// An HTTP/1.1 server on 127.0.0.1 with routes that tests can change while it runs.
pub struct HttpServer {
    pub addr: SocketAddr,
    routes: Arc<Mutex<HashMap<String, Handler>>>,
    requests: Arc<Mutex<Vec<Request>>>,
    _server: ServerThread,
}

impl HttpServer {
    pub fn start() -> HttpServer {
        HttpServer::start_on(loopback())
    }

    /// Starts on a given address (another loopback address such as 127.0.0.2, which Linux
    /// routes to `lo` too, or `[::1]:0`).
    pub fn start_on(addr: SocketAddr) -> HttpServer {
        let routes: Arc<Mutex<HashMap<String, Handler>>> = Arc::default();
        let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
        let (r, q) = (routes.clone(), requests.clone());
        let server =
            ServerThread::start(addr, move |stream| serve_http(stream, r.clone(), q.clone()));
        HttpServer {
            addr: server.addr,
            routes,
            requests,
            _server: server,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Serves a fixed response at `path`.
    pub fn route(&self, path: &str, response: Response) {
        self.handle(path, move |_| response.clone());
    }

    /// Serves `path` with a handler that sees the request.
    pub fn handle(
        &self,
        path: &str,
        handler: impl Fn(&Request) -> Response + Send + Sync + 'static,
    ) {
        lock(&self.routes).insert(path.to_string(), Arc::new(handler));
    }

    /// Requests received so far for `path`.
    pub fn requests_for(&self, path: &str) -> Vec<Request> {
        lock(&self.requests)
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }
}

async fn serve_http(
    stream: tokio::net::TcpStream,
    routes: Arc<Mutex<HashMap<String, Handler>>>,
    requests: Arc<Mutex<Vec<Request>>>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut headers = HashMap::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let request = Request { path, headers };
    lock(&requests).push(request.clone());
    let handler = lock(&routes).get(&request.path).cloned();
    let response = match handler {
        Some(handler) => handler(&request),
        None => Response::status(404),
    };
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        response.status,
        response.body.len()
    );
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    write.write_all(head.as_bytes()).await?;
    write.write_all(&response.body).await?;
    write.shutdown().await
}

/// A mail the SMTP sink accepted.
#[derive(Clone, Debug)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
    /// The user the client authenticated as, when the sink asks for a login.
    pub login: Option<String>,
}

impl ReceivedMail {
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.data)
            .expect("a parsable mail")
    }

    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_string()
    }

    pub fn text(&self) -> String {
        self.parsed()
            .body_text(0)
            .map(|t| t.to_string())
            .unwrap_or_default()
    }

    pub fn html(&self) -> String {
        self.parsed()
            .body_html(0)
            .map(|t| t.to_string())
            .unwrap_or_default()
    }
}

/// An SMTP server on 127.0.0.1 that accepts every mail and keeps it.
pub struct SmtpSink {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<ReceivedMail>>>,
    _server: ServerThread,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        SmtpSink::start_on(loopback())
    }

    /// Starts on a given address (to bring a "crashed" server back on the same port).
    pub fn start_on(addr: SocketAddr) -> SmtpSink {
        SmtpSink::serve(addr, None)
    }

    /// A sink that requires a login (AUTH PLAIN or LOGIN, as a submission server does) with
    /// these credentials, and refuses mail before it (530) or with wrong ones (535).
    pub fn start_with_login(user: &str, password: &str) -> SmtpSink {
        SmtpSink::serve(loopback(), Some((user.to_string(), password.to_string())))
    }

    fn serve(addr: SocketAddr, login: Option<(String, String)>) -> SmtpSink {
        let received: Arc<Mutex<Vec<ReceivedMail>>> = Arc::default();
        let store = received.clone();
        let server = ServerThread::start(addr, move |stream| {
            serve_smtp(stream, store.clone(), login.clone())
        });
        SmtpSink {
            addr: server.addr,
            received,
            _server: server,
        }
    }

    pub fn received(&self) -> Vec<ReceivedMail> {
        lock(&self.received).clone()
    }

    /// Waits up to `timeout` for at least `count` mails.
    pub fn wait_for(&self, count: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= count || std::time::Instant::now() >= deadline {
                return received;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The user named by an AUTH PLAIN response (`authzid\0user\0password`, base64) if its
/// password is the expected one.
fn plain_login(response: &str, expected: &(String, String)) -> Option<String> {
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(response.trim())
        .ok()?;
    let mut parts = decoded.split(|b| *b == 0);
    let (_, user, password) = (parts.next()?, parts.next()?, parts.next()?);
    (user == expected.0.as_bytes() && password == expected.1.as_bytes()).then(|| expected.0.clone())
}

fn base64_text(text: &str) -> Option<String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()?;
    String::from_utf8(bytes).ok()
}

async fn serve_smtp(
    stream: tokio::net::TcpStream,
    store: Arc<Mutex<Vec<ReceivedMail>>>,
    required: Option<(String, String)>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    write
        .write_all(b"220 sink.test ESMTP test sink\r\n")
        .await?;
    let mut from = String::new();
    let mut to = Vec::new();
    let mut line = String::new();
    let mut login: Option<String> = None;
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_string();
        let upper = command.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            let auth = if required.is_some() {
                "250-AUTH PLAIN LOGIN\r\n"
            } else {
                ""
            };
            write
                .write_all(
                    format!(
                        "250-sink.test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n{auth}250 SIZE 10485760\r\n"
                    )
                    .as_bytes(),
                )
                .await?;
        } else if let (Some(expected), true) = (&required, upper.starts_with("AUTH ")) {
            let mut words = command.split_whitespace().skip(1);
            let mechanism = words.next().unwrap_or_default().to_ascii_uppercase();
            let initial = words.next().map(str::to_string);
            let accepted = match mechanism.as_str() {
                "PLAIN" => {
                    let response = match initial {
                        Some(response) => response,
                        None => {
                            write.write_all(b"334 \r\n").await?;
                            line.clear();
                            reader.read_line(&mut line).await?;
                            line.trim_end().to_string()
                        }
                    };
                    plain_login(&response, expected)
                }
                "LOGIN" => {
                    write.write_all(b"334 VXNlcm5hbWU6\r\n").await?;
                    line.clear();
                    reader.read_line(&mut line).await?;
                    let user = base64_text(&line).unwrap_or_default();
                    write.write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
                    line.clear();
                    reader.read_line(&mut line).await?;
                    let password = base64_text(&line).unwrap_or_default();
                    (user == expected.0 && password == expected.1).then_some(user)
                }
                _ => None,
            };
            match accepted {
                Some(user) => {
                    login = Some(user);
                    write.write_all(b"235 2.7.0 authenticated\r\n").await?;
                }
                None => {
                    write
                        .write_all(b"535 5.7.8 authentication credentials invalid\r\n")
                        .await?;
                }
            }
        } else if required.is_some() && login.is_none() && upper.starts_with("MAIL FROM:") {
            write
                .write_all(b"530 5.7.0 authentication required\r\n")
                .await?;
        } else if upper.starts_with("HELO") {
            write.write_all(b"250 sink.test\r\n").await?;
        } else if upper.starts_with("MAIL FROM:") {
            from = address_in(&command);
            to.clear();
            write.write_all(b"250 2.1.0 OK\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            let address = address_in(&command);
            // Mailboxes named `rejected@…` do not exist: a permanent refusal, as a real
            // server gives for an unknown user.
            if address.starts_with("rejected@") {
                write
                    .write_all(b"550 5.1.1 <rejected>: no such user\r\n")
                    .await?;
            } else {
                to.push(address);
                write.write_all(b"250 2.1.5 OK\r\n").await?;
            }
        } else if upper == "DATA" {
            write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
            let mut data = Vec::new();
            loop {
                let mut raw = Vec::new();
                if reader.read_until(b'\n', &mut raw).await? == 0 {
                    return Ok(());
                }
                if raw == b".\r\n" || raw == b".\n" {
                    break;
                }
                // Undo dot-stuffing.
                let content = if raw.starts_with(b"..") {
                    &raw[1..]
                } else {
                    &raw[..]
                };
                data.extend_from_slice(content);
            }
            lock(&store).push(ReceivedMail {
                from: from.clone(),
                to: to.clone(),
                data,
                login: login.clone(),
            });
            write.write_all(b"250 2.0.0 queued as test\r\n").await?;
        } else if upper == "RSET" || upper == "NOOP" {
            write.write_all(b"250 OK\r\n").await?;
        } else if upper == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            write.write_all(b"502 command not implemented\r\n").await?;
        }
    }
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn address_in(command: &str) -> String {
    let start = command.find('<').map_or(0, |i| i + 1);
    let end = command[start..]
        .find('>')
        .map_or(command.len(), |i| start + i);
    command[start..end].to_string()
}
