//! The `slicesim` command line: parses arguments and calls the library.

/// mimalloc instead of the system allocator: the simulation makes and frees millions of small
/// objects, and glibc's malloc and free were a fifth of a default run's time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use slicesim::run::{self, RunOptions};
use slicesim::scenario::{SECOND, Scenario};
use slicesim::sweep::{self, Ended, Keep, Shard};
use slicesim::{charts, compare, output, reproduce, size};

/// The embedded default scenario: 5,000 pods on 5,000 nodes, rolled out once.
const DEFAULT_SCENARIO: &str = include_str!("../scenarios/default.yaml");

/// What service discovery costs, with the legacy Endpoints API and with EndpointSlices.
///
/// Without a command, runs the embedded default scenario (a 5,000-pod Service on 5,000 nodes,
/// rolled out once) and prints the comparison.
#[derive(Debug, Parser)]
#[command(
    name = "slicesim",
    version,
    after_help = "\
Examples:
  slicesim                                   run the default scenario, print the comparison
  slicesim run scenarios/quickstart.yaml     run a scenario; CSVs and charts into results/quickstart/
  slicesim plot results/quickstart           redraw a run's charts from its CSV files
  slicesim compare RUN_DIR RUN_DIR           two runs side by side
  slicesim completions bash                  shell completions (bash, zsh, fish, ...)
  slicesim man | man -l -                    the manual
  slicesim reproduce                         check the published claims; results/reproduce/
  slicesim check scenarios/*.yaml            validate scenario files
  slicesim run scenarios/sweep-replicas.yaml run every point of a sweep, in parallel
  slicesim size endpoints.yaml               exact sizes of real objects
  slicesim lint my-slices.yaml               check hand-written EndpointSlices"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Simulate a scenario with both APIs; write CSV files and charts.
    #[command(after_help = "\
Examples:
  slicesim run                                        the embedded default scenario
  slicesim run scenarios/zone-outage.yaml --seed 3
  slicesim run scenarios/quickstart.yaml --out /tmp/qs --export-objects /tmp/qs/objects
  slicesim run scenarios/rollout-egress.yaml --metrics /tmp/egress.prom
  slicesim run scenarios/sweep-replicas.yaml --jobs 2      every point of a sweep
  slicesim run scenarios/sweep-replicas.yaml --list        the sweep's runs, as CSV
  slicesim run scenarios/sweep-replicas.yaml --shard 1/4   one machine's share of it

Before it runs, the scenario's memory and pod events are estimated; a run over the limit
(--max-memory, default half of this machine's memory) is refused with the field to blame.

Outputs (built in a temporary directory beside DIR and swapped in whole when the run is
complete; the previous run stays until then): DIR/summary.csv (one row per API),
DIR/timeseries.csv (per time bucket and API), DIR/objects.csv (the final objects),
DIR/watchers.csv (per API and watcher class: closed watches, re-lists, memory), and
DIR/charts/*.svg + *.png (cumulative bytes, bytes per bucket, objects and largest object,
endpoints per slice; propagation delay and egress when something delays watch events)
unless --no-charts. --metrics FILE adds the run's metrics in the Prometheus text format.

A scenario with a `sweep:` block runs every point (each replicate) instead, --jobs at once:
DIR/sweep.csv (one row per point, replicate and API), DIR/points/<point>-<replicate>/ (each
run's summary.csv; --keep timeseries,objects keeps more) and DIR/charts/sweep-*.svg + .png
(the summary figures against each parameter). Ctrl-C stops it and keeps the finished runs;
--resume runs the rest. --shard I/N runs the points with point % N == I; `slicesim merge`
joins the shards' directories.")]
    Run {
        /// Scenario file (default: the embedded default scenario).
        scenario: Option<PathBuf>,
        /// Output directory (default: results/<scenario name>/).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Override the scenario's seed.
        #[arg(long, value_name = "N")]
        seed: Option<u64>,
        /// Also write the final objects as kubectl-style YAML Lists into DIR.
        #[arg(long, value_name = "DIR")]
        export_objects: Option<PathBuf>,
        /// Also write the pod history that drove the run as CSV (replay with `churn: {trace: FILE}`).
        #[arg(long, value_name = "FILE")]
        export_trace: Option<PathBuf>,
        /// Also write the run's metrics in the Prometheus text format, under upstream's names
        /// (EndpointSlice controller, API server, kube-proxy), with an `api` label.
        #[arg(long, value_name = "FILE")]
        metrics: Option<PathBuf>,
        /// Do not draw the charts (CSV files only).
        #[arg(long)]
        no_charts: bool,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
        /// How to print the summary: `text` (a table) or `json` (the figures of summary.csv,
        /// one object per API, under the CSV's column names; nothing else on stdout).
        #[arg(long, value_enum, default_value_t = PrintFormat::Text)]
        format: PrintFormat,
        /// Refuse a run estimated to need more memory than this (e.g. 4GiB, 500MB; default:
        /// half of this machine's memory).
        #[arg(long, value_name = "SIZE", value_parser = memory_arg)]
        max_memory: Option<u64>,
        /// Run even when the estimate is over the memory limit.
        #[arg(long)]
        force: bool,
        /// Sweep: runs at once (default: one per core).
        #[arg(long, short, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        jobs: Option<u16>,
        /// Sweep: keep these outputs of each run besides summary.csv.
        #[arg(long, value_enum, value_delimiter = ',', value_name = "LIST")]
        keep: Vec<KeepArg>,
        /// Sweep: continue the interrupted sweep of DIR, running only the missing runs.
        #[arg(long)]
        resume: bool,
        /// Sweep: print its runs (point, replicate, seed, parameter values) as CSV; run nothing
        /// (and check only the sweep block: `slicesim check` checks every point).
        #[arg(long)]
        list: bool,
        /// Sweep: run one shard, the points with point % N == I: `I/N`, or `auto` in a
        /// Kubernetes Indexed Job (JOB_COMPLETION_INDEX / JOB_COMPLETIONS).
        #[arg(long, value_name = "I/N|auto")]
        shard: Option<String>,
    },
    /// Join the directories of a sweep's shards into one: its sweep.csv and charts.
    #[command(after_help = "\
Examples:
  slicesim merge --out results/sweep shard-0 shard-1 shard-2

Every run of the sweep must be in one of the shards (the missing ones are named
otherwise); the result is what one machine running the whole sweep would have written.")]
    Merge {
        /// The merged sweep's directory.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Shard directories, written by `slicesim run FILE --shard I/N`.
        #[arg(required = true, value_name = "SHARD_DIR")]
        shards: Vec<PathBuf>,
        /// Do not draw the charts.
        #[arg(long)]
        no_charts: bool,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Check the published claims (KEP-0752, the 2020 blog, the docs, issues) by simulation.
    #[command(after_help = "\
Examples:
  slicesim reproduce                       into results/reproduce/
  slicesim reproduce --out /tmp/claims

Runs the built-in scenarios of scenarios/reproduce/ and writes DIR/claims.csv
(claim,source,stated,simulated_proto,simulated_json,ratio,assumptions,verdict), DIR/sizes.csv
(the simulated size curve), DIR/runs.csv (the runs' summaries) and DIR/claims.svg + .png (object
size against endpoints, with the claims as points). ratio = stated / simulated protobuf.")]
    Reproduce {
        /// Output directory.
        #[arg(long, value_name = "DIR", default_value = "results/reproduce")]
        out: PathBuf,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Compare runs side by side: every summary figure, its difference and ratio.
    #[command(after_help = "\
Examples:
  slicesim run --out /tmp/a
  slicesim run my-batched.yaml --out /tmp/b
  slicesim compare /tmp/a /tmp/b                     the table
  slicesim compare /tmp/a /tmp/b --out /tmp/a-vs-b   and compare.csv, compare.txt, charts

The first run is the baseline: for every other run the table gives each figure of
summary.csv, per API, with its difference from the baseline (B-A) and its ratio (B/A).
Runs of different scenarios, durations or bucket sizes compare too: the table compares
whole-run figures, and the overlaid charts (cumulative bytes delivered, objects stored,
largest object) put every run on one time axis, each with its own buckets.")]
    Compare {
        /// Run directories, written by `slicesim run` (the first is the baseline).
        #[arg(required = true, value_name = "RUN_DIR")]
        dirs: Vec<PathBuf>,
        /// Also write compare.csv, compare.txt and the overlaid charts here.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Check EndpointSlices against the advice for hand-written ones.
    #[command(after_help = "\
Examples:
  kubectl get endpointslices -A -o yaml | slicesim lint -
  slicesim lint my-slices.yaml --max 1000

Rules: service-name (the kubernetes.io/service-name label), managed-by (the
endpointslice.kubernetes.io/managed-by label), owner (ownerReferences, so that the slice goes
with its Service), max-endpoints (at most --max endpoints), ready-not-serving (a ready
endpoint must be serving), duplicate-address (an address in one slice per Service and address
type), empty (a slice without endpoints). Reads what `slicesim size` reads; Endpoints objects
are skipped with a note. One line per finding: FILE:LINE: EndpointSlice NAMESPACE/NAME: RULE:
message. Exit code 1 when anything is found, 0 when clean, 2 on unreadable input.")]
    Lint {
        /// Files to read; `-` reads standard input.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<String>,
        /// The most endpoints a slice should hold (the upstream default of
        /// --max-endpoints-per-slice).
        #[arg(long, value_name = "N", default_value_t = 100)]
        max: usize,
    },
    /// Print a shell completion script.
    #[command(after_help = "\
Examples:
  slicesim completions bash > ~/.local/share/bash-completion/completions/slicesim
  slicesim completions zsh > ~/.zfunc/_slicesim      (with fpath+=~/.zfunc in ~/.zshrc)
  slicesim completions fish > ~/.config/fish/completions/slicesim.fish")]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one per command into DIR.
    #[command(after_help = "\
Examples:
  slicesim man | man -l -
  slicesim man --out ~/.local/share/man/man1      slicesim.1, slicesim-run.1, ...")]
    Man {
        /// Write slicesim.1 and slicesim-<command>.1 here instead of printing slicesim.1.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Redraw a run's charts (DIR/charts/) from its CSV files.
    #[command(after_help = "\
Examples:
  slicesim plot results/default
  slicesim run scenarios/blog.yaml --no-charts --out /tmp/blog && slicesim plot /tmp/blog")]
    Plot {
        /// A directory written by `slicesim run` (summary.csv, timeseries.csv, objects.csv).
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Validate scenario files without running them.
    #[command(after_help = "\
Examples:
  slicesim check scenarios/*.yaml

Every problem is reported as FILE:LINE:COLUMN: FIELD.PATH: message; exit code 2 if any.")]
    Check {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Measure real Endpoints and EndpointSlice objects: exact protobuf and JSON sizes.
    #[command(after_help = "\
Examples:
  slicesim size endpoints.yaml
  kubectl get endpointslices -A -o yaml | slicesim size -
  kubectl get endpoints -n kube-system -o json | slicesim size --format csv - > sizes.csv

Reads one object, a multi-document YAML stream, a List (kind: List, EndpointsList,
EndpointSliceList) or JSON watch events ({\"type\":...,\"object\":...}, one per line).
Objects of other kinds are skipped with a note on stderr. Malformed input exits with code 2.

Columns: proto_bytes is the object as etcd stores it (k8s\\0 + runtime.Unknown envelope);
proto_watch_bytes one MODIFIED event on a protobuf watch stream, as kube-proxy receives it;
json_bytes compact JSON; json_watch_bytes one JSON watch-event line.")]
    Size {
        /// Files to read; `-` reads standard input.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = FormatArg::Table)]
        format: FormatArg,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum KeepArg {
    Timeseries,
    Objects,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FormatArg {
    /// Aligned columns with human units beside exact bytes.
    Table,
    /// CSV: kind,namespace,name,address_type,endpoints,proto_bytes,proto_watch_bytes,json_bytes,json_watch_bytes
    Csv,
    /// A JSON array of objects with the CSV's column names as keys.
    Json,
}

/// How `slicesim run` prints its summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum PrintFormat {
    /// The comparison table.
    Text,
    /// summary.csv's rows as a JSON array (keys: its column names).
    Json,
}

/// Exit code for bad input (and, through clap, bad arguments).
const EXIT_BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            // A closed stdout (`slicesim size x | head`) is not an error.
            if let Some(e) = err.downcast_ref::<io::Error>()
                && e.kind() == io::ErrorKind::BrokenPipe
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("slicesim: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn load(path: Option<&PathBuf>) -> Result<Scenario, slicesim::scenario::ScenarioError> {
    match path {
        Some(p) => Scenario::load(p),
        None => Scenario::parse("<embedded default scenario>", "default", DEFAULT_SCENARIO),
    }
}

fn memory_arg(s: &str) -> Result<u64, String> {
    slicesim::scenario::parse_memory(s)
}

/// What `slicesim run` was asked to do.
struct RunArgs {
    scenario: Option<PathBuf>,
    out: Option<PathBuf>,
    seed: Option<u64>,
    export_objects: Option<PathBuf>,
    export_trace: Option<PathBuf>,
    metrics: Option<PathBuf>,
    charts: bool,
    quiet: bool,
    format: PrintFormat,
    /// The resource guard's limit in bytes; `None`: no limit (`--force`).
    max_memory: Option<u64>,
    sweep: SweepArgs,
}

/// The options of `slicesim run` that only a sweep takes.
#[derive(Default)]
struct SweepArgs {
    jobs: Option<u16>,
    keep: Vec<KeepArg>,
    resume: bool,
    list: bool,
    shard: Option<String>,
}

impl SweepArgs {
    /// The first option given, by its flag.
    fn given(&self) -> Option<&'static str> {
        [
            (self.jobs.is_some(), "--jobs"),
            (!self.keep.is_empty(), "--keep"),
            (self.resume, "--resume"),
            (self.list, "--list"),
            (self.shard.is_some(), "--shard"),
        ]
        .into_iter()
        .find_map(|(given, flag)| given.then_some(flag))
    }
}

fn run_scenario(args: RunArgs) -> anyhow::Result<ExitCode> {
    let RunArgs {
        scenario,
        out,
        seed,
        export_objects,
        export_trace,
        metrics,
        charts,
        quiet,
        format,
        max_memory,
        sweep: sweep_args,
    } = args;
    let guarded = load(scenario.as_ref()).and_then(|sc| {
        if let Some(limit) = max_memory {
            slicesim::scenario::check_memory(&sc, limit)?;
        }
        Ok(sc)
    });
    let mut sc = match guarded {
        Ok(sc) => sc,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    if let Some(seed) = seed {
        sc.file.seed = seed;
    }
    let out = out.unwrap_or_else(|| PathBuf::from("results").join(&sc.name));
    if sc.sweep.is_some() {
        if export_objects.is_some() || export_trace.is_some() || metrics.is_some() {
            eprintln!(
                "slicesim: error: --export-objects, --export-trace and --metrics take one run, \
                 and this scenario is a sweep (keep each run's objects.csv with --keep objects)"
            );
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
        if format == PrintFormat::Json {
            eprintln!(
                "slicesim: error: --format json prints one run's summary, and this scenario is \
                 a sweep (its figures are in DIR/sweep.csv)"
            );
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
        return run_sweep(&sc, out, charts, quiet, max_memory, sweep_args);
    }
    // JSON on stdout: no progress bar, no table.
    let quiet = quiet || format == PrintFormat::Json;
    if let Some(flag) = sweep_args.given() {
        eprintln!(
            "slicesim: error: {flag} is for a sweep, and {} has no `sweep:` block",
            sc.source
        );
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    }
    // A bar of the simulated time the pod history has reached (the controllers follow it).
    let reached = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let spinner = (!quiet && io::stderr().is_terminal()).then(|| {
        let end = sc.file.duration.value.0.max(1);
        let pb = indicatif::ProgressBar::new(end);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} simulating {prefix}: pod history at {msg} {bar:30} ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        pb.set_prefix(sc.name.clone());
        pb.enable_steady_tick(std::time::Duration::from_millis(100));
        let (pb2, reached) = (pb.clone(), reached.clone());
        let total = slicesim::scenario::Duration(end);
        std::thread::spawn(move || {
            while !pb2.is_finished() {
                let at = reached.load(Ordering::Relaxed).min(end);
                pb2.set_position(at);
                // Whole seconds: `55m28s`, not `3328621.18ms`.
                let shown = slicesim::scenario::Duration(at / SECOND * SECOND);
                pb2.set_message(format!("{shown} of {total}"));
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        });
        pb
    });
    let result = run::run(
        &sc,
        &RunOptions {
            out: out.clone(),
            export_objects: export_objects.clone(),
            export_trace: export_trace.clone(),
            metrics: metrics.clone(),
            charts,
            progress: spinner.is_some().then(|| reached.clone()),
        },
    );
    if let Some(pb) = spinner {
        pb.finish_and_clear();
    }
    let sim = match result {
        Ok(sim) => sim,
        Err(e) if e.is_bad_input() => {
            eprintln!("{e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
        Err(e) => return Err(e.into()),
    };
    if format == PrintFormat::Json {
        let mut stdout = io::stdout().lock();
        serde_json::to_writer_pretty(&mut stdout, &sim.summary).map_err(io::Error::from)?;
        writeln!(stdout)?;
        stdout.flush()?;
    } else if !quiet {
        let mut stdout = io::stdout().lock();
        // Each Service's last Endpoints write, refused or not: it carries the addresses the
        // Service has at the end.
        let mut last = std::collections::HashMap::new();
        for w in &sim.runs[0].writes {
            last.insert(w.service, u64::from(w.endpoints));
        }
        let largest = last.into_values().max();
        let report = output::run_report(
            &sc,
            &sim.summary,
            &sim.hints,
            &sim.external,
            largest.unwrap_or(0),
            &out,
        );
        write!(stdout, "{report}")?;
        if let Some(path) = &metrics {
            writeln!(stdout, "Wrote {} (Prometheus text).", path.display())?;
        }
        if let Some(dir) = &export_objects {
            writeln!(
                stdout,
                "Wrote {}/endpoints.yaml, endpointslices.yaml (the objects at the end).",
                dir.display()
            )?;
        }
        if let Some(path) = &export_trace {
            writeln!(stdout, "Wrote {} (the pod trace).", path.display())?;
        }
        if charts {
            writeln!(
                stdout,
                "Charts in {}/ (SVG and PNG).",
                out.join("charts").display()
            )?;
        }
        stdout.flush()?;
    }
    // The process ends here: returning the simulation's memory piece by piece (millions of
    // small allocations, a fifth of a default run's main-thread time) would only delay the
    // exit that returns it all at once.
    std::mem::forget(sim);
    Ok(ExitCode::SUCCESS)
}

/// Set by the first Ctrl-C (SIGINT or SIGTERM): a sweep starts no more runs.
static STOP: AtomicBool = AtomicBool::new(false);

/// Stops a sweep on Ctrl-C: the first lets the runs under way finish (and be kept), the
/// second exits at once (each run's directory is written whole, so none is left half done).
fn stop_on_signal(quiet: bool) {
    static SIGNALS: AtomicU32 = AtomicU32::new(0);
    let installed = ctrlc::set_handler(move || {
        if SIGNALS.fetch_add(1, Ordering::SeqCst) == 0 {
            STOP.store(true, Ordering::SeqCst);
            if !quiet {
                eprintln!(
                    "\nstopping: the runs under way finish and are kept (Ctrl-C again to \
                     abandon them)"
                );
            }
        } else {
            std::process::exit(130);
        }
    });
    if let Err(e) = installed {
        eprintln!("warning: Ctrl-C will not stop the sweep cleanly: {e}");
    }
}

/// The command line that resumes this one.
fn resume_command() -> String {
    let mut args: Vec<String> = std::env::args()
        .map(|a| {
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"$\\".contains(c)) {
                format!("'{}'", a.replace('\'', r"'\''"))
            } else {
                a
            }
        })
        .collect();
    if !args.iter().any(|a| a == "--resume") {
        args.push("--resume".into());
    }
    args.join(" ")
}

fn run_sweep(
    sc: &Scenario,
    out: PathBuf,
    charts: bool,
    quiet: bool,
    max_memory: Option<u64>,
    args: SweepArgs,
) -> anyhow::Result<ExitCode> {
    let Some(plan) = sc.sweep.as_deref() else {
        anyhow::bail!("not a sweep");
    };
    let shard = match args
        .shard
        .as_deref()
        .map(|s| Shard::parse(s, |k| std::env::var(k).ok()))
    {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            eprintln!("slicesim: error: --shard: {e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    if args.list {
        // The grid only: its points are checked by `check` and before they run (checking
        // 10,000 points takes a second or two, listing them milliseconds).
        let mut stdout = io::stdout().lock();
        stdout.write_all(&sweep::list(sc, plan, shard)?)?;
        stdout.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let checked = match sweep::check(sc, plan, max_memory) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut jobs = args.jobs.map_or(cores, usize::from);
    // Runs at once must fit in memory together.
    if let Some(limit) = max_memory {
        let fit = (limit as f64 / checked.max_memory_bytes.max(1.0))
            .floor()
            .max(1.0) as usize;
        if fit < jobs {
            if !quiet {
                eprintln!(
                    "note: {jobs} runs at once would need more than the memory limit of {}; \
                     running {fit} at once",
                    slicesim::scenario::human_bytes(limit)
                );
            }
            jobs = fit;
        }
    }
    stop_on_signal(quiet);
    let total_runs = checked.runs;
    let bar = (!quiet && io::stderr().is_terminal()).then(|| {
        let pb = indicatif::ProgressBar::new(total_runs);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} runs  {per_sec}  ETA {eta}  {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb.set_message(sc.name.clone());
        pb.enable_steady_tick(std::time::Duration::from_millis(200));
        pb
    });
    let progress = |done: u64, total: u64| {
        if let Some(pb) = &bar {
            pb.set_length(total);
            pb.set_position(done);
        }
    };
    let keep = Keep {
        timeseries: args.keep.contains(&KeepArg::Timeseries),
        objects: args.keep.contains(&KeepArg::Objects),
    };
    let ended = sweep::run(
        sc,
        plan,
        &sweep::Options {
            out: out.clone(),
            jobs,
            keep,
            resume: args.resume,
            shard,
            charts,
            stop: &STOP,
            progress: &progress,
        },
    );
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    let ended = match ended {
        Ok(e) => e,
        Err(e) if e.is_bad_input() => {
            eprintln!("slicesim: error: {e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
        Err(e) => return Err(e.into()),
    };
    match ended {
        Ended::Interrupted { done, runs } => {
            eprintln!(
                "Interrupted: {done} of {runs} runs are done and kept. Resume with:\n  {}",
                resume_command()
            );
            Ok(ExitCode::from(130))
        }
        Ended::Complete {
            ran,
            runs,
            table,
            written,
        } => {
            if !quiet {
                report_sweep(sc, plan, &out, shard, ran, runs, table.as_deref(), &written)?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// What a finished sweep prints: its size, its table (when short) and its files.
#[allow(clippy::too_many_arguments)]
fn report_sweep(
    sc: &Scenario,
    plan: &slicesim::scenario::sweep::Plan,
    out: &std::path::Path,
    shard: Option<Shard>,
    ran: u64,
    runs: u64,
    table: Option<&[sweep::SweepRow]>,
    written: &[PathBuf],
) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    let of = match shard {
        Some(s) => format!(" (shard {s})"),
        None => String::new(),
    };
    writeln!(
        stdout,
        "Sweep {} (seed {}){of}: {} point(s) x {} replicate(s); {runs} runs, {ran} run now.",
        sc.name,
        sc.file.seed,
        plan.points(),
        plan.replicates,
    )?;
    if let Some(rows) = table {
        // Two rows per run; beyond 30 runs the table is for sweep.csv, not the terminal.
        if rows.len() <= 60 {
            writeln!(stdout)?;
            write!(
                stdout,
                "{}",
                sweep::table(&sweep::Manifest::new(sc, plan), rows)
            )?;
            writeln!(stdout)?;
        }
    }
    writeln!(
        stdout,
        "Wrote {}/points/ ({runs} runs){}",
        out.display(),
        if table.is_some() { "," } else { "." }
    )?;
    for p in written {
        writeln!(stdout, "  {}", p.display())?;
    }
    if shard.is_some() {
        writeln!(
            stdout,
            "Join the shards with: slicesim merge --out DIR SHARD_DIR..."
        )?;
    }
    stdout.flush()
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let Some(command) = cli.command else {
        return run_scenario(RunArgs {
            scenario: None,
            out: None,
            seed: None,
            export_objects: None,
            export_trace: None,
            metrics: None,
            charts: true,
            quiet: false,
            format: PrintFormat::Text,
            max_memory: Some(slicesim::scenario::default_memory_limit()),
            sweep: SweepArgs::default(),
        });
    };
    match command {
        Command::Run {
            scenario,
            out,
            seed,
            export_objects,
            export_trace,
            metrics,
            no_charts,
            quiet,
            format,
            max_memory,
            force,
            jobs,
            keep,
            resume,
            list,
            shard,
        } => run_scenario(RunArgs {
            scenario,
            out,
            seed,
            export_objects,
            export_trace,
            metrics,
            charts: !no_charts,
            quiet,
            format,
            max_memory: (!force)
                .then(|| max_memory.unwrap_or_else(slicesim::scenario::default_memory_limit)),
            sweep: SweepArgs {
                jobs,
                keep,
                resume,
                list,
                shard,
            },
        }),
        Command::Merge {
            out,
            shards,
            no_charts,
            quiet,
        } => match sweep::merge(&out, &shards, !no_charts) {
            Ok(Ended::Complete { runs, written, .. }) => {
                if !quiet {
                    println!("Merged {runs} runs of {} shard(s).", shards.len());
                    for p in written {
                        println!("Wrote {}", p.display());
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            Ok(Ended::Interrupted { .. }) => anyhow::bail!("a merge is never interrupted"),
            Err(e) if e.is_bad_input() => {
                eprintln!("slicesim: error: {e}");
                Ok(ExitCode::from(EXIT_BAD_INPUT))
            }
            Err(e) => Err(e.into()),
        },
        Command::Reproduce { out, quiet } => {
            let bar = (!quiet && io::stderr().is_terminal()).then(|| {
                let pb = indicatif::ProgressBar::new(reproduce::SCENARIOS.len() as u64);
                pb.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{spinner} simulating the claim scenarios {pos}/{len} {wide_msg}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                pb.enable_steady_tick(std::time::Duration::from_millis(100));
                pb
            });
            let rep = reproduce::reproduce(&|name| {
                if let Some(pb) = &bar {
                    pb.set_message(format!("{name} done"));
                    pb.inc(1);
                }
            })?;
            if let Some(pb) = bar {
                pb.finish_and_clear();
            }
            let written = reproduce::write(&rep, &out)?;
            if !quiet {
                let mut stdout = io::stdout().lock();
                write!(stdout, "{}", reproduce::table(&rep.claims))?;
                writeln!(
                    stdout,
                    "\nratio = stated / simulated protobuf; assumptions per claim in claims.csv."
                )?;
                for p in written {
                    writeln!(stdout, "Wrote {}", p.display())?;
                }
                stdout.flush()?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Plot { dir } if sweep::is_sweep(&dir) => match sweep::replot(&dir) {
            Ok(paths) => {
                for path in paths {
                    println!("{}", path.display());
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) if e.is_bad_input() => {
                eprintln!("slicesim: error: {e}");
                Ok(ExitCode::from(EXIT_BAD_INPUT))
            }
            Err(e) => Err(e.into()),
        },
        Command::Plot { dir } => match charts::plot_run(&dir) {
            Ok(paths) => {
                let report = slicesim::report::write_run(&dir)?;
                for path in paths.iter().chain([&report]) {
                    println!("{}", path.display());
                }
                Ok(ExitCode::SUCCESS)
            }
            // A directory that is not a run's (or a CSV that is not ours): bad input.
            Err(e @ charts::ChartError::Read { .. }) => {
                eprintln!("slicesim: error: {e}");
                Ok(ExitCode::from(EXIT_BAD_INPUT))
            }
            Err(e) => Err(e.into()),
        },
        Command::Compare { dirs, out } => {
            let runs = match compare::load(&dirs) {
                Ok(runs) => runs,
                Err(e) if e.is_bad_input() => {
                    eprintln!("slicesim: error: {e}");
                    return Ok(ExitCode::from(EXIT_BAD_INPUT));
                }
                Err(e) => return Err(e.into()),
            };
            let rows = compare::rows(&runs);
            let mut stdout = io::stdout().lock();
            write!(stdout, "{}", compare::table(&runs, &rows))?;
            if let Some(out) = out {
                let written = compare::write(&runs, &rows, &out)?;
                writeln!(
                    stdout,
                    "\nWrote {} files into {}/:",
                    written.len(),
                    out.display()
                )?;
                for p in written {
                    writeln!(stdout, "  {}", p.display())?;
                }
            }
            stdout.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Lint { files, max } => {
            let objects =
                match size::read_paths(&files, &mut io::stderr(), "only EndpointSlices are linted")
                {
                    Ok(objects) => objects,
                    Err(err) => {
                        eprintln!("slicesim: error: {err}");
                        return Ok(ExitCode::from(EXIT_BAD_INPUT));
                    }
                };
            let mut slices = Vec::new();
            for l in &objects {
                match &l.object {
                    slicesim::wire::model::Object::EndpointSlice(s) => {
                        slices.push((l.position.clone(), s));
                    }
                    other => eprintln!(
                        "note: {}: skipped {} {:?}: only EndpointSlices are linted",
                        l.position,
                        other.kind(),
                        other.metadata().name
                    ),
                }
            }
            let findings = slicesim::lint::lint(&slices, max);
            let mut stdout = io::stdout().lock();
            for f in &findings {
                writeln!(stdout, "{f}")?;
            }
            stdout.flush()?;
            Ok(if findings.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            let mut stdout = io::stdout().lock();
            clap_complete::generate(shell, &mut cmd, "slicesim", &mut stdout);
            stdout.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { out } => {
            let cmd = Cli::command();
            match out {
                None => {
                    let mut stdout = io::stdout().lock();
                    clap_mangen::Man::new(cmd).render(&mut stdout)?;
                    stdout.flush()?;
                }
                Some(dir) => {
                    std::fs::create_dir_all(&dir)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
                    let mut pages = vec![("slicesim".to_string(), cmd.clone())];
                    for sub in cmd.get_subcommands() {
                        let name = format!("slicesim-{}", sub.get_name());
                        pages.push((name.clone(), sub.clone().name(name)));
                    }
                    let mut stdout = io::stdout().lock();
                    for (name, page) in pages {
                        let mut roff = Vec::new();
                        clap_mangen::Man::new(page).render(&mut roff)?;
                        let path = dir.join(format!("{name}.1"));
                        output::write_atomic(&path, &roff)
                            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                        writeln!(stdout, "{}", path.display())?;
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { files } => {
            let mut bad = false;
            let limit = slicesim::scenario::default_memory_limit();
            for f in &files {
                // The guard first: the checks after it build the cluster's nodes.
                let guarded = Scenario::load(f).and_then(|sc| {
                    let e = slicesim::scenario::check_memory(&sc, limit)?;
                    Ok((sc, e))
                });
                if let Ok((sc, _)) = &guarded
                    && let Some(plan) = sc.sweep.as_deref()
                {
                    match sweep::check(sc, plan, Some(limit)) {
                        Ok(c) => println!(
                            "{}: ok (a sweep of {} point(s) x {} replicate(s) = {} runs; the \
                             largest about {} of memory, {} pod events)",
                            f.display(),
                            output::thousands(c.points),
                            plan.replicates,
                            output::thousands(c.runs),
                            slicesim::scenario::human_bytes(c.max_memory_bytes as u64),
                            output::thousands(c.max_pod_events.round() as u64)
                        ),
                        Err(e) => {
                            bad = true;
                            eprintln!("{e}");
                        }
                    }
                    continue;
                }
                match guarded {
                    Ok((sc, est)) => match run::history_check(&sc) {
                        Ok(()) => println!(
                            "{}: ok (about {} of memory, {} pod events)",
                            f.display(),
                            slicesim::scenario::human_bytes(est.memory_bytes as u64),
                            slicesim::output::thousands(est.pod_events.round() as u64)
                        ),
                        Err(e) => {
                            bad = true;
                            eprintln!("{e}");
                        }
                    },
                    Err(e) => {
                        bad = true;
                        eprintln!("{e}");
                    }
                }
            }
            Ok(if bad {
                ExitCode::from(EXIT_BAD_INPUT)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Size { files, format } => {
            let rows = match size::measure_paths(&files, &mut io::stderr()) {
                Ok(rows) => rows,
                Err(err) => {
                    eprintln!("slicesim: error: {err}");
                    return Ok(ExitCode::from(EXIT_BAD_INPUT));
                }
            };
            let format = match format {
                FormatArg::Table => size::Format::Table,
                FormatArg::Csv => size::Format::Csv,
                FormatArg::Json => size::Format::Json,
            };
            let mut out = io::stdout().lock();
            size::write_rows(&rows, format, &mut out)?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
