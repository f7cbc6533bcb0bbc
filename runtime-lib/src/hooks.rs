//! Hooks: the six kinds, with timeouts and the container state on stdin.

/// Errors of hooks.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HookError {
    /// A hook failed.
    #[error("{kind} hook {path}: {msg}")]
    Failed {
        /// The hook kind.
        kind: &'static str,
        /// The hook's path.
        path: String,
        /// What happened.
        msg: String,
    },
}
