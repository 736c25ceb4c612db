//! `report.html`: one self-contained page per run, `reproduce` and `compare` directory — the
//! scenario, the summary table, every chart inline as SVG — that opens in any browser with
//! no server and no network (no scripts, no external fonts, styles or images).
//!
//! A page is built from what the directory holds (its CSV files and `charts/*.svg`), so
//! `slicesim plot DIR` rebuilds it with the charts.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::output;

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {message}")]
    Read { path: String, message: String },
    #[error("{path}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// A part of the page.
enum Section {
    /// A table: caption, header, rows (cells already text).
    Table(String, Vec<String>, Vec<Vec<String>>),
    /// An SVG chart, inline.
    Svg(String, String),
    /// Preformatted text (a scenario, a table as printed).
    Pre(String, String),
}

/// A page: a title, a line under it, the sections.
struct Page {
    title: String,
    subtitle: String,
    sections: Vec<Section>,
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em auto;max-width:1140px;color:#222}\
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em}\
table{border-collapse:collapse;font-size:.9em}\
th,td{border:1px solid #ccc;padding:.25em .6em}td.n{text-align:right;font-variant-numeric:tabular-nums}\
th{background:#f3f3f3;text-align:left}pre{background:#f7f7f7;padding:1em;overflow-x:auto;font-size:.85em}\
figure{margin:1.5em 0}figcaption{color:#555;font-size:.9em}svg{max-width:100%;height:auto}\
footer{color:#777;font-size:.85em;margin-top:3em}";

impl Page {
    fn html(&self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n<p>{}</p>\n",
            esc(&self.title),
            esc(&self.title),
            esc(&self.subtitle)
        );
        for section in &self.sections {
            match section {
                Section::Table(caption, header, rows) => {
                    let _ = write!(s, "<h2>{}</h2>\n<table>\n<tr>", esc(caption));
                    for h in header {
                        let _ = write!(s, "<th>{}</th>", esc(h));
                    }
                    s.push_str("</tr>\n");
                    for row in rows {
                        s.push_str("<tr>");
                        for (i, cell) in row.iter().enumerate() {
                            let numeric = i > 0
                                && cell
                                    .chars()
                                    .next()
                                    .is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '+');
                            let class = if numeric { " class=\"n\"" } else { "" };
                            let _ = write!(s, "<td{class}>{}</td>", esc(cell));
                        }
                        s.push_str("</tr>\n");
                    }
                    s.push_str("</table>\n");
                }
                Section::Svg(caption, svg) => {
                    let _ = write!(
                        s,
                        "<figure>\n{}\n<figcaption>{}</figcaption>\n</figure>\n",
                        svg.trim(),
                        esc(caption)
                    );
                }
                Section::Pre(caption, text) => {
                    let _ = write!(s, "<h2>{}</h2>\n<pre>{}</pre>\n", esc(caption), esc(text));
                }
            }
        }
        let _ = write!(
            s,
            "<footer>Written by slicesim {}. Units are decimal (1 kB = 1,000 bytes). This page \
             holds everything it shows: it needs no network.</footer>\n</body>\n</html>\n",
            env!("CARGO_PKG_VERSION")
        );
        s
    }
}

fn read(path: &Path) -> Result<String, ReportError> {
    std::fs::read_to_string(path).map_err(|e| ReportError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// A CSV file as its header and rows of text.
fn csv_table(path: &Path) -> Result<(Vec<String>, Vec<Vec<String>>), ReportError> {
    let err = |e: csv::Error| ReportError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let mut r = csv::Reader::from_path(path).map_err(err)?;
    let header = r
        .headers()
        .map_err(err)?
        .iter()
        .map(str::to_string)
        .collect();
    let rows = r
        .records()
        .map(|rec| rec.map(|r| r.iter().map(str::to_string).collect()))
        .collect::<Result<_, _>>()
        .map_err(err)?;
    Ok((header, rows))
}

/// A CSV cell in the units a reader wants ([`output::figure_value`]); text as it is.
fn shown(column: &str, cell: &str) -> String {
    cell.parse::<f64>()
        .map_or_else(|_| cell.to_string(), |v| output::figure_value(column, v))
}

/// The summary figures, one row per figure, one column per API.
fn summary_section(dir: &Path) -> Result<(Section, String, String), ReportError> {
    let (header, rows) = csv_table(&dir.join("summary.csv"))?;
    let col = |name: &str| header.iter().position(|h| h == name);
    let cell = |row: &Vec<String>, name: &str| {
        col(name)
            .and_then(|i| row.get(i))
            .cloned()
            .unwrap_or_default()
    };
    let scenario = rows
        .first()
        .map(|r| cell(r, "scenario"))
        .unwrap_or_default();
    let seed = rows.first().map(|r| cell(r, "seed")).unwrap_or_default();
    let mut table_header = vec!["figure".to_string()];
    table_header.extend(rows.iter().map(|r| cell(r, "api")));
    // Two APIs: their ratio too, as the printed table gives it.
    let pair = rows.len() == 2;
    if pair {
        table_header.push("Endpoints / EndpointSlices".into());
    }
    let figures = header
        .iter()
        .filter(|h| !matches!(h.as_str(), "scenario" | "seed" | "api"));
    let table_rows = figures
        .map(|f| {
            let mut row = vec![f.clone()];
            row.extend(rows.iter().map(|r| shown(f, &cell(r, f))));
            if pair {
                let v = |r: &Vec<String>| cell(r, f).parse::<f64>().unwrap_or(0.0);
                let (e, s) = (v(&rows[0]), v(&rows[1]));
                row.push(if s != 0.0 {
                    format!("{:.2}x", e / s)
                } else {
                    "-".into()
                });
            }
            row
        })
        .collect();
    Ok((
        Section::Table("Summary (summary.csv)".into(), table_header, table_rows),
        scenario,
        seed,
    ))
}

/// Every `*.svg` in `dir`, in the order of `first` (names without extension) and then by name.
fn svgs(dir: &Path, first: &[&str]) -> Result<Vec<Section>, ReportError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".svg").map(str::to_string))
        .collect();
    names.sort_by_key(|n| {
        (
            first.iter().position(|f| f == n).unwrap_or(first.len()),
            n.clone(),
        )
    });
    names
        .into_iter()
        .map(|n| {
            let svg = read(&dir.join(format!("{n}.svg")))?;
            Ok(Section::Svg(format!("{n}.svg"), svg))
        })
        .collect()
}

/// The charts of a run in the order `slicesim run` draws them.
const RUN_CHARTS: [&str; 8] = [
    "cumulative-bytes",
    "cumulative-bytes-log",
    "bytes-per-bucket",
    "objects",
    "delays",
    "zones",
    "slice-fill",
    "external",
];

/// Writes `dir/report.html` for a run's directory.
pub fn write_run(dir: &Path) -> Result<PathBuf, ReportError> {
    let (summary, scenario, seed) = summary_section(dir)?;
    let mut sections = vec![summary];
    for (file, title) in [
        ("hints.csv", "Topology hints on and off (hints.csv)"),
        ("external.csv", "External Services (external.csv)"),
    ] {
        let path = dir.join(file);
        if path.is_file() {
            let (header, rows) = csv_table(&path)?;
            sections.push(Section::Table(title.into(), header, rows));
        }
    }
    sections.extend(svgs(&dir.join("charts"), &RUN_CHARTS)?);
    let yaml = dir.join("scenario.yaml");
    if yaml.is_file() {
        sections.push(Section::Pre(
            "The scenario (scenario.yaml)".into(),
            read(&yaml)?,
        ));
    }
    write(
        dir,
        Page {
            title: format!("slicesim: {scenario}"),
            subtitle: format!(
                "Scenario {scenario}, seed {seed}: what service discovery costs with the \
                 Endpoints API and with EndpointSlices."
            ),
            sections,
        },
    )
}

/// Writes `dir/report.html` for `slicesim reproduce`'s directory.
pub fn write_reproduce(dir: &Path) -> Result<PathBuf, ReportError> {
    let (header, rows) = csv_table(&dir.join("claims.csv"))?;
    let mut sections = vec![Section::Table(
        "Published claims, checked (claims.csv)".into(),
        header,
        rows,
    )];
    sections.extend(svgs(dir, &["claims"])?);
    write(
        dir,
        Page {
            title: "slicesim reproduce: the published claims".into(),
            subtitle: "Each claim's stated figure against the simulated one, and the verdict."
                .into(),
            sections,
        },
    )
}

/// Writes `dir/report.html` for `slicesim compare --out dir`.
pub fn write_compare(dir: &Path, table: &str) -> Result<PathBuf, ReportError> {
    let mut sections = vec![Section::Pre("The runs side by side".into(), table.into())];
    sections.extend(svgs(dir, &["compare-cumulative-bytes", "compare-objects"])?);
    write(
        dir,
        Page {
            title: "slicesim compare".into(),
            subtitle: "Every summary figure of each run against the first, and their charts \
                       overlaid."
                .into(),
            sections,
        },
    )
}

/// Writes `dir/report.html` for a sweep's directory.
pub fn write_sweep(dir: &Path) -> Result<PathBuf, ReportError> {
    let (header, rows) = csv_table(&dir.join("sweep.csv"))?;
    let mut sections = Vec::new();
    sections.extend(svgs(&dir.join("charts"), &[])?);
    let shown_rows = rows
        .iter()
        .map(|r| {
            r.iter()
                .zip(&header)
                .map(|(c, h)| shown(h, c))
                .collect::<Vec<_>>()
        })
        .collect();
    sections.push(Section::Table(
        "Every run (sweep.csv)".into(),
        header,
        shown_rows,
    ));
    write(
        dir,
        Page {
            title: "slicesim sweep".into(),
            subtitle: format!("{}: the summary figures of every point.", dir.display()),
            sections,
        },
    )
}

fn write(dir: &Path, page: Page) -> Result<PathBuf, ReportError> {
    let path = dir.join("report.html");
    output::write_atomic(&path, page.html().as_bytes()).map_err(|source| ReportError::Write {
        path: path.display().to_string(),
        source,
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(esc("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
        let page = Page {
            title: "<x>".into(),
            subtitle: String::new(),
            sections: vec![Section::Pre("p".into(), "</pre><script>".into())],
        };
        let html = page.html();
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;/pre&gt;&lt;script&gt;"));
    }

    #[test]
    fn cells_read_in_units() {
        assert_eq!(shown("bytes_delivered", "1500000"), "1.50 MB");
        assert_eq!(shown("writes", "12345"), "12,345");
        assert_eq!(shown("cross_zone_fraction", "0.66666666"), "0.6667");
        assert_eq!(shown("api", "endpoints"), "endpoints");
    }
}
