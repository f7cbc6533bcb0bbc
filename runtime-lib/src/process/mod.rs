//! The container process: clone, the parent/child channel, the init stages, exec.

/// An error that happened in the container process, carried back as data.
#[derive(Debug, thiserror::Error)]
#[error("{context}")]
pub struct InitError {
    /// What failed.
    pub context: String,
    /// The errno, if any.
    pub errno: Option<i32>,
}
