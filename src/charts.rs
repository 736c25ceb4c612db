//! Charts, as SVG and PNG, drawn with plotters.
//!
//! A chart is described as data ([`Chart`]: series, reference lines, marked points) and drawn
//! by one function onto both backends, so the SVG and the PNG always agree. PNG text is
//! rasterised with the DejaVu Sans font bundled in `assets/fonts/` (registered through
//! plotters' `ab_glyph` feature), so it renders the same on a machine without system fonts.
//! Byte axes use decimal units (1 kB = 1,000 B), as the published claims do; every chart says
//! so in its footer.
//!
//! The run charts are drawn from the run's CSV files ([`RunData::read`]), so `slicesim plot
//! DIR` redraws exactly what `slicesim run` drew.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::de::DeserializeOwned;

use crate::output::{self, ObjectRow, SummaryRow, TimeseriesRow, ZoneRow};
use crate::size::human_bytes;

/// DejaVu Sans (Bitstream Vera licence, `assets/fonts/LICENSE-DejaVu.txt`).
static FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

/// Chart size in pixels (PNG) and user units (SVG).
pub const SIZE: (u32, u32) = (1100, 650);

/// The footer every byte chart carries.
pub const DECIMAL_UNITS: &str =
    "Decimal units: 1 kB = 1,000 B, 1 MB = 10^6 B, 1 GB = 10^9 B, 1 TB = 10^12 B.";

/// Colours: Endpoints warm, EndpointSlices cool; the same in every chart.
pub const ENDPOINTS: RGBColor = RGBColor(214, 39, 40);
pub const ENDPOINTS_LIGHT: RGBColor = RGBColor(255, 152, 150);
pub const SLICES: RGBColor = RGBColor(31, 119, 180);
pub const SLICES_LIGHT: RGBColor = RGBColor(120, 180, 230);
pub const GREY: RGBColor = RGBColor(140, 140, 140);

/// Why a chart could not be drawn or written.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("{path}: {message}")]
    Read { path: String, message: String },
    #[error("{path}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("drawing {chart}: {message}")]
    Draw { chart: String, message: String },
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Style {
    Line,
    Dashed,
    /// Bars centred on each x, this wide (in x units), shifted by `offset`.
    Bars {
        width: f64,
        offset: f64,
    },
    /// A light band: `points` go along its top edge and back along its bottom edge.
    Band,
}

#[derive(Clone, Debug)]
pub struct Series {
    pub label: String,
    pub color: RGBColor,
    pub style: Style,
    pub points: Vec<(f64, f64)>,
}

/// What an axis shows, which decides its tick labels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Quantity {
    /// Bytes: on a linear axis scaled to one decimal unit named in the label, on a log axis
    /// each tick in its own unit.
    Bytes,
    /// A plain number (a count, or a time already in the unit its label names), with
    /// thousands separators.
    Count,
    /// A number that need not be whole (a ratio): every tick labelled, however short the axis.
    Ratio,
}

#[derive(Clone, Debug)]
pub struct Axis {
    pub label: String,
    pub quantity: Quantity,
    pub log: bool,
}

/// A labelled point (a published claim).
#[derive(Clone, Debug)]
pub struct Marker {
    pub label: String,
    pub x: f64,
    pub y: f64,
    pub color: RGBColor,
}

/// A chart as data.
#[derive(Clone, Debug)]
pub struct Chart {
    /// File stem: `DIR/<name>.svg` and `DIR/<name>.png`.
    pub name: String,
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
    /// Horizontal reference lines (y, label).
    pub hlines: Vec<(f64, String)>,
    /// Vertical reference lines (x, label).
    pub vlines: Vec<(f64, String)>,
    pub markers: Vec<Marker>,
    pub footer: String,
    /// A fixed x range instead of the data's.
    pub x_range: Option<(f64, f64)>,
    /// Names of the x values 0, 1, 2, ... (a parameter that is not a number); no other ticks.
    pub x_categories: Vec<String>,
}

impl Chart {
    /// A chart of these series, with no reference lines, markers, fixed range or categories.
    pub fn new(name: &str, title: String, x: Axis, y: Axis, series: Vec<Series>) -> Chart {
        Chart {
            name: name.into(),
            title,
            x,
            y,
            series,
            hlines: Vec::new(),
            vlines: Vec::new(),
            markers: Vec::new(),
            footer: DECIMAL_UNITS.into(),
            x_range: None,
            x_categories: Vec::new(),
        }
    }
}

/// One or more charts in one picture: stacked, or in a grid of `columns`.
#[derive(Clone, Debug)]
pub struct Figure {
    pub name: String,
    pub panels: Vec<Chart>,
    pub columns: usize,
    /// Pixels (PNG) and user units (SVG).
    pub size: (u32, u32),
}

impl Figure {
    /// Charts stacked one above the other, at the usual size.
    pub fn stack(name: impl Into<String>, panels: Vec<Chart>) -> Figure {
        Figure {
            name: name.into(),
            panels,
            columns: 1,
            size: SIZE,
        }
    }
}

impl From<Chart> for Figure {
    fn from(c: Chart) -> Figure {
        Figure::stack(c.name.clone(), vec![c])
    }
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are compiled in and tested; a failure would be a broken build.
        if plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_err() {
            eprintln!("warning: the bundled font could not be loaded; PNG text may be missing");
        }
    });
}

/// Draws a figure into `dir` as `<name>.svg` and `<name>.png`, each written atomically.
/// Returns the two paths.
pub fn write_figure(fig: &Figure, dir: &Path) -> Result<Vec<PathBuf>, ChartError> {
    register_font();
    let draw_err = |message: String| ChartError::Draw {
        chart: fig.name.clone(),
        message,
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, fig.size).into_drawing_area();
        draw_figure(&root, fig).map_err(draw_err)?;
        root.present().map_err(|e| draw_err(e.to_string()))?;
    }
    let rgb = render_rgb(fig).map_err(draw_err)?;
    let png = encode_png(&rgb, fig.size.0, fig.size.1).map_err(|e| draw_err(e.to_string()))?;
    let mut written = Vec::new();
    for (ext, bytes) in [("svg", svg.into_bytes()), ("png", png)] {
        let path = dir.join(format!("{}.{ext}", fig.name));
        output::write_atomic(&path, &bytes).map_err(|source| ChartError::Write {
            path: path.display().to_string(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

/// The figure rasterised (RGB, 8 bits per channel) with the bundled font.
fn render_rgb(fig: &Figure) -> Result<Vec<u8>, String> {
    register_font();
    let (w, h) = fig.size;
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, fig.size).into_drawing_area();
        draw_figure(&root, fig)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(rgb)
}

fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::High);
        let mut writer = enc.write_header()?;
        writer.write_image_data(rgb)?;
    }
    Ok(out)
}

fn draw_figure<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    fig: &Figure,
) -> Result<Vec<Layout>, String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let footer = fig
        .panels
        .iter()
        .map(|p| p.footer.as_str())
        .find(|f| !f.is_empty())
        .unwrap_or("");
    let (w, h) = root.dim_in_pixel();
    let font = (FAMILY, 15).into_font().color(&GREY);
    // The footer wraps rather than run off the edge.
    let lines = wrap(root, footer, &font, w.saturating_sub(28));
    let foot_h = 12 + 19 * lines.len() as u32;
    let (main, foot) = root.split_vertically(h.saturating_sub(foot_h));
    for (i, line) in lines.iter().enumerate() {
        foot.draw(&Text::new(
            line.clone(),
            (14, 4 + 19 * i as i32),
            font.clone(),
        ))
        .map_err(|e| e.to_string())?;
    }
    let columns = fig.columns.max(1);
    let panels = main.split_evenly((fig.panels.len().div_ceil(columns), columns));
    // One legend width for every panel, so that their time axes line up.
    let legend_w = panels
        .iter()
        .zip(&fig.panels)
        .map(|(area, chart)| legend_width(area, &legend_entries(chart)))
        .max()
        .unwrap_or(0);
    panels
        .iter()
        .zip(&fig.panels)
        .map(|(area, chart)| draw_chart(area, chart, legend_w))
        .collect()
}

/// The data range of a chart along one axis, padded by `pad` of its span (room for the
/// legend); positive for a log axis.
fn range(values: impl Iterator<Item = f64>, log: bool, from_zero: bool, pad: f64) -> Range<f64> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return if log { 1.0..10.0 } else { 0.0..1.0 };
    }
    if log {
        (lo / 2.0)..(hi * 2.0)
    } else {
        let lo = if from_zero { lo.min(0.0) } else { lo };
        let hi = if hi <= lo { lo + 1.0 } else { hi };
        lo..(hi + (hi - lo) * pad)
    }
}

/// The decimal unit that suits a maximum: (divisor, name).
pub fn byte_unit(max: f64) -> (f64, &'static str) {
    [
        (1e15, "PB"),
        (1e12, "TB"),
        (1e9, "GB"),
        (1e6, "MB"),
        (1e3, "kB"),
    ]
    .into_iter()
    .find(|(d, _)| max >= *d)
    .unwrap_or((1.0, "B"))
}

/// A tick value as text, e.g. `2.5`, `40`, `1,000`.
fn number(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if v.abs() >= 1000.0 && v.fract() == 0.0 {
        let s = output::thousands(v.abs() as u64);
        return if v < 0.0 { format!("-{s}") } else { s };
    }
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Formats ticks and names the axis for one quantity over a value range.
struct Ticks {
    /// The axis spans fewer than ten units.
    short: bool,
    /// Decades a log axis spans.
    decades: f64,
    scale: f64,
    unit: &'static str,
    quantity: Quantity,
    log: bool,
}

impl Ticks {
    fn new(axis: &Axis, r: &Range<f64>) -> Ticks {
        let (scale, unit) = match axis.quantity {
            Quantity::Bytes if !axis.log => byte_unit(r.end.abs().max(r.start.abs())),
            _ => (1.0, ""),
        };
        Ticks {
            short: r.end - r.start <= 10.0,
            decades: if axis.log && r.start > 0.0 {
                (r.end / r.start).log10()
            } else {
                0.0
            },
            scale,
            unit,
            quantity: axis.quantity,
            log: axis.log,
        }
    }

    fn label(&self, axis: &Axis) -> String {
        match (self.quantity, self.log) {
            (Quantity::Bytes, true) => format!("{} (bytes, log scale)", axis.label),
            (Quantity::Count, true) => format!("{} (log scale)", axis.label),
            (Quantity::Count | Quantity::Ratio, false) => axis.label.clone(),
            (Quantity::Ratio, true) => format!("{} (log scale)", axis.label),
            (Quantity::Bytes, false) => format!("{} ({})", axis.label, self.unit),
        }
    }

    fn format(&self, v: f64) -> String {
        // A log axis labels 1, 2 and 5 times a power of ten (only the powers across many
        // decades): never a crowd of labels on a narrow range.
        if self.log && v > 0.0 {
            let mantissa = v / 10f64.powf(v.log10().floor());
            let keep: &[f64] = if self.decades > 4.0 {
                &[1.0]
            } else {
                &[1.0, 2.0, 5.0]
            };
            if !keep.iter().any(|k| (mantissa - k).abs() < 1e-6) {
                return String::new();
            }
        }
        match (self.quantity, self.log) {
            (Quantity::Bytes, true) => {
                let (d, u) = byte_unit(v);
                format!("{} {u}", number(v / d))
            }
            // Counts are whole: no ticks between them on a short axis.
            (Quantity::Count, false) if self.short && (v - v.round()).abs() > 1e-6 => String::new(),
            _ => number(v / self.scale),
        }
    }
}

/// Where a chart's marker labels went and what they had to avoid, in pixels of the figure:
/// what [`layout`] returns for tests.
#[derive(Clone, Debug, Default)]
pub struct Layout {
    /// The marker labels' boxes.
    pub labels: Vec<Rect>,
    /// The points of the drawn lines (series and reference lines, sampled every few pixels)
    /// and the markers' centres.
    pub points: Vec<(i32, i32)>,
    /// The legend's box (outside the plot).
    pub legend: Option<Rect>,
    /// The plotting area's box.
    pub plot: Rect,
}

/// A box in pixels: left, top, right, bottom.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rect {
    pub x0: i32,
    pub y0: i32,
    pub x1: i32,
    pub y1: i32,
}

impl Rect {
    pub fn intersects(&self, o: &Rect) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }

    pub fn contains(&self, (x, y): (i32, i32)) -> bool {
        self.x0 <= x && x <= self.x1 && self.y0 <= y && y <= self.y1
    }

    fn inside(&self, o: &Rect) -> bool {
        o.x0 <= self.x0 && self.x1 <= o.x1 && o.y0 <= self.y0 && self.y1 <= o.y1
    }

    fn grown(&self, by: i32) -> Rect {
        Rect {
            x0: self.x0 - by,
            y0: self.y0 - by,
            x1: self.x1 + by,
            y1: self.y1 + by,
        }
    }
}

/// Draws each chart of the figure on a scratch canvas and returns where its labels went.
pub fn layout(fig: &Figure) -> Result<Vec<Layout>, String> {
    register_font();
    let mut svg = String::new();
    let root = SVGBackend::with_string(&mut svg, fig.size).into_drawing_area();
    draw_figure(&root, fig)
}

/// What a legend entry shows: a short stroke in the style of what it names.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Swatch {
    Line,
    Dashed,
    /// A reference line: long dashes, or dots for vertical ones.
    Reference {
        dash: u32,
        gap: u32,
    },
    Band,
    Bar,
}

struct Entry {
    label: String,
    color: RGBColor,
    swatch: Swatch,
}

/// Width of the legend column, at most.
const LEGEND_MAX: u32 = 330;

/// The legend's entries: reference lines, then the labelled series, in order.
fn legend_entries(c: &Chart) -> Vec<Entry> {
    let hl = c.hlines.iter().map(|(_, l)| Entry {
        label: l.clone(),
        color: BLACK,
        swatch: Swatch::Reference { dash: 8, gap: 6 },
    });
    let vl = c.vlines.iter().map(|(_, l)| Entry {
        label: l.clone(),
        color: GREY,
        swatch: Swatch::Reference { dash: 3, gap: 4 },
    });
    let series = c
        .series
        .iter()
        .filter(|s| !s.label.is_empty())
        .map(|s| Entry {
            label: s.label.clone(),
            color: s.color,
            swatch: match s.style {
                Style::Line => Swatch::Line,
                Style::Dashed => Swatch::Dashed,
                Style::Band => Swatch::Band,
                Style::Bars { .. } => Swatch::Bar,
            },
        });
    hl.chain(vl).chain(series).collect()
}

/// Splits a legend label into lines that fit `width` pixels (at word boundaries).
fn wrap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    font: &TextStyle,
    width: u32,
) -> Vec<String> {
    let fits = |t: &str| {
        area.estimate_text_size(t, font)
            .map_or(true, |(w, _)| w <= width)
    };
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if fits(&candidate) || line.is_empty() {
            line = candidate;
        } else {
            lines.push(std::mem::take(&mut line));
            line = word.to_string();
        }
    }
    lines.push(line);
    lines
}

/// Draws the legend in `area` (a column right of the plot), from `top`; returns its box.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[Entry],
    top: i32,
) -> Result<Rect, String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let font = TextStyle::from((FAMILY, 14).into_font());
    let (w, _) = area.dim_in_pixel();
    let text_w = w.saturating_sub(46);
    let mut y = top;
    let mut right = 0;
    for en in entries {
        let lines = wrap(area, &en.label, &font, text_w);
        let (x0, x1, ym) = (6, 30, y + 8);
        let stroke = en.color.stroke_width(3);
        match en.swatch {
            Swatch::Line => area
                .draw(&PathElement::new(vec![(x0, ym), (x1, ym)], stroke))
                .map_err(e)?,
            Swatch::Dashed => {
                for dash in DashedLineSeries::new(vec![(x0, ym), (x1, ym)], 7, 4, stroke) {
                    area.draw(&dash).map_err(e)?;
                }
            }
            Swatch::Reference { dash, gap } => {
                let style = en.color.stroke_width(2);
                for d in DashedLineSeries::new(vec![(x0, ym), (x1, ym)], dash, gap, style) {
                    area.draw(&d).map_err(e)?;
                }
            }
            Swatch::Band => area
                .draw(&Rectangle::new(
                    [(x0, ym - 6), (x1, ym + 6)],
                    en.color.mix(0.25).filled(),
                ))
                .map_err(e)?,
            Swatch::Bar => area
                .draw(&Rectangle::new(
                    [(x0 + 6, ym - 6), (x1 - 6, ym + 6)],
                    en.color.filled(),
                ))
                .map_err(e)?,
        }
        for line in &lines {
            area.draw(&Text::new(line.clone(), (38, y), font.clone()))
                .map_err(e)?;
            let lw = area.estimate_text_size(line, &font).map_or(0, |s| s.0) as i32;
            right = right.max(38 + lw);
            y += 17;
        }
        y += 5;
    }
    let (ox, oy) = area.get_base_pixel();
    Ok(Rect {
        x0: ox,
        y0: oy + top,
        x1: ox + right,
        y1: oy + y,
    })
}

/// How wide the legend column must be for `entries` (0 without any).
fn legend_width<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, entries: &[Entry]) -> u32 {
    if entries.is_empty() {
        return 0;
    }
    let (w, _) = area.dim_in_pixel();
    let font = TextStyle::from((FAMILY, 14).into_font());
    let widest = entries
        .iter()
        .map(|en| area.estimate_text_size(&en.label, &font).map_or(0, |s| s.0))
        .max()
        .unwrap_or(0);
    (widest + 56).clamp(140, LEGEND_MAX.min(w * 2 / 5))
}

fn draw_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    c: &Chart,
    legend_w: u32,
) -> Result<Layout, String> {
    let xs = c
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .chain(c.vlines.iter().map(|l| l.0))
        .chain(c.markers.iter().map(|m| m.x));
    let ys = c
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .chain(c.hlines.iter().map(|l| l.0))
        .chain(c.markers.iter().map(|m| m.y));
    let bars = c
        .series
        .iter()
        .any(|s| matches!(s.style, Style::Bars { .. }));
    let xr = match c.x_range {
        Some((lo, hi)) => lo..hi,
        None => range(xs, c.x.log, bars, 0.05),
    };
    let yr = range(ys, c.y.log, true, if bars { 0.15 } else { 0.06 });
    // The legend goes in a column right of the plot, never over data.
    let entries = legend_entries(c);
    let (w, _) = area.dim_in_pixel();
    let (plot, side) = area.split_horizontally(w - legend_w.min(w / 2));
    let mut layout = match (c.x.log, c.y.log) {
        (false, false) => draw_on(&plot, c, xr.clone(), yr.clone(), xr, yr),
        (false, true) => draw_on(&plot, c, xr.clone(), yr.clone().log_scale(), xr, yr),
        (true, false) => draw_on(&plot, c, xr.clone().log_scale(), yr.clone(), xr, yr),
        (true, true) => draw_on(
            &plot,
            c,
            xr.clone().log_scale(),
            yr.clone().log_scale(),
            xr,
            yr,
        ),
    }?;
    if !entries.is_empty() {
        let top = layout.plot.y0 - side.get_base_pixel().1;
        layout.legend = Some(draw_legend(&side, &entries, top)?);
    }
    Ok(layout)
}

/// Points every few pixels along a polyline (in pixels).
fn sample_line(points: &[(i32, i32)], out: &mut Vec<(i32, i32)>) {
    for w in points.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        let steps = ((x1 - x0).abs().max((y1 - y0).abs()) / 3).max(1);
        for k in 0..=steps {
            out.push((x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps));
        }
    }
    if points.len() == 1 {
        out.extend_from_slice(points);
    }
}

/// A marker's point and its label's size, in pixels.
type Sized = ((i32, i32), (i32, i32));

/// A reference line: its two ends, colour, and (dash, gap).
type Reference = (Vec<(f64, f64)>, RGBColor, (u32, u32));

/// Places each marker's label (a `w`×`h` box) near its point where it covers no line, no
/// marker and no other label, inside the plot; the least crowded candidate when none is free.
fn place_labels(markers: &[Sized], obstacles: &[(i32, i32)], plot: Rect) -> Vec<Rect> {
    let mut placed: Vec<Rect> = Vec::new();
    for &((px, py), (w, h)) in markers {
        // Beside the point (right, left), then above and below it, then further out; the
        // nearest free one wins.
        let mut candidates = Vec::new();
        for extra in [0, 14, 28, 44, 62, 84, 120, 170] {
            for dy in [0, -extra, extra] {
                for x0 in [px + 10 + extra / 2, px - 10 - w - extra / 2] {
                    let y0 = py - h / 2 + dy;
                    candidates.push(Rect {
                        x0,
                        y0,
                        x1: x0 + w,
                        y1: y0 + h,
                    });
                }
            }
            for y0 in [py - 10 - h - extra, py + 10 + extra] {
                let x0 = px - w / 2;
                candidates.push(Rect {
                    x0,
                    y0,
                    x1: x0 + w,
                    y1: y0 + h,
                });
            }
        }
        let cost = |r: &Rect| {
            let pad = r.grown(2);
            let hits = obstacles.iter().filter(|p| pad.contains(**p)).count()
                + markers
                    .iter()
                    .filter(|((mx, my), _)| pad.grown(6).contains((*mx, *my)))
                    .count()
                    * 100
                + placed.iter().filter(|o| o.intersects(&pad)).count() * 1000;
            hits + if r.inside(&plot) { 0 } else { 10_000 }
        };
        let best = candidates
            .iter()
            .enumerate()
            .min_by_key(|(i, r)| (cost(r), *i))
            .map(|(_, r)| *r)
            .unwrap_or_default();
        placed.push(best);
    }
    placed
}

fn draw_on<DB, X, Y>(
    area: &DrawingArea<DB, Shift>,
    c: &Chart,
    x: X,
    y: Y,
    xr: Range<f64>,
    yr: Range<f64>,
) -> Result<Layout, String>
where
    DB: DrawingBackend,
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let xt = Ticks::new(&c.x, &xr);
    let yt = Ticks::new(&c.y, &yr);
    let mut chart = ChartBuilder::on(area)
        .caption(&c.title, (FAMILY, 22))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(88)
        .build_cartesian_2d(x, y)
        .map_err(e)?;
    let xf = |v: &f64| {
        if c.x_categories.is_empty() {
            xt.format(*v)
        } else if (v - v.round()).abs() < 1e-6 && *v >= 0.0 {
            c.x_categories
                .get(v.round() as usize)
                .cloned()
                .unwrap_or_default()
        } else {
            String::new()
        }
    };
    let yf = |v: &f64| yt.format(*v);
    chart
        .configure_mesh()
        .x_desc(xt.label(&c.x))
        .y_desc(yt.label(&c.y))
        .x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .axis_desc_style((FAMILY, 16))
        .label_style((FAMILY, 14))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(215, 215, 215))
        // Few enough lines that a short panel is not a grey band.
        .y_labels(8)
        .max_light_lines(4)
        .draw()
        .map_err(e)?;
    let mut layout = Layout::default();
    {
        let (xs, ys) = chart.plotting_area().get_pixel_range();
        layout.plot = Rect {
            x0: xs.start,
            y0: ys.start,
            x1: xs.end,
            y1: ys.end,
        };
    }
    // Reference lines: horizontal ones black and long-dashed, vertical ones grey and dotted.
    let references: Vec<Reference> = c
        .hlines
        .iter()
        .map(|(v, _)| (vec![(xr.start, *v), (xr.end, *v)], BLACK, (8, 6)))
        .chain(
            c.vlines
                .iter()
                .map(|(v, _)| (vec![(*v, yr.start), (*v, yr.end)], GREY, (3, 4))),
        )
        .collect();
    // In pixels: what the marker labels must avoid, and the markers.
    let font = TextStyle::from((FAMILY, 13).into_font());
    let sized: Vec<Sized> = {
        let px = |p: &(f64, f64)| chart.backend_coord(p);
        for (pts, _, _) in &references {
            sample_line(&pts.iter().map(px).collect::<Vec<_>>(), &mut layout.points);
        }
        for s in c
            .series
            .iter()
            .filter(|s| matches!(s.style, Style::Line | Style::Dashed))
        {
            sample_line(
                &s.points.iter().map(px).collect::<Vec<_>>(),
                &mut layout.points,
            );
        }
        c.markers
            .iter()
            .map(|m| {
                let (w, h) = area
                    .estimate_text_size(&m.label, &font)
                    .map_or((0, 0), |(w, h)| (w as i32, h as i32));
                (px(&(m.x, m.y)), (w, h))
            })
            .collect()
    };
    for (pts, color, (dash, gap)) in references {
        chart
            .draw_series(DashedLineSeries::new(pts, dash, gap, color.stroke_width(2)))
            .map_err(e)?;
    }
    // Bands first, under the lines.
    for s in c.series.iter().filter(|s| s.style == Style::Band) {
        chart
            .draw_series(std::iter::once(Polygon::new(
                s.points.clone(),
                s.color.mix(0.18).filled(),
            )))
            .map_err(e)?;
    }
    for s in c.series.iter().filter(|s| s.style != Style::Band) {
        let color = s.color;
        match s.style {
            Style::Line | Style::Band => chart
                .draw_series(LineSeries::new(s.points.clone(), color.stroke_width(2)))
                .map(|_| ())
                .map_err(e)?,
            Style::Dashed => chart
                .draw_series(DashedLineSeries::new(
                    s.points.clone(),
                    10,
                    5,
                    color.stroke_width(2),
                ))
                .map(|_| ())
                .map_err(e)?,
            Style::Bars { width, offset } => chart
                .draw_series(s.points.iter().map(|&(x, y)| {
                    let x0 = x + offset - width / 2.0;
                    Rectangle::new([(x0, 0.0), (x0 + width, y)], color.filled())
                }))
                .map(|_| ())
                .map_err(e)?,
        }
    }
    // Markers, their labels where they cover nothing.
    let boxes = place_labels(&sized, &layout.points, layout.plot);
    for ((m, (at, _)), b) in c.markers.iter().zip(&sized).zip(&boxes) {
        let color = m.color;
        let (dx, dy) = (b.x0 - at.0, b.y0 - at.1);
        // A label set apart from its point gets a thin leader to it.
        let near = (at.0.clamp(b.x0, b.x1), at.1.clamp(b.y0, b.y1));
        if (near.0 - at.0).abs().max((near.1 - at.1).abs()) > 14 {
            let to = (near.0 - at.0, near.1 - at.1);
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at((m.x, m.y))
                        + PathElement::new(vec![(0, 0), to], GREY.stroke_width(1)),
                ))
                .map_err(e)?;
        }
        chart
            .draw_series(std::iter::once(
                EmptyElement::at((m.x, m.y))
                    + Circle::new((0, 0), 6, ShapeStyle::from(&color).filled())
                    + Circle::new((0, 0), 6, ShapeStyle::from(&BLACK).stroke_width(1))
                    + Text::new(
                        m.label.clone(),
                        (dx, dy),
                        font.pos(Pos::new(HPos::Left, VPos::Top)),
                    ),
            ))
            .map_err(e)?;
    }
    layout.points.extend(sized.iter().map(|(p, _)| *p));
    layout.labels = boxes;
    Ok(layout)
}

/// A run's CSV files, as `slicesim run` wrote them.
pub struct RunData {
    pub summary: Vec<SummaryRow>,
    pub timeseries: Vec<TimeseriesRow>,
    pub objects: Vec<ObjectRow>,
    /// `zones.csv`, when the run has one.
    pub zones: Vec<ZoneRow>,
    /// `external.csv`, when the run has one.
    pub external: Vec<crate::external::Row>,
}

fn read_csv<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, ChartError> {
    let err = |message: String| ChartError::Read {
        path: path.display().to_string(),
        message,
    };
    let mut r = csv::Reader::from_path(path).map_err(|e| err(e.to_string()))?;
    r.deserialize()
        .collect::<Result<Vec<T>, _>>()
        .map_err(|e| err(e.to_string()))
}

/// A CSV file a run writes only sometimes: its rows, or none when it is not there.
fn read_optional<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, ChartError> {
    if path.exists() {
        read_csv(path)
    } else {
        Ok(Vec::new())
    }
}

impl RunData {
    /// Reads `summary.csv`, `timeseries.csv` and `objects.csv` from a run's directory.
    pub fn read(dir: &Path) -> Result<RunData, ChartError> {
        Ok(RunData {
            summary: read_csv(&dir.join("summary.csv"))?,
            timeseries: read_csv(&dir.join("timeseries.csv"))?,
            objects: read_csv(&dir.join("objects.csv"))?,
            zones: read_optional(&dir.join("zones.csv"))?,
            external: read_optional(&dir.join("external.csv"))?,
        })
    }

    fn scenario(&self) -> &str {
        self.summary.first().map_or("", |r| r.scenario.as_str())
    }

    /// The time bucket's length in seconds: the step between the first two buckets (1 s for
    /// a run of one bucket).
    fn bucket(&self) -> f64 {
        let mut times = self
            .timeseries
            .iter()
            .filter(|r| r.api == "endpoints")
            .map(|r| r.t_seconds);
        match (times.next(), times.next()) {
            (Some(a), Some(b)) => b - a,
            _ => 1.0,
        }
    }

    /// The timeseries of one API as (t, value) points.
    fn series(&self, api: &str, value: &dyn Fn(&TimeseriesRow) -> f64) -> Vec<(f64, f64)> {
        self.timeseries
            .iter()
            .filter(|r| r.api == api)
            .map(|r| (r.t_seconds, value(r)))
            .collect()
    }
}

const APIS: [(&str, &str, RGBColor); 2] = [
    ("endpoints", "Endpoints", ENDPOINTS),
    ("endpointslices", "EndpointSlices", SLICES),
];

/// Simulated time in minutes for runs longer than 10 minutes, else in seconds.
fn time_unit(data: &RunData) -> (f64, &'static str) {
    time_unit_to(
        data.timeseries
            .iter()
            .map(|r| r.t_seconds)
            .fold(0.0, f64::max),
    )
}

/// The time unit of charts that run to `end` seconds: (divisor, name).
fn time_unit_to(end: f64) -> (f64, &'static str) {
    if end > 600.0 {
        (60.0, "min")
    } else {
        (1.0, "s")
    }
}

fn per_api(data: &RunData, value: impl Fn(&TimeseriesRow) -> f64) -> Vec<Series> {
    let (div, _) = time_unit(data);
    APIS.iter()
        .map(|(api, label, color)| Series {
            label: (*label).into(),
            color: *color,
            style: Style::Line,
            points: data
                .series(api, &value)
                .into_iter()
                .map(|(t, v)| (t / div, v))
                .collect(),
        })
        .collect()
}

/// One line per routing of `zones.csv` that carried requests: the Endpoints API's, then the
/// slices' per kind of Service with topology (Auto, PreferSameZone, ...). Buckets without
/// requests of that routing are left out.
fn per_routing(data: &RunData, value: impl Fn(&ZoneRow) -> f64) -> Vec<Series> {
    let (div, _) = time_unit(data);
    let mut groups: Vec<(&str, &str)> = Vec::new();
    // Slices without hints route as the Endpoints API does: its line stands for them.
    let shown =
        |r: &&ZoneRow| r.requests > 0.0 && !(r.api == "endpointslices" && r.routing == "no hints");
    for r in data.zones.iter().filter(shown) {
        if !groups.contains(&(r.api.as_str(), r.routing.as_str())) {
            groups.push((&r.api, &r.routing));
        }
    }
    let mut shade = 0;
    groups
        .into_iter()
        .map(|(api, routing)| {
            let (label, color) = if api == "endpoints" {
                (format!("Endpoints ({routing})"), ENDPOINTS)
            } else {
                shade += 1;
                (
                    format!("EndpointSlices: {routing}"),
                    SLICES_SHADES[(shade - 1) % MAX_SWEEP_LINES],
                )
            };
            Series {
                label,
                color,
                style: Style::Line,
                points: data
                    .zones
                    .iter()
                    .filter(|r| r.api == api && r.routing == routing && r.requests > 0.0)
                    .map(|r| (r.t_seconds / div, value(r)))
                    .collect(),
            }
        })
        .collect()
}

fn cumulative(mut points: Vec<(f64, f64)>, bucket: f64) -> Vec<(f64, f64)> {
    // A bucket's bytes have all arrived by its end.
    let mut sum = 0.0;
    let mut out = vec![(points.first().map_or(0.0, |p| p.0), 0.0)];
    for p in &mut points {
        sum += p.1;
        out.push((p.0 + bucket, sum));
    }
    out
}

/// The charts of a run, from its CSV data.
pub fn run_figures(data: &RunData) -> Vec<Figure> {
    let scenario = data.scenario();
    let bucket = data.bucket();
    let (div, unit) = time_unit(data);
    let time_axis = || Axis {
        label: format!("simulated time ({unit})"),
        quantity: Quantity::Count,
        log: false,
    };
    let bytes_axis = |label: &str, log: bool| Axis {
        label: label.into(),
        quantity: Quantity::Bytes,
        log,
    };
    let chart = |name: &str, title: String, y: Axis, series: Vec<Series>| {
        Chart::new(name, title, time_axis(), y, series)
    };
    let cumulative_series: Vec<Series> = per_api(data, |r| r.bytes_delivered as f64)
        .into_iter()
        .map(|mut s| {
            s.points = cumulative(s.points, bucket / div);
            let total = s.points.last().map_or(0.0, |p| p.1);
            s.label = format!("{}: {} in all", s.label, human_bytes(total as u64));
            s
        })
        .collect();
    let mut figures: Vec<Figure> = vec![
        chart(
            "cumulative-bytes",
            format!("{scenario}: cumulative bytes delivered to watchers"),
            bytes_axis("bytes delivered", false),
            cumulative_series.clone(),
        )
        .into(),
        chart(
            "cumulative-bytes-log",
            format!("{scenario}: cumulative bytes delivered to watchers (log)"),
            bytes_axis("bytes delivered", true),
            cumulative_series,
        )
        .into(),
        bytes_per_bucket(
            data,
            chart(
                "bytes-per-bucket",
                format!(
                    "{scenario}: bytes delivered to watchers per {} s",
                    number(bucket)
                ),
                bytes_axis("bytes delivered in the bucket", false),
                per_api(data, |r| r.bytes_delivered as f64),
            ),
        )
        .into(),
        Figure::stack(
            "objects",
            vec![
                objects_stored(data, |y, series| {
                    chart("objects", format!("{scenario}: objects stored"), y, series)
                }),
                {
                    let mut c = chart(
                        "objects",
                        format!("{scenario}: largest object (protobuf, as etcd stores it)"),
                        bytes_axis("largest object", true),
                        per_api(data, |r| r.max_object_proto_bytes as f64),
                    );
                    let limit = data.summary.first().map_or(0, |r| r.etcd_max_request_bytes);
                    if limit > 0 {
                        c.hlines.push((
                            limit as f64,
                            format!(
                                "etcd's request limit, {} B: a larger write is refused",
                                output::thousands(limit)
                            ),
                        ));
                    }
                    c
                },
            ],
        ),
    ];
    // Where the API servers delay events (an `apiserver:` block, slow watchers, batching).
    let delayed = data
        .timeseries
        .iter()
        .any(|r| r.propagation_max_s > 0.0 || r.egress_utilisation > 0.0);
    let relisted = data.timeseries.iter().any(|r| r.bytes_relist > 0);
    if delayed || relisted {
        let mut panels = vec![
            chart(
                "delays",
                format!("{scenario}: propagation delay, p99 of the writes of each bucket"),
                count_axis("p99 delay (s)"),
                per_api(data, |r| r.propagation_p99_s),
            ),
            chart(
                "delays",
                format!("{scenario}: API servers' egress in use"),
                count_axis("egress in use (%)"),
                per_api(data, |r| 100.0 * r.egress_utilisation),
            ),
        ];
        if relisted {
            panels.push(chart(
                "delays",
                format!(
                    "{scenario}: bytes of the LISTs of re-listing watchers, per {} s",
                    number(bucket)
                ),
                bytes_axis("bytes re-listed", false),
                per_api(data, |r| r.bytes_relist as f64),
            ));
        }
        figures.push(Figure::stack("delays", panels));
    }
    // Where topology routed requests at some moment: each kind of routing against the
    // Endpoints API's.
    if data
        .zones
        .iter()
        .any(|r| r.hints_active_fraction > 0.0 || r.dropped_fraction > 0.0)
    {
        let mut panels = vec![
            chart(
                "zones",
                format!("{scenario}: requests crossing zones"),
                count_axis("crossing zones (%)"),
                per_routing(data, |r| 100.0 * r.cross_zone_fraction),
            ),
            chart(
                "zones",
                format!("{scenario}: busiest endpoint's load over the mean"),
                Axis {
                    label: "load / mean".into(),
                    quantity: Quantity::Ratio,
                    log: false,
                },
                per_routing(data, |r| r.max_endpoint_load_ratio),
            ),
            chart(
                "zones",
                format!("{scenario}: requests routed by topology hints"),
                count_axis("routed by hints (%)"),
                per_routing(data, |r| 100.0 * r.hints_active_fraction),
            ),
        ];
        if data.zones.iter().any(|r| r.dropped_fraction > 0.0) {
            panels.push(chart(
                "zones",
                format!("{scenario}: requests without a local endpoint (Local)"),
                count_axis("dropped (%)"),
                per_routing(data, |r| 100.0 * r.dropped_fraction),
            ));
        }
        figures.push(Figure::stack("zones", panels));
    }
    if let Some(f) = slice_fill_figure(data) {
        figures.push(f);
    }
    if let Some(f) = external_figure(data) {
        figures.push(f);
    }
    figures
}

/// The colour of a strategy (`external.csv`'s `strategy`).
fn strategy_color(strategy: &str) -> RGBColor {
    match strategy {
        "naive" => ENDPOINTS,
        "diffing" => RGBColor(255, 127, 14),
        "upstream" => SLICES,
        _ => RGBColor(148, 103, 189),
    }
}

/// The external Services side by side: bytes delivered to watchers, stale endpoint-seconds
/// and p99 staleness, one bar each (its value in the legend).
fn external_figure(data: &RunData) -> Option<Figure> {
    if data.external.is_empty() {
        return None;
    }
    let rows = &data.external;
    let names: Vec<String> = rows
        .iter()
        .map(|r| {
            r.service
                .rsplit('/')
                .next()
                .unwrap_or(&r.service)
                .to_string()
        })
        .collect();
    let (bytes_div, bytes_unit) = byte_unit(
        rows.iter()
            .map(|r| r.bytes_delivered as f64)
            .fold(0.0, f64::max),
    );
    let panel = |name: &str,
                 title: &str,
                 y: &str,
                 value: &dyn Fn(&crate::external::Row) -> f64,
                 shown: &dyn Fn(&crate::external::Row) -> String| {
        let series = rows
            .iter()
            .enumerate()
            .map(|(k, r)| Series {
                label: format!("{} ({}): {}", names[k], r.strategy, shown(r)),
                color: strategy_color(&r.strategy),
                style: Style::Bars {
                    width: 0.6,
                    offset: 0.0,
                },
                points: vec![(k as f64, value(r))],
            })
            .collect();
        let mut c = Chart::new(
            name,
            title.to_string(),
            Axis {
                label: String::new(),
                quantity: Quantity::Count,
                log: false,
            },
            Axis {
                label: y.into(),
                quantity: Quantity::Ratio,
                log: false,
            },
            series,
        );
        c.x_categories = names.clone();
        c.x_range = Some((-0.5, rows.len() as f64 - 0.5));
        c.footer = String::new();
        c
    };
    let scenario = data.scenario();
    let mut last = panel(
        "external-staleness",
        "p99 staleness: a registry change until the slices show it",
        "seconds",
        &|r| r.staleness_p99_s,
        &|r| format!("{:.1} s", r.staleness_p99_s),
    );
    last.footer = "Stale: published after the instance left the registry or failed its health \
                   check. A change never shown counts until the run's end. Decimal units."
        .into();
    let panels = vec![
        panel(
            "external-bytes",
            &format!("{scenario}: bytes delivered to the watchers of EndpointSlices"),
            &format!("bytes ({bytes_unit})"),
            &|r| r.bytes_delivered as f64 / bytes_div,
            &|r| human_bytes(r.bytes_delivered),
        ),
        panel(
            "external-stale",
            "stale endpoint-seconds (stale endpoints x time)",
            "endpoint-seconds",
            &|r| r.stale_endpoint_seconds,
            &|r| output::thousands(r.stale_endpoint_seconds.round() as u64),
        ),
        last,
    ];
    Some(Figure {
        name: "external".into(),
        panels,
        columns: 1,
        size: (SIZE.0, SIZE.1 * 3 / 2),
    })
}

/// The objects stored per API, labelled with their counts at the end and at the peak; on a
/// log axis when one API has ten times the other's (one Endpoints object against dozens of
/// slices), so that neither sits on the zero line.
fn objects_stored(data: &RunData, chart: impl Fn(Axis, Vec<Series>) -> Chart) -> Chart {
    let mut series = per_api(data, |r| r.objects as f64);
    // The slices' line dashed, so that the Endpoints line shows through where they meet.
    if let Some(s) = series.get_mut(1) {
        s.style = Style::Dashed;
    }
    let mut peaks = Vec::new();
    for s in &mut series {
        let last = s.points.last().map_or(0.0, |p| p.1);
        let peak = s.points.iter().map(|p| p.1).fold(0.0, f64::max);
        s.label = if peak > last {
            format!(
                "{}: {} at the end, {} at the peak",
                s.label,
                number(last),
                number(peak)
            )
        } else {
            format!("{}: {}", s.label, number(last))
        };
        peaks.push(peak);
    }
    let (lo, hi) = (
        peaks.iter().copied().fold(f64::INFINITY, f64::min),
        peaks.iter().copied().fold(0.0, f64::max),
    );
    let log = lo >= 1.0 && hi >= 10.0 * lo;
    if log {
        // A log axis has no zero: an empty moment is left out of the line.
        for s in &mut series {
            s.points.retain(|p| p.1 > 0.0);
        }
    }
    chart(
        Axis {
            label: "objects".into(),
            quantity: Quantity::Count,
            log,
        },
        series,
    )
}

/// Bytes per bucket, zoomed to where bytes flow when that is under half the run (a rollout in
/// a long run is otherwise a thin spike); the title says what is left out.
fn bytes_per_bucket(data: &RunData, mut c: Chart) -> Chart {
    let (div, unit) = time_unit(data);
    let active: Vec<f64> = data
        .timeseries
        .iter()
        .filter(|r| r.bytes_delivered > 0)
        .map(|r| r.t_seconds)
        .collect();
    let all: Vec<f64> = data.timeseries.iter().map(|r| r.t_seconds).collect();
    let (Some(first), Some(last)) = (
        active.iter().copied().reduce(f64::min),
        active.iter().copied().reduce(f64::max),
    ) else {
        return c;
    };
    let start = all.iter().copied().fold(f64::INFINITY, f64::min);
    let step = data.bucket();
    let end = all.iter().copied().fold(0.0, f64::max) + step;
    if (last + step - first) * 2.0 >= end - start {
        return c;
    }
    let pad = ((last + step - first) * 0.15).max(step * 2.0);
    let (lo, hi) = ((first - pad).max(start), (last + step + pad).min(end));
    c.x_range = Some((lo / div, hi / div));
    // A short stretch of time: label the ticks between whole units too.
    c.x.quantity = Quantity::Ratio;
    c.title = format!(
        "{} (from {} to {} {unit}; none before or after)",
        c.title,
        number((first / div * 100.0).round() / 100.0),
        number(((last + step) / div * 100.0).round() / 100.0),
    );
    c
}

/// Several runs' charts overlaid (`slicesim compare`): cumulative bytes delivered, objects
/// stored and the largest object, one line per run and API — Endpoints in warm colours,
/// slices in cool ones, each run its own shade, every other run dashed. Each run keeps its
/// own buckets: runs of different bucket sizes or durations share the time axis.
pub fn overlay_figures(runs: &[(String, &RunData)]) -> Vec<Figure> {
    let end = runs
        .iter()
        .flat_map(|(_, d)| d.timeseries.iter().map(|r| r.t_seconds))
        .fold(0.0, f64::max);
    let (div, unit) = time_unit_to(end);
    let lines = |value: &dyn Fn(&TimeseriesRow) -> f64, cumulate: bool| -> Vec<Series> {
        let mut out = Vec::new();
        for (i, (label, data)) in runs.iter().enumerate() {
            let step = data.bucket();
            for (api, api_label, _) in APIS {
                let mut points: Vec<(f64, f64)> = data
                    .series(api, value)
                    .into_iter()
                    .map(|(t, v)| (t / div, v))
                    .collect();
                if cumulate {
                    points = cumulative(points, step / div);
                }
                let shades = if api == "endpoints" {
                    &ENDPOINTS_SHADES
                } else {
                    &SLICES_SHADES
                };
                out.push(Series {
                    label: format!("{label}: {api_label}"),
                    color: shades[i % MAX_SWEEP_LINES],
                    style: if i % 2 == 0 {
                        Style::Line
                    } else {
                        Style::Dashed
                    },
                    points,
                });
            }
        }
        out
    };
    let names = runs
        .iter()
        .map(|(l, _)| l.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let chart = |name: &str, title: &str, y: Axis, series: Vec<Series>| {
        let x = Axis {
            label: format!("simulated time ({unit})"),
            quantity: Quantity::Count,
            log: false,
        };
        Chart::new(name, format!("{title}: {names}"), x, y, series)
    };
    let bytes = |label: &str, log: bool| Axis {
        label: label.into(),
        quantity: Quantity::Bytes,
        log,
    };
    // Totals far apart (batching the Endpoints controller) read on a log axis.
    let mut cumulative_lines = lines(&|r| r.bytes_delivered as f64, true);
    let totals: Vec<f64> = cumulative_lines
        .iter()
        .filter_map(|s| s.points.last().map(|p| p.1))
        .collect();
    let log = spans_decades(&totals);
    if log {
        for s in &mut cumulative_lines {
            s.points.retain(|p| p.1 > 0.0);
        }
    }
    vec![
        chart(
            "compare-cumulative-bytes",
            "cumulative bytes delivered to watchers",
            bytes("bytes delivered", log),
            cumulative_lines,
        )
        .into(),
        Figure::stack(
            "compare-objects",
            vec![
                chart(
                    "compare-objects",
                    "objects stored",
                    count_axis("objects"),
                    lines(&|r| r.objects as f64, false),
                ),
                chart(
                    "compare-objects",
                    "largest object (protobuf)",
                    bytes("largest object", true),
                    lines(&|r| r.max_object_proto_bytes as f64, false),
                ),
            ],
        ),
    ]
}

/// A linear axis of plain numbers.
fn count_axis(label: &str) -> Axis {
    Axis {
        label: label.into(),
        quantity: Quantity::Count,
        log: false,
    }
}

/// The distribution of endpoints per EndpointSlice at the end of a run, against the ideal of
/// full slices (per Service and address type: as many full slices as the endpoints fill, plus
/// one for the rest). `None` when the run ended with no slices.
fn slice_fill_figure(data: &RunData) -> Option<Figure> {
    let slices: Vec<&ObjectRow> = data
        .objects
        .iter()
        .filter(|o| o.api == "endpointslices")
        .collect();
    let cap = slices.iter().filter_map(|o| o.capacity).max()?;
    let mut per_group: BTreeMap<(&str, &str, &str), u64> = BTreeMap::new();
    for o in &slices {
        *per_group
            .entry((&o.namespace, &o.service, &o.address_type))
            .or_default() += o.endpoints;
    }
    let mut ideal: Vec<u64> = Vec::new();
    for total in per_group.values() {
        ideal.extend(std::iter::repeat_n(cap, (total / cap) as usize));
        if total % cap > 0 || *total == 0 {
            ideal.push(total % cap);
        }
    }
    let bins = cap.min(20);
    let width = cap.div_ceil(bins);
    // Bin b holds counts in (b-1)*width+1 ..= b*width; bin 0 the empty slices.
    let histogram = |counts: &mut dyn Iterator<Item = u64>| {
        let mut h = vec![0u64; bins as usize + 1];
        for c in counts {
            h[c.div_ceil(width).min(bins) as usize] += 1;
        }
        h.into_iter()
            .enumerate()
            .filter(|(_, n)| *n > 0)
            .map(|(b, n)| ((b as u64 * width) as f64, n as f64))
            .collect::<Vec<_>>()
    };
    let actual_total: u64 = slices.iter().map(|o| o.endpoints).sum();
    let fill = |n: usize| {
        if n == 0 {
            0.0
        } else {
            100.0 * actual_total as f64 / (n as u64 * cap) as f64
        }
    };
    let bar = width as f64 * 0.4;
    let scenario = data.scenario();
    Some(
        Chart {
            name: "slice-fill".into(),
            title: format!("{scenario}: endpoints per EndpointSlice at the end (max {cap})"),
            x: Axis {
                label: if width > 1 {
                    format!("endpoints in the slice (bins of {width}, labelled by their top)")
                } else {
                    "endpoints in the slice".into()
                },
                quantity: Quantity::Count,
                log: false,
            },
            y: Axis {
                label: "slices".into(),
                quantity: Quantity::Count,
                log: false,
            },
            series: vec![
                Series {
                    label: format!(
                        "simulated: {} slices, {:.0}% full on average",
                        output::thousands(slices.len() as u64),
                        fill(slices.len())
                    ),
                    color: SLICES,
                    style: Style::Bars {
                        width: bar,
                        offset: -bar / 2.0,
                    },
                    points: histogram(&mut slices.iter().map(|o| o.endpoints)),
                },
                Series {
                    label: format!(
                        "ideal (all full but one per Service): {} slices, {:.0}% full",
                        output::thousands(ideal.len() as u64),
                        fill(ideal.len())
                    ),
                    color: GREY,
                    style: Style::Bars {
                        width: bar,
                        offset: bar / 2.0,
                    },
                    points: histogram(&mut ideal.iter().copied()),
                },
            ],
            hlines: Vec::new(),
            vlines: Vec::new(),
            markers: Vec::new(),
            footer: "The controller packs new endpoints into few slices and never rebalances, \
                     so churn leaves slices partly full."
                .into(),
            x_range: Some((0.0, (cap + width) as f64)),
            x_categories: Vec::new(),
        }
        .into(),
    )
}

/// Draws a run's charts into `dir/charts/` from the CSV files in `dir`.
pub fn plot_run(dir: &Path) -> Result<Vec<PathBuf>, ChartError> {
    let data = RunData::read(dir)?;
    let out = dir.join("charts");
    std::fs::create_dir_all(&out).map_err(|source| ChartError::Write {
        path: out.display().to_string(),
        source,
    })?;
    let mut written = Vec::new();
    for f in run_figures(&data) {
        written.extend(write_figure(&f, &out)?);
    }
    Ok(written)
}

/// A swept parameter as the sweep charts read it.
#[derive(Clone, Debug)]
pub struct SweepParameter {
    /// The path as written (`services[0].replicas`).
    pub path: String,
    /// Each value as text.
    pub labels: Vec<String>,
    /// Each value as a number, when they all are numbers.
    pub numbers: Option<Vec<f64>>,
}

/// One run's summary row in a sweep, with the value index of each parameter.
#[derive(Clone, Copy, Debug)]
pub struct SweepResult<'a> {
    pub values: &'a [usize],
    pub summary: &'a SummaryRow,
}

/// At most this many lines per API in a sweep chart: beyond it, the other parameters'
/// values are summarised as a mean with a min–max band.
const MAX_SWEEP_LINES: usize = 6;

/// Lighter and darker shades of each API's colour, one per line.
const ENDPOINTS_SHADES: [RGBColor; MAX_SWEEP_LINES] = [
    ENDPOINTS,
    RGBColor(255, 127, 14),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(150, 20, 20),
];
const SLICES_SHADES: [RGBColor; MAX_SWEEP_LINES] = [
    SLICES,
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(23, 190, 207),
    RGBColor(10, 60, 110),
    RGBColor(100, 100, 100),
];

/// A summary figure a sweep chart plots: its name, what it counts and how to read it.
type Metric = (&'static str, Quantity, fn(&SummaryRow) -> f64);

/// A line through its points.
type Points = Vec<(f64, f64)>;

/// The mean line of one API's runs at each value `xs` of parameter `k` (among the runs whose
/// other parameters have the values `group`, or all runs), and the min–max band around it
/// (empty when every mean is a single value).
fn sweep_line(
    results: &[SweepResult],
    api: &str,
    k: usize,
    xs: &[f64],
    group: Option<&Vec<usize>>,
    value: fn(&SummaryRow) -> f64,
) -> (Points, Points) {
    let mut line = Vec::new();
    let (mut top, mut bottom) = (Vec::new(), Vec::new());
    for (i, &x) in xs.iter().enumerate() {
        let vals: Vec<f64> = results
            .iter()
            .filter(|r| r.summary.api == api && r.values[k] == i)
            .filter(|r| group.is_none_or(|g| others(r.values, k) == *g))
            .map(|r| value(r.summary))
            .collect();
        if vals.is_empty() {
            continue;
        }
        let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        line.push((x, vals.iter().sum::<f64>() / vals.len() as f64));
        top.push((x, hi));
        bottom.push((x, lo));
    }
    if top.iter().zip(&bottom).all(|(t, b)| t.1 <= b.1) {
        return (line, Vec::new());
    }
    bottom.reverse();
    top.extend(bottom);
    (line, top)
}

/// The sweep charts: for each swept parameter, one figure of four panels (bytes delivered,
/// writes, largest object, objects at the peak) against the parameter, both APIs: a line per
/// combination of the other parameters' values (a mean over the replicates, with a min–max
/// band when they differ), or a single mean with a min–max band when there are more than
/// [`MAX_SWEEP_LINES`] combinations. Log axes where the values span more than two decades.
pub fn sweep_figures(
    scenario: &str,
    parameters: &[SweepParameter],
    results: &[SweepResult],
) -> Vec<Figure> {
    let metrics: [Metric; 4] = [
        ("bytes delivered to watchers", Quantity::Bytes, |s| {
            s.bytes_delivered as f64
        }),
        ("writes", Quantity::Count, |s| {
            (s.creates + s.updates + s.deletes) as f64
        }),
        ("largest object (protobuf)", Quantity::Bytes, |s| {
            s.max_object_proto_bytes as f64
        }),
        ("objects at the peak", Quantity::Count, |s| {
            s.objects_peak as f64
        }),
    ];
    let mut figures = Vec::new();
    for (k, p) in parameters.iter().enumerate() {
        let xs: Vec<f64> = match &p.numbers {
            Some(n) => n.clone(),
            None => (0..p.labels.len()).map(|i| i as f64).collect(),
        };
        let x_log = p.numbers.is_some() && spans_decades(&xs);
        // The other parameters' value combinations, in order.
        let mut combos: Vec<Vec<usize>> = results.iter().map(|r| others(r.values, k)).collect();
        combos.sort();
        combos.dedup();
        let summarised = combos.len() > MAX_SWEEP_LINES;
        let replicated = {
            let mut runs: Vec<&[usize]> = results.iter().map(|r| r.values).collect();
            let n = runs.len();
            runs.sort();
            runs.dedup();
            // Two rows (APIs) per run: more rows than twice the points means replicates.
            n > 2 * runs.len()
        };
        let groups: Vec<Option<&Vec<usize>>> = if summarised {
            vec![None]
        } else {
            combos.iter().map(Some).collect()
        };
        let mut panels = Vec::new();
        for (m, (what, quantity, value)) in metrics.iter().enumerate() {
            let mut series = Vec::new();
            let mut all = Vec::new();
            for (api, api_label, shades, style) in [
                ("endpoints", "Endpoints", &ENDPOINTS_SHADES, Style::Dashed),
                (
                    "endpointslices",
                    "EndpointSlices",
                    &SLICES_SHADES,
                    Style::Line,
                ),
            ] {
                let lines: Vec<(Points, Points)> = groups
                    .iter()
                    .map(|group| sweep_line(results, api, k, &xs, *group, *value))
                    .collect();
                // Lines that the other parameters do not move (the Endpoints API does not
                // read max_endpoints_per_slice) are drawn once.
                let same = lines.windows(2).all(|w| w[0] == w[1]);
                let shown = if same { &lines[..1] } else { &lines[..] };
                for (g, (line, band)) in shown.iter().enumerate() {
                    let color = shades[g % shades.len()];
                    all.extend(line.iter().chain(band).map(|p| p.1));
                    if !band.is_empty() {
                        series.push(Series {
                            label: String::new(),
                            color,
                            style: Style::Band,
                            points: band.clone(),
                        });
                    }
                    let label = match groups[g] {
                        _ if m > 0 => String::new(),
                        None => format!("{api_label} (mean, min-max)"),
                        Some(_) if same && groups.len() > 1 => {
                            format!(
                                "{api_label} (the same for every {})",
                                rest_names(parameters, k)
                            )
                        }
                        Some(g) if g.is_empty() => api_label.to_string(),
                        Some(g) => format!("{api_label}, {}", describe(parameters, k, g)),
                    };
                    series.push(Series {
                        label,
                        color,
                        style,
                        points: line.clone(),
                    });
                }
            }
            let y_log = spans_decades(&all);
            panels.push(Chart {
                name: String::new(),
                title: (*what).to_string(),
                x: Axis {
                    label: p.path.clone(),
                    quantity: Quantity::Count,
                    log: x_log,
                },
                y: Axis {
                    label: (*what).to_string(),
                    quantity: *quantity,
                    log: y_log,
                },
                series,
                hlines: Vec::new(),
                vlines: Vec::new(),
                markers: Vec::new(),
                footer: format!(
                    "{scenario}: sweep over {}{}. {DECIMAL_UNITS}",
                    p.path,
                    if summarised {
                        "; the other parameters summarised as mean and min-max band"
                    } else if replicated {
                        "; mean of the replicates, band from min to max"
                    } else {
                        ""
                    }
                ),
                x_range: None,
                x_categories: if p.numbers.is_some() {
                    Vec::new()
                } else {
                    p.labels.clone()
                },
            });
        }
        figures.push(Figure {
            name: format!("sweep-{}", file_stem(&p.path)),
            panels,
            columns: 2,
            size: (1400, 950),
        });
    }
    figures
}

/// The value indices of every parameter but `k`.
fn others(values: &[usize], k: usize) -> Vec<usize> {
    values
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != k)
        .map(|(_, v)| *v)
        .collect()
}

/// `name = value, ...` for the other parameters' values `g`.
fn describe(parameters: &[SweepParameter], k: usize, g: &[usize]) -> String {
    parameters
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != k)
        .zip(g)
        .map(|((j, p), &i)| format!("{} = {}", short_name(parameters, j), p.labels[i]))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The other parameters' names, joined.
fn rest_names(parameters: &[SweepParameter], k: usize) -> String {
    (0..parameters.len())
        .filter(|j| *j != k)
        .map(|j| short_name(parameters, j))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A parameter's name in a legend: the last field of its path when no other parameter's
/// path ends the same way (`max_endpoints_per_slice`), else the whole path.
pub fn short_name(parameters: &[SweepParameter], j: usize) -> String {
    let last = |p: &str| p.rsplit('.').next().unwrap_or(p).to_string();
    let mine = last(&parameters[j].path);
    let unique = parameters
        .iter()
        .enumerate()
        .all(|(i, p)| i == j || last(&p.path) != mine);
    if unique {
        mine
    } else {
        parameters[j].path.clone()
    }
}

/// Whether positive values span more than two decades (a log axis then reads better).
fn spans_decades(values: &[f64]) -> bool {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    lo > 0.0 && hi / lo > 100.0
}

/// A parameter path as a file name: `cluster.zones[*].nodes` → `cluster.zones.all.nodes`.
fn file_stem(path: &str) -> String {
    let s = path
        .replace("[*]", ".all")
        .replace('[', ".")
        .replace(']', "");
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Draws the sweep charts into `dir/charts/`.
pub fn plot_sweep(
    dir: &Path,
    scenario: &str,
    parameters: &[SweepParameter],
    results: &[SweepResult],
) -> Result<Vec<PathBuf>, ChartError> {
    let out = dir.join("charts");
    std::fs::create_dir_all(&out).map_err(|source| ChartError::Write {
        path: out.display().to_string(),
        source,
    })?;
    let mut written = Vec::new();
    for f in sweep_figures(scenario, parameters, results) {
        written.extend(write_figure(&f, &out)?);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text is rasterised from the bundled font: the title row of a PNG has dark pixels, and
    /// a longer title has more of them.
    #[test]
    fn png_text_renders_with_the_bundled_font() {
        let chart = |title: &str| Chart {
            name: "t".into(),
            title: title.into(),
            x: Axis {
                label: "x".into(),
                quantity: Quantity::Count,
                log: false,
            },
            y: Axis {
                label: "y".into(),
                quantity: Quantity::Bytes,
                log: false,
            },
            series: Vec::new(),
            hlines: Vec::new(),
            vlines: Vec::new(),
            markers: Vec::new(),
            footer: String::new(),
            x_range: None,
            x_categories: Vec::new(),
        };
        let dark_in_title = |title: &str| {
            let rgb = render_rgb(&chart(title).into()).unwrap();
            let row = SIZE.0 as usize * 3;
            rgb[..row * 34]
                .chunks(3)
                .filter(|p| p.iter().all(|c| *c < 128))
                .count()
        };
        let short = dark_in_title("A");
        let long = dark_in_title("Endpoints against EndpointSlices, bytes delivered");
        assert!(short > 10, "{short} dark pixels for one letter");
        assert!(long > 10 * short, "{long} vs {short}");
    }

    #[test]
    fn units_are_decimal() {
        assert_eq!(byte_unit(999.0), (1.0, "B"));
        assert_eq!(byte_unit(1_000.0), (1e3, "kB"));
        assert_eq!(byte_unit(1_572_864.0), (1e6, "MB"));
        assert_eq!(byte_unit(22.5e12), (1e12, "TB"));
    }

    #[test]
    fn tick_numbers() {
        assert_eq!(number(0.0), "0");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(20_000.0), "20,000");
        assert_eq!(number(0.125), "0.125");
    }

    #[test]
    fn cumulative_sums_at_bucket_ends() {
        let c = cumulative(vec![(0.0, 5.0), (10.0, 0.0), (20.0, 7.0)], 10.0);
        assert_eq!(c, vec![(0.0, 0.0), (10.0, 5.0), (20.0, 5.0), (30.0, 12.0)]);
    }
}
