//! End-to-end tests of `slicesim size`, driving the binary.

use std::path::PathBuf;

use crate::common::{root, slicesim};
use predicates::prelude::*;

const HEADER: &str = "kind,namespace,name,address_type,endpoints,proto_bytes,proto_watch_bytes,json_bytes,json_watch_bytes";

fn data(name: &str) -> PathBuf {
    root().join("tests/data").join(name)
}

fn csv_rows(out: &[u8]) -> Vec<Vec<String>> {
    let text = String::from_utf8(out.to_vec()).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(HEADER));
    lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// The fixture's JSON re-encoded compactly (independent of slicesim's encoders).
fn compact_json_len(fixture: &str) -> u64 {
    let text = std::fs::read_to_string(data(&format!("{fixture}.json"))).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    serde_json::to_vec(&v).unwrap().len() as u64
}

#[test]
fn fixtures_report_the_pb_length_and_compact_json_length() {
    for fixture in [
        "core.v1.Endpoints",
        "discovery.k8s.io.v1.EndpointSlice",
        "discovery.k8s.io.v1beta1.EndpointSlice",
    ] {
        let pb_len = std::fs::metadata(data(&format!("{fixture}.pb")))
            .unwrap()
            .len();
        for ext in ["json", "yaml"] {
            let out = slicesim()
                .args(["size", "--format", "csv"])
                .arg(data(&format!("{fixture}.{ext}")))
                .assert()
                .success()
                .get_output()
                .stdout
                .clone();
            let rows = csv_rows(&out);
            assert_eq!(rows.len(), 1, "{fixture}.{ext}");
            let row = &rows[0];
            assert_eq!(row[5], pb_len.to_string(), "{fixture}.{ext} proto_bytes");
            assert_eq!(
                row[7],
                compact_json_len(fixture).to_string(),
                "{fixture}.{ext} json_bytes"
            );
        }
    }
}

#[test]
fn table_is_the_default_and_shows_units() {
    slicesim()
        .arg("size")
        .arg(data("core.v1.Endpoints.yaml"))
        .assert()
        .success()
        .stdout(predicate::str::contains("KIND"))
        .stdout(predicate::str::contains("namespaceValue/nameValue"))
        .stdout(predicate::str::contains("728 B"))
        .stdout(predicate::str::contains("1529 (1.53 kB)"));
}

#[test]
fn reads_stdin_lists_streams_and_watch_events() {
    let slice = std::fs::read_to_string(data("discovery.k8s.io.v1.EndpointSlice.yaml")).unwrap();
    let endpoints = std::fs::read_to_string(data("core.v1.Endpoints.yaml")).unwrap();
    // A multi-document stream with a Service in the middle.
    let stream = format!(
        "{slice}---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n---\n{endpoints}"
    );
    let out = slicesim()
        .args(["size", "--format", "csv", "-"])
        .write_stdin(stream)
        .assert()
        .success()
        .stderr(predicate::str::contains("skipped Service \"web\""))
        .get_output()
        .stdout
        .clone();
    let rows = csv_rows(&out);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][5], "721");
    assert_eq!(rows[1][5], "728");

    // A List and a watch-event line carry the same objects.
    let slice_json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(data("discovery.k8s.io.v1.EndpointSlice.json")).unwrap(),
    )
    .unwrap();
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": [slice_json.clone(), slice_json.clone()]});
    let event = serde_json::json!({"type": "MODIFIED", "object": slice_json});
    let input = format!("{list}\n{event}\n");
    let out = slicesim()
        .args(["size", "--format", "csv", "-"])
        .write_stdin(input)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let rows = csv_rows(&out);
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r[5] == "721"));
}

fn bad_input(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// Malformed inputs: (file name, text, expected line, a word of the message). Lines counted
/// by hand in the text.
const MALFORMED: &[(&str, &str, usize, &str)] = &[
    (
        "syntax.yaml",
        "apiVersion: v1\nkind: Endpoints\nmetadata:\n  name: x\n   bad: [1\n",
        5,
        "invalid YAML",
    ),
    (
        "syntax.json",
        "{\n  \"kind\": \"Endpoints\",\n  \"apiVersion\": \"v1\"\n  \"subsets\": []\n}\n",
        4,
        "invalid JSON",
    ),
    (
        "type.yaml",
        "kind: EndpointSlice\napiVersion: discovery.k8s.io/v1\naddressType: IPv4\nendpoints:\n- addresses: [\"10.0.0.1\"]\n  conditions:\n    ready: maybe\n",
        7,
        "boolean",
    ),
    (
        "unknown.yaml",
        "kind: EndpointSlice\napiVersion: discovery.k8s.io/v1\naddressType: IPv4\nendpoints:\n- addresses: [\"10.0.0.1\"]\n  zoen: a\n",
        6,
        "zoen",
    ),
    (
        "noat.yaml",
        "# a comment\nkind: EndpointSlice\napiVersion: discovery.k8s.io/v1\nmetadata:\n  name: x\n",
        2,
        "addressType",
    ),
];

#[test]
fn malformed_input_exits_2_naming_file_and_line() {
    for (name, text, line, word) in MALFORMED {
        let (_dir, path) = bad_input(name, text);
        slicesim()
            .args(["size"])
            .arg(&path)
            .assert()
            .code(2)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::contains(format!(
                "{}:{line}:",
                path.display()
            )))
            .stderr(predicate::str::contains(*word));
    }
}

#[test]
fn truncated_files_exit_2() {
    let json = std::fs::read_to_string(data("core.v1.Endpoints.json")).unwrap();
    let cut = &json[..json.len() / 2];
    let (_d1, path) = bad_input("cut.json", cut);
    let line = cut.lines().count();
    slicesim()
        .args(["size"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{}:{line}:",
            path.display()
        )));

    // YAML cut inside a quoted string.
    let yaml = "kind: EndpointSlice\napiVersion: discovery.k8s.io/v1\naddressType: IPv4\nmetadata:\n  name: \"web-ab";
    let (_d2, path) = bad_input("cut.yaml", yaml);
    slicesim()
        .args(["size"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(path.display().to_string()));
}

#[test]
fn another_kind_is_skipped_with_a_note() {
    let (_dir, path) = bad_input(
        "svc.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 80\n",
    );
    slicesim()
        .args(["size", "--format", "csv"])
        .arg(&path)
        .assert()
        .success()
        .stdout(format!("{HEADER}\n"))
        .stderr(predicate::str::contains(format!(
            "note: {}:1: skipped Service \"web\"",
            path.display()
        )));
}

#[test]
fn missing_file_exits_2() {
    slicesim()
        .args(["size", "/nonexistent/x.yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/x.yaml"));
}

#[test]
fn help_has_examples() {
    slicesim()
        .args(["size", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Examples:"));
}

/// `slicesim lint`: clean (exit 0, nothing printed) on the slices the upstream controller
/// model writes; every rule found in a hand-made stream that breaks each once (exit 1); exit 2
/// on unreadable input.
#[test]
fn lint_checks_the_advice_for_hand_written_slices() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("objects");
    slicesim()
        .args(["run", "--quiet", "--no-charts", "--out"])
        .arg(dir.path().join("run"))
        .arg("--export-objects")
        .arg(&export)
        .arg(root().join("scenarios/dual-stack.yaml"))
        .assert()
        .success();
    slicesim()
        .arg("lint")
        .arg(export.join("endpointslices.yaml"))
        .assert()
        .code(0)
        .stdout("");
    let slice = |name: &str, labels: &str, owner: bool, endpoints: &str| {
        format!(
            "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: {name}\n  \
             namespace: default\n  labels: {{{labels}}}\n{}addressType: IPv4\nendpoints: {endpoints}\n",
            if owner {
                "  ownerReferences: [{apiVersion: v1, kind: Service, name: web, uid: u1}]\n"
            } else {
                ""
            }
        )
    };
    let ok = "kubernetes.io/service-name: web, endpointslice.kubernetes.io/managed-by: mine";
    let ep = |a: &str, serving: bool| {
        format!("{{addresses: [\"{a}\"], conditions: {{ready: true, serving: {serving}}}}}")
    };
    let docs = [
        slice(
            "no-name",
            "endpointslice.kubernetes.io/managed-by: mine",
            true,
            &format!("[{}]", ep("10.0.0.1", true)),
        ),
        slice(
            "no-manager",
            "kubernetes.io/service-name: web",
            true,
            &format!("[{}]", ep("10.0.0.2", true)),
        ),
        slice("orphan", ok, false, &format!("[{}]", ep("10.0.0.3", true))),
        slice(
            "big",
            ok,
            true,
            &format!(
                "[{}, {}, {}]",
                ep("10.0.1.1", true),
                ep("10.0.1.2", true),
                ep("10.0.1.3", true)
            ),
        ),
        slice(
            "not-serving",
            ok,
            true,
            &format!("[{}]", ep("10.0.2.1", false)),
        ),
        slice("dup", ok, true, &format!("[{}]", ep("10.0.1.1", true))),
        slice("empty", ok, true, "[]"),
    ];
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, docs.join("---\n")).unwrap();
    let out = slicesim()
        .args(["lint", "--max", "2"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for (slice, rule) in [
        ("no-name", "service-name"),
        ("no-manager", "managed-by"),
        ("orphan", "owner"),
        ("big", "max-endpoints"),
        ("not-serving", "ready-not-serving"),
        ("dup", "duplicate-address"),
        ("empty", "empty"),
    ] {
        let want = format!("EndpointSlice default/{slice}: {rule}: ");
        assert_eq!(
            lines.iter().filter(|l| l.contains(&want)).count(),
            1,
            "{want} in {text}"
        );
    }
    assert_eq!(lines.len(), 7, "{text}");
    assert!(lines[0].starts_with(&format!("{}:", file.display())));
    std::fs::write(&file, "kind: [").unwrap();
    slicesim().arg("lint").arg(&file).assert().code(2);
}

/// The teaching material's hand-written example slices (tests/data/material-*.yaml, as the
/// Kubernetes documentation shows them): each lacks the managed-by label and an owner; both
/// have the Service's name, one ready endpoint (no serving condition: not "ready without
/// serving") and no more than 100 endpoints. The README shows these lines.
#[test]
fn lint_finds_what_the_material_examples_leave_out() {
    slicesim()
        .current_dir(root().join("tests/data"))
        .args(["lint", "material-basic.yaml", "material-hints.yaml"])
        .assert()
        .code(1)
        .stdout(
            "material-basic.yaml:3: EndpointSlice /example-abc: managed-by: no \
             endpointslice.kubernetes.io/managed-by label: nothing says which controller owns it\n\
             material-basic.yaml:3: EndpointSlice /example-abc: owner: no ownerReferences: it \
             outlives its Service (nothing garbage-collects it)\n\
             material-hints.yaml:3: EndpointSlice /example-hints: managed-by: no \
             endpointslice.kubernetes.io/managed-by label: nothing says which controller owns it\n\
             material-hints.yaml:3: EndpointSlice /example-hints: owner: no ownerReferences: it \
             outlives its Service (nothing garbage-collects it)\n",
        );
}
