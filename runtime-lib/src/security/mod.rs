//! Capabilities, seccomp, rlimits, no_new_privileges, oom_score_adj and LSM labels.
pub mod seccomp;
