//! Loading and validating `config.json`, and resolving it into a plan.
use std::path::PathBuf;

use oci_spec::runtime::Spec;

/// Errors of loading and validating a bundle's config.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// A field is invalid; `field` is its JSON path.
    #[error("{field}: {msg}")]
    Invalid {
        /// e.g. `linux.namespaces[2].type`.
        field: String,
        /// What is wrong with it.
        msg: String,
    },
    /// config.json could not be read.
    #[error("open {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// The runtime-spec version husk implements (the `spec:` line of `--version`).
pub const SPEC_VERSION: &str = "1.2.1";

/// A default config.json like `runc spec` writes (with `rootless`, like `runc spec --rootless`).
pub fn default_spec(rootless: bool) -> Spec {
    let _ = rootless;
    unimplemented!()
}
