//! Forwards the core's `tracing` events to the shell's logger.

use std::sync::{Arc, OnceLock, RwLock};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

use crate::{LogLevel, LogSink};

static SINK: OnceLock<RwLock<(Arc<dyn LogSink>, LogLevel)>> = OnceLock::new();

struct Forward;

#[derive(Default)]
struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        if field.name() == "message" {
            self.0.push_str(&format!("{value:?}"));
        } else {
            self.0.push_str(&format!("{}={value:?}", field.name()));
        }
    }
}

fn level(l: &Level) -> LogLevel {
    match *l {
        Level::ERROR => LogLevel::Error,
        Level::WARN => LogLevel::Warn,
        Level::INFO => LogLevel::Info,
        Level::DEBUG => LogLevel::Debug,
        Level::TRACE => LogLevel::Trace,
    }
}

impl<S: Subscriber> Layer<S> for Forward {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let Some(sink) = SINK.get() else { return };
        let (sink, max) = sink.read().unwrap_or_else(|p| p.into_inner()).clone();
        let lvl = level(event.metadata().level());
        if lvl > max {
            return;
        }
        let mut line = Line::default();
        event.record(&mut line);
        sink.log(lvl, event.metadata().target().to_string(), line.0);
    }
}

pub(crate) fn install(sink: Arc<dyn LogSink>, max_level: LogLevel) {
    let mut first = false;
    let slot = SINK.get_or_init(|| {
        first = true;
        RwLock::new((sink.clone(), max_level))
    });
    *slot.write().unwrap_or_else(|p| p.into_inner()) = (sink, max_level);
    if first {
        // A subscriber of our own, if the process has none yet (a shell never sets one).
        let _ = tracing_subscriber::registry().with(Forward).try_init();
    }
}
