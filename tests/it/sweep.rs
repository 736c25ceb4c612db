//! End-to-end tests of sweeps: `slicesim run` on a scenario with a `sweep:` block, `--list`,
//! `--shard`, `--resume` after Ctrl-C, and `slicesim merge`; and the Kubernetes recipe for
//! sharded sweeps (scripts/k8s/), read with the real `k8s-openapi` types. (One test binary:
//! each costs CI a link.)

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::{read, root, slicesim};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use predicates::prelude::*;

/// A small sweep: 3 Service sizes x 2 slice capacities = 6 points, 4 replicates each.
const SWEEP: &str = "\
name: tiny-sweep
seed: 7
duration: 3m
cluster:
  zones:
    - {name: zone-a, nodes: 10}
    - {name: zone-b, nodes: 10}
services:
  - {name: web, replicas: 10}
churn:
  - rollout: {service: web, at: 30s}
  - pod_failures: {per_hour: 600, from: 1m}
sweep:
  replicates: 4
  parameters:
    services[0].replicas: [3, 10, 30]
    controllers.endpointslices.max_endpoints_per_slice: [2, 5]
";

fn write_scenario(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("sweep.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn sweep_to(file: &Path, out: &Path, extra: &[&str]) {
    slicesim()
        .arg("run")
        .arg(file)
        .arg("--out")
        .arg(out)
        .args(["--no-charts", "--quiet"])
        .args(extra)
        .assert()
        .success();
}

fn point_dirs(out: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(out.join("points"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn the_sweep_table_is_the_same_whatever_the_jobs_and_shards() {
    let d = tempfile::tempdir().unwrap();
    let file = write_scenario(d.path(), SWEEP);
    let one = d.path().join("one");
    let two = d.path().join("two");
    sweep_to(&file, &one, &["--jobs", "1"]);
    sweep_to(&file, &two, &["--jobs", "2"]);
    let table = read(&one.join("sweep.csv"));
    assert_eq!(table, read(&two.join("sweep.csv")));
    let lines: Vec<&str> = table.lines().collect();
    // Header, then 24 runs x 2 APIs, in point, replicate, API order.
    assert_eq!(lines.len(), 1 + 24 * 2);
    assert!(
        lines[0].starts_with(
            "point,replicate,seed,param_services[0].replicas,\
             param_controllers.endpointslices.max_endpoints_per_slice,scenario,seed,api,"
        ),
        "{}",
        lines[0]
    );
    // Point 3 = replicas 10 (second value), capacity 5 (second value); the last parameter
    // varies fastest.
    assert!(lines[1].starts_with("0,0,"));
    let p3r1: Vec<&str> = lines[1 + (3 * 4 + 1) * 2].split(',').collect();
    assert_eq!((p3r1[0], p3r1[1], p3r1[3], p3r1[4]), ("3", "1", "10", "5"));
    assert_eq!(point_dirs(&one).len(), 24);

    // Three shards, merged, are the same table.
    let shards: Vec<PathBuf> = (0..3).map(|i| d.path().join(format!("shard{i}"))).collect();
    for (i, s) in shards.iter().enumerate() {
        sweep_to(&file, s, &["--shard", &format!("{i}/3")]);
        assert!(!s.join("sweep.csv").exists(), "a shard writes no table");
    }
    // Shard 1 of 3 holds points 1 and 4, every replicate.
    assert_eq!(
        point_dirs(&shards[1]),
        ["1-0", "1-1", "1-2", "1-3", "4-0", "4-1", "4-2", "4-3"]
    );
    let merged = d.path().join("merged");
    slicesim()
        .args(["merge", "--no-charts", "--quiet", "--out"])
        .arg(&merged)
        .args(&shards)
        .assert()
        .success();
    assert_eq!(read(&merged.join("sweep.csv")), table);
    assert_eq!(point_dirs(&merged).len(), 24);

    // A merge with a shard missing names the missing runs and writes nothing.
    let partial = d.path().join("partial");
    slicesim()
        .args(["merge", "--no-charts", "--out"])
        .arg(&partial)
        .args(&shards[..2])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "8 of 24 runs are missing: 2-0, 2-1",
        ));
    assert!(!partial.exists());
}

#[test]
fn a_point_is_the_scenario_with_its_values_and_seed() {
    let d = tempfile::tempdir().unwrap();
    let file = write_scenario(d.path(), SWEEP);
    let out = d.path().join("out");
    sweep_to(&file, &out, &[]);
    let table = read(&out.join("sweep.csv"));
    // Point 5, replicate 2: replicas 30, capacity 5, with the seed the table gives.
    let row = table
        .lines()
        .find(|l| l.starts_with("5,2,"))
        .expect("point 5, replicate 2");
    let seed = row.split(',').nth(2).unwrap();
    let alone = SWEEP
        .split("sweep:\n")
        .next()
        .unwrap()
        .replace("seed: 7", &format!("seed: {seed}"))
        .replace("replicas: 10}", "replicas: 30}")
        + "controllers:\n  endpointslices: {max_endpoints_per_slice: 5}\n";
    let alone_file = d.path().join("alone.yaml");
    std::fs::write(&alone_file, alone).unwrap();
    let alone_out = d.path().join("alone");
    slicesim()
        .arg("run")
        .arg(&alone_file)
        .arg("--out")
        .arg(&alone_out)
        .args(["--no-charts", "--quiet"])
        .assert()
        .success();
    assert_eq!(
        read(&out.join("points/5-2/summary.csv")),
        read(&alone_out.join("summary.csv"))
    );
}

#[test]
fn list_prints_every_run_with_its_seed() {
    let d = tempfile::tempdir().unwrap();
    let file = write_scenario(d.path(), SWEEP);
    let listed = slicesim()
        .arg("run")
        .arg(&file)
        .arg("--list")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let listed = String::from_utf8(listed).unwrap();
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(
        lines[0],
        "point,replicate,seed,param_services[0].replicas,\
         param_controllers.endpointslices.max_endpoints_per_slice"
    );
    assert_eq!(lines.len(), 25);
    // The seeds are the ones the runs use: the leading columns of sweep.csv.
    let out = d.path().join("out");
    sweep_to(&file, &out, &[]);
    let table = read(&out.join("sweep.csv"));
    for (i, l) in lines[1..].iter().enumerate() {
        let row = table.lines().nth(1 + 2 * i).unwrap();
        assert!(row.starts_with(&format!("{l},")), "{l} / {row}");
    }
    let seeds: std::collections::BTreeSet<&str> = lines[1..]
        .iter()
        .map(|l| l.split(',').nth(2).unwrap())
        .collect();
    assert_eq!(seeds.len(), 24, "every run its own seed");
    // A shard lists its own runs.
    slicesim()
        .arg("run")
        .arg(&file)
        .args(["--list", "--shard", "auto"])
        .env("JOB_COMPLETION_INDEX", "2")
        .env("JOB_COMPLETIONS", "3")
        .assert()
        .success()
        .stdout(predicate::str::contains("\n2,0,").and(predicate::str::contains("\n5,3,")))
        .stdout(predicate::str::contains("\n1,0,").not());
}

#[test]
fn an_invalid_value_is_reported_at_it_and_nothing_is_written() {
    let d = tempfile::tempdir().unwrap();
    // 30 pods on 2 nodes of at most 10 pods: the third value cannot run.
    let text = SWEEP
        .replace("cluster:\n", "cluster:\n  max_pods_per_node: 10\n")
        .replace("nodes: 10}", "nodes: 1}");
    let file = write_scenario(d.path(), &text);
    let out = d.path().join("out");
    let expected = format!(
        "{}:17:35: sweep.parameters.services[0].replicas[2]: services[0].replicas: 30 pods \
         do not fit on 2 nodes of 10 pods each (cluster.max_pods_per_node) (point 4, with \
         controllers.endpointslices.max_endpoints_per_slice = 2)",
        file.display()
    );
    for run in [true, false] {
        let mut cmd = slicesim();
        if run {
            cmd.arg("run").arg(&file).arg("--out").arg(&out);
        } else {
            cmd.arg("check").arg(&file);
        }
        let assert = cmd.assert().code(2);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        // The same value wrong in the same way at points 4 and 5: reported once.
        assert_eq!(
            stderr.trim_end().lines().collect::<Vec<_>>(),
            [expected.as_str()],
            "{stderr}"
        );
        assert!(!out.exists());
        assert!(!d.path().join(".out.sweep").exists());
    }
}

#[test]
fn ctrl_c_keeps_the_finished_runs_and_resume_completes_the_same_table() {
    let d = tempfile::tempdir().unwrap();
    // Longer runs, so that the sweep is still running when the signal comes.
    let text = SWEEP.replace("duration: 3m", "duration: 20m");
    let file = write_scenario(d.path(), &text);
    let reference = d.path().join("reference");
    sweep_to(&file, &reference, &["--jobs", "2"]);

    let out = d.path().join("out");
    let work = d.path().join(".out.sweep");
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("slicesim"))
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .args(["--no-charts", "--jobs", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Polled every 5 ms for at most two minutes.
    for waited in 0.. {
        if std::fs::read_dir(work.join("points")).map_or(0, |d| d.count()) > 0 {
            break;
        }
        assert!(waited < 24_000, "no run finished");
        std::thread::sleep(Duration::from_millis(5));
    }
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("runs are done and kept. Resume with:"),
        "{stderr}"
    );
    assert!(!out.exists(), "an interrupted sweep is not put in place");
    let kept = std::fs::read_dir(work.join("points")).unwrap().count();
    assert!((1..24).contains(&kept), "{kept} runs kept");

    slicesim()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .args(["--no-charts", "--resume"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "24 runs, {} run now",
            24 - kept
        )));
    assert_eq!(
        read(&out.join("sweep.csv")),
        read(&reference.join("sweep.csv"))
    );
    assert!(!work.exists());
}

#[test]
fn a_sweep_draws_one_chart_per_parameter_and_check_counts_its_runs() {
    let d = tempfile::tempdir().unwrap();
    let file = write_scenario(d.path(), SWEEP);
    slicesim()
        .arg("check")
        .arg(&file)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "ok (a sweep of 6 point(s) x 4 replicate(s) = 24 runs",
        ));
    let out = d.path().join("out");
    slicesim()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "6 point(s) x 4 replicate(s); 24 runs, 24 run now.",
        ));
    for stem in [
        "sweep-services.0.replicas",
        "sweep-controllers.endpointslices.max_endpoints_per_slice",
    ] {
        for ext in ["svg", "png"] {
            let p = out.join("charts").join(format!("{stem}.{ext}"));
            assert!(p.is_file(), "{}", p.display());
        }
    }
    // Flags of a sweep on a scenario without one are refused.
    let plain = d.path().join("plain.yaml");
    std::fs::write(&plain, SWEEP.split("sweep:\n").next().unwrap()).unwrap();
    slicesim()
        .arg("run")
        .arg(&plain)
        .arg("--list")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--list is for a sweep"));
}

/// A manifest of scripts/k8s/.
fn manifest<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let path = root().join("scripts/k8s").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_indexed_job_runs_one_shard_per_completion_index() {
    let job: Job = manifest("sweep-job.yaml");
    let spec = job.spec.expect("spec");
    assert_eq!(spec.completion_mode.as_deref(), Some("Indexed"));
    let completions = spec.completions.expect("completions");
    assert!(completions > 1);
    let pod = spec.template.spec.expect("pod spec");
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    let [c] = pod.containers.as_slice() else {
        panic!("one container");
    };
    assert_eq!(c.command.as_deref(), Some(&["slicesim".to_string()][..]));
    let args = c.args.clone().expect("args");
    let arg = |flag: &str| {
        let i = args
            .iter()
            .position(|a| a == flag)
            .unwrap_or_else(|| panic!("{flag}"));
        args[i + 1].clone()
    };
    assert_eq!(args[0], "run");
    // The shard comes from the Job: --shard auto reads these two variables.
    assert_eq!(arg("--shard"), "auto");
    let env = c.env.clone().unwrap_or_default();
    let completions_env = env
        .iter()
        .find(|e| e.name == "JOB_COMPLETIONS")
        .and_then(|e| e.value.clone());
    assert_eq!(completions_env, Some(completions.to_string()));
    // Each shard its own directory on the shared volume, named by its index (the Job
    // controller sets JOB_COMPLETION_INDEX; Kubernetes expands $(VAR) in args).
    let out = arg("--out");
    assert_eq!(out, "/results/shard-$(JOB_COMPLETION_INDEX)");
    let mounts = c.volume_mounts.clone().unwrap_or_default();
    let mount_of = |path: &str| {
        mounts
            .iter()
            .find(|m| path.starts_with(&m.mount_path))
            .unwrap_or_else(|| panic!("nothing mounted at {path}"))
            .name
            .clone()
    };
    let volumes = pod.volumes.clone().unwrap_or_default();
    let results = volumes
        .iter()
        .find(|v| v.name == mount_of(&out))
        .and_then(|v| v.persistent_volume_claim.clone())
        .expect("the results are on a claim");
    let scenario = &args[1];
    assert!(
        volumes
            .iter()
            .find(|v| v.name == mount_of(scenario))
            .and_then(|v| v.config_map.clone())
            .is_some(),
        "the scenario comes from a ConfigMap"
    );
    // The claim the Job writes to is the one shipped, shared by the shards' pods.
    let pvc: PersistentVolumeClaim = manifest("results-pvc.yaml");
    assert_eq!(
        pvc.metadata.name.as_deref(),
        Some(results.claim_name.as_str())
    );
    let modes = pvc.spec.and_then(|s| s.access_modes).unwrap_or_default();
    assert_eq!(modes, ["ReadWriteMany"]);
    let copy: Pod = manifest("copy-back.yaml");
    let copy_claim = copy.spec.and_then(|s| s.volumes).unwrap_or_default()[0]
        .persistent_volume_claim
        .clone()
        .expect("claim");
    assert_eq!(copy_claim.claim_name, results.claim_name);
}

#[test]
fn the_readme_recipe_uses_the_shipped_files() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for line in [
        "docker build -f scripts/k8s/Dockerfile",
        "kubectl create configmap slicesim-scenario --from-file=scenario.yaml=",
        "kubectl apply -f scripts/k8s/results-pvc.yaml -f scripts/k8s/sweep-job.yaml",
        "kubectl cp slicesim-results:/results ./shards",
        "slicesim merge --out",
        "parallel",
    ] {
        assert!(readme.contains(line), "README lacks {line:?}");
    }
}
