//! The cases, one module per part of the runtime-spec. Each case is named after the spec section
//! it checks: `runtime/...` (runtime.md: state, lifecycle, operations), `runtime-linux/...`,
//! `config/...` (config.md), `config-linux/...` (config-linux.md), `config/invalid/...` (configs
//! a runtime must refuse), and `cli/...` for the runc command-line contract that engines rely
//! on (compat.md) but the spec does not define.

use crate::ctx::{Ctx, R};

mod cgroups;
mod cli;
mod config;
mod devices;
mod hooks;
mod invalid;
mod lifecycle;
mod namespaces;
mod security;

/// One case.
pub struct Case {
    /// Spec-shaped name, e.g. `runtime/state/status-created`.
    pub name: &'static str,
    /// The check; cleanup runs afterwards whatever it returns.
    pub f: fn(&mut Ctx<'_>) -> R,
}

/// Shorthand for building the tables.
pub fn case(name: &'static str, f: fn(&mut Ctx<'_>) -> R) -> Case {
    Case { name, f }
}

/// Every case, in a stable order.
pub fn all() -> Vec<Case> {
    let mut v = Vec::new();
    v.extend(lifecycle::cases());
    v.extend(cli::cases());
    v.extend(config::cases());
    v.extend(namespaces::cases());
    v.extend(devices::cases());
    v.extend(cgroups::cases());
    v.extend(security::cases());
    v.extend(hooks::cases());
    v.extend(invalid::cases());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_spec_shaped() {
        let all = all();
        let mut names: Vec<&str> = all.iter().map(|c| c.name).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "duplicate case names");
        for n in names {
            let section = n.split('/').next().unwrap();
            assert!(
                matches!(
                    section,
                    "runtime" | "runtime-linux" | "config" | "config-linux" | "cli"
                ),
                "{n}: not named after a spec section"
            );
        }
    }
}
