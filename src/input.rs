//! Reading Endpoints and EndpointSlice objects as `kubectl` and the API server print them.
//!
//! Accepted shapes, in YAML or JSON:
//! * one object, or a multi-document YAML stream;
//! * a list: `kind: List`, `EndpointsList`, `EndpointSliceList` (`kubectl get -o yaml|json`);
//! * watch events, `{"type":"ADDED","object":{...}}`, one JSON value per line
//!   (`kubectl get -w -o json`, or the raw `?watch=1` stream).
//!
//! A file whose first non-blank character is `{` or `[` is read as JSON (a stream of values),
//! anything else as YAML. Objects of other kinds are reported back as [`Item::Skipped`] so the
//! caller can say so. Every error names the source, line and column.

use std::fmt;

use serde::Deserialize;

use crate::wire::model::*;

/// Where a problem is: the source's name (a path, or `-` for stdin), line and column (1-based;
/// column 0 when only the line is known).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    pub source: String,
    pub line: u64,
    pub column: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.column > 0 {
            write!(f, "{}:{}:{}", self.source, self.line, self.column)
        } else {
            write!(f, "{}:{}", self.source, self.line)
        }
    }
}

/// A malformed input.
#[derive(Debug, thiserror::Error)]
#[error("{position}: {message}")]
pub struct InputError {
    pub position: Position,
    pub message: String,
}

/// One thing found in an input.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// An Endpoints or EndpointSlice, with the line its document starts on.
    Object { object: Box<Object>, line: u64 },
    /// An object of another kind, which has no size here.
    Skipped {
        kind: String,
        name: String,
        line: u64,
    },
}

/// One document: the union of the top-level fields of every accepted shape. Nothing is
/// flattened or untagged, so the YAML and JSON parsers can point at the exact line of an error.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Doc {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    metadata: Option<ObjectMeta>,
    #[serde(default)]
    subsets: Option<Vec<EndpointSubset>>,
    #[serde(default)]
    address_type: Option<String>,
    #[serde(default)]
    endpoints: Option<Vec<Endpoint>>,
    #[serde(default)]
    ports: Option<Vec<EndpointPort>>,
    #[serde(default)]
    items: Option<Vec<Doc>>,
    #[serde(default, rename = "type")]
    event_type: Option<String>,
    #[serde(default)]
    object: Option<Box<Doc>>,
}

/// Reads every object in `text`. `source` names the input in errors.
pub fn read_str(source: &str, text: &str) -> Result<Vec<Item>, InputError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        read_json(source, text)
    } else {
        read_yaml(source, text)
    }
}

fn position(source: &str, line: u64, column: u64) -> Position {
    Position {
        source: source.to_string(),
        line,
        column,
    }
}

fn read_json(source: &str, text: &str) -> Result<Vec<Item>, InputError> {
    let mut items = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Doc>();
    loop {
        let start = stream.byte_offset();
        let next = stream.next();
        let Some(next) = next else { break };
        let doc = next.map_err(|e| InputError {
            position: position(source, e.line() as u64, e.column() as u64),
            message: format!("invalid JSON: {e}")
                .split(" at line ")
                .next()
                .unwrap_or_default()
                .to_string(),
        })?;
        // The document starts at the first non-blank byte after the previous one.
        let skipped = text[start..].len() - text[start..].trim_start().len();
        let line = text[..start + skipped].matches('\n').count() as u64 + 1;
        collect(source, doc, line, Inherited::default(), &mut items)?;
    }
    Ok(items)
}

fn read_yaml(source: &str, text: &str) -> Result<Vec<Item>, InputError> {
    let options = crate::yaml::options(text.len());
    let docs: Vec<Doc> = serde_saphyr::from_multiple_with_options(text, options).map_err(|e| {
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        InputError {
            position: position(source, line.max(1), column),
            message: format!("invalid YAML: {}", crate::yaml::message(&e)),
        }
    })?;
    let starts = yaml_document_lines(text);
    let mut items = Vec::new();
    for (i, doc) in docs.into_iter().enumerate() {
        let line = starts.get(i).copied().unwrap_or(1);
        collect(source, doc, line, Inherited::default(), &mut items)?;
    }
    Ok(items)
}

/// First content line of each non-empty YAML document (1-based), for messages about a whole
/// document. Comments, blank lines and `---` separators are not content.
fn yaml_document_lines(text: &str) -> Vec<u64> {
    let mut starts = Vec::new();
    let mut in_doc = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t == "---" || t.starts_with("--- ") || t == "..." {
            in_doc = false;
            continue;
        }
        if t.is_empty() || t.starts_with('#') || t.starts_with('%') {
            continue;
        }
        if !in_doc {
            starts.push(i as u64 + 1);
            in_doc = true;
        }
    }
    starts
}

fn doc_error(source: &str, line: u64, message: String) -> InputError {
    InputError {
        position: position(source, line, 0),
        message,
    }
}

/// Turns one document into items: an object, the items of a list, or a watch event's object.
/// What the items of a typed List (`EndpointSliceList`, `EndpointsList`) inherit when they
/// carry none: the kind, and the List's apiVersion (a `discovery.k8s.io/v1beta1`
/// EndpointSliceList holds v1beta1 slices). A generic `List` passes nothing on.
#[derive(Clone, Copy, Default)]
struct Inherited<'a> {
    kind: Option<&'a str>,
    api_version: Option<&'a str>,
}

fn collect(
    source: &str,
    mut doc: Doc,
    line: u64,
    inherited: Inherited<'_>,
    out: &mut Vec<Item>,
) -> Result<(), InputError> {
    if doc.api_version.is_none() {
        doc.api_version = inherited.api_version.map(str::to_string);
    }
    if let (None, Some(event_type), Some(object)) = (&doc.kind, &doc.event_type, doc.object) {
        // A watch event: {"type": ..., "object": {...}}. A BOOKMARK carries only a
        // resourceVersion and an ERROR a Status: neither is an object with a size.
        return match event_type.as_str() {
            "ADDED" | "MODIFIED" | "DELETED" => {
                collect(source, *object, line, Inherited::default(), out)
            }
            _ => {
                out.push(Item::Skipped {
                    kind: format!("{event_type} event"),
                    name: String::new(),
                    line,
                });
                Ok(())
            }
        };
    }
    let kind = doc
        .kind
        .clone()
        .or_else(|| inherited.kind.map(str::to_string))
        .ok_or_else(|| doc_error(source, line, "document has no `kind`".to_string()))?;
    let name = doc
        .metadata
        .as_ref()
        .map(|m| m.name.clone())
        .unwrap_or_default();
    let what = format!("{kind} {name:?}");
    match kind.as_str() {
        "List" | "EndpointsList" | "EndpointSliceList" => {
            let item_kind = kind.strip_suffix("List").filter(|k| !k.is_empty());
            let inherited = Inherited {
                kind: item_kind,
                api_version: item_kind.and(doc.api_version.as_deref()),
            };
            for item in doc.items.unwrap_or_default() {
                collect(source, item, line, inherited, out)?;
            }
        }
        "Endpoints" => {
            if let Some(v) = doc.api_version.as_deref().filter(|v| *v != "v1") {
                return Err(doc_error(
                    source,
                    line,
                    format!(
                        "{what}: apiVersion {v:?} is not served for Endpoints (expected \"v1\")"
                    ),
                ));
            }
            let object = Object::Endpoints(Endpoints {
                metadata: doc.metadata.unwrap_or_default(),
                subsets: doc.subsets.unwrap_or_default(),
            });
            out.push(Item::Object {
                object: Box::new(object),
                line,
            });
        }
        "EndpointSlice" => {
            let version = match doc.api_version.as_deref() {
                Some("discovery.k8s.io/v1") | None => SliceVersion::V1,
                Some("discovery.k8s.io/v1beta1") => SliceVersion::V1Beta1,
                Some(v) => {
                    return Err(doc_error(
                        source,
                        line,
                        format!(
                            "{what}: apiVersion {v:?} is not served for EndpointSlice \
                             (expected discovery.k8s.io/v1 or discovery.k8s.io/v1beta1)"
                        ),
                    ));
                }
            };
            let address_type = doc.address_type.ok_or_else(|| {
                doc_error(source, line, format!("{what}: missing field `addressType`"))
            })?;
            let endpoints = doc.endpoints.unwrap_or_default();
            if version == SliceVersion::V1Beta1 && endpoints.iter().any(|e| e.zone.is_some()) {
                return Err(doc_error(
                    source,
                    line,
                    format!("{what}: `zone` does not exist in discovery.k8s.io/v1beta1"),
                ));
            }
            let object = Object::EndpointSlice(EndpointSlice {
                version,
                metadata: doc.metadata.unwrap_or_default(),
                address_type,
                endpoints,
                ports: doc.ports.unwrap_or_default(),
            });
            out.push(Item::Object {
                object: Box::new(object),
                line,
            });
        }
        _ => out.push(Item::Skipped { kind, name, line }),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_lines_skip_comments_and_separators() {
        let text = "# c\nkind: A\n---\n\n# x\nkind: B\n---\nkind: C\n";
        assert_eq!(yaml_document_lines(text), vec![2, 6, 8]);
    }

    #[test]
    fn watch_events_and_lists() {
        let text = r#"{"type":"ADDED","object":{"kind":"Endpoints","apiVersion":"v1","metadata":{"name":"a"}}}
{"type":"MODIFIED","object":{"kind":"EndpointSliceList","apiVersion":"discovery.k8s.io/v1","metadata":{"resourceVersion":"5"},"items":[{"metadata":{"name":"b"},"addressType":"IPv4","endpoints":null,"ports":null}]}}
"#;
        let items = read_str("t.json", text).unwrap();
        assert_eq!(items.len(), 2);
        match &items[1] {
            Item::Object { object, line } => {
                assert_eq!(object.kind(), "EndpointSlice");
                assert_eq!(object.metadata().name, "b");
                assert_eq!(*line, 2);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn other_kinds_are_skipped() {
        let items = read_str(
            "s.yaml",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports: [{port: 80}]\n",
        )
        .unwrap();
        assert_eq!(
            items,
            vec![Item::Skipped {
                kind: "Service".into(),
                name: "web".into(),
                line: 1
            }]
        );
    }

    #[test]
    fn yaml_type_errors_name_the_line() {
        let text = "kind: Endpoints\napiVersion: v1\nsubsets:\n- addresses:\n  - ip: 10.0.0.1\n    nodeName: [1, 2]\n";
        let err = read_str("e.yaml", text).unwrap_err();
        assert_eq!(err.position.line, 6, "{err}");
    }

    #[test]
    fn json_syntax_errors_name_the_line() {
        let err =
            read_str("e.json", "{\n \"kind\": \"Endpoints\",\n \"subsets\": [}\n").unwrap_err();
        assert_eq!(err.position.line, 3, "{err}");
    }
}
