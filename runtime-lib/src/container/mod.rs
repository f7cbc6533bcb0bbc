//! The public lifecycle.
use std::path::PathBuf;

/// Container status as the runtime-spec defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Being created.
    Creating,
    /// Created, waiting for start.
    Created,
    /// Running.
    Running,
    /// Stopped.
    Stopped,
}

/// Builds a container from a bundle.
#[derive(Debug)]
pub struct ContainerBuilder {
    id: String,
    bundle: PathBuf,
    root: PathBuf,
}

impl ContainerBuilder {
    /// A builder for container `id` from `bundle`.
    pub fn new(id: impl Into<String>, bundle: impl Into<PathBuf>) -> Self {
        ContainerBuilder { id: id.into(), bundle: bundle.into(), root: PathBuf::from("/run/husk") }
    }
    /// The state root.
    pub fn state_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = root.into();
        self
    }
    /// Create.
    ///
    /// # Errors
    /// Any.
    pub fn create(self) -> crate::Result<Container> {
        let _ = (self.id, self.bundle, self.root);
        unimplemented!()
    }
}

/// A container.
#[derive(Debug)]
pub struct Container {}

impl Container {
    /// Load.
    ///
    /// # Errors
    /// Any.
    pub fn load(root: impl Into<PathBuf>, id: &str) -> crate::Result<Container> {
        let _ = (root.into(), id);
        unimplemented!()
    }
    /// Start.
    ///
    /// # Errors
    /// Any.
    pub fn start(&mut self) -> crate::Result<()> {
        unimplemented!()
    }
    /// Status.
    pub fn status(&self) -> Status {
        unimplemented!()
    }
}
