//! Logs, and traces when asked for: the global `tracing` subscriber.
//!
//! Logs go to stderr as text or JSON, filtered by `LOG_LEVEL`. When
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set (off by default), spans are also exported over
//! OTLP/HTTP with protobuf, configured by the standard `OTEL_*` variables: among them
//! the `agent.message` span of every message an agent handles (tenant, agent, action,
//! call or cast). That layer has its own filter, so tracing costs the hot path nothing
//! when the endpoint is not set, whatever `LOG_LEVEL` says.

use std::io::IsTerminal;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;

/// The standard variable that turns trace export on.
const OTLP_ENDPOINT_VARIABLE: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// The installed subscriber's parts that need an orderly end: dropping it flushes the
/// spans not yet exported.
#[must_use = "dropping it ends trace export"]
pub(crate) struct Telemetry {
    traces: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.traces.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("boardroom: traces not all exported at exit: {error}");
        }
    }
}

/// Installs the global subscriber. The filter was validated with the settings.
pub(crate) fn init(level: &str, format: LogFormat) -> Telemetry {
    let mut filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    // ractor wraps every actor's loop in an INFO span ("Actor", its id as a string):
    // entered and left on every poll of every agent, and kept in the registry for as long
    // as the actor lives. Unless LOG_LEVEL names ractor, its spans and chatter are off.
    if !level.contains("ractor")
        && let Ok(quiet) = "ractor=warn".parse()
    {
        filter = filter.add_directive(quiet);
    }
    // Colours only for people: escape codes in a pipe or a log file are noise.
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(std::io::stderr().is_terminal());
    let logs = match format {
        LogFormat::Text => logs.with_filter(filter).boxed(),
        LogFormat::Json => logs.json().with_filter(filter).boxed(),
    };
    let traces = std::env::var(OTLP_ENDPOINT_VARIABLE).ok().filter(|endpoint| !endpoint.trim().is_empty()).and_then(
        |endpoint| match trace_provider() {
            Ok(provider) => Some(provider),
            Err(error) => {
                eprintln!("boardroom: no trace export to {endpoint}: {error}");
                None
            }
        },
    );
    // `try_init`: a second call (tests) keeps the first subscriber instead of panicking.
    // Without export there is no span layer at all: an absent `Option` layer tells
    // tracing it is interested in every callsite, and every agent message would then
    // build its span in the registry for nothing.
    match &traces {
        Some(provider) => {
            let spans = tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("boardroom"))
                .with_filter(Targets::new().with_target("boardroom", tracing::Level::DEBUG));
            let _ = tracing_subscriber::registry().with(logs).with(spans).try_init();
        }
        None => {
            let _ = tracing_subscriber::registry().with(logs).try_init();
        }
    }
    Telemetry { traces }
}

/// Spans in batches to the OTLP/HTTP endpoint the `OTEL_*` variables name.
fn trace_provider() -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder().with_http().build()?;
    let resource = opentelemetry_sdk::Resource::builder().with_service_name("boardroom").build();
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build())
}
