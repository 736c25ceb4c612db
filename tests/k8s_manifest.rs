//! The Kubernetes recipe for sharded sweeps (scripts/k8s/), read with the real `k8s-openapi`
//! types: what the README promises of it holds.

use std::path::Path;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let path = root().join("scripts/k8s").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_indexed_job_runs_one_shard_per_completion_index() {
    let job: Job = read("sweep-job.yaml");
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
    let pvc: PersistentVolumeClaim = read("results-pvc.yaml");
    assert_eq!(
        pvc.metadata.name.as_deref(),
        Some(results.claim_name.as_str())
    );
    let modes = pvc.spec.and_then(|s| s.access_modes).unwrap_or_default();
    assert_eq!(modes, ["ReadWriteMany"]);
    let copy: Pod = read("copy-back.yaml");
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
