//! Namespaced tests (see below).
