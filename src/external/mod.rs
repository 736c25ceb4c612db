//! Services that live outside the cluster (Consul, Eureka, external DNS) behind a headless,
//! selector-less Service, and the controllers people write to publish them as EndpointSlices
//! (issue 13). The registry's history comes first and alone ([`registry`]): it depends on the
//! scenario's seed and the Service's index only, never on the controller strategy, so that
//! strategies compare on identical histories.

pub mod registry;
