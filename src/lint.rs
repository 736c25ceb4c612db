//! `slicesim lint`: the advice for hand-written EndpointSlices, checked on real objects.
//!
//! Each rule is one a slice written outside the upstream controller tends to break:
//! the `kubernetes.io/service-name` label (without it no consumer associates the slice with
//! its Service), the `endpointslice.kubernetes.io/managed-by` label (which controller owns
//! it; the upstream controllers leave slices of other managers alone), ownerReferences (the
//! garbage collector deletes owned slices with their Service), at most `max` endpoints (the
//! upstream default of `--max-endpoints-per-slice`, 100), ready only when serving (the API's
//! `EndpointConditions`: ready means serving and not terminating), one address in one slice
//! per Service and address type (a duplicate makes consumers' counts wrong), and no empty
//! slices (left behind when a registry shrinks).

use std::collections::BTreeMap;
use std::fmt;

pub use crate::controllers::endpointslice::{MANAGED_BY, SERVICE_NAME};
use crate::input::Position;
use crate::wire::model::EndpointSlice;

/// What a finding breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    MissingServiceName,
    MissingManagedBy,
    NoOwner,
    TooManyEndpoints,
    ReadyNotServing,
    DuplicateAddress,
    Empty,
}

impl Rule {
    pub const ALL: [Rule; 7] = [
        Rule::MissingServiceName,
        Rule::MissingManagedBy,
        Rule::NoOwner,
        Rule::TooManyEndpoints,
        Rule::ReadyNotServing,
        Rule::DuplicateAddress,
        Rule::Empty,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Rule::MissingServiceName => "service-name",
            Rule::MissingManagedBy => "managed-by",
            Rule::NoOwner => "owner",
            Rule::TooManyEndpoints => "max-endpoints",
            Rule::ReadyNotServing => "ready-not-serving",
            Rule::DuplicateAddress => "duplicate-address",
            Rule::Empty => "empty",
        }
    }
}

/// One rule broken by one slice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub position: Position,
    /// `namespace/name`.
    pub slice: String,
    pub rule: Rule,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: EndpointSlice {}: {}: {}",
            self.position,
            self.slice,
            self.rule.name(),
            self.message
        )
    }
}

/// Checks `slices` (with where each was read) against every rule; findings in input order.
pub fn lint(slices: &[(Position, &EndpointSlice)], max: usize) -> Vec<Finding> {
    let mut out = Vec::new();
    // (namespace, service, address type) → address → the first slice that has it.
    let mut seen: BTreeMap<(String, String, String), BTreeMap<&str, String>> = BTreeMap::new();
    for (position, s) in slices {
        let m = &s.metadata;
        let slice = format!("{}/{}", m.namespace, m.name);
        let mut found = |rule: Rule, message: String| {
            out.push(Finding {
                position: position.clone(),
                slice: slice.clone(),
                rule,
                message,
            })
        };
        let service = m.labels.get(SERVICE_NAME);
        if service.is_none_or(|v| v.is_empty()) {
            found(
                Rule::MissingServiceName,
                format!("no {SERVICE_NAME} label: no consumer ties it to a Service"),
            );
        }
        if m.labels.get(MANAGED_BY).is_none_or(|v| v.is_empty()) {
            found(
                Rule::MissingManagedBy,
                format!("no {MANAGED_BY} label: nothing says which controller owns it"),
            );
        }
        if m.owner_references.is_empty() {
            found(
                Rule::NoOwner,
                "no ownerReferences: it outlives its Service (nothing garbage-collects it)".into(),
            );
        }
        if s.endpoints.len() > max {
            found(
                Rule::TooManyEndpoints,
                format!("{} endpoints, more than {max}", s.endpoints.len()),
            );
        }
        if s.endpoints.is_empty() {
            found(Rule::Empty, "no endpoints".into());
        }
        for e in &s.endpoints {
            let c = e.conditions;
            if c.ready == Some(true) && c.serving == Some(false) {
                found(
                    Rule::ReadyNotServing,
                    format!(
                        "endpoint {} is ready but not serving",
                        e.addresses.first().map_or("(no address)", String::as_str)
                    ),
                );
            }
        }
        let Some(service) = service.filter(|v| !v.is_empty()) else {
            continue;
        };
        let key = (m.namespace.clone(), service.clone(), s.address_type.clone());
        let first = seen.entry(key).or_default();
        for e in &s.endpoints {
            for a in &e.addresses {
                match first.get(a.as_str()) {
                    Some(other) if *other != slice => found(
                        Rule::DuplicateAddress,
                        format!("address {a} is also in {other} (Service {service})"),
                    ),
                    Some(_) => found(
                        Rule::DuplicateAddress,
                        format!("address {a} appears twice in this slice"),
                    ),
                    None => {
                        first.insert(a, slice.clone());
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::model::{Endpoint, EndpointConditions, OwnerReference};

    fn at(line: u64) -> Position {
        Position {
            source: "t.yaml".into(),
            line,
            column: 0,
        }
    }

    fn endpoint(address: &str, ready: bool, serving: bool) -> Endpoint {
        Endpoint {
            addresses: vec![address.into()],
            conditions: EndpointConditions {
                ready: Some(ready),
                serving: Some(serving),
                terminating: Some(false),
            },
            ..Default::default()
        }
    }

    /// A slice that follows every rule.
    fn good(name: &str, addresses: &[&str]) -> EndpointSlice {
        let mut s = EndpointSlice {
            address_type: "IPv4".into(),
            endpoints: addresses.iter().map(|a| endpoint(a, true, true)).collect(),
            ..Default::default()
        };
        s.metadata.name = name.into();
        s.metadata.namespace = "default".into();
        s.metadata.labels.insert(SERVICE_NAME.into(), "web".into());
        s.metadata
            .labels
            .insert(MANAGED_BY.into(), "my-controller".into());
        s.metadata.owner_references.push(OwnerReference {
            api_version: "v1".into(),
            kind: "Service".into(),
            name: "web".into(),
            uid: "u".into(),
            ..Default::default()
        });
        s
    }

    fn rules(slices: &[EndpointSlice], max: usize) -> Vec<(String, Rule)> {
        let located: Vec<(Position, &EndpointSlice)> = slices
            .iter()
            .enumerate()
            .map(|(i, s)| (at(i as u64 + 1), s))
            .collect();
        lint(&located, max)
            .into_iter()
            .map(|f| (f.slice, f.rule))
            .collect()
    }

    #[test]
    fn a_good_slice_is_clean() {
        assert!(rules(&[good("a", &["10.0.0.1", "10.0.0.2"])], 100).is_empty());
    }

    /// Each rule, broken alone by one slice.
    #[test]
    fn each_rule_finds_its_violation() {
        let mut no_name = good("n", &["10.0.0.1"]);
        no_name.metadata.labels.remove(SERVICE_NAME);
        let mut no_manager = good("m", &["10.0.0.2"]);
        no_manager.metadata.labels.remove(MANAGED_BY);
        let mut orphan = good("o", &["10.0.0.3"]);
        orphan.metadata.owner_references.clear();
        let big = good("b", &["10.0.1.1", "10.0.1.2", "10.0.1.3"]);
        let mut not_serving = good("r", &["10.0.2.1"]);
        not_serving.endpoints[0].conditions.serving = Some(false);
        let dup = good("d", &["10.0.1.2"]);
        let empty = good("e", &[]);
        let found = rules(
            &[no_name, no_manager, orphan, big, not_serving, dup, empty],
            2,
        );
        let d = |s: &str| format!("default/{s}");
        assert_eq!(
            found,
            [
                (d("n"), Rule::MissingServiceName),
                (d("m"), Rule::MissingManagedBy),
                (d("o"), Rule::NoOwner),
                (d("b"), Rule::TooManyEndpoints),
                (d("r"), Rule::ReadyNotServing),
                (d("d"), Rule::DuplicateAddress),
                (d("e"), Rule::Empty),
            ]
        );
    }

    /// The same address in slices of different Services, or of different address types, is
    /// no duplicate; twice in one slice is.
    #[test]
    fn duplicates_are_per_service_and_address_type() {
        let a = good("a", &["10.0.0.1"]);
        let mut other = good("b", &["10.0.0.1"]);
        other
            .metadata
            .labels
            .insert(SERVICE_NAME.into(), "api".into());
        let mut v6 = good("c", &["10.0.0.1"]);
        v6.address_type = "IPv6".into();
        assert!(rules(&[a, other, v6], 100).is_empty());
        let twice = good("t", &["10.0.0.9", "10.0.0.9"]);
        assert_eq!(
            rules(&[twice], 100),
            [("default/t".to_string(), Rule::DuplicateAddress)]
        );
    }

    #[test]
    fn a_finding_reads_as_one_line() {
        let mut s = good("x", &["10.0.0.1"]);
        s.metadata.owner_references.clear();
        let f = &lint(&[(at(7), &s)], 100)[0];
        assert_eq!(
            f.to_string(),
            "t.yaml:7: EndpointSlice default/x: owner: no ownerReferences: it outlives its \
             Service (nothing garbage-collects it)"
        );
    }
}
