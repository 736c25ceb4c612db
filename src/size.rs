//! `slicesim size`: the four exact sizes of real objects, as a table or CSV.

use std::io::{self, Write};

use serde::Serialize;

use crate::input::{self, InputError, Item};
use crate::wire::{Object, ObjectSizes, WireError, reference};

/// Output format of `slicesim size`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns, exact bytes with decimal units beside them.
    #[default]
    Table,
    /// CSV with [`CSV_HEADER`].
    Csv,
    /// A JSON array of objects keyed by [`CSV_HEADER`]'s names.
    Json,
}

/// Why `slicesim size` could not measure its inputs. All of these are the user's input.
#[derive(Debug, thiserror::Error)]
pub enum SizeError {
    #[error("{path}: cannot read: {source}")]
    Read { path: String, source: io::Error },
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("{position}: {source}")]
    Encode {
        position: input::Position,
        source: WireError,
    },
}

/// An object read from an input, with where it starts.
pub struct Located {
    pub position: input::Position,
    pub object: Object,
}

/// Reads every Endpoints and EndpointSlice in `paths` (`-` is stdin), in input order. Objects
/// of other kinds get one note each on `notes` (`what` says what they are skipped for).
pub fn read_paths(
    paths: &[String],
    notes: &mut dyn Write,
    what: &str,
) -> Result<Vec<Located>, SizeError> {
    let mut out = Vec::new();
    for path in paths {
        let text = if path == "-" {
            io::read_to_string(io::stdin())
        } else {
            std::fs::read_to_string(path)
        }
        .map_err(|source| SizeError::Read {
            path: path.clone(),
            source,
        })?;
        for item in input::read_str(path, &text)? {
            match item {
                Item::Object { object, line } => out.push(Located {
                    position: input::Position {
                        source: path.clone(),
                        line,
                        column: 0,
                    },
                    object: *object,
                }),
                Item::Skipped { kind, name, line } => {
                    // A failed note on stderr is not worth failing the command for.
                    let _ = writeln!(
                        notes,
                        "note: {path}:{line}: skipped {kind} {name:?}: {what}"
                    );
                }
            }
        }
    }
    Ok(out)
}

/// Reads and measures every Endpoints and EndpointSlice in `paths` (`-` is stdin), in input
/// order. Objects of other kinds get one note each on `notes`.
pub fn measure_paths(paths: &[String], notes: &mut dyn Write) -> Result<Vec<SizeRow>, SizeError> {
    read_paths(
        paths,
        notes,
        "only Endpoints and EndpointSlice have sizes here",
    )?
    .into_iter()
    .map(|l| {
        SizeRow::measure(&l.object).map_err(|source| SizeError::Encode {
            position: l.position,
            source,
        })
    })
    .collect()
}

/// Writes rows in `format`.
pub fn write_rows(rows: &[SizeRow], format: Format, out: impl Write) -> io::Result<()> {
    match format {
        Format::Table => write_table(rows, out),
        Format::Csv => write_csv(rows, out),
        Format::Json => {
            let mut out = out;
            serde_json::to_writer_pretty(&mut out, rows).map_err(io::Error::from)?;
            writeln!(out)
        }
    }
}

/// One measured object: a row of `slicesim size`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SizeRow {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub address_type: String,
    pub endpoints: u64,
    pub proto_bytes: u64,
    pub proto_watch_bytes: u64,
    pub json_bytes: u64,
    pub json_watch_bytes: u64,
}

/// The CSV header, fixed by the command's contract.
pub const CSV_HEADER: &str = "kind,namespace,name,address_type,endpoints,proto_bytes,proto_watch_bytes,json_bytes,json_watch_bytes";

impl SizeRow {
    /// Measures `obj` with the reference encoders.
    pub fn measure(obj: &Object) -> Result<SizeRow, WireError> {
        let sizes: ObjectSizes = reference::sizes(obj)?;
        let meta = obj.metadata();
        Ok(SizeRow {
            kind: obj.kind().to_string(),
            namespace: meta.namespace.clone(),
            name: if meta.name.is_empty() {
                meta.generate_name.clone()
            } else {
                meta.name.clone()
            },
            address_type: obj.address_type(),
            endpoints: obj.endpoint_count() as u64,
            proto_bytes: sizes.proto,
            proto_watch_bytes: sizes.proto_watch,
            json_bytes: sizes.json,
            json_watch_bytes: sizes.json_watch,
        })
    }
}

/// Writes rows as CSV with [`CSV_HEADER`].
pub fn write_csv(rows: &[SizeRow], out: impl Write) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    for row in rows {
        w.serialize(row)?;
    }
    if rows.is_empty() {
        // The header is written with the first record; an empty result still gets one.
        w.write_record(CSV_HEADER.split(','))?;
    }
    w.flush()
}

pub use crate::scenario::human_bytes;

/// Exact bytes with the human figure beside them: `1052345 (1.05 MB)`.
fn bytes_cell(n: u64) -> String {
    if n < 1000 {
        format!("{n} B")
    } else {
        format!("{n} ({})", human_bytes(n))
    }
}

/// Writes rows as an aligned table (numbers right-aligned), units in decimal (1 kB = 1000 B).
pub fn write_table(rows: &[SizeRow], mut out: impl Write) -> io::Result<()> {
    let header = [
        "KIND",
        "NAMESPACE/NAME",
        "ADDRESS TYPE",
        "ENDPOINTS",
        "PROTOBUF",
        "PROTOBUF WATCH",
        "JSON",
        "JSON WATCH",
    ];
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            [
                r.kind.clone(),
                format!("{}/{}", r.namespace, r.name),
                r.address_type.clone(),
                r.endpoints.to_string(),
                bytes_cell(r.proto_bytes),
                bytes_cell(r.proto_watch_bytes),
                bytes_cell(r.json_bytes),
                bytes_cell(r.json_watch_bytes),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cols: &[String]| {
        let mut s = String::new();
        for (i, (c, w)) in cols.iter().zip(widths).enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            if i >= 3 {
                s.push_str(&format!("{c:>w$}"));
            } else {
                s.push_str(&format!("{c:<w$}"));
            }
        }
        s.trim_end().to_string()
    };
    writeln!(out, "{}", line(&header.map(String::from)))?;
    for row in &cells {
        writeln!(out, "{}", line(row))?;
    }
    writeln!(
        out,
        "\nPROTOBUF: k8s\\0 envelope, as etcd stores it; WATCH: one MODIFIED event on a watch \
         stream; JSON: compact. 1 kB = 1000 B."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units_are_decimal() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1000), "1.00 kB");
        assert_eq!(human_bytes(1_500_000), "1.50 MB");
        assert_eq!(human_bytes(22_000_000_000_000), "22.0 TB");
        assert_eq!(human_bytes(450_000_000_000), "450 GB");
    }

    #[test]
    fn empty_csv_has_the_header() {
        let mut out = Vec::new();
        write_csv(&[], &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), format!("{CSV_HEADER}\n"));
    }
}
