//! What every handler is given: configuration, the store and the clock, built once per cold start.

use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::store::Store;

#[derive(Clone)]
pub struct Ctx {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
}

impl Ctx {
    pub fn new(config: Config, store: Arc<dyn Store>) -> Self {
        Self {
            config: Arc::new(config),
            store,
            clock: Arc::new(SystemClock),
        }
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}
