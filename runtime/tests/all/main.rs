//! Integration tests: real components built from `plugins/`, a real node on
//! a real tokio runtime. One test binary, one module per area.

mod agents;
mod browser;
mod cluster;
mod containment;
mod distributed;
mod durable;
mod failures;
mod fuzz_scale;
mod languages;
mod languages_util;
mod net;
mod observe;
mod peers;
mod plugins;
mod reports;
mod sandbox;
mod scaffold;
mod scripts;
mod serve;
mod served;
mod supervision;
mod tenants;
mod uploads;
mod util;
