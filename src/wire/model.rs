//! The object model: Endpoints and EndpointSlice exactly as the API server stores them.
//!
//! The structs mirror the Go types field for field (`k8s.io/api/core/v1/types.go`,
//! `k8s.io/api/discovery/v1/types.go`, `k8s.io/apimachinery/pkg/apis/meta/v1/types.go`), because
//! the encoders treat a Go *pointer* (here `Option`) differently from a Go *value* (here a plain
//! `String`/`i64`/struct): protobuf always writes a value field, even when empty, and writes a
//! pointer only when it is set. Keeping that distinction in the types is what makes byte-exact
//! sizes possible; see `../shared/spec/wire-format.md` ("Encoding rules").
//!
//! The types deserialize from the JSON/YAML that `kubectl get -o json|yaml` prints. Unknown
//! fields inside an object are errors, so that a field this model does not carry can never be
//! dropped silently from a size.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer};

/// `metav1.Time`: whole seconds since the Unix epoch (UTC), or the zero time.
///
/// Go's `metav1.Time` marshals to JSON as RFC 3339 with whole seconds and to protobuf as
/// `Timestamp{seconds, nanos: 0}` (`time_proto.go`), so sub-second precision never reaches the
/// wire and is dropped on input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub i64);

impl Time {
    /// Parses an RFC 3339 timestamp such as `2008-01-01T01:01:01Z`.
    pub fn parse_rfc3339(s: &str) -> Result<Time, String> {
        let ts: k8s_openapi::jiff::Timestamp = s
            .parse()
            .map_err(|e| format!("invalid RFC 3339 time {s:?}: {e}"))?;
        Ok(Time(ts.as_second()))
    }

    /// The time as a `jiff` timestamp (for the `k8s-openapi` types).
    pub fn to_jiff(self) -> k8s_openapi::jiff::Timestamp {
        k8s_openapi::jiff::Timestamp::from_second(self.0)
            .unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH)
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(20);
        if crate::digits::push_rfc3339(&mut s, self.0) {
            f.write_str(&s)
        } else {
            write!(f, "{}", self.to_jiff().strftime("%Y-%m-%dT%H:%M:%SZ"))
        }
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Time::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

/// Deserializes a JSON `null` (how Go writes a nil slice or map) as the empty default.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Deserializes `fieldsV1` (a JSON object in JSON and YAML input) into the compact JSON text
/// that the API server stores as `FieldsV1.Raw`, escaped as Go's encoder escapes it.
fn fields_v1<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    v.map(|v| crate::wire::gojson::to_vec(&v).map(|b| String::from_utf8_lossy(&b).into_owned()))
        .transpose()
        .map_err(serde::de::Error::custom)
}

/// `metav1.ObjectMeta`.
///
/// Unlike the other types, unknown fields are ignored here: a list's `metadata` is a ListMeta
/// (`continue`, `remainingItemCount`), and objects from clusters up to 1.24 may carry
/// `clusterName`, which current API servers no longer write.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub generate_name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub self_link: String,
    #[serde(default)]
    pub uid: String,
    #[serde(default)]
    pub resource_version: String,
    #[serde(default)]
    pub generation: i64,
    /// `None` is Go's zero time, which JSON writes as `null`.
    #[serde(default)]
    pub creation_timestamp: Option<Time>,
    #[serde(default)]
    pub deletion_timestamp: Option<Time>,
    #[serde(default)]
    pub deletion_grace_period_seconds: Option<i64>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub owner_references: Vec<OwnerReference>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub finalizers: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub managed_fields: Vec<ManagedFieldsEntry>,
}

/// `metav1.OwnerReference`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OwnerReference {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub uid: String,
    #[serde(default)]
    pub controller: Option<bool>,
    #[serde(default)]
    pub block_owner_deletion: Option<bool>,
}

/// `metav1.ManagedFieldsEntry`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManagedFieldsEntry {
    #[serde(default)]
    pub manager: String,
    #[serde(default)]
    pub operation: String,
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub time: Option<Time>,
    #[serde(default)]
    pub fields_type: String,
    /// `FieldsV1.Raw`: the field set as compact JSON text, e.g. `{"f:subsets":{}}`.
    #[serde(default, rename = "fieldsV1", deserialize_with = "fields_v1")]
    pub fields_v1: Option<String>,
    #[serde(default)]
    pub subresource: String,
}

/// `core/v1.ObjectReference` (an endpoint's `targetRef`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectReference {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub uid: String,
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub resource_version: String,
    #[serde(default)]
    pub field_path: String,
}

/// `core/v1.Endpoints`: the legacy API, one object per Service.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoints {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, deserialize_with = "null_as_default")]
    pub subsets: Vec<EndpointSubset>,
}

/// `core/v1.EndpointSubset`: addresses that share one set of ports.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointSubset {
    #[serde(default, deserialize_with = "null_as_default")]
    pub addresses: Vec<EndpointAddress>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub not_ready_addresses: Vec<EndpointAddress>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub ports: Vec<CoreEndpointPort>,
}

/// `core/v1.EndpointAddress`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointAddress {
    #[serde(default)]
    pub ip: String,
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub node_name: Option<String>,
    #[serde(default)]
    pub target_ref: Option<Box<ObjectReference>>,
}

/// `core/v1.EndpointPort`: name, port and protocol are Go values (always on the wire).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CoreEndpointPort {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub port: i32,
    #[serde(default)]
    pub protocol: String,
    #[serde(default)]
    pub app_protocol: Option<String>,
}

/// Which served version of `discovery.k8s.io` an EndpointSlice is written in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SliceVersion {
    /// `discovery.k8s.io/v1`, served since 1.21.
    #[default]
    V1,
    /// `discovery.k8s.io/v1beta1`, served until 1.25: `topology` instead of
    /// `deprecatedTopology`, no `zone`, and `hints` as field 7.
    V1Beta1,
}

impl SliceVersion {
    /// The `apiVersion` string.
    pub fn api_version(self) -> &'static str {
        match self {
            SliceVersion::V1 => "discovery.k8s.io/v1",
            SliceVersion::V1Beta1 => "discovery.k8s.io/v1beta1",
        }
    }
}

/// `discovery/v1.EndpointSlice` (or v1beta1, see [`SliceVersion`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EndpointSlice {
    pub version: SliceVersion,
    pub metadata: ObjectMeta,
    pub address_type: String,
    pub endpoints: Vec<Endpoint>,
    pub ports: Vec<EndpointPort>,
}

/// `discovery/v1.Endpoint`. For v1beta1, `deprecated_topology` holds the `topology` map and
/// `zone` is always `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Endpoint {
    #[serde(default, deserialize_with = "null_as_default")]
    pub addresses: Vec<String>,
    #[serde(default)]
    pub conditions: EndpointConditions,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub target_ref: Option<Box<ObjectReference>>,
    #[serde(default, alias = "topology", deserialize_with = "null_as_default")]
    pub deprecated_topology: BTreeMap<String, String>,
    #[serde(default)]
    pub node_name: Option<String>,
    #[serde(default)]
    pub zone: Option<String>,
    #[serde(default)]
    pub hints: Option<EndpointHints>,
}

/// `discovery/v1.EndpointConditions`: three tri-state flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointConditions {
    #[serde(default)]
    pub ready: Option<bool>,
    #[serde(default)]
    pub serving: Option<bool>,
    #[serde(default)]
    pub terminating: Option<bool>,
}

/// `discovery/v1.EndpointHints`: topology-aware routing hints.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointHints {
    #[serde(default, deserialize_with = "null_as_default")]
    pub for_zones: Vec<ForName>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub for_nodes: Vec<ForName>,
}

/// `discovery/v1.ForZone` and `ForNode`: both are `{name}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForName {
    #[serde(default)]
    pub name: String,
}

/// `discovery/v1.EndpointPort`: every field is a Go pointer (written only when set).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointPort {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub protocol: Option<String>,
    #[serde(default)]
    pub port: Option<i32>,
    #[serde(default)]
    pub app_protocol: Option<String>,
}

/// One object of either kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Object {
    Endpoints(Endpoints),
    EndpointSlice(EndpointSlice),
}

impl Object {
    /// `kind` as the API writes it.
    pub fn kind(&self) -> &'static str {
        match self {
            Object::Endpoints(_) => "Endpoints",
            Object::EndpointSlice(_) => "EndpointSlice",
        }
    }

    /// `apiVersion` as the API writes it.
    pub fn api_version(&self) -> &'static str {
        match self {
            Object::Endpoints(_) => "v1",
            Object::EndpointSlice(s) => s.version.api_version(),
        }
    }

    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Object::Endpoints(e) => &e.metadata,
            Object::EndpointSlice(s) => &s.metadata,
        }
    }

    /// The address type: a slice's `addressType`; for Endpoints, the family of the first
    /// address (`IPv4`, `IPv6`), or empty when there is none or it is not an IP.
    pub fn address_type(&self) -> String {
        match self {
            Object::EndpointSlice(s) => s.address_type.clone(),
            Object::Endpoints(e) => e
                .subsets
                .iter()
                .flat_map(|s| s.addresses.iter().chain(&s.not_ready_addresses))
                .next()
                .and_then(|a| a.ip.parse::<std::net::IpAddr>().ok())
                .map(|ip| if ip.is_ipv6() { "IPv6" } else { "IPv4" }.to_string())
                .unwrap_or_default(),
        }
    }

    /// Endpoints in a slice; addresses (ready and not ready, over all subsets) in an Endpoints.
    pub fn endpoint_count(&self) -> usize {
        match self {
            Object::EndpointSlice(s) => s.endpoints.len(),
            Object::Endpoints(e) => e
                .subsets
                .iter()
                .map(|s| s.addresses.len() + s.not_ready_addresses.len())
                .sum(),
        }
    }
}
