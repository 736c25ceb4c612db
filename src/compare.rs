//! `slicesim compare`: runs side by side — every figure of their `summary.csv` per API, with
//! the difference and the ratio to the first run (the baseline), and their charts overlaid.
//!
//! Runs of different scenarios, seeds, durations or bucket sizes compare: the table compares
//! whole-run figures, and the charts put every run on one time axis, each with its own
//! buckets.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::charts::{self, ChartError, RunData};
use crate::output;

/// Why runs cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("compare needs at least two run directories, got {0}")]
    TooFew(usize),
    #[error(
        "{0}: a sweep's directory; compare its runs (DIR/points/*, kept with --keep \
         timeseries for the charts) or read DIR/sweep.csv"
    )]
    Sweep(String),
    #[error("{dir}: not a run's directory ({message})")]
    NotARun { dir: String, message: String },
    #[error("{path}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Chart(#[from] ChartError),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
}

impl CompareError {
    /// The user named something that is not a run (exit code 2).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            CompareError::TooFew(_) | CompareError::Sweep(_) | CompareError::NotARun { .. }
        )
    }
}

/// One run, as its directory holds it.
pub struct Run {
    /// `A`, `B`, ... in the order given.
    pub label: String,
    pub dir: PathBuf,
    pub scenario: String,
    pub seed: u64,
    pub data: RunData,
    /// `summary.csv`'s numeric columns, per API: (api, [(figure, value)]).
    pub figures: Vec<(String, Vec<(String, f64)>)>,
}

/// The columns of `summary.csv` that name the run rather than measure it.
const NOT_FIGURES: [&str; 3] = ["scenario", "seed", "api"];

/// Reads the runs in `dirs`.
pub fn load(dirs: &[PathBuf]) -> Result<Vec<Run>, CompareError> {
    if dirs.len() < 2 {
        return Err(CompareError::TooFew(dirs.len()));
    }
    dirs.iter()
        .enumerate()
        .map(|(i, dir)| load_one(label(i), dir))
        .collect()
}

/// `A` .. `Z`, then `AA`, `AB`, ...
fn label(i: usize) -> String {
    let letter = |k: usize| char::from(b'A' + (k % 26) as u8);
    if i < 26 {
        letter(i).to_string()
    } else {
        format!("{}{}", letter(i / 26 - 1), letter(i))
    }
}

fn load_one(label: String, dir: &Path) -> Result<Run, CompareError> {
    let shown = dir.display().to_string();
    if crate::sweep::is_sweep(dir) {
        return Err(CompareError::Sweep(shown));
    }
    let not_a_run = |message: String| CompareError::NotARun {
        dir: shown.clone(),
        message,
    };
    if !dir.join("summary.csv").is_file() {
        return Err(not_a_run("no summary.csv".into()));
    }
    let data = RunData::read(dir).map_err(|e| not_a_run(e.to_string()))?;
    let mut reader = csv::Reader::from_path(dir.join("summary.csv"))
        .map_err(|e| not_a_run(format!("summary.csv: {e}")))?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| not_a_run(format!("summary.csv: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut figures = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| not_a_run(format!("summary.csv: {e}")))?;
        let mut api = String::new();
        let mut values = Vec::new();
        for (name, field) in header.iter().zip(record.iter()) {
            if name == "api" {
                api = field.to_string();
            } else if !NOT_FIGURES.contains(&name.as_str()) {
                let v: f64 = field
                    .parse()
                    .map_err(|_| not_a_run(format!("summary.csv: {name} is {field:?}")))?;
                values.push((name.clone(), v));
            }
        }
        figures.push((api, values));
    }
    let first = data.summary.first();
    Ok(Run {
        label,
        dir: dir.to_path_buf(),
        scenario: first.map_or_else(String::new, |r| r.scenario.clone()),
        seed: first.map_or(0, |r| r.seed),
        data,
        figures,
    })
}

/// One row of `compare.csv`: one figure of one API in one run, against the baseline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CompareRow {
    pub figure: String,
    pub api: String,
    pub run: String,
    pub dir: String,
    pub value: f64,
    /// value − the baseline's value.
    pub difference: f64,
    /// value / the baseline's value (empty when the baseline is 0).
    pub ratio: Option<f64>,
}

/// Every figure of every API in every run, in `summary.csv`'s order, the first run the
/// baseline. A figure missing from a run (an older `summary.csv`) is left out for it.
pub fn rows(runs: &[Run]) -> Vec<CompareRow> {
    let Some(base) = runs.first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (api, figures) in &base.figures {
        for (figure, b) in figures {
            for r in runs {
                let Some(v) = r
                    .figures
                    .iter()
                    .find(|(a, _)| a == api)
                    .and_then(|(_, f)| f.iter().find(|(n, _)| n == figure))
                    .map(|(_, v)| *v)
                else {
                    continue;
                };
                out.push(CompareRow {
                    figure: figure.clone(),
                    api: api.clone(),
                    run: r.label.clone(),
                    dir: r.dir.display().to_string(),
                    value: v,
                    difference: v - b,
                    ratio: (*b != 0.0).then(|| v / b),
                });
            }
        }
    }
    out
}

use output::figure_value as shown;

/// A ratio with three significant digits at least two decimals: `1.00x`, `0.00340x`.
fn ratio_shown(q: f64) -> String {
    let decimals = if q > 0.0 {
        (2 - q.log10().floor() as i32).clamp(2, 6) as usize
    } else {
        2
    };
    format!("{q:.decimals$}x")
}

/// The side-by-side table: per API, each figure in every run, then each other run's
/// difference from and ratio to the baseline.
pub fn table(runs: &[Run], rows: &[CompareRow]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Comparing {} runs ({} is the baseline):",
        runs.len(),
        runs.first().map_or("", |r| r.label.as_str())
    );
    for r in runs {
        let _ = writeln!(
            s,
            "  {:<3} {}  (scenario {}, seed {})",
            r.label,
            r.dir.display(),
            r.scenario,
            r.seed
        );
    }
    let others: Vec<&Run> = runs.iter().skip(1).collect();
    let mut apis: Vec<&str> = Vec::new();
    for row in rows {
        if !apis.contains(&row.api.as_str()) {
            apis.push(&row.api);
        }
    }
    for api in apis {
        let _ = write!(s, "\n{:<32}", api);
        for r in runs {
            let _ = write!(s, " {:>13}", r.label);
        }
        for r in &others {
            let _ = write!(
                s,
                " {:>13} {:>9}",
                format!("{}-A", r.label),
                format!("{}/A", r.label)
            );
        }
        s.push('\n');
        let mut figures: Vec<&str> = Vec::new();
        for row in rows.iter().filter(|r| r.api == api) {
            if !figures.contains(&row.figure.as_str()) {
                figures.push(&row.figure);
            }
        }
        for figure in figures {
            let of: Vec<&CompareRow> = rows
                .iter()
                .filter(|r| r.api == api && r.figure == figure)
                .collect();
            let _ = write!(s, "{figure:<32}");
            for r in runs {
                let v = of.iter().find(|x| x.run == r.label).map(|x| x.value);
                let _ = write!(s, " {:>13}", v.map_or("-".into(), |v| shown(figure, v)));
            }
            for r in &others {
                match of.iter().find(|x| x.run == r.label) {
                    Some(x) => {
                        let sign = if x.difference > 0.0 { "+" } else { "" };
                        let ratio = x.ratio.map_or("-".to_string(), ratio_shown);
                        let _ = write!(
                            s,
                            " {:>13} {:>9}",
                            format!("{sign}{}", shown(figure, x.difference)),
                            ratio
                        );
                    }
                    None => {
                        let _ = write!(s, " {:>13} {:>9}", "-", "-");
                    }
                }
            }
            s.push('\n');
        }
    }
    s
}

/// Writes `compare.csv`, `compare.txt` (the table) and the overlaid charts into `out`.
pub fn write(runs: &[Run], rows: &[CompareRow], out: &Path) -> Result<Vec<PathBuf>, CompareError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| CompareError::Write { path, source }
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    let mut written = Vec::new();
    let csv_path = out.join("compare.csv");
    let bytes = output::csv_bytes(rows).map_err(io(&csv_path))?;
    output::write_atomic(&csv_path, &bytes).map_err(io(&csv_path))?;
    written.push(csv_path);
    let txt = out.join("compare.txt");
    output::write_atomic(&txt, table(runs, rows).as_bytes()).map_err(io(&txt))?;
    written.push(txt);
    let labelled: Vec<(String, &RunData)> =
        runs.iter().map(|r| (r.label.clone(), &r.data)).collect();
    for fig in charts::overlay_figures(&labelled) {
        written.extend(charts::write_figure(&fig, out)?);
    }
    written.push(crate::report::write_compare(out, &table(runs, rows))?);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_run_past_z() {
        assert_eq!(label(0), "A");
        assert_eq!(label(25), "Z");
        assert_eq!(label(26), "AA");
        assert_eq!(label(27), "AB");
    }

    #[test]
    fn values_print_in_their_units() {
        assert_eq!(shown("bytes_delivered", 1_500_000.0), "1.50 MB");
        assert_eq!(shown("bytes_delivered", -1_500_000.0), "-1.50 MB");
        assert_eq!(shown("writes", 12_345.0), "12,345");
        assert_eq!(shown("cross_zone_fraction", 0.25), "0.25");
        assert_eq!(ratio_shown(1.0), "1.00x");
        assert_eq!(ratio_shown(0.0034), "0.00340x");
        assert_eq!(ratio_shown(215.3), "215.30x");
    }
}
