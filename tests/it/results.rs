//! The reference results in `results/` are what the current code produces: regenerated here
//! exactly as `scripts/regen-results.sh` does, every CSV and SVG compared byte for byte.
//! (PNG rasterisation is checked for presence and size only.)

use std::path::Path;

use crate::common::{root, slicesim};

/// Compares every file of `committed` with its regenerated twin in `fresh`.
fn same_files(committed: &Path, fresh: &Path) {
    let mut checked = 0;
    let mut stack = vec![committed.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path.strip_prefix(committed).unwrap();
            let other = fresh.join(rel);
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            match ext {
                "csv" | "svg" | "md" | "html" | "yaml" => {
                    let (a, b) = (
                        std::fs::read(&path).unwrap(),
                        std::fs::read(&other).unwrap(),
                    );
                    assert!(
                        a == b,
                        "{} differs from a fresh run: run scripts/regen-results.sh and commit",
                        rel.display()
                    );
                }
                "png" => assert!(std::fs::metadata(&other).unwrap().len() > 10_000),
                _ => {}
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 5,
        "{}: only {checked} files",
        committed.display()
    );
}

#[test]
fn default_run_matches_results_default() {
    let dir = tempfile::tempdir().unwrap();
    slicesim()
        .args(["run", "--quiet", "--out"])
        .arg(dir.path())
        .assert()
        .success();
    same_files(&root().join("results/default"), dir.path());
}

#[test]
fn reproduce_matches_results_reproduce() {
    let dir = tempfile::tempdir().unwrap();
    slicesim()
        .args(["reproduce", "--quiet", "--out"])
        .arg(dir.path())
        .assert()
        .success();
    same_files(&root().join("results/reproduce"), dir.path());
    let claims = std::fs::read_to_string(dir.path().join("claims.csv")).unwrap();
    let mut lines = claims.lines();
    assert_eq!(
        lines.next(),
        Some("claim,source,stated,simulated_proto,simulated_json,ratio,assumptions,verdict")
    );
    assert!(lines.count() >= 10);
}

/// The README shows the claims table of `results/reproduce/claims.md` as it is.
#[test]
fn readme_shows_the_current_claims_table() {
    let table = std::fs::read_to_string(root().join("results/reproduce/claims.md")).unwrap();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.contains(&table),
        "README.md does not contain results/reproduce/claims.md: paste it in"
    );
}
