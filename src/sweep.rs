//! Running a sweep: every run (point × replicate) of a scenario's `sweep:` block, in parallel,
//! into one directory that can be interrupted, resumed, split into shards and merged.
//!
//! Layout of a sweep directory:
//! * `sweep.json`: what the sweep is (scenario, parameters, values, seeds) and a fingerprint
//!   that a resumed run, a shard and a merge must share;
//! * `points/<point>-<replicate>/`: each run's own `summary.csv` (with `external.csv` when
//!   it has external Services, `timeseries.csv` and `objects.csv` with `--keep`), each
//!   directory written whole when its run ends;
//! * `sweep.csv`: one row per point, replicate and API, assembled from the runs' summaries,
//!   so it is the same bytes whatever the order runs finished in, the job count, an
//!   interruption or a split into shards;
//! * `charts/`: the summary figures against each swept parameter.
//!
//! The directory is built beside its target (`.<name>.sweep`) and swapped in when every run
//! of it is done; an interrupted sweep stays there for `--resume`.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::charts::{self, ChartError};
use crate::outdir::{self, OutError, Staged};
use crate::output::{self, SummaryRow};
use crate::run::{self, RunError};
use crate::scenario::sweep::{self, Plan, Run, Seeds};
use crate::scenario::{self, Problem, Scenario, ScenarioError};

/// The file that makes a directory a sweep's.
pub const MANIFEST: &str = "sweep.json";
/// The sweep's table.
pub const TABLE: &str = "sweep.csv";
/// Where the runs' own outputs go.
pub const POINTS: &str = "points";

/// Which outputs of each run a sweep keeps besides `summary.csv`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Keep {
    pub timeseries: bool,
    pub objects: bool,
}

/// One shard of a sweep: the points with `point % count == index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// Parses `I/N`; `auto` reads an Indexed Job's `JOB_COMPLETION_INDEX` and the
    /// `JOB_COMPLETIONS` its manifest sets.
    pub fn parse(s: &str, env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let (i, n) = if s == "auto" {
            let get = |k: &str| {
                env(k).ok_or_else(|| format!("--shard auto needs {k} in the environment"))
            };
            (get("JOB_COMPLETION_INDEX")?, get("JOB_COMPLETIONS")?)
        } else {
            let (i, n) = s
                .split_once('/')
                .ok_or_else(|| format!("expected I/N (such as 0/3) or auto, got {s:?}"))?;
            (i.to_string(), n.to_string())
        };
        let num = |v: &str, what: &str| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| format!("{what} must be a non-negative integer, got {v:?}"))
        };
        let (index, count) = (num(&i, "the shard index")?, num(&n, "the shard count")?);
        if count == 0 || index >= count {
            return Err(format!(
                "shard {index}/{count}: the index must be below the count (0/{count} to {}/{count})",
                count.saturating_sub(1)
            ));
        }
        Ok(Shard { index, count })
    }

    fn has(&self, point: u64) -> bool {
        point % self.count == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Why a sweep could not be run or merged.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Out(#[from] OutError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Chart(#[from] ChartError),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    /// Directories that do not go together (bad input).
    #[error("{path}: {message}")]
    Mismatch { path: String, message: String },
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
}

impl SweepError {
    /// Whether the user's input is at fault (exit code 2) rather than the machine.
    pub fn is_bad_input(&self) -> bool {
        match self {
            SweepError::Scenario(_) | SweepError::Mismatch { .. } => true,
            SweepError::Out(OutError::Refused { .. }) => true,
            SweepError::Run(e) => e.is_bad_input(),
            _ => false,
        }
    }

    fn io(path: &Path) -> impl FnOnce(io::Error) -> SweepError + '_ {
        move |source| SweepError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    fn mismatch(path: &Path, message: impl Into<String>) -> SweepError {
        SweepError::Mismatch {
            path: path.display().to_string(),
            message: message.into(),
        }
    }
}

/// What a sweep is, as `sweep.json` records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub scenario: String,
    /// Identifies the sweep: the scenario's content, parameters, values, replicates and seeds.
    pub fingerprint: String,
    pub points: u64,
    pub replicates: u32,
    pub seeds: String,
    pub seed: u64,
    pub parameters: Vec<ManifestParameter>,
    /// The shard this directory holds, if it holds one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
}

/// A swept parameter in `sweep.json`: its path (or name) and values as JSON scalars, and for
/// linked fields each field with its values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestParameter {
    pub path: String,
    pub values: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<ManifestParameter>,
}

impl Manifest {
    /// The manifest of `plan` on the scenario `sc` (its seed after `--seed`).
    pub fn new(sc: &Scenario, plan: &Plan) -> Manifest {
        let parameters: Vec<ManifestParameter> = plan
            .parameters
            .iter()
            .map(|p| {
                let values = |v: &[serde_saphyr::Spanned<crate::scenario::sweep::Scalar>]| {
                    v.iter().map(|v| v.value.json()).collect()
                };
                ManifestParameter {
                    path: p.path.value.clone(),
                    values: values(p.values()),
                    fields: if p.linked() {
                        p.fields
                            .iter()
                            .map(|f| ManifestParameter {
                                path: f.path.value.clone(),
                                values: values(&f.values),
                                fields: Vec::new(),
                            })
                            .collect()
                    } else {
                        Vec::new()
                    },
                }
            })
            .collect();
        let seeds = match plan.seeds {
            Seeds::PerPoint => "per_point",
            Seeds::Shared => "shared",
        };
        let identity = serde_json::json!({
            "scenario": plan.tree(),
            "parameters": parameters,
            "replicates": plan.replicates,
            "seeds": seeds,
            "seed": sc.file.seed,
        });
        Manifest {
            scenario: sc.name.clone(),
            fingerprint: format!("{:016x}", fnv1a(identity.to_string().as_bytes())),
            points: plan.points(),
            replicates: plan.replicates,
            seeds: seeds.into(),
            seed: sc.file.seed,
            parameters,
            shard: None,
        }
    }

    fn runs(&self) -> impl Iterator<Item = Run> + use<> {
        sweep::runs(self.points, self.replicates)
    }

    fn values_of(&self, point: u64) -> Vec<usize> {
        sweep::values_of(point, self.parameters.iter().map(|p| p.values.len()))
    }

    fn read(dir: &Path) -> Result<Manifest, SweepError> {
        let path = dir.join(MANIFEST);
        let text = fs::read_to_string(&path).map_err(|e| {
            SweepError::mismatch(dir, format!("not a sweep's directory (no {MANIFEST}: {e})"))
        })?;
        serde_json::from_str(&text)
            .map_err(|e| SweepError::mismatch(&path, format!("not a sweep manifest: {e}")))
    }

    fn write(&self, dir: &Path) -> Result<(), SweepError> {
        let path = dir.join(MANIFEST);
        let mut text = serde_json::to_string_pretty(self).map_err(|e| SweepError::Io {
            path: path.display().to_string(),
            source: io::Error::other(e),
        })?;
        text.push('\n');
        outdir::write_file(&path, text.as_bytes()).map_err(SweepError::io(&path))
    }

    /// Whether `other` is the same sweep (a shard or a resumption of it).
    fn same_sweep(&self, other: &Manifest) -> bool {
        self.fingerprint == other.fingerprint
    }
}

/// FNV-1a, 64 bits: a fingerprint that stays the same across versions and machines.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// What checking a sweep found: its size and its largest run.
#[derive(Clone, Debug)]
pub struct Checked {
    pub points: u64,
    pub runs: u64,
    pub max_memory_bytes: f64,
    pub max_pod_events: f64,
}

/// Most point problems reported at once (the rest are counted).
const MAX_PROBLEMS: usize = 20;

/// Builds and checks every point of the sweep (in parallel): each must be a valid scenario,
/// within the memory limit (`None`: no limit) and with its named nodes and trace in order.
/// Problems are reported at the sweep values to blame, each distinct one once.
pub fn check(sc: &Scenario, plan: &Plan, limit: Option<u64>) -> Result<Checked, ScenarioError> {
    let found: Vec<Result<(f64, f64), Vec<Problem>>> = (0..plan.points())
        .into_par_iter()
        .map(|point| {
            let run = Run {
                point,
                replicate: 0,
            };
            let p = plan.scenario(sc.file.seed, run).map_err(|e| e.problems)?;
            let blame = |e: ScenarioError| plan.blame(point, &plan.values_of(point), e.problems);
            let est = match limit {
                Some(limit) => scenario::check_memory(&p, limit).map_err(blame),
                None => Ok(scenario::estimate(&p)),
            }
            .map_err(|e| e.problems)?;
            run::history_check(&p).map_err(|e| match e {
                RunError::Scenario(e) => blame(e).problems,
                other => vec![Problem {
                    file: sc.source.clone(),
                    line: 0,
                    column: 0,
                    path: String::new(),
                    message: format!("{other} (point {point})"),
                }],
            })?;
            Ok((est.memory_bytes, est.pod_events))
        })
        .collect();
    let mut problems: Vec<Problem> = Vec::new();
    let mut more = 0usize;
    let mut checked = Checked {
        points: plan.points(),
        runs: plan.points() * u64::from(plan.replicates),
        max_memory_bytes: 0.0,
        max_pod_events: 0.0,
    };
    for r in found {
        match r {
            Ok((mem, events)) => {
                checked.max_memory_bytes = checked.max_memory_bytes.max(mem);
                checked.max_pod_events = checked.max_pod_events.max(events);
            }
            Err(list) => {
                for p in list {
                    // The same value wrong in the same way at many points: once.
                    let same = |q: &Problem| {
                        (q.line, q.column, strip_point(&q.message))
                            == (p.line, p.column, strip_point(&p.message))
                    };
                    if problems.iter().any(same) {
                        continue;
                    }
                    if problems.len() < MAX_PROBLEMS {
                        problems.push(p);
                    } else {
                        more += 1;
                    }
                }
            }
        }
    }
    if more > 0 {
        problems.push(Problem {
            file: sc.source.clone(),
            line: 0,
            column: 0,
            path: "sweep".into(),
            message: format!("and {more} more problem(s) at other points"),
        });
    }
    if problems.is_empty() {
        Ok(checked)
    } else {
        problems.sort_by_key(|p| (p.line, p.column));
        Err(ScenarioError { problems })
    }
}

/// A message without its trailing `(point N, with ...)`, to tell problems apart.
fn strip_point(message: &str) -> &str {
    message
        .rsplit_once(" (point ")
        .map_or(message, |(what, _)| what)
}

/// The runs as CSV (`point,replicate,seed,param_<path>...`), the leading columns of
/// `sweep.csv`: what `--list` prints.
pub fn list(sc: &Scenario, plan: &Plan, shard: Option<Shard>) -> io::Result<Vec<u8>> {
    let m = Manifest::new(sc, plan);
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(leading_header(&m))?;
    for run in m.runs().filter(|r| shard.is_none_or(|s| s.has(r.point))) {
        w.write_record(leading(&m, run, plan.run_seed(sc.file.seed, run)))?;
    }
    w.flush()?;
    w.into_inner().map_err(|e| io::Error::other(e.to_string()))
}

fn leading_header(m: &Manifest) -> Vec<String> {
    let mut h = vec!["point".to_string(), "replicate".into(), "seed".into()];
    h.extend(m.parameters.iter().map(|p| format!("param_{}", p.path)));
    h
}

fn leading(m: &Manifest, run: Run, seed: u64) -> Vec<String> {
    let mut row = vec![
        run.point.to_string(),
        run.replicate.to_string(),
        seed.to_string(),
    ];
    for (p, i) in m.parameters.iter().zip(m.values_of(run.point)) {
        row.push(cell(&p.values[i]));
    }
    row
}

/// A parameter value as a CSV cell: as YAML would read it back (strings unquoted).
fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// How to run a sweep.
pub struct Options<'a> {
    pub out: PathBuf,
    /// Runs at once.
    pub jobs: usize,
    pub keep: Keep,
    /// Continue an interrupted sweep in `out` rather than start anew.
    pub resume: bool,
    pub shard: Option<Shard>,
    pub charts: bool,
    /// Set (by Ctrl-C) to stop starting runs; the runs under way finish.
    pub stop: &'a AtomicBool,
    /// Called with (runs done, runs in all) as runs end.
    pub progress: &'a (dyn Fn(u64, u64) + Sync),
}

/// How a sweep ended.
#[derive(Debug)]
pub enum Ended {
    /// Every run of the sweep (or shard) is done and the directory is in place.
    Complete {
        /// Runs made now (the others were done before an interruption).
        ran: u64,
        runs: u64,
        /// `sweep.csv`'s rows, when this was the whole sweep (not a shard).
        table: Option<Vec<SweepRow>>,
        written: Vec<PathBuf>,
    },
    /// Stopped by a signal: `done` of `runs` are kept for `--resume`.
    Interrupted { done: u64, runs: u64 },
}

/// One row of `sweep.csv`: the run, its parameters' value indices and its summary row (as
/// read, and as the cells written).
#[derive(Clone, Debug)]
pub struct SweepRow {
    pub run: Run,
    pub seed: u64,
    /// The value index of each parameter.
    pub values: Vec<usize>,
    pub summary: SummaryRow,
    cells: csv::StringRecord,
}

/// The directory a sweep is built in beside `out`, kept while it is incomplete.
fn work_dir(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    out.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join(format!(".{name}.sweep"))
}

/// Runs a sweep (or one shard of it) into `opts.out`.
pub fn run(sc: &Scenario, plan: &Plan, opts: &Options) -> Result<Ended, SweepError> {
    let mut manifest = Manifest::new(sc, plan);
    manifest.shard = opts.shard.map(|s| s.to_string());
    // The target must be ours to replace before any run starts.
    drop(Staged::begin(&opts.out)?);
    let work = work_dir(&opts.out);
    if work.exists() {
        let resumable = Manifest::read(&work).is_ok_and(|m| m == manifest);
        if !(opts.resume && resumable) {
            if opts.resume {
                return Err(SweepError::mismatch(
                    &work,
                    "the unfinished sweep here is not this one (another scenario, parameter, \
                     seed or shard): run without --resume to start anew",
                ));
            }
            fs::remove_dir_all(&work).map_err(SweepError::io(&work))?;
        }
    } else if opts.resume {
        // A finished sweep resumed: its runs are all there, so nothing runs again.
        match Manifest::read(&opts.out) {
            Ok(m) if m == manifest => {
                fs::rename(&opts.out, &work).map_err(SweepError::io(&opts.out))?;
            }
            Ok(_) => {
                return Err(SweepError::mismatch(
                    &opts.out,
                    "holds another sweep (another scenario, parameter, seed or shard): run \
                     without --resume to replace it",
                ));
            }
            Err(_) => {
                return Err(SweepError::mismatch(
                    &opts.out,
                    "there is no unfinished sweep to resume here: run without --resume",
                ));
            }
        }
    }
    let points_dir = work.join(POINTS);
    fs::create_dir_all(&points_dir).map_err(SweepError::io(&points_dir))?;
    manifest.write(&work)?;

    let mine: Vec<Run> = manifest
        .runs()
        .filter(|r| opts.shard.is_none_or(|s| s.has(r.point)))
        .collect();
    let total = mine.len() as u64;
    let todo: Vec<Run> = mine
        .iter()
        .copied()
        .filter(|r| !points_dir.join(r.to_string()).join("summary.csv").is_file())
        .collect();
    let done = AtomicU64::new(total - todo.len() as u64);
    (opts.progress)(done.load(Ordering::Relaxed), total);
    let failure: Mutex<Option<SweepError>> = Mutex::new(None);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.max(1))
        .build()
        .map_err(|e| SweepError::Io {
            path: "rayon".into(),
            source: io::Error::other(e),
        })?;
    pool.install(|| {
        todo.par_iter().for_each(|&r| {
            if opts.stop.load(Ordering::Relaxed) || lock(&failure).is_some() {
                return;
            }
            match run_one(sc, plan, r, &points_dir, opts.keep) {
                Ok(()) => {
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    (opts.progress)(n, total);
                }
                Err(e) => {
                    lock(&failure).get_or_insert(e);
                }
            }
        })
    });
    if let Some(e) = lock(&failure).take() {
        return Err(e);
    }
    let done = done.load(Ordering::Relaxed);
    if done < total {
        return Ok(Ended::Interrupted { done, runs: total });
    }
    let (table, written) = if opts.shard.is_none() {
        let (rows, written) = finish(&work, &manifest, opts.charts)?;
        (Some(rows), written)
    } else {
        (None, Vec::new())
    };
    swap_in(&work, &opts.out)?;
    let written = written
        .into_iter()
        .map(|p| opts.out.join(p.strip_prefix(&work).unwrap_or(&p)))
        .collect();
    Ok(Ended::Complete {
        ran: todo.len() as u64,
        runs: total,
        table,
        written,
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs one point of a sweep and writes its directory whole.
fn run_one(
    sc: &Scenario,
    plan: &Plan,
    r: Run,
    points_dir: &Path,
    keep: Keep,
) -> Result<(), SweepError> {
    let point = plan.scenario(sc.file.seed, r)?;
    let sim = run::simulate(&point)?;
    let staged = Staged::begin(&points_dir.join(r.to_string()))?;
    let dir = staged.path();
    let write = |name: &str, bytes: io::Result<Vec<u8>>| {
        let path = dir.join(name);
        fs::write(&path, bytes.map_err(SweepError::io(&path))?).map_err(SweepError::io(&path))
    };
    write("summary.csv", output::csv_bytes(&sim.summary))?;
    if keep.timeseries {
        write("timeseries.csv", output::csv_bytes(&sim.timeseries))?;
    }
    if keep.objects {
        write("objects.csv", output::csv_bytes(&sim.objects))?;
    }
    if !sim.external.is_empty() {
        write("external.csv", output::csv_bytes(&sim.external))?;
    }
    staged.commit()?;
    Ok(())
}

/// Puts the complete sweep directory in place of `out` (and of what was there).
fn swap_in(work: &Path, out: &Path) -> Result<(), SweepError> {
    let staged = Staged::begin(out)?;
    let stage = staged.path().to_path_buf();
    fs::remove_dir(&stage).map_err(SweepError::io(&stage))?;
    fs::rename(work, &stage).map_err(SweepError::io(work))?;
    staged.commit()?;
    Ok(())
}

/// Reads every run's summary in sweep order and writes `sweep.csv` (and the charts) into
/// `dir`; every run must be there.
fn finish(
    dir: &Path,
    m: &Manifest,
    charts: bool,
) -> Result<(Vec<SweepRow>, Vec<PathBuf>), SweepError> {
    let (header, rows) = read_rows(&[dir.to_path_buf()], m)?;
    let written = write_outputs(dir, m, &header, &rows, charts)?;
    Ok((rows, written))
}

/// The summaries of every run of `m`, each found in one of `dirs` (`points/<run>/`), and the
/// summary header.
fn read_rows(
    dirs: &[PathBuf],
    m: &Manifest,
) -> Result<(csv::StringRecord, Vec<SweepRow>), SweepError> {
    let mut header = None;
    let mut rows = Vec::new();
    let mut missing = Vec::new();
    for run in m.runs() {
        let found = dirs
            .iter()
            .map(|d| d.join(POINTS).join(run.to_string()).join("summary.csv"))
            .find(|p| p.is_file());
        let Some(path) = found else {
            missing.push(run);
            continue;
        };
        let bad = |e: csv::Error| SweepError::mismatch(&path, e.to_string());
        let mut reader = csv::Reader::from_path(&path).map_err(bad)?;
        let h = reader.headers().map_err(bad)?.clone();
        if header.get_or_insert_with(|| h.clone()) != &h {
            return Err(SweepError::mismatch(
                &path,
                "its columns differ from the other runs' (another version of slicesim?)",
            ));
        }
        for cells in reader.records() {
            let cells = cells.map_err(bad)?;
            let summary: SummaryRow = cells.deserialize(Some(&h)).map_err(bad)?;
            rows.push(SweepRow {
                run,
                seed: summary.seed,
                values: m.values_of(run.point),
                summary,
                cells,
            });
        }
    }
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(20).map(Run::to_string).collect();
        return Err(SweepError::mismatch(
            &dirs[0],
            format!(
                "{} of {} runs are missing: {}{}",
                missing.len(),
                m.points * u64::from(m.replicates),
                shown.join(", "),
                if missing.len() > shown.len() {
                    ", ..."
                } else {
                    ""
                }
            ),
        ));
    }
    Ok((header.unwrap_or_default(), rows))
}

/// `sweep.csv`: the leading columns, then every `summary.csv` column.
fn table_bytes(
    m: &Manifest,
    summary_header: &csv::StringRecord,
    rows: &[SweepRow],
) -> io::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = leading_header(m);
    header.extend(summary_header.iter().map(String::from));
    w.write_record(&header)?;
    for r in rows {
        let mut record = leading(m, r.run, r.seed);
        record.extend(r.cells.iter().map(String::from));
        w.write_record(&record)?;
    }
    w.flush()?;
    w.into_inner().map_err(|e| io::Error::other(e.to_string()))
}

/// Writes `sweep.csv` and (with `charts`) the charts of a complete sweep into `dir`.
fn write_outputs(
    dir: &Path,
    m: &Manifest,
    header: &csv::StringRecord,
    rows: &[SweepRow],
    charts: bool,
) -> Result<Vec<PathBuf>, SweepError> {
    let path = dir.join(TABLE);
    let bytes = table_bytes(m, header, rows).map_err(SweepError::io(&path))?;
    outdir::write_file(&path, &bytes).map_err(SweepError::io(&path))?;
    let mut written = vec![path];
    if charts {
        written.extend(plot(dir, m, rows)?);
    }
    Ok(written)
}

/// The swept parameters as the charts read them.
fn chart_parameters(m: &Manifest) -> Vec<charts::SweepParameter> {
    m.parameters
        .iter()
        .map(|p| charts::SweepParameter {
            path: p.path.clone(),
            labels: p.values.iter().map(cell).collect(),
            numbers: p.values.iter().map(serde_json::Value::as_f64).collect(),
        })
        .collect()
}

/// Draws the sweep's charts into `dir/charts/`.
pub fn plot(dir: &Path, m: &Manifest, rows: &[SweepRow]) -> Result<Vec<PathBuf>, SweepError> {
    let parameters = chart_parameters(m);
    let results: Vec<charts::SweepResult> = rows
        .iter()
        .map(|r| charts::SweepResult {
            values: &r.values,
            summary: &r.summary,
        })
        .collect();
    let mut written = charts::plot_sweep(dir, &m.scenario, &parameters, &results)?;
    written.push(crate::report::write_sweep(dir)?);
    Ok(written)
}

/// Joins shard directories into `out`: the runs of every shard, then `sweep.csv` and the
/// charts one machine would have written. Every run of the sweep must be in some shard.
pub fn merge(out: &Path, shards: &[PathBuf], charts: bool) -> Result<Ended, SweepError> {
    let Some(first) = shards.first() else {
        return Err(SweepError::mismatch(
            out,
            "name at least one shard directory",
        ));
    };
    let mut m = Manifest::read(first)?;
    for s in &shards[1..] {
        let other = Manifest::read(s)?;
        if !m.same_sweep(&other) {
            return Err(SweepError::mismatch(
                s,
                format!(
                    "is a shard of another sweep than {} (scenario {:?}, fingerprint {} vs {})",
                    first.display(),
                    other.scenario,
                    other.fingerprint,
                    m.fingerprint
                ),
            ));
        }
    }
    m.shard = None;
    // Checked before anything is written: every run is somewhere.
    let (header, rows) = read_rows(shards, &m)?;
    let staged = Staged::begin(out)?;
    let dir = staged.path().to_path_buf();
    m.write(&dir)?;
    let points = dir.join(POINTS);
    for r in m.runs() {
        let from = shards
            .iter()
            .map(|d| d.join(POINTS).join(r.to_string()))
            .find(|p| p.join("summary.csv").is_file())
            .ok_or_else(|| SweepError::mismatch(out, format!("run {r} vanished while merging")))?;
        copy_dir(&from, &points.join(r.to_string()))?;
    }
    let written = write_outputs(&dir, &m, &header, &rows, charts)?;
    staged.commit()?;
    let runs = rows.len() as u64 / 2;
    Ok(Ended::Complete {
        ran: 0,
        runs,
        table: Some(rows),
        written: written
            .into_iter()
            .map(|p| out.join(p.strip_prefix(&dir).unwrap_or(&p)))
            .collect(),
    })
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), SweepError> {
    fs::create_dir_all(to).map_err(SweepError::io(to))?;
    let entries = fs::read_dir(from).map_err(SweepError::io(from))?;
    for e in entries {
        let e = e.map_err(SweepError::io(from))?;
        if e.file_type().map_err(SweepError::io(from))?.is_file() {
            let target = to.join(e.file_name());
            fs::copy(e.path(), &target).map_err(SweepError::io(&target))?;
        }
    }
    Ok(())
}

/// The sweep's table in a terminal: per run and API, the parameters and the main figures.
pub fn table(m: &Manifest, rows: &[SweepRow]) -> String {
    let mut header = vec!["point".to_string(), "rep".into()];
    let parameters = chart_parameters(m);
    header.extend((0..parameters.len()).map(|j| charts::short_name(&parameters, j)));
    header.extend(
        [
            "api",
            "bytes delivered",
            "writes",
            "largest object",
            "objects",
        ]
        .map(String::from),
    );
    let mut lines: Vec<Vec<String>> = vec![header];
    for r in rows {
        let mut line = vec![r.run.point.to_string(), r.run.replicate.to_string()];
        line.extend(
            m.parameters
                .iter()
                .zip(&r.values)
                .map(|(p, &i)| cell(&p.values[i])),
        );
        let s = &r.summary;
        line.push(s.api.clone());
        line.push(scenario::human_bytes(s.bytes_delivered));
        line.push(output::thousands(s.creates + s.updates + s.deletes));
        line.push(scenario::human_bytes(s.max_object_proto_bytes));
        line.push(output::thousands(s.objects_peak));
        lines.push(line);
    }
    // Names left, numbers right.
    output::aligned(&lines, |_, v| {
        v.chars().next().is_some_and(|ch| ch.is_ascii_digit())
    })
}

/// Redraws a finished sweep's charts (`slicesim plot DIR`).
pub fn replot(dir: &Path) -> Result<Vec<PathBuf>, SweepError> {
    let m = Manifest::read(dir)?;
    let (_, rows) = read_rows(&[dir.to_path_buf()], &m)?;
    plot(dir, &m, &rows)
}

/// Whether `dir` holds a sweep (rather than a single run).
pub fn is_sweep(dir: &Path) -> bool {
    dir.join(MANIFEST).is_file()
}
