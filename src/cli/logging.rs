//! Logging: standard error, text or JSON, filtered by `RUST_LOG`, and two guarantees that
//! hold at every level an admin can ask for.
//!
//! - **No secret reaches the log.** lettre's SMTP client logs every line it writes at
//!   debug level: the `AUTH` exchange (the password, base64-encoded) and whole mails (whose
//!   judgment links are credentials). Its client module is held at info whatever
//!   `RUST_LOG` says ([`SILENCED`]: a more specific directive wins over `lettre=trace` or a
//!   global `trace`). Our own code never logs a password, a token, a key or a mail body;
//!   URLs are logged without their userinfo (`fetch::credentials`).
//! - **One event, one line.** Feed publishers, HTTP clients and redirect targets choose
//!   some of the text that ends up in log fields (an error message, a user name typed in
//!   the login form). In the text format a newline in such a field would start a line that
//!   looks like veille's own. The writer escapes every line break inside an event (`\n`,
//!   `\r`, NEL, U+2028, U+2029) before it reaches standard error; only the event's final
//!   newline stays. JSON lines are already escaped by the serializer; the writer changes
//!   nothing there.

use std::io::{self, Write};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use super::LogFormat;

/// Directives added after `RUST_LOG`: modules whose verbose levels would log secrets.
pub const SILENCED: &[&str] = &["lettre::transport::smtp::client=info"];

pub fn init(default_level: &str, format: LogFormat) {
    let mut filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    for directive in SILENCED {
        if let Ok(directive) = directive.parse() {
            filter = filter.add_directive(directive);
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(OneEventPerLine(io::stderr));
    match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        // Spans (the source id and URL of a run) are part of each JSON line.
        LogFormat::Json => builder.json().with_current_span(true).init(),
    }
}

/// Makes writers that escape line breaks inside an event (see the module doc). The fmt
/// layer writes each event with one `write_all` of the whole formatted line.
struct OneEventPerLine<M>(M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for OneEventPerLine<M> {
    type Writer = Escaping<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        Escaping(self.0.make_writer())
    }
}

struct Escaping<W>(W);

impl<W: Write> Write for Escaping<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(&escape_line_breaks(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// `buf` with every line break but a final `\n` written as an escape.
fn escape_line_breaks(buf: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let (body, end) = match buf.strip_suffix(b"\n") {
        Some(body) => (body, &b"\n"[..]),
        None => (buf, &b""[..]),
    };
    let breaks = |b: &[u8]| {
        b.contains(&b'\n')
            || b.contains(&b'\r')
            || b.windows(2).any(|w| w == [0xC2, 0x85])
            || b.windows(3)
                .any(|w| w == [0xE2, 0x80, 0xA8] || w == [0xE2, 0x80, 0xA9])
    };
    if !breaks(body) {
        return std::borrow::Cow::Borrowed(buf);
    }
    let mut out = Vec::with_capacity(buf.len() + 16);
    let mut i = 0;
    while i < body.len() {
        let rest = &body[i..];
        let (escape, len): (&[u8], usize) = match rest {
            [b'\n', ..] => (b"\\n", 1),
            [b'\r', ..] => (b"\\r", 1),
            [0xC2, 0x85, ..] => (b"\\u{85}", 2),
            [0xE2, 0x80, 0xA8, ..] => (b"\\u{2028}", 3),
            [0xE2, 0x80, 0xA9, ..] => (b"\\u{2029}", 3),
            [byte, ..] => {
                out.push(*byte);
                i += 1;
                continue;
            }
            [] => break,
        };
        out.extend_from_slice(escape);
        i += len;
    }
    out.extend_from_slice(end);
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_breaks_inside_an_event_are_escaped() {
        let cases: [(&str, &str); 6] = [
            ("plain line\n", "plain line\n"),
            (
                "WARN failed login user=\"x\"\nINFO forged\n",
                "WARN failed login user=\"x\"\\nINFO forged\n",
            ),
            ("a\r\nb\n", "a\\r\\nb\n"),
            (
                "a\u{2028}b\u{2029}c\u{85}d\n",
                "a\\u{2028}b\\u{2029}c\\u{85}d\n",
            ),
            ("no final newline\nhere", "no final newline\\nhere"),
            ("accents éèœ stay\n", "accents éèœ stay\n"),
        ];
        for (given, written) in cases {
            let mut out = Vec::new();
            let mut writer = Escaping(&mut out);
            writer
                .write_all(given.as_bytes())
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(String::from_utf8_lossy(&out), written, "{given:?}");
        }
    }

    /// Through the real formatter: one event with a hostile field is one line.
    #[test]
    fn a_hostile_field_stays_on_its_line() {
        let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = out.clone();
        let make = move || Escaping(SharedBuffer(sink.clone()));
        let subscriber = tracing_subscriber::fmt()
            .with_writer(make)
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let user = "admin\n2026-12-03T12:00:00Z  INFO veille: logged in";
            tracing::warn!(user = %user, "failed login");
            tracing::warn!(error = %"bad\r\nredirect", "poll failed");
        });
        let text =
            String::from_utf8_lossy(&out.lock().unwrap_or_else(|p| p.into_inner())).to_string();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.contains("admin\\n2026"), "{text}");
    }

    struct SharedBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for SharedBuffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
}
