//! The `sweep:` block: a grid of variants of one scenario.
//!
//! ```yaml
//! sweep:
//!   replicates: 3
//!   parameters:
//!     services[0].replicas: [1000, 5000, 20000]
//!     cluster.zones[*].nodes: [100, 1000, 5000]
//! ```
//!
//! A parameter is addressed by the path error messages print (`[*]`: every element of a
//! list). The points are the cartesian product of the values, numbered with the last
//! parameter varying fastest; each point runs `replicates` times with its own seed.
//!
//! A point's scenario is the file as written (its YAML as a tree, aliases and merge keys
//! resolved) with the values set and the `sweep:` block removed, read again by the same
//! reader and validation as any scenario: a point is exactly what a scenario file with those
//! values would be. A problem in a point is reported at the sweep value to blame.

use std::fmt;

use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_saphyr::Spanned;

use super::{Problem, Scenario, ScenarioError};

/// Most points (value combinations) in one sweep, and most replicates of each.
pub const MAX_POINTS: u64 = 1_000_000;
pub const MAX_REPLICATES: u32 = 10_000;

/// The `sweep:` block as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepBlock {
    /// Runs of each point, each with its own seed.
    #[serde(default = "one")]
    pub replicates: Spanned<i64>,
    /// How the runs' seeds are chosen.
    #[serde(default)]
    pub seeds: Seeds,
    pub parameters: Spanned<Parameters>,
}

fn one() -> Spanned<i64> {
    super::unspanned(1)
}

/// How the seed of each run of a sweep is chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Seeds {
    /// Every (point, replicate) its own seed, derived from the scenario's seed, the point and
    /// the replicate: no two runs share their randomness.
    #[default]
    PerPoint,
    /// Replicate `r` of every point has the seed `seed + r`: points differ only by their
    /// parameters (common random numbers), and replicate 0 of a point is the scenario with
    /// those values run on its own.
    Shared,
}

/// The swept parameters, in the order written.
#[derive(Clone, Debug, Default)]
pub struct Parameters(pub Vec<Parameter>);

/// One swept parameter: its path and its values, or, linked, a name and several fields whose
/// values go together (value i of each at once).
#[derive(Clone, Debug)]
pub struct Parameter {
    /// The field path, or the name of linked fields.
    pub path: Spanned<String>,
    /// The fields set: the path itself, or each linked field with its values.
    pub fields: Vec<Field>,
}

/// A field a parameter sets, with its values.
#[derive(Clone, Debug)]
pub struct Field {
    pub path: Spanned<String>,
    pub values: Vec<Spanned<Scalar>>,
}

impl Parameter {
    /// The values (of the first field, for linked fields): what `sweep.csv` and the charts
    /// show, and what the points count.
    pub fn values(&self) -> &[Spanned<Scalar>] {
        self.fields.first().map_or(&[], |f| &f.values)
    }

    /// Whether this parameter sets several fields under a name of its own.
    pub fn linked(&self) -> bool {
        self.fields.len() != 1 || self.fields[0].path.value != self.path.value
    }
}

/// A parameter's values as written: a list, or a mapping of field paths to lists.
enum Written {
    Values(Vec<Spanned<Scalar>>),
    Linked(Vec<Field>),
}

impl<'de> Deserialize<'de> for Written {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Written;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a list of values, or a mapping of field paths to lists of values (fields \
                     that move together)",
                )
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Written, A::Error> {
                let mut values = Vec::new();
                while let Some(v) = seq.next_element::<Spanned<Scalar>>()? {
                    values.push(v);
                }
                Ok(Written::Values(values))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Written, A::Error> {
                let mut fields = Vec::new();
                while let Some(path) = map.next_key::<Spanned<String>>()? {
                    let values = map.next_value::<Vec<Spanned<Scalar>>>()?;
                    fields.push(Field { path, values });
                }
                Ok(Written::Linked(fields))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Parameters {
    /// A mapping read in order (the order of the columns and of the points).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Parameters;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of field paths to lists of values")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Parameters, A::Error> {
                let mut list = Vec::new();
                while let Some(path) = map.next_key::<Spanned<String>>()? {
                    let fields = match map.next_value::<Written>()? {
                        Written::Values(values) => vec![Field {
                            path: path.clone(),
                            values,
                        }],
                        Written::Linked(fields) => fields,
                    };
                    list.push(Parameter { path, fields });
                }
                Ok(Parameters(list))
            }
        }
        d.deserialize_map(V)
    }
}

/// A value a parameter takes: a YAML scalar.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    Bool(bool),
    Int(i64),
    /// An integer above `i64::MAX` (a seed).
    UInt(u64),
    Float(f64),
    Text(String),
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number, a string or a boolean (a scalar field's value)")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(i64::try_from(v).map_or(Scalar::UInt(v), Scalar::Int))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl fmt::Display for Scalar {
    /// As a CSV cell and in messages: the value as YAML would read it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Int(n) => write!(f, "{n}"),
            Scalar::UInt(n) => write!(f, "{n}"),
            Scalar::Float(x) => write!(f, "{x:?}"),
            Scalar::Text(s) => f.write_str(s),
        }
    }
}

impl Scalar {
    /// The value as JSON (what the point's scenario is read from).
    pub fn json(&self) -> Value {
        match self {
            Scalar::Bool(b) => Value::Bool(*b),
            Scalar::Int(n) => Value::from(*n),
            Scalar::UInt(n) => Value::from(*n),
            Scalar::Float(x) => serde_json::Number::from_f64(*x).map_or(Value::Null, Value::Number),
            Scalar::Text(s) => Value::String(s.clone()),
        }
    }
}

/// One step of a parameter path.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
    /// `[*]`: every element.
    All,
}

/// Splits `a.b[0].c[*]` into steps.
fn parse_path(path: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => part.split_at(i),
            None => (part, ""),
        };
        if key.is_empty() {
            return Err(format!("{path:?} is not a field path (an empty name)"));
        }
        steps.push(Step::Key(key.to_string()));
        while !rest.is_empty() {
            let close = rest
                .find(']')
                .filter(|_| rest.starts_with('['))
                .ok_or_else(|| format!("{path:?} is not a field path (expected [N] or [*])"))?;
            let inner = &rest[1..close];
            steps.push(if inner == "*" {
                Step::All
            } else {
                Step::Index(inner.parse().map_err(|_| {
                    format!("{path:?} is not a field path ([{inner}]: expected an index or *)")
                })?)
            });
            rest = &rest[close + 1..];
        }
    }
    Ok(steps)
}

/// Sets `value` at `steps` in `tree`, creating missing mapping fields (the scenario reader
/// then decides whether such a field exists). A key not found whole may be a key with dots
/// in it (a label): the longest run of steps that names one is taken.
fn set(tree: &mut Value, steps: &[Step], value: &Value, at: &str) -> Result<(), String> {
    let Some((first, rest)) = steps.split_first() else {
        return match tree {
            Value::Object(_) => Err(format!("{at} is a mapping, not a scalar field")),
            Value::Array(_) => Err(format!("{at} is a list, not a scalar field")),
            _ => {
                *tree = value.clone();
                Ok(())
            }
        };
    };
    match (first, tree) {
        (Step::Key(_), tree @ Value::Null) => {
            *tree = Value::Object(Default::default());
            set(tree, steps, value, at)
        }
        (Step::Key(_), Value::Object(map)) => {
            // The longest dotted run of keys that the mapping has, else the first key.
            let keys = steps
                .iter()
                .take_while(|s| matches!(s, Step::Key(_)))
                .map(|s| match s {
                    Step::Key(k) => k.as_str(),
                    _ => unreachable!("only keys are taken"),
                })
                .collect::<Vec<_>>();
            let (n, key) = (1..=keys.len())
                .rev()
                .map(|n| (n, keys[..n].join(".")))
                .find(|(_, k)| map.contains_key(k))
                .unwrap_or_else(|| (1, keys[0].to_string()));
            let here = join_at(at, &Step::Key(key.clone()));
            let child = map.entry(key).or_insert(Value::Null);
            set(child, &steps[n..], value, &here)
        }
        (Step::Key(k), _) => Err(format!("{at} is a scalar, it has no field {k:?}")),
        (Step::Index(i), Value::Array(list)) => {
            let len = list.len();
            let here = join_at(at, first);
            let child = list
                .get_mut(*i)
                .ok_or_else(|| format!("{at} has {len} element(s), there is no [{i}]"))?;
            set(child, rest, value, &here)
        }
        (Step::All, Value::Array(list)) => {
            if list.is_empty() {
                return Err(format!("{at} is an empty list"));
            }
            for (i, child) in list.iter_mut().enumerate() {
                set(child, rest, value, &join_at(at, &Step::Index(i)))?;
            }
            Ok(())
        }
        (Step::Index(_) | Step::All, Value::Null) => Err(format!(
            "{at} is not written in the scenario: write the list (its default elements) to \
             sweep over them"
        )),
        (Step::Index(_) | Step::All, _) => Err(format!("{at} is not a list")),
    }
}

fn join_at(at: &str, step: &Step) -> String {
    match step {
        Step::Key(k) if at.is_empty() => k.clone(),
        Step::Key(k) => format!("{at}.{k}"),
        Step::Index(i) => format!("{at}[{i}]"),
        Step::All => format!("{at}[*]"),
    }
}

/// A validated sweep: its parameters, and the scenario as a tree to set them in.
#[derive(Clone, Debug)]
pub struct Plan {
    pub parameters: Vec<Parameter>,
    pub replicates: u32,
    pub seeds: Seeds,
    /// Per parameter, per field: its path's steps.
    steps: Vec<Vec<Vec<Step>>>,
    /// The scenario file as a tree, without its `sweep:` block.
    tree: Value,
    source: String,
    default_name: String,
    /// Points: the product of the parameters' value counts.
    points: u64,
}

/// One run of a sweep: a point and a replicate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Run {
    pub point: u64,
    pub replicate: u32,
}

impl fmt::Display for Run {
    /// The run's directory name under `points/`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.point, self.replicate)
    }
}

impl Plan {
    /// Checks a `sweep:` block and reads `text` (the whole file) as a tree. Problems with the
    /// block itself (paths, counts) are reported here; problems of the points by
    /// [`Plan::scenario`].
    pub(super) fn new(
        file: &str,
        default_name: &str,
        text: &str,
        block: &SweepBlock,
    ) -> Result<Plan, Vec<Problem>> {
        let mut problems = Vec::new();
        let problem = |span: (u64, u64), path: String, message: String| Problem {
            file: file.to_string(),
            line: span.0,
            column: span.1,
            path,
            message,
        };
        let pos = |s: &serde_saphyr::Location| (s.line(), s.column());
        let replicates = match u32::try_from(block.replicates.value) {
            Ok(n @ 1..=MAX_REPLICATES) => n,
            _ => {
                problems.push(problem(
                    pos(&block.replicates.referenced),
                    "sweep.replicates".into(),
                    format!(
                        "expected 1 to {MAX_REPLICATES} runs of each point, got {}",
                        block.replicates.value
                    ),
                ));
                1
            }
        };
        let mut tree: Value =
            serde_saphyr::from_str_with_options(text, crate::yaml::options(text.len())).map_err(
                |e| {
                    vec![problem(
                        (1, 1),
                        "sweep".into(),
                        format!(
                            "cannot read the file as a tree to sweep it: {}",
                            crate::yaml::message(&e)
                        ),
                    )]
                },
            )?;
        if let Value::Object(map) = &mut tree {
            map.remove("sweep");
        }
        let parameters = block.parameters.value.0.clone();
        if parameters.is_empty() {
            problems.push(problem(
                pos(&block.parameters.referenced),
                "sweep.parameters".into(),
                "name at least one field to sweep, e.g. `services[0].replicas: [100, 1000]`".into(),
            ));
        }
        let mut steps = Vec::new();
        let mut points: u64 = 1;
        for (i, p) in parameters.iter().enumerate() {
            let at = format!("sweep.parameters.{}", p.path.value);
            let earlier = |path: &str| {
                parameters[..i]
                    .iter()
                    .any(|q| q.path.value == path || q.fields.iter().any(|f| f.path.value == path))
            };
            if earlier(&p.path.value) || p.fields.iter().any(|f| earlier(&f.path.value)) {
                problems.push(problem(
                    pos(&p.path.referenced),
                    at.clone(),
                    "swept twice".into(),
                ));
            }
            if p.values().is_empty() {
                problems.push(problem(
                    pos(&p.path.referenced),
                    at.clone(),
                    "give at least one value".into(),
                ));
            }
            points = points.saturating_mul(p.values().len() as u64);
            if p.linked() && p.fields.is_empty() {
                problems.push(problem(
                    pos(&p.path.referenced),
                    at.clone(),
                    "name at least one field that moves with this parameter".into(),
                ));
            }
            let mut field_steps = Vec::new();
            for f in &p.fields {
                let f_at = if p.linked() {
                    format!("{at}.{}", f.path.value)
                } else {
                    at.clone()
                };
                if f.values.len() != p.values().len() {
                    problems.push(problem(
                        pos(&f.path.referenced),
                        f_at.clone(),
                        format!(
                            "has {} values, the first field of {} has {}: linked fields take \
                             their values together, one of each",
                            f.values.len(),
                            p.path.value,
                            p.values().len()
                        ),
                    ));
                }
                if f.path.value == "sweep" || f.path.value.starts_with("sweep.") {
                    problems.push(problem(
                        pos(&f.path.referenced),
                        f_at.clone(),
                        "the sweep cannot sweep itself".into(),
                    ));
                }
                match parse_path(&f.path.value) {
                    Ok(s) => {
                        // The path must lead somewhere in the file (with its first value).
                        if let Some(v) = f.values.first()
                            && let Err(why) = set(&mut tree.clone(), &s, &v.value.json(), "")
                        {
                            problems.push(problem(pos(&f.path.referenced), f_at, why));
                        }
                        field_steps.push(s);
                    }
                    Err(why) => {
                        problems.push(problem(pos(&f.path.referenced), f_at, why));
                        field_steps.push(Vec::new());
                    }
                }
            }
            steps.push(field_steps);
        }
        if points > MAX_POINTS {
            problems.push(problem(
                pos(&block.parameters.referenced),
                "sweep.parameters".into(),
                format!(
                    "{points} points (the product of the value counts) is more than \
                     {MAX_POINTS}"
                ),
            ));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Plan {
            parameters,
            replicates,
            seeds: block.seeds,
            steps,
            tree,
            source: file.to_string(),
            default_name: default_name.to_string(),
            points,
        })
    }

    /// The scenario file as a tree, without its `sweep:` block.
    pub fn tree(&self) -> &Value {
        &self.tree
    }

    /// How many points (value combinations).
    pub fn points(&self) -> u64 {
        self.points
    }

    /// Every run, point by point, replicates in order.
    pub fn runs(&self) -> impl Iterator<Item = Run> + '_ {
        runs(self.points, self.replicates)
    }

    /// The value index of each parameter at `point` (the last parameter varies fastest).
    pub fn values_of(&self, point: u64) -> Vec<usize> {
        values_of(point, self.parameters.iter().map(|p| p.values().len()))
    }

    /// The seed of a run, given the scenario's seed (`base`) or the point's own swept `seed`.
    fn seed(&self, point_seed: u64, run: Run) -> u64 {
        match self.seeds {
            Seeds::Shared => point_seed.wrapping_add(u64::from(run.replicate)),
            Seeds::PerPoint => {
                splitmix(splitmix(point_seed ^ splitmix(run.point)) ^ u64::from(run.replicate))
            }
        }
    }

    /// The scenario of one run, with its seed; `base_seed` is the scenario's seed (after a
    /// `--seed`). A point's problems are reported at the sweep value to blame.
    pub fn scenario(&self, base_seed: u64, run: Run) -> Result<Scenario, ScenarioError> {
        let idx = self.values_of(run.point);
        let mut tree = self.tree.clone();
        for ((p, steps), &i) in self.parameters.iter().zip(&self.steps).zip(&idx) {
            for (f, steps) in p.fields.iter().zip(steps) {
                // Checked with the first value in `new`; the others take the same path.
                set(&mut tree, steps, &f.values[i].value.json(), "").map_err(|why| {
                    self.blame(run.point, &idx, vec![self.problem_at(&f.path.value, why)])
                })?;
            }
        }
        let point_seed = match &tree["seed"] {
            Value::Number(n) => n.as_u64(),
            Value::Null => Some(base_seed),
            _ => None,
        };
        // A swept seed that is not a seed is reported by the reader below.
        if let (Some(s), Value::Object(map)) = (point_seed, &mut tree) {
            map.insert("seed".into(), Value::from(self.seed(s, run)));
        }
        let text = serde_json::to_string(&tree).map_err(|e| ScenarioError {
            problems: vec![self.problem_at("sweep", e.to_string())],
        })?;
        Scenario::parse(&self.source, &self.default_name, &text)
            .map_err(|e| self.blame(run.point, &idx, e.problems))
    }

    /// The seed a run has (as [`Plan::scenario`] sets it), without building its scenario.
    pub fn run_seed(&self, base_seed: u64, run: Run) -> u64 {
        let idx = self.values_of(run.point);
        let swept = self
            .parameters
            .iter()
            .zip(&idx)
            .flat_map(|(p, &i)| p.fields.iter().map(move |f| (f, i)))
            .find(|(f, _)| f.path.value == "seed")
            .and_then(|(f, i)| match &f.values[i].value {
                Scalar::Int(n) => u64::try_from(*n).ok(),
                Scalar::UInt(n) => Some(*n),
                _ => None,
            });
        self.seed(swept.unwrap_or(base_seed), run)
    }

    fn problem_at(&self, path: &str, message: String) -> Problem {
        Problem {
            file: self.source.clone(),
            line: 0,
            column: 0,
            path: path.to_string(),
            message,
        }
    }

    /// Problems of a point, moved to the sweep value to blame: the parameter whose path the
    /// problem's path starts with (`[*]` matching any index), else the last parameter. The
    /// message keeps the point's own path and ends with the point and its other values in
    /// parentheses: `... (point 4, with a = 1)`.
    pub fn blame(&self, point: u64, idx: &[usize], problems: Vec<Problem>) -> ScenarioError {
        let problems = problems
            .into_iter()
            .map(|p| {
                // The parameter and field the problem lies under, else the last parameter's
                // first field.
                let (who, field) = self
                    .parameters
                    .iter()
                    .enumerate()
                    .find_map(|(j, q)| {
                        q.fields
                            .iter()
                            .position(|f| path_within(&p.path, &f.path.value))
                            .map(|k| (j, k))
                    })
                    .unwrap_or((self.parameters.len() - 1, 0));
                let q = &self.parameters[who];
                let f = &q.fields[field];
                let v = &f.values[idx[who]];
                let at = if q.linked() {
                    format!("{}.{}", q.path.value, f.path.value)
                } else {
                    q.path.value.clone()
                };
                let others: Vec<String> = self
                    .parameters
                    .iter()
                    .zip(idx)
                    .enumerate()
                    .filter(|(j, _)| *j != who)
                    .map(|(_, (q, &i))| format!("{} = {}", q.path.value, q.values()[i].value))
                    .collect();
                let with = if others.is_empty() {
                    String::new()
                } else {
                    format!(", with {}", others.join(", "))
                };
                let what = if p.path.is_empty() {
                    p.message
                } else {
                    format!("{}: {}", p.path, p.message)
                };
                Problem {
                    file: self.source.clone(),
                    line: v.referenced.line(),
                    column: v.referenced.column(),
                    path: format!("sweep.parameters.{at}[{}]", idx[who]),
                    message: format!("{what} (point {point}{with})"),
                }
            })
            .collect();
        ScenarioError { problems }
    }
}

/// Whether a problem at `path` lies at or under the swept `param` (`[*]` matches any index).
fn path_within(path: &str, param: &str) -> bool {
    let (mut p, mut q) = (path, param);
    loop {
        match (p.chars().next(), q.chars().next()) {
            (_, None) => return p.is_empty() || p.starts_with('.') || p.starts_with('['),
            (Some('['), Some('[')) if q.starts_with("[*]") => {
                let Some(close) = p.find(']') else {
                    return false;
                };
                p = &p[close + 1..];
                q = &q[3..];
            }
            (Some(a), Some(b)) if a == b => {
                p = &p[a.len_utf8()..];
                q = &q[b.len_utf8()..];
            }
            _ => return false,
        }
    }
}

/// Every run of `points` points of `replicates` replicates, point by point.
pub fn runs(points: u64, replicates: u32) -> impl Iterator<Item = Run> {
    (0..points)
        .flat_map(move |point| (0..replicates).map(move |replicate| Run { point, replicate }))
}

/// The value index of each parameter at `point`, given each parameter's number of values: the
/// digits of `point` in that mixed radix, the last parameter varying fastest.
pub fn values_of(
    point: u64,
    counts: impl DoubleEndedIterator<Item = usize> + ExactSizeIterator,
) -> Vec<usize> {
    let mut rest = point;
    let mut idx = vec![0; counts.len()];
    for (i, n) in counts.enumerate().rev() {
        let n = n.max(1) as u64;
        idx[i] = (rest % n) as usize;
        rest /= n;
    }
    idx
}

/// SplitMix64's finaliser: a well-mixed 64-bit function of 64 bits.
fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scenario of run (`point`, `replicate`), which must be valid.
    fn point(sc: &Scenario, plan: &Plan, point: u64, replicate: u32) -> Scenario {
        plan.scenario(sc.file.seed, Run { point, replicate })
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn plan(text: &str) -> (Scenario, Plan) {
        let sc = Scenario::parse("x.yaml", "x", text).unwrap_or_else(|e| panic!("{e}"));
        let plan = sc.sweep.clone().expect("a sweep");
        (sc, (*plan).clone())
    }

    const GRID: &str = "\
services:
  - {name: web, replicas: 10}
cluster:
  zones:
    - {name: a, nodes: 5}
    - {name: b, nodes: 5}
sweep:
  replicates: 2
  parameters:
    services[0].replicas: [1, 2, 3]
    cluster.zones[*].nodes: [7, 8]
    controllers.endpointslices.max_endpoints_per_slice: [50]
";

    #[test]
    fn points_are_the_product_last_parameter_fastest() {
        let (sc, plan) = plan(GRID);
        assert_eq!(plan.points(), 6);
        assert_eq!(plan.runs().count(), 12);
        assert_eq!(plan.values_of(0), vec![0, 0, 0]);
        assert_eq!(plan.values_of(1), vec![0, 1, 0]);
        assert_eq!(plan.values_of(5), vec![2, 1, 0]);
        let p = point(&sc, &plan, 3, 1);
        assert_eq!(p.file.services[0].replicas, 2);
        let nodes: Vec<u32> = p.file.cluster.zones.value.iter().map(|z| z.nodes).collect();
        assert_eq!(nodes, vec![8, 8]);
        // A field the file does not write is created.
        assert_eq!(p.max_endpoints_per_slice, 50);
        // The point is the scenario without its sweep, under the same name.
        assert!(p.sweep.is_none());
        assert_eq!(p.name, "x");
    }

    #[test]
    fn seeds_per_point_differ_and_shared_seeds_count_replicates() {
        let (sc, plan) = plan(GRID);
        let mut seeds: Vec<u64> = plan.runs().map(|r| plan.run_seed(1, r)).collect();
        let p = point(&sc, &plan, 4, 1);
        assert_eq!(
            p.file.seed,
            plan.run_seed(
                1,
                Run {
                    point: 4,
                    replicate: 1
                }
            )
        );
        seeds.sort_unstable();
        seeds.dedup();
        assert_eq!(seeds.len(), 12);
        let (_, shared) =
            self::plan(&GRID.replace("replicates: 2", "replicates: 2\n  seeds: shared"));
        assert_eq!(
            shared.run_seed(
                7,
                Run {
                    point: 5,
                    replicate: 0
                }
            ),
            7
        );
        assert_eq!(
            shared.run_seed(
                7,
                Run {
                    point: 2,
                    replicate: 1
                }
            ),
            8
        );
    }

    #[test]
    fn an_invalid_point_is_blamed_on_its_value() {
        let text = GRID.replace("[1, 2, 3]", "[1, -2, 3]");
        let (sc, plan) = plan(&text);
        let err = plan
            .scenario(
                sc.file.seed,
                Run {
                    point: 2,
                    replicate: 0,
                },
            )
            .unwrap_err();
        let p = &err.problems[0];
        // `-2` is on line 10, column 31: after `    services[0].replicas: [1, `.
        assert_eq!((p.line, p.column), (10, 31), "{err}");
        assert_eq!(p.path, "sweep.parameters.services[0].replicas[1]");
        assert!(
            p.message
                .starts_with("services[0].replicas: expected a non-negative integer, got -2"),
            "{}",
            p.message
        );
        assert!(
            p.message.ends_with(
                " (point 2, with cluster.zones[*].nodes = 7, \
                 controllers.endpointslices.max_endpoints_per_slice = 50)"
            ),
            "{}",
            p.message
        );
    }

    #[test]
    fn paths_that_lead_nowhere_are_reported_at_the_parameter() {
        for (param, message) in [
            (
                "services[3].replicas",
                "services has 1 element(s), there is no [3]",
            ),
            ("cluster", "cluster is a mapping, not a scalar field"),
            (
                "watchers.custom[*].count",
                "watchers.custom is not written in the scenario",
            ),
            ("services[x].replicas", "expected an index or *"),
        ] {
            let text = format!(
                "services: [{{name: web}}]\ncluster: {{max_pods_per_node: 9}}\nsweep:\n  parameters:\n    {param}: [1]\n"
            );
            let err = Scenario::parse("x.yaml", "x", &text).unwrap_err();
            let p = &err.problems[0];
            assert_eq!((p.line, p.column), (5, 5), "{err}");
            assert_eq!(p.path, format!("sweep.parameters.{param}"));
            assert!(p.message.contains(message), "{param}: {}", p.message);
        }
    }

    #[test]
    fn label_keys_with_dots_are_found_whole() {
        let text = "services:\n  - name: web\n    labels: {app.kubernetes.io/name: web}\nsweep:\n  parameters:\n    services[0].labels.app.kubernetes.io/name: [a, b]\n";
        let (sc, plan) = plan(text);
        let p = point(&sc, &plan, 1, 0);
        assert_eq!(p.file.services[0].labels["app.kubernetes.io/name"], "b");
    }

    #[test]
    fn problem_paths_fall_under_parameters() {
        assert!(path_within("services[0].replicas", "services[0].replicas"));
        assert!(path_within(
            "cluster.zones[2].nodes",
            "cluster.zones[*].nodes"
        ));
        assert!(path_within("services[0].ports[1].port", "services[0]"));
        assert!(!path_within(
            "services[0].replicas2",
            "services[0].replicas"
        ));
        assert!(!path_within("services[1].replicas", "services[0].replicas"));
    }

    #[test]
    fn linked_fields_take_their_values_together() {
        let text = GRID.replace(
            "    cluster.zones[*].nodes: [7, 8]\n",
            "    size:\n      cluster.zones[*].nodes: [7, 8]\n      watchers.coredns: [3, 4]\n",
        );
        let (sc, plan) = plan(&text);
        assert_eq!(plan.points(), 6);
        assert!(plan.parameters[1].linked());
        let p = point(&sc, &plan, 1, 0);
        assert_eq!(p.file.cluster.zones.value[1].nodes, 8);
        assert_eq!(p.file.watchers.coredns, 4);
        // A problem in a linked field is reported at its own value.
        let bad = text.replace("watchers.coredns: [3, 4]", "watchers.coredns: [3, -4]");
        let (sc, plan) = self::plan(&bad);
        let err = plan
            .scenario(
                sc.file.seed,
                Run {
                    point: 1,
                    replicate: 0,
                },
            )
            .unwrap_err();
        assert_eq!(
            err.problems[0].path, "sweep.parameters.size.watchers.coredns[1]",
            "{err}"
        );
        assert_eq!(err.problems[0].line, 13, "{err}");
        // Linked fields of different lengths are refused.
        let uneven = text.replace("watchers.coredns: [3, 4]", "watchers.coredns: [3]");
        let err = Scenario::parse("x.yaml", "x", &uneven)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("sweep.parameters.size.watchers.coredns: has 1 values"),
            "{err}"
        );
    }
}
