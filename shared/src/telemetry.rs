//! Structured JSON logs for CloudWatch (and the local gateway's terminal).
//!
//! Every line of a request carries its spans: on Lambda the runtime's (`requestId`), then ours
//! (`route`, and `user` once the caller is known; `connection_id` on the WebSocket side), so one
//! CloudWatch Logs Insights filter follows a request, a user or a socket.

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;

/// One JSON object per line, at the level `RUST_LOG` names (`error`, `warn`, `info`, `debug`,
/// `trace`, `off`; default `info`). A level, not per-module directives: the directive parser
/// brings a regex engine into every function binary (about half a megabyte).
pub fn init() {
    let level =
        std::env::var("RUST_LOG").ok().and_then(|v| v.trim().parse::<LevelFilter>().ok()).unwrap_or(LevelFilter::INFO);
    let _ = tracing::subscriber::set_global_default(json_subscriber(std::io::stdout, level));
}

/// The subscriber [`init`] installs, writing to `writer` (tests capture lines with it): the
/// event's fields flattened into the line, and the list of its spans (`spans`, outermost first).
pub fn json_subscriber<W>(writer: W, level: LevelFilter) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(true)
        .with_target(false)
        .with_max_level(level)
        .with_writer(writer)
        .finish()
}
