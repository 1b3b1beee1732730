//! The daemon's HTTP listener (`daemon.listen`, off by default): `GET /metrics` in the
//! Prometheus text format and `GET /healthz` for load balancers and uptime checks.
//!
//! It serves whatever configuration the daemon runs now (it follows reloads through a
//! watch channel). It listens on loopback in the examples: the metrics name watches and
//! sources, which an admin may not want public.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::app::App;

/// The content type Prometheus expects for the text format.
const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves until `stop` turns true.
pub async fn serve(
    listener: TcpListener,
    app: watch::Receiver<App>,
    mut stop: watch::Receiver<bool>,
) {
    let router = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(app);
    let shutdown = async move {
        while !*stop.borrow() {
            if stop.changed().await.is_err() {
                return;
            }
        }
    };
    if let Err(e) = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(error = %e, "the HTTP listener stopped");
    }
}

async fn metrics(State(app): State<watch::Receiver<App>>) -> Response {
    let app = app.borrow().clone();
    let database = app.config.daemon.database.clone();
    let counts = match app.db(|s| s.counts()).await {
        Ok(counts) => counts,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the database for /metrics");
            return (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response();
        }
    };
    let size = database_size(&database);
    let body = app.metrics.render(&counts, app.config.sources.len(), size);
    ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], body).into_response()
}

/// 200 when the database answers, 503 otherwise; a one-line JSON body either way.
async fn healthz(State(app): State<watch::Receiver<App>>) -> Response {
    let app = app.borrow().clone();
    match app.db(|s| s.counts()).await {
        Ok(counts) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({
                "status": "ok",
                "sources": app.config.sources.len(),
                "sources_failing": counts.sources_failing,
                "outbox_pending": counts.outbox_pending,
                "outbox_failed": counts.outbox_failed,
            })
            .to_string(),
        )
            .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({ "status": "error", "error": e.to_string() }).to_string(),
        )
            .into_response(),
    }
}

/// The database file plus its write-ahead log, in bytes.
fn database_size(database: &std::path::Path) -> u64 {
    let wal = database.with_extension(
        database
            .extension()
            .map(|e| format!("{}-wal", e.to_string_lossy()))
            .unwrap_or_else(|| "wal".to_string()),
    );
    [database.to_path_buf(), wal]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}
