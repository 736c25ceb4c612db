//! End-to-end tests of `slicesim run` and `slicesim check`, driving the binary.

use std::path::{Path, PathBuf};

use crate::common::{read, root, slicesim};
use predicates::prelude::*;

fn scenario(name: &str) -> PathBuf {
    root().join("scenarios").join(format!("{name}.yaml"))
}

const SUMMARY_HEADER: &str = "scenario,seed,api,pod_events,syncs,creates,updates,deletes,objects_final,objects_peak,max_object_proto_bytes,max_object_json_bytes,bytes_written,watch_events,bytes_delivered,bytes_delivered_proto,bytes_delivered_json,failed_writes,etcd_bytes_written,etcd_stored_bytes,etcd_history_revisions,etcd_history_bytes,etcd_max_request_bytes,propagation_p50_s,propagation_p90_s,propagation_p99_s,propagation_max_s,proxy_syncs_per_minute,network_programming_p50_s,network_programming_p99_s,watch_terminations,relists,bytes_relist,peak_bytes_in_flight,cross_zone_fraction,cross_zone_bytes,cross_zone_cost,max_endpoint_load_ratio,hints_active_fraction,dropped_fraction";

fn run_to(name: &str, out: &Path, extra: &[&str]) {
    slicesim()
        .arg("run")
        .arg(scenario(name))
        .arg("--out")
        .arg(out)
        .args(extra)
        .assert()
        .success();
}

#[test]
fn quickstart_writes_the_three_csvs_and_prints_the_table() {
    let dir = tempfile::tempdir().unwrap();
    slicesim()
        .args(["run"])
        .arg(scenario("quickstart"))
        .arg("--out")
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("Endpoints"))
        .stdout(predicate::str::contains("EndpointSlices"))
        .stdout(predicate::str::contains("bytes delivered to watchers"));
    let summary = read(&dir.path().join("summary.csv"));
    let mut lines = summary.lines();
    assert_eq!(lines.next(), Some(SUMMARY_HEADER));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0][2], rows[1][2]), ("endpoints", "endpointslices"));
    // Both APIs saw the same pod history.
    assert_eq!(rows[0][3], rows[1][3]);
    // Two Services of 30 and 12 pods: one Endpoints each, one slice each (< 100 endpoints).
    assert_eq!((rows[0][8], rows[1][8]), ("2", "2"));
    let ts = read(&dir.path().join("timeseries.csv"));
    assert!(ts.starts_with("t_seconds,api,writes,watch_events,bytes_delivered,objects,endpoints,max_object_proto_bytes,etcd_bytes_written,propagation_p50_s,propagation_p99_s,propagation_max_s,egress_utilisation,bytes_relist,cross_zone_fraction,max_endpoint_load_ratio,hints_active_fraction\n"));
    // 5 minutes in 10 s buckets, for both APIs.
    assert_eq!(ts.lines().count(), 1 + 2 * 30);
    let objects = read(&dir.path().join("objects.csv"));
    assert!(objects.starts_with(
        "api,namespace,name,address_type,endpoints,proto_bytes,json_bytes,service,capacity\n"
    ));
    assert!(
        objects.contains("endpoints,default,web,IPv4,30,"),
        "{objects}"
    );
    // api: 12 pods with failures, so at the end one replacement may still be starting (no IP
    // yet); web: 30 pods, its rollout long finished (checked above).
    assert!(
        objects.contains("endpoints,default,api,IPv4,12,")
            || objects.contains("endpoints,default,api,IPv4,11,"),
        "{objects}"
    );
}

#[test]
fn dual_stack_writes_slices_per_family_and_endpoints_of_the_primary_family() {
    let dir = tempfile::tempdir().unwrap();
    run_to("dual-stack", dir.path(), &["--quiet"]);
    let objects = read(&dir.path().join("objects.csv"));
    let rows: Vec<Vec<&str>> = objects
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let count = |api: &str, name_prefix: &str, family: &str| {
        rows.iter()
            .filter(|r| r[0] == api && r[2].starts_with(name_prefix) && r[3] == family)
            .map(|r| r[4].parse::<u64>().unwrap())
            .sum::<u64>()
    };
    // web: [IPv4, IPv6], 120 pods: 120 endpoints in slices of each family, IPv4 Endpoints.
    assert_eq!(count("endpointslices", "web-", "IPv4"), 120);
    assert_eq!(count("endpointslices", "web-", "IPv6"), 120);
    assert_eq!(count("endpoints", "web", "IPv4"), 120);
    assert_eq!(count("endpoints", "web", "IPv6"), 0);
    // dns-like: [IPv6, IPv4], headless: Endpoints in IPv6, the primary family.
    assert_eq!(count("endpoints", "dns-like", "IPv6"), 4);
    assert_eq!(count("endpointslices", "dns-like-", "IPv4"), 4);
}

#[test]
fn same_seed_same_bytes_whatever_the_thread_count_other_seed_differs() {
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    for (dir, (threads, seed)) in dirs.iter().zip([("1", "11"), ("2", "11"), ("2", "12")]) {
        slicesim()
            .env("RAYON_NUM_THREADS", threads)
            .arg("run")
            .arg(scenario("zone-outage"))
            .args(["--quiet", "--seed", seed, "--out"])
            .arg(dir.path())
            .assert()
            .success();
    }
    for f in ["summary.csv", "timeseries.csv", "objects.csv"] {
        let a = std::fs::read(dirs[0].path().join(f)).unwrap();
        let b = std::fs::read(dirs[1].path().join(f)).unwrap();
        let c = std::fs::read(dirs[2].path().join(f)).unwrap();
        assert_eq!(a, b, "{f} differs between 1 and 2 threads");
        assert_ne!(a, c, "{f} is the same for another seed");
    }
}

/// The "Wrote" lines name every file the run wrote, the exports and metrics included.
#[test]
fn the_wrote_lines_name_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let (objects, trace, metrics) = (
        dir.path().join("objects"),
        dir.path().join("trace.csv"),
        dir.path().join("m.prom"),
    );
    let out = slicesim()
        .arg("run")
        .arg(scenario("basic-slice"))
        .arg("--out")
        .arg(dir.path().join("run"))
        .arg("--no-charts")
        .arg("--export-objects")
        .arg(&objects)
        .arg("--export-trace")
        .arg(&trace)
        .arg("--metrics")
        .arg(&metrics)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for (path, named) in [
        (
            objects.join("endpoints.yaml"),
            format!("{}/endpoints.yaml, endpointslices.yaml", objects.display()),
        ),
        (trace.clone(), trace.display().to_string()),
        (metrics.clone(), metrics.display().to_string()),
    ] {
        assert!(path.exists(), "{}", path.display());
        assert!(
            text.contains(&format!("Wrote {named}")),
            "{named} in {text}"
        );
    }
}

#[test]
fn exported_objects_read_back_with_the_sizes_of_objects_csv() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("objects");
    run_to(
        "extended-metadata",
        dir.path(),
        &["--quiet", "--export-objects", export.to_str().unwrap()],
    );
    let objects = read(&dir.path().join("objects.csv"));
    let mut expected: Vec<(String, String, String)> = objects
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[2].to_string(), f[5].to_string(), f[6].to_string())
        })
        .collect();
    expected.sort();
    let out = slicesim()
        .args(["size", "--format", "csv"])
        .arg(export.join("endpoints.yaml"))
        .arg(export.join("endpointslices.yaml"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let mut got: Vec<(String, String, String)> = String::from_utf8(out)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[2].to_string(), f[5].to_string(), f[7].to_string())
        })
        .collect();
    got.sort();
    assert_eq!(got.len(), 4, "1 Endpoints + 3 slices");
    assert_eq!(got, expected);
}

#[test]
fn an_exported_trace_replays_to_identical_results() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    let trace = dir.path().join("trace.csv");
    run_to(
        "node-drain",
        &first,
        &["--quiet", "--export-trace", trace.to_str().unwrap()],
    );
    let original = read(&scenario("node-drain"));
    // The same scenario, its churn replaced by the trace.
    let cut = original.find("churn:").unwrap();
    let replay_text = format!("{}churn: {{trace: trace.csv}}\n", &original[..cut]);
    let replay = dir.path().join("replay.yaml");
    std::fs::write(&replay, replay_text).unwrap();
    let second = dir.path().join("second");
    slicesim()
        .arg("run")
        .arg(&replay)
        .args(["--quiet", "--out"])
        .arg(&second)
        .assert()
        .success();
    for f in ["summary.csv", "timeseries.csv", "objects.csv"] {
        assert_eq!(
            std::fs::read(first.join(f)).unwrap(),
            std::fs::read(second.join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn every_library_scenario_passes_check() {
    let mut cmd = slicesim();
    cmd.arg("check");
    for entry in std::fs::read_dir(root().join("scenarios")).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "yaml") {
            cmd.arg(p);
        }
    }
    cmd.assert()
        .success()
        .stdout(predicate::str::contains(": ok"));
}

/// `scenarios/cl2-load.yaml` says what it holds; without its resizes (which change the counts
/// at random) the run ends with exactly that: 8,250 Services, one Endpoints object each,
/// 8,450 slices, 82,000 endpoints.
#[test]
fn cl2_load_holds_the_counts_its_comments_give() {
    let text = read(&scenario("cl2-load"));
    for stated in [
        "8,250 Endpoints objects",
        "8,450",
        "82,000 endpoints",
        "8,250 Services",
    ] {
        assert!(
            text.contains(stated),
            "the comments no longer say {stated:?}"
        );
    }
    let still: String = text
        .lines()
        .filter(|l| !l.contains("- resize:"))
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        .replace("duration: 1h", "duration: 10s");
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("cl2-still.yaml");
    std::fs::write(&file, still).unwrap();
    let out = d.path().join("out");
    slicesim()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .args(["--no-charts", "--quiet"])
        .assert()
        .success();
    let objects = read(&out.join("objects.csv"));
    let count = |api: &str| {
        objects
            .lines()
            .filter(|l| l.starts_with(&format!("{api},")))
            .map(|l| l.split(',').nth(4).unwrap().parse::<u64>().unwrap())
            .fold((0, 0), |(n, e), x| (n + 1, e + x))
    };
    assert_eq!(count("endpoints"), (8_250, 82_000));
    assert_eq!(count("endpointslices"), (8_450, 82_000));
    // 50 namespaces of 165 Services: the first and the last.
    assert!(objects.contains("endpoints,test-4lzbnq-1,big-service-0,"));
    assert!(objects.contains("endpoints,test-4lzbnq-50,small-service-149,"));
}

/// A Service scaled from 1,000 to 12,000 pods. Without truncation its Endpoints object passes
/// etcd's 1.5 MiB request limit on the way (about 150 bytes an address in protobuf: near
/// 10,000): etcd refuses those writes, the watchers never receive them, and no stored object
/// passes the limit. With truncation (1,000 addresses) nothing is refused.
#[test]
fn etcd_refuses_endpoints_past_its_request_limit_and_watchers_never_see_them() {
    let dir = tempfile::tempdir().unwrap();
    let summary = |truncate: bool| {
        let out = run_yaml(
            dir.path(),
            &format!("big-{truncate}"),
            &format!(
                "duration: 4m\n\
                 cluster: {{zones: [{{name: zone-a, nodes: 60}}, {{name: zone-b, nodes: 60}}]}}\n\
                 services: [{{name: web, labels: {{app: web}}, replicas: 1000}}]\n\
                 churn: [{{scale: {{service: web, at: 10s, replicas: 12000}}}}]\n\
                 controllers: {{endpoints: {{truncate: {truncate}}}}}\n\
                 watchers: {{coredns: 0}}\n"
            ),
        );
        let row = summary_columns(&out).remove(0);
        let col = |name: &str| row[name].parse::<u64>().unwrap();
        (
            col("failed_writes"),
            col("max_object_proto_bytes"),
            col("watch_events"),
            col("creates") + col("updates"),
        )
    };
    let (failed, largest, events, writes) = summary(false);
    assert!(failed > 0, "no write refused");
    assert!(largest < 1_572_864, "a stored object of {largest} bytes");
    // 120 kube-proxies receive each stored write once; the refused ones are not in `updates`.
    assert!(events <= 120 * writes);
    let (failed, largest, _, _) = summary(true);
    assert_eq!(failed, 0);
    assert!(largest < 200_000);
}

/// Runs the scenario `yaml` (written to `dir/NAME.yaml`) into `dir/out-NAME`, without charts.
fn run_yaml(dir: &Path, name: &str, yaml: &str) -> PathBuf {
    let file = dir.join(format!("{name}.yaml"));
    std::fs::write(&file, yaml).unwrap();
    let out = dir.join(format!("out-{name}"));
    slicesim()
        .arg("run")
        .arg(&file)
        .args(["--no-charts", "--quiet", "--out"])
        .arg(&out)
        .assert()
        .success();
    out
}

/// A summary.csv's rows as column name → value, per API.
fn summary_columns(dir: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let text = read(&dir.join("summary.csv"));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|l| {
            header
                .iter()
                .zip(l.split(','))
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// The issue's acceptance case: 5,000 nodes, a 5,000-pod Service, 10 Gbps per API server
/// replica, a rollout. An Endpoints write (about 140 kB to 1,667 kube-proxies per replica)
/// takes 0.19 s of a replica's egress, so more than five a second queue up; a slice write takes
/// 22 ms. Endpoints' p99 propagation delay is at least 10x that of EndpointSlices.
#[test]
fn limited_egress_delays_endpoints_far_more_than_slices() {
    let dir = tempfile::tempdir().unwrap();
    run_to("rollout-egress", dir.path(), &["--no-charts", "--quiet"]);
    let rows = summary_columns(dir.path());
    let p99 = |i: usize| rows[i]["propagation_p99_s"].parse::<f64>().unwrap();
    assert!(p99(1) > 0.0);
    assert!(p99(0) >= 10.0 * p99(1), "{} vs {}", p99(0), p99(1));
    // The Endpoints side's egress is saturated while the rollout runs.
    let ts = read(&dir.path().join("timeseries.csv"));
    let at_5m = ts
        .lines()
        .find(|l| l.starts_with("300.0,endpoints,"))
        .unwrap();
    // egress_utilisation, before bytes_relist.
    assert_eq!(at_5m.split(',').rev().nth(1), Some("1.0"), "{at_5m}");
}

/// Without an `apiserver:` block nothing delays a watch event: the default scenario (no
/// batching) propagates every write at once.
#[test]
fn without_an_apiserver_block_propagation_is_immediate() {
    let dir = tempfile::tempdir().unwrap();
    run_to("default", dir.path(), &["--no-charts", "--quiet"]);
    for row in summary_columns(dir.path()) {
        assert_eq!(row["propagation_max_s"], "0.0");
    }
}

/// An API server restart makes the watchers it served re-list, on both APIs: here one
/// replica of three restarts, so a third of the 60 kube-proxies and one of the 2 CoreDNS
/// replicas (watcher k is on replica k mod 3: replica 0 has 20 kube-proxies and CoreDNS 0).
#[test]
fn an_apiserver_restart_shows_relists_for_both_apis() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_yaml(
        dir.path(),
        "restart",
        "duration: 3m\n\
         cluster: {zones: [{name: zone-a, nodes: 60}]}\n\
         services: [{name: web, labels: {app: web}, replicas: 300}]\n\
         churn: [{readiness_flaps: {per_hour: 3600, down: 10s}}, {apiserver_restart: {at: 1m, replica: 0}}]\n\
         apiserver: {replicas: 3, egress: 1Gbps}\n",
    );
    for row in summary_columns(&out) {
        assert_eq!(row["relists"], "21", "{}", row["api"]);
        assert!(row["bytes_relist"].parse::<u64>().unwrap() > 0);
    }
    let watchers = read(&out.join("watchers.csv"));
    assert!(watchers.starts_with(
        "api,class,watchers,watch_events,bytes_delivered,terminations,relists,bytes_relist,\
         store_peak_bytes,relist_memory_peak_bytes\n"
    ));
    // The classes' bytes add up to the API's.
    for row in summary_columns(&out) {
        let classes: u64 = watchers
            .lines()
            .filter(|l| l.starts_with(&format!("{},", row["api"])))
            .map(|l| l.split(',').nth(4).unwrap().parse::<u64>().unwrap())
            .sum();
        assert_eq!(
            classes.to_string(),
            row["bytes_delivered"],
            "{}",
            row["api"]
        );
    }
}

/// scenarios/slow-watchers.yaml: the 50 Mbps watchers cannot keep up with the Endpoints
/// object's updates and are closed; with slices they keep up.
#[test]
fn slow_watchers_are_closed_on_the_endpoints_side_only() {
    let dir = tempfile::tempdir().unwrap();
    run_to("slow-watchers", dir.path(), &["--no-charts", "--quiet"]);
    let rows = summary_columns(dir.path());
    assert!(rows[0]["watch_terminations"].parse::<u64>().unwrap() > 0);
    assert_eq!(rows[1]["watch_terminations"], "0");
}

/// `--metrics` writes Prometheus text that a real parser reads, under upstream's names, and
/// its values agree with summary.csv.
#[test]
fn metrics_parse_as_prometheus_text_and_agree_with_the_summary() {
    use prometheus_parse::{Scrape, Value};
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("metrics.prom");
    run_to(
        "slow-watchers",
        &dir.path().join("out"),
        &[
            "--no-charts",
            "--quiet",
            "--metrics",
            prom.to_str().unwrap(),
        ],
    );
    let text = read(&prom);
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let value = |name: &str, api: &str, extra: Option<(&str, &str)>| -> f64 {
        let s = scrape
            .samples
            .iter()
            .find(|s| {
                s.metric == name
                    && s.labels.get("api") == Some(api)
                    && extra.is_none_or(|(k, v)| s.labels.get(k) == Some(v))
            })
            .unwrap_or_else(|| panic!("no {name} for {api}"));
        match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(h) => h.last().map_or(0.0, |b| b.count),
            Value::Summary(_) => panic!("{name} is a summary"),
        }
    };
    for name in [
        "endpoint_slice_controller_syncs",
        "endpoint_slice_controller_changes",
        "endpoint_slice_controller_endpointslices_changed_per_sync",
        "endpoint_slice_controller_endpoints_added_per_sync",
        "endpoint_slice_controller_endpoints_removed_per_sync",
        "endpoint_slice_controller_endpoints_desired",
        "endpoint_slice_controller_num_endpoint_slices",
        "endpoint_slice_controller_desired_endpoint_slices",
        "apiserver_watch_events_total",
        "apiserver_watch_events_sizes",
        "apiserver_terminated_watchers_total",
        "kubeproxy_sync_proxy_rules_endpoint_changes_total",
        "kubeproxy_network_programming_duration_seconds",
    ] {
        assert!(
            scrape.samples.iter().any(|s| s.metric == name),
            "{name} missing"
        );
    }
    let rows = summary_columns(&dir.path().join("out"));
    for row in &rows {
        let api = row["api"].as_str();
        let n = |col: &str| row[col].parse::<f64>().unwrap();
        assert_eq!(
            value("apiserver_watch_events_total", api, None),
            n("watch_events")
        );
        assert_eq!(
            value("apiserver_terminated_watchers_total", api, None),
            n("watch_terminations")
        );
        assert_eq!(
            value("apiserver_watch_events_sizes", api, None),
            n("watch_events")
        );
        let sum = format!("apiserver_watch_events_sizes_sum{{api=\"{api}\"");
        let line = text.lines().find(|l| l.starts_with(&sum)).unwrap();
        assert_eq!(
            line.rsplit(' ').next().unwrap().parse::<f64>().unwrap(),
            n("bytes_delivered")
        );
    }
    let slices = &rows[1];
    let n = |col: &str| slices[col].parse::<f64>().unwrap();
    for (op, col) in [
        ("create", "creates"),
        ("update", "updates"),
        ("delete", "deletes"),
    ] {
        assert_eq!(
            value(
                "endpoint_slice_controller_changes",
                "endpointslices",
                Some(("operation", op))
            ),
            n(col)
        );
    }
    assert_eq!(
        value(
            "endpoint_slice_controller_syncs",
            "endpointslices",
            Some(("result", "success"))
        ),
        n("syncs")
    );
    assert_eq!(
        value(
            "endpoint_slice_controller_num_endpoint_slices",
            "endpointslices",
            None
        ),
        n("objects_final")
    );
    // One observation per sync (one address type); readiness flaps add and remove no
    // endpoint, so the sums differ by the Service's 3,000 pods.
    let sum = |name: &str| -> f64 {
        let prefix = format!("{name}_sum{{api=\"endpointslices\"}} ");
        let line = text.lines().find(|l| l.starts_with(&prefix)).unwrap();
        line[prefix.len()..].parse().unwrap()
    };
    let added = "endpoint_slice_controller_endpoints_added_per_sync";
    let removed = "endpoint_slice_controller_endpoints_removed_per_sync";
    assert_eq!(value(added, "endpointslices", None), n("syncs"));
    assert_eq!(value(removed, "endpointslices", None), n("syncs"));
    assert_eq!(sum(added) - sum(removed), 3000.0);
}

/// kubernetes/kubernetes#122437: 11 endpoints over three equal zones under Auto get no hints
/// (each zone's minimum is ⌈(11/3)/1.2⌉ = 4, and 12 > 11); 12 endpoints get them. hints.csv
/// says when and why.
#[test]
fn eleven_endpoints_over_three_equal_zones_get_no_hints_twelve_do() {
    for (replicas, state, reason) in [
        (
            11,
            "off",
            "TopologyAwareHintsDisabled: Unable to allocate minimum required endpoints to each \
             zone without exceeding overload threshold (11 endpoints, 3 zones)",
        ),
        (12, "on", "TopologyAwareHintsEnabled"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = run_yaml(
            dir.path(),
            "hints",
            &format!(
                "duration: 2m\n\
                 cluster: {{zones: [{{name: zone-a, nodes: 4}}, {{name: zone-b, nodes: 4}}, {{name: zone-c, nodes: 4}}]}}\n\
                 services: [{{name: web, labels: {{app: web}}, replicas: {replicas}, topology_mode: Auto}}]\n"
            ),
        );
        let hints = read(&out.join("hints.csv"));
        let last = hints.lines().last().unwrap();
        assert!(hints.starts_with("t_seconds,service,api,state,reason\n"));
        // A field with a comma is quoted.
        let reason = if reason.contains(',') {
            format!("\"{reason}\"")
        } else {
            reason.to_string()
        };
        assert!(
            last.ends_with(&format!("default/web,endpointslices,{state},{reason}")),
            "{replicas}: {hints}"
        );
    }
}

/// Three balanced zones of 10 nodes, a Service of 30 pods (10 per zone): cluster-wide routing
/// sends two thirds of the requests to another zone (20 of 30 endpoints are elsewhere); with
/// PreferSameZone or Auto hints more than 95 % stay in their zone.
#[test]
fn hints_keep_requests_in_zone_across_three_balanced_zones() {
    let dir = tempfile::tempdir().unwrap();
    for (name, hints) in [
        ("none", ""),
        ("same-zone", ", traffic_distribution: PreferSameZone"),
        ("auto", ", topology_mode: Auto"),
    ] {
        let out = run_yaml(
            dir.path(),
            name,
            &format!(
                "duration: 10m\n\
                 cluster: {{zones: [{{name: zone-a, nodes: 10}}, {{name: zone-b, nodes: 10}}, {{name: zone-c, nodes: 10}}]}}\n\
                 services: [{{name: web, labels: {{app: web}}, replicas: 30{hints}}}]\n"
            ),
        );
        let rows = summary_columns(&out);
        let cross = |r: usize| rows[r]["cross_zone_fraction"].parse::<f64>().unwrap();
        assert!((cross(0) - 2.0 / 3.0).abs() < 0.01, "{name}: {}", cross(0));
        if hints.is_empty() {
            assert!((cross(1) - 2.0 / 3.0).abs() < 0.01, "{name}: {}", cross(1));
        } else {
            assert!(cross(1) < 0.05, "{name}: {}", cross(1));
        }
    }
}

/// Zones of 10, 9 and 1 nodes (allocatable CPU 50 / 45 / 5 %, clients in proportion) and 10
/// pods in each: PreferSameZone keeps zone a's half of the requests on its 10 endpoints (1.5
/// times the mean load), while Auto hints endpoints in proportion to CPU and evens the load.
#[test]
fn auto_evens_the_load_where_prefer_same_zone_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let mut ratio = Vec::new();
    for (name, hints) in [
        ("same-zone", "traffic_distribution: PreferSameZone"),
        ("auto", "topology_mode: Auto"),
    ] {
        let out = run_yaml(
            dir.path(),
            name,
            &format!(
                "duration: 10m\n\
                 cluster: {{zones: [{{name: zone-a, nodes: 10}}, {{name: zone-b, nodes: 9}}, {{name: zone-c, nodes: 1}}]}}\n\
                 services: [{{name: web, labels: {{app: web}}, replicas: 30, {hints}, zone_weights: {{zone-a: 1, zone-b: 1, zone-c: 1}}}}]\n"
            ),
        );
        let rows = summary_columns(&out);
        ratio.push(rows[1]["max_endpoint_load_ratio"].parse::<f64>().unwrap());
    }
    assert!((ratio[0] - 1.5).abs() < 0.05, "{ratio:?}");
    assert!(ratio[1] < ratio[0] - 0.2, "{ratio:?}");
}

/// scenarios/zones-spot.yaml (kubernetes#114215): hints go when the spot Node's pod does
/// (340 s), stay off through the replacement Node's unlabelled start (420 s) and its label
/// (450 s, nothing re-syncs), and come back only with the Service's own change at 12m. A
/// replacement labelled at once brings them back with its pod (ready at 427.7 s).
#[test]
fn a_spot_replacement_without_its_zone_label_leaves_hints_off() {
    let dir = tempfile::tempdir().unwrap();
    let text = read(&root().join("scenarios/zones-spot.yaml"));
    for (name, label_after, want) in [
        (
            "late",
            "30s",
            &[
                ("0.0", "on"),
                ("340.0", "off"),
                ("420.0", "off"),
                ("720.0", "on"),
            ][..],
        ),
        (
            "at-once",
            "0s",
            &[("0.0", "on"), ("340.0", "off"), ("427.7", "on")][..],
        ),
    ] {
        let yaml = text.replace(
            "zone_label_after: 30s",
            &format!("zone_label_after: {label_after}"),
        );
        let out = run_yaml(dir.path(), name, &yaml);
        let hints = read(&out.join("hints.csv"));
        let got: Vec<(String, &str)> = hints
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (format!("{:.1}", f[0].parse::<f64>().unwrap()), f[3])
            })
            .collect();
        let want: Vec<(String, &str)> = want.iter().map(|(t, s)| (t.to_string(), *s)).collect();
        assert_eq!(got, want, "{name}");
    }
}

/// zones.csv splits the EndpointSlice API's routing by kind of Service: in three balanced
/// zones, a PreferSameZone Service's requests stay in their zone while a Service without hints
/// sends two thirds away, as the Endpoints API does for both; per bucket the kinds' requests
/// add up to the Endpoints API's.
#[test]
fn zones_csv_splits_routing_by_kind() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_yaml(
        dir.path(),
        "kinds",
        "duration: 2m\n\
         bucket: 30s\n\
         cluster: {zones: [{name: zone-a, nodes: 10}, {name: zone-b, nodes: 10}, {name: zone-c, nodes: 10}]}\n\
         services:\n\
         - {name: near, labels: {app: near}, replicas: 30, traffic_distribution: PreferSameZone}\n\
         - {name: far, labels: {app: far}, replicas: 30}\n",
    );
    let text = read(&out.join("zones.csv"));
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "t_seconds,api,routing,requests,cross_zone_fraction,max_endpoint_load_ratio,hints_active_fraction,dropped_fraction"
        )
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let kinds: std::collections::BTreeSet<(&str, &str)> =
        rows.iter().map(|r| (r[1], r[2])).collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        [
            ("endpoints", "no hints"),
            ("endpointslices", "PreferSameZone"),
            ("endpointslices", "no hints")
        ]
    );
    let num = |r: &Vec<&str>, i: usize| r[i].parse::<f64>().unwrap();
    for t in ["30.0", "60.0", "90.0"] {
        let at: Vec<&Vec<&str>> = rows.iter().filter(|r| r[0] == t).collect();
        let of = |api: &str, kind: &str| *at.iter().find(|r| r[1] == api && r[2] == kind).unwrap();
        let (ep, near, far) = (
            of("endpoints", "no hints"),
            of("endpointslices", "PreferSameZone"),
            of("endpointslices", "no hints"),
        );
        assert_eq!(num(near, 4), 0.0, "{t}");
        assert!((num(far, 4) - 2.0 / 3.0).abs() < 0.01, "{t}");
        assert!((num(ep, 4) - 2.0 / 3.0).abs() < 0.01, "{t}");
        assert!(
            (num(near, 3) + num(far, 3) - num(ep, 3)).abs() < 1e-6,
            "{t}"
        );
    }
}

/// 15 pods on 30 Nodes of three zones (one on each of 5 Nodes per zone). `Local`: the
/// clients of the other 15 Nodes find no endpoint, with either API (Endpoints addresses
/// carry their nodeName too), and none crosses zones. `PreferSameNode` (slices): half the clients stay
/// on their Node, the rest on their zone's hinted endpoints: none crosses, none is lost,
/// every endpoint carries the mean.
#[test]
fn node_local_routing() {
    let dir = tempfile::tempdir().unwrap();
    for (name, policy) in [
        ("local", "internal_traffic_policy: Local"),
        ("same-node", "traffic_distribution: PreferSameNode"),
    ] {
        let out = run_yaml(
            dir.path(),
            name,
            &format!(
                "duration: 5m\n\
                 cluster: {{zones: [{{name: zone-a, nodes: 10}}, {{name: zone-b, nodes: 10}}, {{name: zone-c, nodes: 10}}]}}\n\
                 services: [{{name: web, labels: {{app: web}}, replicas: 15, {policy}}}]\n"
            ),
        );
        let rows = summary_columns(&out);
        let f = |r: usize, c: &str| rows[r][c].parse::<f64>().unwrap();
        for api in [0, 1] {
            if name == "local" || api == 1 {
                assert_eq!(f(api, "cross_zone_fraction"), 0.0, "{name} {api}");
            }
            let (dropped, load) = (
                f(api, "dropped_fraction"),
                f(api, "max_endpoint_load_ratio"),
            );
            if name == "local" {
                assert!((dropped - 0.5).abs() < 0.01, "{name} {api}: {dropped}");
            } else if api == 1 {
                assert_eq!(dropped, 0.0);
                assert!((load - 1.0).abs() < 0.01, "{load}");
                assert!(f(api, "hints_active_fraction") > 0.99);
            }
        }
    }
}

/// scenarios/zones-outage.yaml: hints go off when zone b's Nodes turn NotReady (340 s: the
/// outage at 300 s plus the 40 s grace period) and come back when they are Ready (780 s);
/// cross-zone routing follows: none before, zone b's half of the clients during, none after.
#[test]
fn a_zone_outage_removes_and_restores_hints() {
    let dir = tempfile::tempdir().unwrap();
    run_to("zones-outage", dir.path(), &["--no-charts", "--quiet"]);
    let hints = read(&dir.path().join("hints.csv"));
    let api0: Vec<(&str, &str)> = hints
        .lines()
        .filter(|l| l.contains("default/api-0"))
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0], f[3])
        })
        .collect();
    assert_eq!(api0, [("0.0", "on"), ("340.0", "off"), ("780.0", "on")]);
    let ts = read(&dir.path().join("timeseries.csv"));
    let mut lines = ts.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (t, cross) = (col("t_seconds"), col("cross_zone_fraction"));
    for l in lines.filter(|l| l.contains(",endpointslices,")) {
        let f: Vec<&str> = l.split(',').collect();
        let (t, cross): (f64, f64) = (f[t].parse().unwrap(), f[cross].parse().unwrap());
        if !(330.0..780.0).contains(&t) {
            assert_eq!(cross, 0.0, "{t}");
        } else if (360.0..750.0).contains(&t) {
            assert_eq!(cross, 0.5, "{t}");
        }
    }
}

/// `slicesim compare` of the default run (A) and the same with the Endpoints controller
/// batching 500 ms (B): compare.csv holds every figure of both summary.csv files, with B's
/// difference from and ratio to A, and the printed table shows the same numbers.
#[test]
fn compare_puts_two_runs_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, out) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("a-vs-b"),
    );
    let batched = read(&scenario("default")).replace(
        "    truncate: false\n",
        "    truncate: false\n    batch_period: 500ms\n",
    );
    assert!(batched.contains("batch_period: 500ms"));
    let file = dir.path().join("batched.yaml");
    std::fs::write(&file, batched).unwrap();
    for (scenario_file, to) in [(scenario("default"), &a), (file, &b)] {
        slicesim()
            .arg("run")
            .arg(scenario_file)
            .args(["--quiet", "--no-charts", "--out"])
            .arg(to)
            .assert()
            .success();
    }
    let output = slicesim()
        .arg("compare")
        .arg(&a)
        .arg(&b)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success());
    let table = String::from_utf8(output.stdout).unwrap();
    let (sa, sb) = (summary_columns(&a), summary_columns(&b));
    let csv = read(&out.join("compare.csv"));
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("figure,api,run,dir,value,difference,ratio")
    );
    let mut checked = 0;
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        let api = usize::from(f[1] == "endpointslices");
        let (base, own) = (&sa[api], if f[2] == "A" { &sa[api] } else { &sb[api] });
        assert_eq!(own["api"], f[1]);
        let num = |s: &str| s.parse::<f64>().unwrap();
        let (value, base) = (num(&own[f[0]]), num(&base[f[0]]));
        assert_eq!(num(f[4]), value, "{l}");
        assert!(
            (num(f[5]) - (value - base)).abs() <= 1e-9 * value.abs().max(1.0),
            "{l}"
        );
        if base != 0.0 {
            assert!(
                (num(f[6]) - value / base).abs() < 1e-9 * (value / base).abs().max(1.0),
                "{l}"
            );
        } else {
            assert_eq!(f[6], "", "{l}");
        }
        checked += 1;
    }
    // Every figure of both APIs in both runs.
    assert_eq!(checked, 2 * 2 * (sa[0].len() - 3));
    // The printed table: the Endpoints updates of both runs and their difference.
    let thousands = |s: &str| {
        let n: i64 = s.parse().unwrap();
        let digits = n.abs().to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        if n < 0 { format!("-{out}") } else { out }
    };
    let updates = table
        .lines()
        .find(|l| l.starts_with("updates "))
        .expect("an updates row");
    let cells: Vec<&str> = updates.split_whitespace().collect();
    let (ua, ub) = (&sa[0]["updates"], &sb[0]["updates"]);
    let diff = ub.parse::<i64>().unwrap() - ua.parse::<i64>().unwrap();
    assert_eq!(
        cells[1..4],
        [thousands(ua), thousands(ub), thousands(&diff.to_string())],
        "{updates}"
    );
    for chart in ["compare-cumulative-bytes", "compare-objects"] {
        for ext in ["svg", "png"] {
            assert!(out.join(format!("{chart}.{ext}")).exists(), "{chart}.{ext}");
        }
    }
    let report = read(&out.join("report.html"));
    check_self_contained(&report);
    assert_eq!(report.matches("<svg").count(), 2);
}

/// Fewer than two runs, or a directory that is not a run's: exit 2 and a message naming it.
#[test]
fn compare_refuses_what_is_not_two_runs() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = slicesim().arg("compare").arg(&empty).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least two run directories"));
    let out = slicesim()
        .arg("compare")
        .arg(&empty)
        .arg(&empty)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not a run's directory (no summary.csv)"),
        "{err}"
    );
    assert!(err.contains(&*empty.display().to_string()), "{err}");
}

/// `--format json` prints summary.csv's rows as JSON, keys in the CSV's column order, values
/// equal; `slicesim size --format json` equals its CSV.
#[test]
fn json_output_equals_the_csv() {
    let dir = tempfile::tempdir().unwrap();
    let out = slicesim()
        .arg("run")
        .arg(scenario("zones-spot"))
        .args(["--no-charts", "--format", "json", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = json.as_array().unwrap();
    let csv = summary_columns(dir.path());
    assert_eq!(rows.len(), csv.len());
    let header: Vec<String> = read(&dir.path().join("summary.csv"))
        .lines()
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    // The keys in the CSV's order, as printed (serde_json::Value sorts them).
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    let first = &text[..text.find('}').unwrap()];
    let printed: Vec<&str> = first
        .lines()
        .filter_map(|l| l.trim().strip_prefix('"')?.split('"').next())
        .collect();
    assert_eq!(printed, header);
    for (row, expected) in rows.iter().zip(&csv) {
        let obj = row.as_object().unwrap();
        assert_eq!(obj.len(), header.len());
        for (k, v) in obj {
            let want = &expected[k];
            match v {
                serde_json::Value::String(s) => assert_eq!(s, want, "{k}"),
                n => assert_eq!(n.as_f64().unwrap(), want.parse::<f64>().unwrap(), "{k}"),
            }
        }
    }
    let file = root().join("tests/data/core.v1.Endpoints.yaml");
    let size = |format: &str| {
        let out = slicesim()
            .args(["size", "--format", format])
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let json: serde_json::Value = serde_json::from_str(&size("json")).unwrap();
    let csv = size("csv");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows = json.as_array().unwrap();
    for (row, line) in rows.iter().zip(lines) {
        for (k, v) in header.iter().zip(line.split(',')) {
            let got = &row[*k];
            match got {
                serde_json::Value::String(s) => assert_eq!(s, v, "{k}"),
                n => assert_eq!(n.as_u64().unwrap().to_string(), v, "{k}"),
            }
        }
    }
}

/// `slicesim completions SHELL` prints a script that knows the commands and their flags;
/// `slicesim man` prints the manual, `--out DIR` writes one page per command.
#[test]
fn completions_and_man_pages() {
    let text = |args: &[&str]| {
        let out = slicesim().args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let bash = text(&["completions", "bash"]);
    assert!(bash.contains("_slicesim()"), "{bash}");
    for word in ["compare", "reproduce", "--max-memory", "--format"] {
        assert!(bash.contains(word), "bash: {word}");
    }
    assert!(text(&["completions", "zsh"]).starts_with("#compdef slicesim"));
    assert!(text(&["completions", "fish"]).contains("complete -c slicesim"));
    let man = text(&["man"]);
    assert!(man.contains(".TH slicesim 1"), "{man}");
    assert!(man.contains("compare"));
    let dir = tempfile::tempdir().unwrap();
    let listed = text(&["man", "--out", dir.path().to_str().unwrap()]);
    for page in [
        "slicesim",
        "slicesim-run",
        "slicesim-compare",
        "slicesim-size",
    ] {
        let path = dir.path().join(format!("{page}.1"));
        assert!(listed.contains(&*path.display().to_string()), "{page}");
        assert!(read(&path).contains(&format!(".TH {page} 1")), "{page}");
    }
}

/// Checks that `html` is well-formed (every element closed in order, void elements aside)
/// and references nothing outside itself: no scripts, no links, no `src`, no `href` or
/// `url()` but to a fragment, no address but SVG's namespace name.
fn check_self_contained(html: &str) {
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.trim_end().ends_with("</html>"));
    const VOID: [&str; 4] = ["meta", "br", "hr", "img"];
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>').expect("an unclosed tag");
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') || tag.starts_with('?') {
            continue;
        }
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == ':')
            .collect();
        assert!(!name.is_empty(), "a stray '<' before {tag:?}");
        if let Some(closing) = tag.strip_prefix('/') {
            let open = stack
                .pop()
                .unwrap_or_else(|| panic!("</{closing}> closes nothing"));
            assert_eq!(open, name, "<{open}> closed by </{name}>");
        } else if !tag.ends_with('/') && !VOID.contains(&name.as_str()) {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "left open: {stack:?}");
    let lower = html.to_ascii_lowercase();
    for banned in [
        "<script", "<link", "<iframe", "<object", "<embed", "@import", " src=",
    ] {
        assert!(!lower.contains(banned), "{banned}");
    }
    for (key, allowed) in [("href=\"", "#"), ("url(", "#")] {
        for (i, _) in lower.match_indices(key) {
            let target = &lower[i + key.len()..];
            assert!(
                target.starts_with(allowed),
                "{key}{}",
                &target[..40.min(target.len())]
            );
        }
    }
    let without_ns = lower.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(!without_ns.contains("http:") && !without_ns.contains("https:"));
}

/// Every run writes report.html: well-formed, self-contained, with the summary table, every
/// chart of charts/ inline and the scenario; `slicesim plot` rewrites it.
#[test]
fn a_run_writes_a_self_contained_report() {
    let dir = tempfile::tempdir().unwrap();
    run_to("zones-spot", dir.path(), &["--quiet"]);
    let html = read(&dir.path().join("report.html"));
    check_self_contained(&html);
    let charts = std::fs::read_dir(dir.path().join("charts"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "svg")
        })
        .count();
    assert!(charts >= 5);
    assert_eq!(html.matches("<svg").count(), charts);
    for shown in [
        "<td>bytes_delivered</td>",
        "<th>endpointslices</th>",
        "zone_label_after: 30s",
        "TopologyAwareHintsDisabled",
    ] {
        assert!(html.contains(shown), "{shown}");
    }
    std::fs::remove_file(dir.path().join("report.html")).unwrap();
    slicesim().arg("plot").arg(dir.path()).assert().success();
    assert_eq!(read(&dir.path().join("report.html")), html);
}

/// The 250 → 150 registry published four ways (scenarios/external-shrink.yaml): external.csv
/// has one row per Service; the naive controller's third slice keeps its 50 instances to the
/// end (stale for the last 10 minutes: 30,000 endpoint-seconds) and leaks; the others hold
/// nothing stale. The naive slices reach every kube-proxy (100) and CoreDNS (2), the upstream
/// slices of the headless Service CoreDNS only. The summary counts the stored writes.
#[test]
fn external_services_are_reported_per_strategy() {
    let dir = tempfile::tempdir().unwrap();
    slicesim()
        .args(["run"])
        .arg(scenario("external-shrink"))
        .arg("--out")
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("External Services"))
        .stdout(predicate::str::contains("external.csv, report.html"));
    let text = read(&dir.path().join("external.csv"));
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "service,strategy,requests,failed_requests,request_bytes,writes,watch_events,\
             bytes_delivered,stale_endpoints_peak,stale_endpoints_final,stale_endpoint_seconds,\
             missing_endpoints_final,leaked_slices,staleness_p50_s,staleness_p99_s"
        )
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let strategies: Vec<&str> = rows.iter().map(|r| r[1]).collect();
    assert_eq!(strategies, ["naive", "diffing", "upstream", "mirroring"]);
    // naive: 30 polls x 3 chunks (2 after 5 m): 3 creates, then a failed Create and an
    // Update per chunk; stored: the 3 creates and the one Update at 5 m.
    let naive = &rows[0];
    assert_eq!(naive[3], (9 * 3 + 20 * 2).to_string());
    assert_eq!(naive[5], "4");
    assert_eq!(naive[6], (4 * 102).to_string());
    assert_eq!((naive[9], naive[10], naive[12]), ("50", "30000.0", "1"));
    for r in &rows[1..] {
        assert_eq!((r[9], r[12]), ("0", "0"), "{}", r[1]);
    }
    // upstream: 5 stored writes to the 2 CoreDNS replicas only.
    assert_eq!((rows[2][5], rows[2][6]), ("5", "10"));
    // The summary's EndpointSlice row counts every stored slice write: naive 4, diffing 5,
    // upstream 5, mirroring 2 (its other 2 writes are the Endpoints object's).
    let summary = summary_columns(dir.path());
    let creates_updates_deletes = |i: usize| {
        ["creates", "updates", "deletes"]
            .iter()
            .map(|c| summary[i][*c].parse::<u64>().unwrap())
            .sum::<u64>()
    };
    // Requests that wrote nothing (no-op Updates) are counted too, as for the controllers:
    // every naive Update but the one at 5 m (chunk 1 lost 150..199).
    let noop_updates = 9 * 3 + 20 * 2 - 1;
    assert_eq!(creates_updates_deletes(1), 4 + 5 + 5 + 2 + noop_updates);
    assert_eq!(creates_updates_deletes(0), 2);
    assert!(dir.path().join("charts/external.svg").is_file());
}

/// scenarios/external-churn.yaml (2,000 instances, 600 joins, 600 leaves and 120 flaps an
/// hour): the naive controller delivers more bytes than the diffing and upstream ones, and
/// its failed Creates are counted — one per chunk per poll after the first: 119 polls of 19
/// to 21 chunks (the registry holds 1,900 to 2,100 healthy instances). Mirroring publishes at
/// most 1,000 of them.
#[test]
fn on_a_churning_registry_the_naive_controller_delivers_the_most() {
    let dir = tempfile::tempdir().unwrap();
    run_to("external-churn", dir.path(), &["--no-charts", "--quiet"]);
    let text = read(&dir.path().join("external.csv"));
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let num = |r: usize, c: usize| rows[r][c].parse::<u64>().unwrap();
    let bytes = |r: usize| num(r, 7);
    assert!(bytes(0) > bytes(1) && bytes(1) > bytes(2), "{text}");
    assert!((119 * 19..=119 * 21).contains(&num(0, 3)), "{text}");
    assert_eq!(num(1, 3) + num(2, 3) + num(3, 3), 0);
    assert!(num(3, 11) >= 900, "{text}");
}
