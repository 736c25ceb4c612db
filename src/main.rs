//! The `slicesim` command line: parses arguments and calls the library.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use slicesim::size;

/// What service discovery costs, with the legacy Endpoints API and with EndpointSlices.
#[derive(Debug, Parser)]
#[command(name = "slicesim", version, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
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

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
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
