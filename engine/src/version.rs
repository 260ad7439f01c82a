//! Who this engine is: its version and the API versions it serves. Below
//! both `api` (headers, version prefixes) and `daemon` (image configs record
//! the engine version that wrote them).

/// The engine's own version, as `/version` reports it and image configs record it.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// API versions this engine serves, as (major, minor): from dockerd
/// 20.10's oldest (1.12), with the behaviours that change with the version
/// kept where a handler checks `Ctx::version`.
pub const MIN_API_VERSION: ApiVersion = ApiVersion(1, 12);
pub const MAX_API_VERSION: ApiVersion = ApiVersion(1, 50);
/// `MAX_API_VERSION` as text, for a static header value.
pub const MAX_API_VERSION_STR: &str = "1.50";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion(pub u32, pub u32);

impl ApiVersion {
    pub fn parse(s: &str) -> Option<Self> {
        let (maj, min) = s.split_once('.')?;
        Some(ApiVersion(maj.parse().ok()?, min.parse().ok()?))
    }
}

impl std::fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_version_string_matches_constant() {
        assert_eq!(MAX_API_VERSION_STR, MAX_API_VERSION.to_string());
    }
}
