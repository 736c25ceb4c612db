//! The bad-input suite: scenarios, traces, `size` inputs and file-system faults that once
//! crashed, hung, wrapped or escaped. Each exits 2 with `FILE:LINE:COLUMN: field.path: message`
//! (or, for the large YAML, succeeds) and writes nothing. Lines and columns are counted by hand
//! in the texts below (1-based; the column of the value, or of the action's `- `).

use std::path::Path;

use crate::common::slicesim;
use predicates::prelude::*;

const WEB: &str = "services:\n  - {name: web, replicas: 3}\n";

/// (file name, contents, `line:column`, field path, a fragment of the message).
const SCENARIOS: &[(&str, &str, &str, &str, &str)] = &[
    // Sizes that aborted or allocated terabytes.
    (
        "copies-u32max.yaml",
        "services:\n  - {name: web, replicas: 1, copies: 4294967295}\n",
        "2:12",
        "services[0].copies",
        "expected 1 to 1,000,000 copies, got 4,294,967,295",
    ),
    (
        "copies-1e8.yaml",
        "services:\n  - {name: web, replicas: 1, copies: 100000000}\n",
        "2:12",
        "services[0].copies",
        "got 100,000,000",
    ),
    (
        "bucket-1ns.yaml",
        "duration: 10h\nbucket: 1ns\n",
        "2:9",
        "bucket",
        "36,000,000,000,000 time buckets",
    ),
    (
        "duration-100000h.yaml",
        "duration: 100000h\n",
        "1:11",
        "duration",
        "a scenario spans at most 87600h",
    ),
    (
        "duration-wraps.yaml",
        "duration: 999999999999h\n",
        "1:11",
        "duration",
        "is too long",
    ),
    (
        "failures-1e12.yaml",
        "services:\n  - {name: web, replicas: 3}\nchurn:\n  - pod_failures: {per_hour: 1e12}\n",
        "4:5",
        "churn[0].pod_failures.per_hour",
        "more than the limit",
    ),
    (
        "flaps-1e9-down0.yaml",
        "services:\n  - {name: web, replicas: 3}\nchurn:\n  - readiness_flaps: {per_hour: 1e9, down: 0}\n",
        "4:5",
        "churn[0].readiness_flaps.down",
        "longer than 0s",
    ),
    (
        "flaps-1e9.yaml",
        "services:\n  - {name: web, replicas: 3}\nchurn:\n  - readiness_flaps: {per_hour: 1e9, down: 1s}\n",
        "4:5",
        "churn[0].readiness_flaps.per_hour",
        "would need about",
    ),
    (
        "json-watchers-u32max.yaml",
        "watchers:\n  custom:\n    - {name: x, count: 4294967295, encoding: json}\n",
        "3:7",
        "watchers.custom[0].count",
        "expected 1 to 1,000,000 watchers",
    ),
    (
        "watchers-0.yaml",
        "watchers:\n  custom:\n    - {name: x, count: 0}\n",
        "3:7",
        "watchers.custom[0].count",
        "expected 1 to",
    ),
    // CIDRs that cannot hold the nodes.
    (
        "v6-64-3-nodes.yaml",
        "cluster:\n  pod_cidr_v6: fd00::/64\n  zones:\n    - {name: a, nodes: 3}\nservices:\n  - {name: web, replicas: 3, ip_families: [IPv6]}\n",
        "2:16",
        "cluster.pod_cidr_v6",
        "room for 1 node /64s, the cluster has 3 nodes",
    ),
    (
        "v4-24-30-nodes.yaml",
        "cluster:\n  pod_cidr_v4: 10.0.0.0/24\n",
        "2:16",
        "cluster.pod_cidr_v4",
        "room for 1 node /24s, the cluster has 30 nodes",
    ),
    (
        "v6-65.yaml",
        "cluster:\n  pod_cidr_v6: fd00::/65\n",
        "2:16",
        "cluster.pod_cidr_v6",
        "/64 or shorter",
    ),
    (
        "v4-not-cidr.yaml",
        "cluster:\n  pod_cidr_v4: 10.0.0.0\n",
        "2:16",
        "cluster.pod_cidr_v4",
        "expected an IPv4 CIDR",
    ),
    (
        "v4-given-v6.yaml",
        "cluster:\n  pod_cidr_v4: fd00::/48\n",
        "2:16",
        "cluster.pod_cidr_v4",
        "expected an IPv4 CIDR",
    ),
    (
        "service-cidr-overlap.yaml",
        "cluster:\n  service_cidr: 10.64.0.0/16\n",
        "2:17",
        "cluster.service_cidr",
        "overlaps cluster.pod_cidr_v4",
    ),
    // Impossible distributions and durations.
    (
        "uniform-inverted.yaml",
        "pods:\n  running_to_ready: {uniform: {min: 10s, max: 1s}}\n",
        "2:21",
        "pods.running_to_ready.uniform",
        "min (10s) is above max (1s)",
    ),
    (
        "lognormal-p99-below.yaml",
        "pods:\n  scheduling_to_running: {lognormal: {median: 10s, p99: 1s}}\n",
        "2:26",
        "pods.scheduling_to_running.lognormal",
        "p99 (1s) is below the median (10s)",
    ),
    (
        "lognormal-median-0.yaml",
        "pods:\n  termination_grace: {lognormal: {median: 0, p99: 1s}}\n",
        "2:22",
        "pods.termination_grace.lognormal.median",
        "longer than 0s",
    ),
    (
        "duration-0.yaml",
        "duration: 0\n",
        "1:11",
        "duration",
        "longer than 0s",
    ),
    (
        "bucket-0.yaml",
        "bucket: 0\n",
        "1:9",
        "bucket",
        "longer than 0s",
    ),
    (
        "duration-no-unit.yaml",
        "duration: 60\n",
        "1:11",
        "duration",
        "with a unit (e.g. 60s)",
    ),
    (
        "duration-bad-unit.yaml",
        "duration: 5 minutes\n",
        "1:11",
        "duration",
        "expected a duration such as",
    ),
    // What Kubernetes rejects.
    (
        "surge-0-unavailable-0.yaml",
        "services:\n  - {name: web, replicas: 3}\nchurn:\n  - rollout: {service: web, at: 1m, max_surge: 0, max_unavailable: 0}\n",
        "4:5",
        "churn[0].rollout.max_unavailable",
        "cannot both be 0",
    ),
    (
        "surge-150.yaml",
        "services:\n  - {name: web, replicas: 3}\nchurn:\n  - rollout: {service: web, at: 1m, max_surge: 150%}\n",
        "4:48",
        "churn[0].rollout.max_surge",
        "0% to 100%",
    ),
    (
        "name-uppercase.yaml",
        "services:\n  - {name: Web_Service, replicas: 3}\n",
        "2:12",
        "services[0].name",
        "not a valid Service name: only lowercase letters",
    ),
    (
        "name-digit.yaml",
        "services:\n  - {name: 1web, replicas: 3}\n",
        "2:12",
        "services[0].name",
        "must start with a lowercase letter",
    ),
    (
        "name-dash-end.yaml",
        "services:\n  - {name: web-, replicas: 3}\n",
        "2:12",
        "services[0].name",
        "start and end with a letter or digit",
    ),
    (
        "name-copies-too-long.yaml",
        "services:\n  - {name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, copies: 10}\n",
        "2:12",
        "services[0].name",
        "1 to 63 characters, this one 64",
    ),
    (
        "namespace-upper.yaml",
        "services:\n  - {name: web, namespace: Prod}\n",
        "2:12",
        "services[0].namespace",
        "not a valid namespace",
    ),
    (
        "service-twice.yaml",
        "services:\n  - {name: web}\n  - {name: web}\n",
        "3:12",
        "services[1].name",
        "Service default/web is defined twice",
    ),
    (
        "copies-clash.yaml",
        "services:\n  - {name: web, copies: 3}\n  - {name: web-2}\n",
        "3:12",
        "services[1].name",
        "defined twice, here and in services[0]",
    ),
    (
        "port-0.yaml",
        "services:\n  - name: web\n    ports: [{name: http, port: 0, target_port: 80}]\n",
        "2:11",
        "services[0].ports[0].port",
        "expected 1 to 65535",
    ),
    (
        "protocol.yaml",
        "services:\n  - name: web\n    ports: [{name: http, port: 80, target_port: 80, protocol: HTTP}]\n",
        "2:11",
        "services[0].ports[0].protocol",
        "TCP, UDP or SCTP",
    ),
    (
        "families-twice.yaml",
        "services:\n  - {name: web, ip_families: [IPv4, IPv4]}\n",
        "2:30",
        "services[0].ip_families",
        "expected [IPv4], [IPv6]",
    ),
    (
        "zone-twice.yaml",
        "cluster:\n  zones:\n    - {name: a, nodes: 1}\n    - {name: a, nodes: 1}\n",
        "4:14",
        "cluster.zones[1].name",
        "listed twice",
    ),
    (
        "zone-0-nodes.yaml",
        "cluster:\n  zones:\n    - {name: a, nodes: 0}\n",
        "3:14",
        "cluster.zones[0].nodes",
        "at least one node",
    ),
    (
        "too-many-pods.yaml",
        "cluster:\n  zones:\n    - {name: a, nodes: 1}\nservices:\n  - {name: web, replicas: 500}\n",
        "5:12",
        "services[0].replicas",
        "do not fit",
    ),
    // Actions outside the run or the cluster.
    (
        "at-after-duration.yaml",
        "duration: 10m\nservices:\n  - {name: web, replicas: 3}\nchurn:\n  - rollout: {service: web, at: 1h}\n",
        "5:5",
        "churn[0].rollout.at",
        "starts at 1h, after the end of the run (duration: 10m)",
    ),
    (
        "from-after-duration.yaml",
        "duration: 10m\nchurn:\n  - pod_failures: {per_hour: 10, from: 20m}\n",
        "3:5",
        "churn[0].pod_failures.from",
        "after the end of the run",
    ),
    (
        "until-before-from.yaml",
        "churn:\n  - readiness_flaps: {per_hour: 10, down: 5s, from: 5m, until: 1m}\n",
        "2:5",
        "churn[0].readiness_flaps.until",
        "ends before it starts",
    ),
    (
        "node-delete-count.yaml",
        "churn:\n  - node_delete: {at: 1m, count: 100000}\n",
        "2:5",
        "churn[0].node_delete.count",
        "100000 nodes to delete, the cluster has 30",
    ),
    (
        "node-drain-count.yaml",
        "churn:\n  - node_drain: {at: 1m, count: 31}\n",
        "2:5",
        "churn[0].node_drain.count",
        "31 nodes to drain, the cluster has 30",
    ),
    (
        "node-delete-neither.yaml",
        "churn:\n  - node_delete: {at: 1m}\n",
        "2:5",
        "churn[0].node_delete",
        "give either count or nodes",
    ),
    (
        "node-drain-unknown.yaml",
        "churn:\n  - node_drain: {at: 1m, nodes: [no-such-node]}\n",
        "2:34",
        "churn[0].node_drain.nodes[0]",
        "unknown node \"no-such-node\"",
    ),
    (
        "rate-negative.yaml",
        "churn:\n  - pod_failures: {per_hour: -3}\n",
        "2:30",
        "churn[0].pod_failures.per_hour",
        "non-negative rate",
    ),
    (
        "rate-nan.yaml",
        "churn:\n  - pod_failures: {per_hour: .nan}\n",
        "2:30",
        "churn[0].pod_failures.per_hour",
        "non-negative rate",
    ),
    (
        "unknown-zone-outage.yaml",
        "churn:\n  - zone_outage: {zone: mars, at: 1m, duration: 1m}\n",
        "2:25",
        "churn[0].zone_outage.zone",
        "unknown zone \"mars\"",
    ),
    (
        "unknown-service-scale.yaml",
        "churn:\n  - scale: {service: nope, at: 1m, replicas: 3}\n",
        "2:22",
        "churn[0].scale.service",
        "unknown service \"nope\"",
    ),
    // Names that would escape results/.
    (
        "name-dotdot.yaml",
        "name: ..\n",
        "1:7",
        "name",
        "may not start with '.'",
    ),
    (
        "name-absolute.yaml",
        "name: /tmp/evil\n",
        "1:7",
        "name",
        "only letters, digits",
    ),
    (
        "name-path.yaml",
        "name: a/b\n",
        "1:7",
        "name",
        "only letters, digits",
    ),
    // Parser messages in our words.
    (
        "duplicate-key.yaml",
        "duration: 10m\nduration: 5m\n",
        "2:1",
        "",
        "the key `duration` appears twice in one mapping",
    ),
    (
        "two-documents.yaml",
        "duration: 10m\n---\nduration: 5m\n",
        "",
        "",
        "expected one YAML document, found several",
    ),
    // Deep nesting meets a type error before the depth limit (tested on `size` below).
    (
        "deep.yaml",
        "services: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
        "1:12",
        "services[0]",
        "expected mapping",
    ),
    (
        "no-zones.yaml",
        "cluster:\n  zones: []\n",
        "2:10",
        "cluster.zones",
        "needs at least one zone",
    ),
    (
        "max-pods-0.yaml",
        "cluster:\n  max_pods_per_node: 0\n",
        "2:22",
        "cluster.max_pods_per_node",
        "expected 1 to 250",
    ),
    (
        "start-not-a-time.yaml",
        "start: yesterday\n",
        "1:8",
        "start",
        "expected an RFC 3339 time",
    ),
    (
        "trace-missing.yaml",
        "churn: {trace: no-such-trace.csv}\n",
        "1:16",
        "churn.trace",
        "cannot read trace",
    ),
];

/// Run and check both refuse every case, at its field, and nothing is written.
#[test]
fn every_bad_scenario_is_refused_at_its_field() {
    assert!(SCENARIOS.len() >= 55, "{}", SCENARIOS.len());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("web.yaml"), WEB).unwrap();
    for (name, text, at, path, word) in SCENARIOS {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        let out = dir.path().join(format!("out-{name}"));
        let mut expected = format!("{}:", file.display());
        if !at.is_empty() {
            expected += &format!("{at}: ");
        }
        if !path.is_empty() {
            expected += &format!("{path}: ");
        }
        for command in ["run", "check"] {
            let mut cmd = slicesim();
            cmd.arg(command).arg(&file);
            if command == "run" {
                cmd.arg("--out").arg(&out);
            }
            let assert = cmd.timeout(std::time::Duration::from_secs(60)).assert();
            let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
            assert!(
                assert.get_output().status.code() == Some(2)
                    && stderr.contains(&expected)
                    && stderr.contains(word),
                "{name} ({command}): expected exit 2 with {expected:?} and {word:?}, got {:?}: {stderr}",
                assert.get_output().status.code()
            );
            // Never a parser's internals or a panic.
            for leak in [
                "DuplicateKeyPolicy",
                "from_str_multiple",
                "budget breached",
                "panicked",
                "?: ",
            ] {
                assert!(!stderr.contains(leak), "{name}: {stderr}");
            }
        }
        assert!(!out.exists(), "{name}: run wrote {}", out.display());
    }
}

/// Every problem of a file at once, each at its own line.
#[test]
fn every_problem_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("many.yaml");
    std::fs::write(
        &file,
        "name: ..\nduration: 10m\npods:\n  running_to_ready: {uniform: {min: 9s, max: 1s}}\nservices:\n  - {name: Web}\nchurn:\n  - rollout: {service: web, at: 1h, max_surge: 0, max_unavailable: 0}\n",
    )
    .unwrap();
    let f = file.display().to_string();
    let a = slicesim().arg("check").arg(&file).assert().code(2);
    let stderr = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    for at in [
        "1:7: name",
        "4:21: pods.running_to_ready.uniform",
        "6:12: services[0].name",
        "8:5: churn[0].rollout.at",
        "8:5: churn[0].rollout.max_unavailable",
    ] {
        assert!(stderr.contains(&format!("{f}:{at}: ")), "{at}: {stderr}");
    }
}

/// (trace name, contents, `FILE:LINE:COLUMN` line, fragment).
const TRACES: &[(&str, &str, u32, &str)] = &[
    (
        "no-service-column.csv",
        "t_ns,namespace\n1,x\n",
        2,
        "missing field `service`",
    ),
    (
        "unknown-service.csv",
        "t_ns,namespace,service,pod,uid,node,zone,ipv4,ipv6,phase,ready,terminating,deleted,ready_changed_ns,container_ports\n0,default,nope,p,u,n,z,,,Pending,false,false,false,0,\n",
        2,
        "nope",
    ),
    (
        "not-a-number.csv",
        "t_ns,namespace,service,pod,uid,node,zone,ipv4,ipv6,phase,ready,terminating,deleted,ready_changed_ns,container_ports\nsoon,default,web,p,u,n,z,,,Pending,false,false,false,0,\n",
        2,
        "not a trace row",
    ),
];

#[test]
fn bad_traces_are_refused_by_check_and_run() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text, line, word) in TRACES {
        std::fs::write(dir.path().join(name), text).unwrap();
        let scenario = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&scenario, format!("{WEB}churn: {{trace: {name}}}\n")).unwrap();
        let expected = format!("{}:{line}:1: ", dir.path().join(name).display());
        for command in ["check", "run"] {
            let mut cmd = slicesim();
            cmd.arg(command).arg(&scenario);
            if command == "run" {
                cmd.arg("--out").arg(dir.path().join("out"));
            }
            cmd.assert()
                .code(2)
                .stderr(predicate::str::contains(expected.clone()))
                .stderr(predicate::str::contains(*word));
        }
    }
}

fn size(text: &str) -> assert_cmd::assert::Assert {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.yaml");
    std::fs::write(&file, text).unwrap();
    slicesim().arg("size").arg(&file).assert()
}

#[test]
fn size_refuses_yaml_bombs_and_deep_nesting_in_our_words() {
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 0..8u8 {
        let (prev, next) = (char::from(b'a' + i), char::from(b'a' + i + 1));
        bomb += &format!(
            "{next}: &{next} [{}]\n",
            vec![format!("*{prev}"); 10].join(", ")
        );
    }
    size(&bomb)
        .code(2)
        .stderr(predicate::str::contains("YAML bomb"));
    size(&format!(
        "kind: Endpoints\nextra: {}1{}\n",
        "[".repeat(80),
        "]".repeat(80)
    ))
    .code(2)
    .stderr(predicate::str::contains("nested more than 64 levels deep"));
    size("kind: Endpoints\nkind: Endpoints\n")
        .code(2)
        .stderr(predicate::str::contains(
            ":2:1: invalid YAML: the key `kind` appears twice",
        ));
}

/// 30,000 endpoints in one YAML list: ~600,000 YAML nodes, over the parser's default budget of
/// 250,000 that refused such dumps; sized like the same objects as JSON.
#[test]
fn size_reads_large_yaml() {
    let mut yaml =
        String::from("apiVersion: discovery.k8s.io/v1\nkind: EndpointSliceList\nitems:\n");
    for s in 0..300 {
        yaml += &format!(
            "- metadata: {{name: web-{s}, namespace: default}}\n  addressType: IPv4\n  ports: [{{name: http, port: 8080, protocol: TCP}}]\n  endpoints:\n"
        );
        for e in 0..100 {
            yaml += &format!(
                "  - addresses: [10.{}.{}.{e}]\n    conditions: {{ready: true}}\n    nodeName: node-{e}\n",
                s / 256,
                s % 256
            );
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.yaml");
    std::fs::write(&file, &yaml).unwrap();
    let out = slicesim()
        .args(["size", "--format", "csv"])
        .arg(&file)
        .assert()
        .success();
    let rows = String::from_utf8_lossy(&out.get_output().stdout)
        .lines()
        .count();
    assert_eq!(rows, 301, "a header and 300 slices");
}

/// Items of a typed List inherit its apiVersion: a v1beta1 EndpointSliceList holds v1beta1
/// slices, whose protobuf differs from v1 (the apiVersion string in the envelope).
#[test]
fn list_items_inherit_the_lists_api_version() {
    let item = "- metadata: {name: a, namespace: default}\n  addressType: IPv4\n  endpoints: [{addresses: [10.0.0.1]}]\n";
    let list = |v: &str| {
        format!("apiVersion: discovery.k8s.io/{v}\nkind: EndpointSliceList\nitems:\n{item}")
    };
    let single = |v: &str| {
        format!(
            "apiVersion: discovery.k8s.io/{v}\nkind: EndpointSlice\n{}",
            item.replacen("- ", "", 1).replace("\n  ", "\n")
        )
    };
    let csv = |text: String| {
        let out = {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("x.yaml");
            std::fs::write(&file, text).unwrap();
            slicesim()
                .args(["size", "--format", "csv"])
                .arg(&file)
                .assert()
                .success()
                .get_output()
                .stdout
                .clone()
        };
        String::from_utf8(out)
            .unwrap()
            .lines()
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert_eq!(csv(list("v1beta1")), csv(single("v1beta1")));
    assert_ne!(csv(list("v1beta1")), csv(list("v1")));
}

#[test]
fn output_locations_are_checked_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let scenario = d.join("web.yaml");
    std::fs::write(&scenario, WEB).unwrap();
    std::fs::write(d.join("a-file"), "x").unwrap();
    std::fs::create_dir(d.join("foreign")).unwrap();
    std::fs::write(d.join("foreign").join("precious.txt"), "keep").unwrap();
    let run = |extra: &[&Path]| {
        let mut cmd = slicesim();
        cmd.arg("run")
            .arg(&scenario)
            .arg("--no-charts")
            .arg("--quiet");
        for a in extra {
            cmd.arg(a);
        }
        cmd.assert()
    };
    let path = |p: &str| d.join(p);
    let cases: Vec<(Vec<std::path::PathBuf>, String, &str)> = vec![
        (
            vec!["--out".into(), path("a-file")],
            format!("{}: ", path("a-file").display()),
            "is not a directory",
        ),
        (
            vec!["--out".into(), path("a-file/sub")],
            format!("{}: ", path("a-file").display()),
            "is a file",
        ),
        (
            vec!["--out".into(), path("foreign")],
            format!("{}: ", path("foreign").display()),
            "not the output of a run",
        ),
        (
            vec![
                "--out".into(),
                path("ok"),
                "--export-objects".into(),
                path("a-file"),
            ],
            format!("{}: ", path("a-file").display()),
            "not a directory (--export-objects)",
        ),
        (
            vec![
                "--out".into(),
                path("ok"),
                "--export-trace".into(),
                path("foreign"),
            ],
            format!("{}: ", path("foreign").display()),
            "is a directory, expected a file",
        ),
    ];
    for (args, location, word) in cases {
        let args: Vec<&Path> = args.iter().map(|p| p.as_path()).collect();
        run(&args)
            .code(2)
            .stderr(predicate::str::contains(location))
            .stderr(predicate::str::contains(word))
            .stderr(predicate::str::contains("os error").not());
        assert!(!path("ok").exists());
    }
    assert_eq!(
        std::fs::read_to_string(path("foreign/precious.txt")).unwrap(),
        "keep"
    );
    // A FIFO or a device is written through, not replaced.
    run(&[
        Path::new("--out"),
        &path("ok"),
        Path::new("--export-trace"),
        Path::new("/dev/null"),
    ])
    .success();
    assert!(path("ok/summary.csv").is_file());
}

#[test]
fn the_guard_names_its_limit_and_can_be_raised() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("web.yaml");
    std::fs::write(&scenario, WEB).unwrap();
    let out = dir.path().join("out");
    let run = |force: &[&str]| {
        slicesim()
            .args(["run", "--max-memory", "1MB", "--no-charts", "--quiet"])
            .args(force)
            .arg("--out")
            .arg(&out)
            .arg(&scenario)
            .assert()
    };
    run(&[])
        .code(2)
        .stderr(predicate::str::contains("more than the limit of 1.00 MB"))
        .stderr(predicate::str::contains("--max-memory"));
    assert!(!out.exists());
    run(&["--force"]).success();
    slicesim()
        .args(["run", "--max-memory", "lots"])
        .arg(&scenario)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("expected a size such as 4GiB"));
}

/// A naive controller polling a 60,000-instance registry every second for a week would send
/// 60,480 polls x 600 chunks x 2 requests (about 73 million): refused before anything runs,
/// the external Service blamed.
#[test]
fn the_guard_counts_external_services() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("huge.yaml");
    std::fs::write(
        &scenario,
        "duration: 168h\nexternal_services:\n  - name: pay\n    instances: 60000\n    \
         controller: {poll_interval: 1s}\n",
    )
    .unwrap();
    let f = scenario.display().to_string();
    slicesim()
        .args(["run", "--max-memory", "16GB", "--out"])
        .arg(dir.path().join("out"))
        .arg(&scenario)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{f}:3:11: external_services[0]: this run would need about"
        )));
    assert!(!dir.path().join("out").exists());
}

/// A run killed (SIGKILL) while it works leaves the previous run's outputs whole; the next run
/// removes what the killed one left and replaces the outputs whole.
#[cfg(unix)]
#[test]
fn a_killed_run_leaves_the_previous_outputs_and_the_next_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small.yaml");
    std::fs::write(&small, WEB).unwrap();
    let out = dir.path().join("run");
    let run = |scenario: &Path| {
        slicesim()
            .args(["run", "--no-charts", "--quiet", "--out"])
            .arg(&out)
            .arg(scenario)
            .assert()
            .success();
    };
    run(&small);
    let before = std::fs::read(out.join("summary.csv")).unwrap();
    // The default scenario takes seconds in a test build: killed while simulating, with its
    // temporary directory in place.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("slicesim"))
        .args(["run", "--no-charts", "--quiet", "--out"])
        .arg(&out)
        .spawn()
        .unwrap();
    let stage_appeared = (0..200).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".run.tmp-"))
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(stage_appeared, "the killed run had no temporary directory");
    assert_eq!(std::fs::read(out.join("summary.csv")).unwrap(), before);
    assert!(
        !out.join("charts").exists(),
        "nothing of the killed run in place"
    );
    run(&small);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(names.is_empty(), "leftovers: {names:?}");
}

/// A scenario that cannot be read is named without a made-up position.
#[test]
fn a_missing_scenario_has_no_position() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nope.yaml");
    for command in ["run", "check"] {
        slicesim()
            .arg(command)
            .arg(&file)
            .assert()
            .code(2)
            .stderr(predicate::str::starts_with(format!(
                "{}: cannot read",
                file.display()
            )))
            .stderr(predicate::str::contains(":0:0").not());
    }
}

/// A pod CIDR is its network, as `net.ParseCIDR` gives the controller manager: host bits are
/// cleared, so `255.255.255.255/8` hands out 255.0.x.y (it wrapped to 0.0.0.x) and
/// `10.1.2.3/16` hands out 10.1.x.y.
#[test]
fn pod_cidrs_are_their_networks() {
    let dir = tempfile::tempdir().unwrap();
    for (cidr, prefix) in [("255.255.255.255/8", "255.0."), ("10.1.2.3/16", "10.1.")] {
        let scenario = dir.path().join("cidr.yaml");
        std::fs::write(
            &scenario,
            format!("cluster:\n  pod_cidr_v4: {cidr}\n  service_cidr: 172.20.0.0/16\n{WEB}"),
        )
        .unwrap();
        let trace = dir.path().join("trace.csv");
        slicesim()
            .args(["run", "--no-charts", "--quiet", "--out"])
            .arg(dir.path().join("out"))
            .arg("--export-trace")
            .arg(&trace)
            .arg(&scenario)
            .assert()
            .success();
        let text = std::fs::read_to_string(&trace).unwrap();
        let ips: Vec<&str> = text
            .lines()
            .skip(1)
            .filter_map(|l| l.split(',').nth(7))
            .filter(|ip| !ip.is_empty())
            .collect();
        assert!(!ips.is_empty());
        assert!(
            ips.iter().all(|ip| ip.starts_with(prefix)),
            "{cidr}: {ips:?}"
        );
    }
}
