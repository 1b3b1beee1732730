//! HTML pages: the template environment and the responses built from it.
//!
//! Templates live in `templates/` and are compiled into the binary. Their names end in
//! `.html`, so minijinja escapes every value: mention titles, sources and notes come from
//! feeds and readers, and reach the page as text whatever the template does with them.
//! Pages share `layout.html` (one stylesheet, no inline style or script, so the strict
//! Content-Security-Policy set in `super::security_headers` holds).

use std::sync::OnceLock;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::{Environment, Value};

/// The templates, by name.
const TEMPLATES: [(&str, &str); 6] = [
    ("layout.html", include_str!("templates/layout.html")),
    ("refused.html", include_str!("templates/refused.html")),
    ("confirm.html", include_str!("templates/confirm.html")),
    ("recorded.html", include_str!("templates/recorded.html")),
    ("review.html", include_str!("templates/review.html")),
    ("login.html", include_str!("templates/login.html")),
];

/// The page environment, built once (a broken template is a bug: it shows on the first page
/// and in the unit tests below).
fn environment() -> Result<&'static Environment<'static>, &'static str> {
    static ENV: OnceLock<Result<Environment<'static>, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(|e| e.to_string())?;
        env.set_syntax(syntax);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .map_err(|e| format!("{name}: {e}"))?;
        }
        Ok(env)
    })
    .as_ref()
    .map_err(String::as_str)
}

/// Renders `template` with `context` as an HTML response with `status`.
pub fn render(status: StatusCode, template: &str, context: Value) -> Response {
    let html = environment().map_err(str::to_string).and_then(|env| {
        env.get_template(template)
            .and_then(|t| t.render(context))
            .map_err(|e| e.to_string())
    });
    match html {
        Ok(html) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
        Err(message) => {
            tracing::error!(template, error = %message, "cannot render a web page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "veille could not render this page; the daemon's log says why.",
            )
                .into_response()
        }
    }
}

/// A refusal in the reader's words: what went wrong, and what to do instead.
pub fn refused(status: StatusCode, heading: &str, message: &str, hint: Option<&str>) -> Response {
    render(
        status,
        "refused.html",
        minijinja::context! { heading, message, hint },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        let env = environment().expect("templates compile");
        for (name, _) in TEMPLATES {
            assert!(env.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn refusal_text_is_escaped() {
        let env = environment().expect("templates compile");
        let html = env
            .get_template("refused.html")
            .and_then(|t| {
                t.render(minijinja::context! {
                    heading => "No",
                    message => "<script>alert(1)</script>",
                })
            })
            .expect("render");
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("name=\"viewport\""), "{html}");
    }
}
