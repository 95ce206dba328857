//! Structured JSON logs for CloudWatch (and the local gateway's terminal).

use tracing_subscriber::filter::LevelFilter;

/// One JSON object per line, at the level `RUST_LOG` names (`error`, `warn`, `info`, `debug`,
/// `trace`, `off`; default `info`). A level, not per-module directives: the directive parser
/// brings a regex engine into every function binary (about half a megabyte).
pub fn init() {
    let level =
        std::env::var("RUST_LOG").ok().and_then(|v| v.trim().parse::<LevelFilter>().ok()).unwrap_or(LevelFilter::INFO);
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_max_level(level)
        .try_init();
}
