//! The `slicesim` command line: parses arguments and calls the library.

/// mimalloc instead of the system allocator: the simulation makes and frees millions of small
/// objects, and glibc's malloc and free were a fifth of a default run's time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use slicesim::run::{self, RunOptions};
use slicesim::scenario::Scenario;
use slicesim::{charts, output, reproduce, size};

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
  slicesim reproduce                         check the published claims; results/reproduce/
  slicesim check scenarios/*.yaml            validate scenario files
  slicesim size endpoints.yaml               exact sizes of real objects"
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

Before it runs, the scenario's memory and pod events are estimated; a run over the limit
(--max-memory, default half of this machine's memory) is refused with the field to blame.

Outputs (built in a temporary directory beside DIR and swapped in whole when the run is
complete; the previous run stays until then): DIR/summary.csv (one row per API),
DIR/timeseries.csv (per time bucket and API), DIR/objects.csv (the final objects), and
DIR/charts/*.svg + *.png (cumulative bytes, bytes per bucket, objects and largest object,
endpoints per slice) unless --no-charts.")]
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
        /// Do not draw the charts (CSV files only).
        #[arg(long)]
        no_charts: bool,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
        /// Refuse a run estimated to need more memory than this (e.g. 4GiB, 500MB; default:
        /// half of this machine's memory).
        #[arg(long, value_name = "SIZE", value_parser = memory_arg)]
        max_memory: Option<u64>,
        /// Run even when the estimate is over the memory limit.
        #[arg(long)]
        force: bool,
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

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FormatArg {
    /// Aligned columns with human units beside exact bytes.
    Table,
    /// CSV: kind,namespace,name,address_type,endpoints,proto_bytes,proto_watch_bytes,json_bytes,json_watch_bytes
    Csv,
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
    charts: bool,
    quiet: bool,
    /// The resource guard's limit in bytes; `None`: no limit (`--force`).
    max_memory: Option<u64>,
}

fn run_scenario(args: RunArgs) -> anyhow::Result<ExitCode> {
    let RunArgs {
        scenario,
        out,
        seed,
        export_objects,
        export_trace,
        charts,
        quiet,
        max_memory,
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
    let spinner = (!quiet && io::stderr().is_terminal()).then(|| {
        let pb = indicatif::ProgressBar::new_spinner();
        pb.set_message(format!("simulating {} ...", sc.name));
        pb.enable_steady_tick(std::time::Duration::from_millis(100));
        pb
    });
    let result = run::run(
        &sc,
        &RunOptions {
            out: out.clone(),
            export_objects,
            export_trace,
            charts,
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
    if !quiet {
        let mut stdout = io::stdout().lock();
        let largest = sim.runs[0]
            .final_objects
            .iter()
            .map(|o| o.endpoint_count() as u64)
            .max();
        let report = output::run_report(&sc, &sim.summary, largest.unwrap_or(0), &out);
        write!(stdout, "{report}")?;
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

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let Some(command) = cli.command else {
        return run_scenario(RunArgs {
            scenario: None,
            out: None,
            seed: None,
            export_objects: None,
            export_trace: None,
            charts: true,
            quiet: false,
            max_memory: Some(slicesim::scenario::default_memory_limit()),
        });
    };
    match command {
        Command::Run {
            scenario,
            out,
            seed,
            export_objects,
            export_trace,
            no_charts,
            quiet,
            max_memory,
            force,
        } => run_scenario(RunArgs {
            scenario,
            out,
            seed,
            export_objects,
            export_trace,
            charts: !no_charts,
            quiet,
            max_memory: (!force)
                .then(|| max_memory.unwrap_or_else(slicesim::scenario::default_memory_limit)),
        }),
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
        Command::Plot { dir } => match charts::plot_run(&dir) {
            Ok(paths) => {
                for path in paths {
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
        Command::Check { files } => {
            let mut bad = false;
            let limit = slicesim::scenario::default_memory_limit();
            for f in &files {
                // The guard first: the checks after it build the cluster's nodes.
                let guarded = Scenario::load(f).and_then(|sc| {
                    let e = slicesim::scenario::check_memory(&sc, limit)?;
                    Ok((sc, e))
                });
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
