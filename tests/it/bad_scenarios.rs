//! Bad scenarios: each gives exit code 2, an error naming file, line, column and field path,
//! and writes no output at all.

use crate::common::slicesim;
use predicates::prelude::*;

/// (file name, contents, expected `line:column`, expected field path, a word of the message).
/// Lines and columns are those of the offending value in the text, counted by hand.
const CASES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "external-strategy.yaml",
        "external_services:\n  - name: pay\n    instances: 3\n    controller: {strategy: smart}\n",
        "4:28",
        "external_services[0].controller.strategy",
        "unknown variant",
    ),
    (
        "external-instances.yaml",
        "external_services:\n  - name: pay\n    instances: -1\n",
        "3:16",
        "external_services[0].instances",
        "0 to 60,000",
    ),
    (
        "external-poll.yaml",
        "external_services:\n  - name: pay\n    instances: 3\n    controller: {poll_interval: 0s}\n",
        "4:33",
        "external_services[0].controller.poll_interval",
        "longer than 0s",
    ),
    (
        "external-clash.yaml",
        "services:\n  - {name: pay}\nexternal_services:\n  - name: pay\n    instances: 3\n",
        "4:11",
        "external_services[0].name",
        "also services[0]",
    ),
    (
        "external-mirroring-max.yaml",
        "external_services:\n  - name: pay\n    instances: 3\n    controller: {mirroring_max_endpoints_per_subset: 1001}\n",
        "4:54",
        "external_services[0].controller.mirroring_max_endpoints_per_subset",
        "1 to 1,000",
    ),
    (
        "syntax.yaml",
        "services:\n  - name: web\n   replicas: 3\n",
        "3:4",
        "",
        "did not find expected",
    ),
    (
        "unknown-top.yaml",
        "servces: []\n",
        "1:1",
        "servces",
        "unknown field",
    ),
    (
        "unknown-nested.yaml",
        "services:\n  - name: web\n    replica: 3\n",
        "3:5",
        "services[0].replica",
        "unknown field",
    ),
    (
        "wrong-type.yaml",
        "services:\n  - name: web\n    replicas: many\n",
        "3:15",
        "services[0].replicas",
        "non-negative integer, got \"many\"",
    ),
    (
        "negative.yaml",
        "services:\n  - name: web\n    replicas: -5\n",
        "3:15",
        "services[0].replicas",
        "non-negative integer, got -5",
    ),
    (
        "max0.yaml",
        "controllers:\n  endpointslices:\n    max_endpoints_per_slice: 0\n",
        "3:30",
        "controllers.endpointslices.max_endpoints_per_slice",
        "expected 1 to 1000",
    ),
    (
        "max1001.yaml",
        "controllers:\n  endpointslices:\n    max_endpoints_per_slice: 1001\n",
        "3:30",
        "controllers.endpointslices.max_endpoints_per_slice",
        "got 1001",
    ),
    (
        "zone.yaml",
        "services:\n  - name: web\nchurn:\n  - zone_outage: {zone: mars, at: 1m, duration: 5m}\n",
        "4:25",
        "churn[0].zone_outage.zone",
        "unknown zone \"mars\"",
    ),
    (
        "service.yaml",
        "services:\n  - name: web\nchurn:\n  - rollout: {service: api, at: 1m}\n",
        "4:24",
        "churn[0].rollout.service",
        "unknown service \"api\"",
    ),
    (
        "cidr.yaml",
        "cluster:\n  pod_cidr_v4: 10.64.0.0/10\n  service_cidr: 10.64.0.0/16\n",
        "3:17",
        "cluster.service_cidr",
        "overlaps",
    ),
    (
        "duration.yaml",
        "duration: 5\n",
        "1:11",
        "duration",
        "with a unit",
    ),
    (
        "surge.yaml",
        "services:\n  - name: web\nchurn:\n  - rollout: {service: web, at: 1m, max_surge: 150%}\n",
        "4:48",
        "churn[0].rollout.max_surge",
        "percentage",
    ),
    (
        "zone-twice.yaml",
        "cluster:\n  zones:\n    - {name: a, nodes: 1}\n    - {name: a, nodes: 2}\n",
        "4:14",
        "cluster.zones[1].name",
        "listed twice",
    ),
    (
        "service-twice.yaml",
        "services:\n  - name: web\n  - name: web\n",
        "3:11",
        "services[1].name",
        "defined twice",
    ),
    (
        "v6-cidr.yaml",
        "cluster:\n  pod_cidr_v6: 10.0.0.0/8\n",
        "2:16",
        "cluster.pod_cidr_v6",
        "IPv6 CIDR",
    ),
    (
        "node.yaml",
        "services:\n  - name: web\nchurn:\n  - node_drain: {at: 1m, nodes: [node-x]}\n",
        "4:34",
        "churn[0].node_drain.nodes[0]",
        "unknown node",
    ),
    (
        "action.yaml",
        "churn:\n  - reboot: {at: 1m}\n",
        "2:5",
        "churn[0]",
        "unknown variant `reboot`",
    ),
    (
        "distribution.yaml",
        "pods:\n  running_to_ready: {gaussian: 1s}\n",
        "2:22",
        "pods.running_to_ready",
        "unknown variant `gaussian`",
    ),
    (
        "rate.yaml",
        "services:\n  - name: web\nchurn:\n  - pod_failures: {service: web, per_hour: -1}\n",
        "4:44",
        "churn[0].pod_failures.per_hour",
        "non-negative rate",
    ),
    (
        "families.yaml",
        "services:\n  - name: web\n    ip_families: [IPv4, IPv4]\n",
        "3:18",
        "services[0].ip_families",
        "expected [IPv4]",
    ),
    (
        "traffic-distribution.yaml",
        "services:\n  - name: web\n    traffic_distribution: Nearest\n",
        "3:27",
        "services[0].traffic_distribution",
        "expected one of PreferClose, PreferSameZone, PreferSameNode",
    ),
    (
        "traffic-policy.yaml",
        "services:\n  - name: web\n    internal_traffic_policy: Nearby\n",
        "3:30",
        "services[0].internal_traffic_policy",
        "expected one of Cluster, Local",
    ),
    (
        "replace-early.yaml",
        "services:\n  - name: web\nchurn:\n  - node_delete: {count: 1, at: 1m, replace_after: 10s}\n",
        "4:5",
        "churn[0].node_delete.replace_after",
        "at least pod_gc_after (40s), got 10s",
    ),
    (
        "traffic-clients.yaml",
        "services:\n  - name: web\n    traffic: {clients: {mars: 1}}\n",
        "3:24",
        "services[0].traffic.clients",
        "unknown zone \"mars\"",
    ),
    (
        "traffic-rate.yaml",
        "services:\n  - name: web\n    traffic: {requests_per_second: -1}\n",
        "3:36",
        "services[0].traffic.requests_per_second",
        "got -1",
    ),
    (
        "price.yaml",
        "services:\n  - name: web\ncross_zone_price_per_gb: -2\n",
        "3:26",
        "cross_zone_price_per_gb",
        "non-negative price",
    ),
];

#[test]
fn every_bad_scenario_exits_2_with_a_located_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text, at, path, word) in CASES {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        let out = dir.path().join(format!("out-{name}"));
        let location = format!("{}:{at}: ", file.display());
        let expected = if path.is_empty() {
            location.clone()
        } else {
            format!("{location}{path}: ")
        };
        for args in [vec!["run"], vec!["check"]] {
            let mut cmd = slicesim();
            cmd.args(&args).arg(&file);
            if args[0] == "run" {
                cmd.arg("--out").arg(&out);
            }
            cmd.assert()
                .code(2)
                .stderr(predicate::str::contains(expected.clone()))
                .stderr(predicate::str::contains(*word));
        }
        assert!(!out.exists(), "{name}: run wrote {}", out.display());
    }
}

#[test]
fn all_semantic_errors_are_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("many.yaml");
    std::fs::write(
        &file,
        "controllers:\n  endpointslices:\n    max_endpoints_per_slice: 0\nchurn:\n  - rollout: {service: nope, at: 1m}\n  - zone_outage: {zone: mars, at: 1m, duration: 1m}\n",
    )
    .unwrap();
    let f = file.display().to_string();
    slicesim()
        .arg("check")
        .arg(&file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!("{f}:3:30: ")))
        .stderr(predicate::str::contains(format!("{f}:5:24: ")))
        .stderr(predicate::str::contains(format!("{f}:6:25: ")));
}
