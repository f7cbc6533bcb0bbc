//! System call wrappers (see the parent module).
