//! Creating and joining namespaces, id mappings, time offsets.
