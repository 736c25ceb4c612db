//! Charts: `slicesim run` draws them (unless `--no-charts`), `slicesim plot` redraws them from
//! the CSV files, and the files are real, non-trivial SVG and PNG.

use std::path::Path;

use crate::common::{root, slicesim};

const CHARTS: [&str; 5] = [
    "cumulative-bytes",
    "cumulative-bytes-log",
    "bytes-per-bucket",
    "objects",
    "slice-fill",
];

fn quickstart_to(out: &Path, extra: &[&str]) {
    slicesim()
        .arg("run")
        .arg(root().join("scenarios/quickstart.yaml"))
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        .args(extra)
        .assert()
        .success();
}

#[test]
fn run_draws_svg_and_png_charts() {
    let dir = tempfile::tempdir().unwrap();
    quickstart_to(dir.path(), &[]);
    for name in CHARTS {
        let svg = std::fs::read_to_string(dir.path().join(format!("charts/{name}.svg"))).unwrap();
        assert!(svg.starts_with("<svg"), "{name}.svg");
        assert!(svg.trim_end().ends_with("</svg>"), "{name}.svg");
        // A title naming the scenario, and the decimal-units note or the slice note.
        assert!(svg.contains("quickstart:"), "{name}.svg has no title");
        assert!(
            svg.matches("<text").count() > 10,
            "{name}.svg has few labels"
        );
        let png = std::fs::read(dir.path().join(format!("charts/{name}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{name}.png");
        // Width and height in the IHDR chunk.
        let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert_eq!((w, h), (1100, 650));
        assert!(png.len() > 10_000, "{name}.png is only {} bytes", png.len());
    }
    let svg = std::fs::read_to_string(dir.path().join("charts/cumulative-bytes.svg")).unwrap();
    assert!(svg.contains("Endpoints") && svg.contains("EndpointSlices"));
    assert!(svg.contains("Decimal units"));
}

#[test]
fn plot_redraws_the_same_charts_and_no_charts_skips_them() {
    let dir = tempfile::tempdir().unwrap();
    quickstart_to(dir.path(), &["--no-charts"]);
    assert!(!dir.path().join("charts").exists());
    slicesim().arg("plot").arg(dir.path()).assert().success();
    let drawn = std::fs::read(dir.path().join("charts/objects.svg")).unwrap();
    let again = tempfile::tempdir().unwrap();
    quickstart_to(again.path(), &[]);
    assert_eq!(
        drawn,
        std::fs::read(again.path().join("charts/objects.svg")).unwrap()
    );
}

#[test]
fn plot_of_a_directory_without_a_run_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    slicesim()
        .arg("plot")
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicates::str::contains("summary.csv"));
}
