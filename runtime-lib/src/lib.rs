//! husk: an OCI container runtime library.
//!
//! husk takes an OCI bundle (a root filesystem plus `config.json`, runtime-spec 1.2/1.3) and makes
//! it a running container: namespaces, id mappings, cgroups, mounts and `pivot_root`, devices,
//! masked and read-only paths, capabilities, seccomp, rlimits, hooks and state.
//!
//! The entry points are [`ContainerBuilder`] (create a container from a bundle) and
//! [`Container`] (load one from the state directory and drive it through its lifecycle).
//!
//! ```no_run
//! use husk::{ContainerBuilder, Container};
//!
//! # fn main() -> Result<(), husk::Error> {
//! let mut c = ContainerBuilder::new("demo", "/path/to/bundle")
//!     .state_root("/run/husk")
//!     .create()?;
//! c.start()?;
//! let c = Container::load("/run/husk", "demo")?;
//! println!("{:?}", c.status());
//! # Ok(()) }
//! ```

pub mod cgroups;
pub mod container;
pub mod error;
pub mod features;
pub mod hooks;
pub mod namespaces;
pub(crate) mod process;
pub mod rootfs;
pub mod security;
pub mod spec;
pub mod state;
#[allow(unsafe_code)]
pub(crate) mod sys;

pub use container::{Container, ContainerBuilder, Status};
pub use error::{Error, OsError, Result};
pub use features::features;
