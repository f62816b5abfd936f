//! Logging set-up: `tracing` with an `RUST_LOG` filter, as text or JSON lines.
//!
//! Trace-level events of HTTP transport crates are dropped even under `RUST_LOG=trace`: at that
//! level they may print raw frames, and those carry the Monday.com token and Secret data.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::prelude::*;

/// Log line format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Crates whose trace-level events are dropped; see the module docs for why.
const TRANSPORT_CRATES: &[&str] = &[
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "rustls",
    "tower",
    "http_body",
];

fn is_transport_trace(meta: &tracing::Metadata<'_>) -> bool {
    *meta.level() == tracing::Level::TRACE
        && TRANSPORT_CRATES.iter().any(|c| {
            meta.target()
                .strip_prefix(c)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        })
}

/// Installs the global subscriber. `RUST_LOG` selects levels (default `info`). Logs go to stderr,
/// so one-shot commands keep stdout for their result.
pub fn init(format: LogFormat) -> Result<(), tracing_subscriber::util::TryInitError> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let no_transport_trace =
        tracing_subscriber::filter::filter_fn(|meta| !is_transport_trace(meta));
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(true)
                    .with_writer(std::io::stderr)
                    .with_filter(no_transport_trace),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_filter(no_transport_trace),
            )
            .try_init(),
    }
}
