//! Logs as hclog JSON lines on stderr, which go-plugin parses so that
//! `TF_LOG=debug` shows them with Terraform's own.

use std::collections::BTreeMap;
use std::io::Write;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

/// Installs the hclog layer. The level comes from `TF_LOG_PROVIDER`, then
/// `TF_LOG` (as Terraform names them), and defaults to `warn`.
pub fn init() {
    let level = std::env::var("TF_LOG_PROVIDER")
        .or_else(|_| std::env::var("TF_LOG"))
        .ok()
        .and_then(|v| parse_level(&v))
        .unwrap_or(Level::WARN);
    let filter = tracing_subscriber::filter::LevelFilter::from_level(level);
    let _ = tracing_subscriber::registry()
        .with(HclogLayer.with_filter(filter))
        .try_init();
}

fn parse_level(text: &str) -> Option<Level> {
    match text.to_ascii_lowercase().as_str() {
        "trace" | "json" => Some(Level::TRACE),
        "debug" => Some(Level::DEBUG),
        "info" => Some(Level::INFO),
        "warn" => Some(Level::WARN),
        "error" => Some(Level::ERROR),
        _ => None,
    }
}

pub struct HclogLayer;

impl<S: Subscriber> Layer<S> for HclogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let line = render(event);
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "{line}");
    }
}

/// One event as an hclog JSON object.
pub fn render(event: &Event<'_>) -> String {
    let mut fields = FieldCollector::default();
    event.record(&mut fields);
    let mut object = serde_json::Map::new();
    object.insert(
        "@level".into(),
        event
            .metadata()
            .level()
            .as_str()
            .to_ascii_lowercase()
            .into(),
    );
    object.insert(
        "@message".into(),
        fields.message.take().unwrap_or_default().into(),
    );
    object.insert("@module".into(), "provider.terraform-provider-giif".into());
    object.insert("@timestamp".into(), timestamp().into());
    for (key, value) in fields.values {
        object.insert(key, value);
    }
    serde_json::Value::Object(object).to_string()
}

/// hclog's timestamp: RFC 3339 with microseconds and a numeric offset.
fn timestamp() -> String {
    let now = time::OffsetDateTime::now_utc();
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]+00:00"
    );
    now.format(&format).unwrap_or_default()
}

#[derive(Default)]
struct FieldCollector {
    message: Option<String>,
    values: BTreeMap<String, serde_json::Value>,
}

impl Visit for FieldCollector {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, format!("{value:?}").into());
    }
}

impl FieldCollector {
    fn put(&mut self, field: &Field, value: serde_json::Value) {
        if field.name() == "message" {
            self.message = Some(match value {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            });
        } else {
            self.values.insert(field.name().to_string(), value);
        }
    }
}
