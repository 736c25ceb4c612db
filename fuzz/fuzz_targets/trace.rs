//! The trace reader on any bytes, against a small fixed cluster (the quickstart's). Nothing
//! may panic.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use slicesim::cluster::{self, Node, ServiceSpec};
use slicesim::scenario::Scenario;

static TOPOLOGY: LazyLock<(Vec<Node>, Vec<ServiceSpec>)> = LazyLock::new(|| {
    let text = include_str!("../../scenarios/quickstart.yaml");
    let sc = Scenario::parse("quickstart.yaml", "quickstart", text).expect("the library scenario");
    let topo = cluster::topology(&sc);
    (topo.nodes, topo.services)
});

fuzz_target!(|data: &[u8]| {
    let (nodes, services) = TOPOLOGY.clone();
    let _ = slicesim::trace::read("fuzz.csv", data, nodes, services);
});
