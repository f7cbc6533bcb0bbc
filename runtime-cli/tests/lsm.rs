//! AppArmor and SELinux on a host WITHOUT them (this build machine's kernel has neither): the
//! runtime must do what runc 1.1 does, which these tests also pass against
//! (`HUSK_TEST_RUNTIME=/usr/sbin/runc`):
//!
//! - `process.apparmorProfile` set: the create fails (runc: its write to `attr/exec` gets
//!   EINVAL), leaving nothing behind; `exec --apparmor` fails the same way;
//! - `process.selinuxLabel` set: the create fails with "selinux label is specified in config,
//!   but selinux is disabled or not supported"; `exec --process-label` too;
//! - `linux.mountLabel` set: the mounts that get `context=` (a tmpfs) make the create fail; a
//!   config without such mounts runs.
//!
//! The enabled paths (the profile really confining the process, its deny rule enforced) run
//! in the VM lab, whose kernel has AppArmor (lab/vm-lsm.sh).

mod common;

use std::path::Path;

use common::*;
use serde_json::json;

fn apparmor_enabled() -> bool {
    std::fs::read("/sys/module/apparmor/parameters/enabled").is_ok_and(|b| b.first() == Some(&b'Y'))
}

fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// `run` a bundle whose config has `edit` applied; (exit code, stderr, stdout).
fn run_edited(
    env: &TestEnv,
    name: &str,
    edit: impl FnOnce(&mut serde_json::Value),
) -> (i32, String, String) {
    let mut b = env.bundle_with(name, base_config(&["echo", "ran"]));
    edit(&mut b.config);
    b.write();
    let id = env.id(name);
    let before = MountSnapshot::take();
    let (code, err) = env.run_to_files(name, &["run", "--bundle", b.dir.to_str().unwrap(), &id]);
    if code != 0 {
        assert_nothing_left(env, &id, &before);
    }
    (code, err, env.out(name))
}

#[test]
fn apparmor_profile_without_apparmor_fails_create() {
    if !can_run_containers("apparmor_profile_without_apparmor_fails_create") {
        return;
    }
    if apparmor_enabled() {
        skip(
            "apparmor_profile_without_apparmor_fails_create",
            "this host has AppArmor",
        );
        return;
    }
    let env = TestEnv::new("aa-off");
    let (code, err, out) = run_edited(&env, "aa", |c| {
        c["process"]["apparmorProfile"] = json!("husk-test-profile");
    });
    assert_ne!(
        code, 0,
        "a profile without AppArmor must fail the create: {err}"
    );
    assert!(!out.contains("ran"), "the process ran unconfined: {out}");
    assert!(err.contains("apparmor"), "the error names AppArmor: {err}");
    // An empty profile means none, and runs.
    let (code, err, out) = run_edited(&env, "aa-empty", |c| {
        c["process"]["apparmorProfile"] = json!("");
    });
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ran"), "{out}");
}

#[test]
fn selinux_label_without_selinux_fails_create() {
    if !can_run_containers("selinux_label_without_selinux_fails_create") {
        return;
    }
    if selinux_enabled() {
        skip(
            "selinux_label_without_selinux_fails_create",
            "this host has SELinux",
        );
        return;
    }
    let env = TestEnv::new("se-off");
    let (code, err, out) = run_edited(&env, "se", |c| {
        c["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0:c1,c2");
    });
    assert_ne!(code, 0, "{err}");
    assert!(!out.contains("ran"), "{out}");
    assert!(
        err.contains(
            "selinux label is specified in config, but selinux is disabled or not supported"
        ),
        "runc's words: {err}"
    );
}

#[test]
fn mount_label_without_selinux_fails_only_labelled_mounts() {
    if !can_run_containers("mount_label_without_selinux_fails_only_labelled_mounts") {
        return;
    }
    if selinux_enabled() {
        skip(
            "mount_label_without_selinux_fails_only_labelled_mounts",
            "this host has SELinux",
        );
        return;
    }
    let env = TestEnv::new("ml-off");
    let label = "system_u:object_r:container_file_t:s0:c1,c2";
    // The default mounts include tmpfs /dev: it gets context=, which the kernel refuses.
    let (code, err, out) = run_edited(&env, "ml", |c| {
        c["linux"]["mountLabel"] = json!(label);
    });
    assert_ne!(code, 0, "{err}");
    assert!(!out.contains("ran"), "{out}");
    assert!(
        err.contains("context="),
        "the failing mount shows the label: {err}"
    );
    let keep = ["/proc", "/sys", "/dev/mqueue"];
    let only_unlabelled = |c: &mut serde_json::Value| {
        c["linux"]["mountLabel"] = json!(label);
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .retain(|m| keep.contains(&m["destination"].as_str().unwrap()));
    };
    // A masked directory is hidden under a tmpfs, which gets the label too (runc: "can't mask
    // path /proc/acpi: ... context=...: invalid argument").
    let (code, err, out) = run_edited(&env, "ml-masked", |c| {
        only_unlabelled(c);
        c["linux"]["maskedPaths"] = json!(["/proc/driver"]);
        c["linux"]["readonlyPaths"] = json!([]);
    });
    assert!(
        Path::new("/proc/driver").is_dir(),
        "this test needs /proc/driver"
    );
    assert_ne!(code, 0, "{err}");
    assert!(!out.contains("ran"), "{out}");
    assert!(
        err.contains("context="),
        "the failing mount shows the label: {err}"
    );
    // Only proc, sysfs and mqueue (and no cgroup mount, a tmpfs on cgroup v1), masked files
    // (bound from /dev/null) and read-only paths: nothing takes the label, and the container
    // runs (runc's label.SetFileLabel on mqueue is a no-op without SELinux).
    let (code, err, out) = run_edited(&env, "ml-unlabelled", |c| {
        only_unlabelled(c);
        c["linux"]["maskedPaths"] = json!(["/proc/kcore", "/proc/keys"]);
    });
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ran"), "{out}");
}

#[test]
fn exec_labels_without_lsms_fail() {
    if !can_run_containers("exec_labels_without_lsms_fail") {
        return;
    }
    if apparmor_enabled() || selinux_enabled() {
        skip("exec_labels_without_lsms_fail", "this host has an LSM");
        return;
    }
    let env = TestEnv::new("exec-lsm");
    let b = env.bundle("sleeper", &["sleep", "60"]);
    let id = env.id("sleeper");
    env.run_detached(&id, &b);
    let (code, err) = env.run_to_files(
        "x-aa",
        &["exec", "--apparmor", "husk-test", &id, "echo", "ran"],
    );
    assert_ne!(code, 0, "exec --apparmor without AppArmor: {err}");
    assert!(!env.out("x-aa").contains("ran"));
    assert!(err.contains("apparmor"), "{err}");
    let (code, err) = env.run_to_files(
        "x-se",
        &[
            "exec",
            "--process-label",
            "system_u:system_r:container_t:s0",
            &id,
            "echo",
            "ran",
        ],
    );
    assert_ne!(code, 0, "exec --process-label without SELinux: {err}");
    assert!(!env.out("x-se").contains("ran"));
    assert!(
        err.contains(
            "selinux label is specified in config, but selinux is disabled or not supported"
        ),
        "{err}"
    );
    // Without the flags, exec works: the container itself has no labels.
    let (code, err) = env.run_to_files("x-plain", &["exec", &id, "echo", "ran"]);
    assert_eq!(code, 0, "{err}");
    assert!(env.out("x-plain").contains("ran"));
}

#[test]
fn features_claim_both_lsms() {
    if !is_husk() && !is_runc() {
        return;
    }
    let env = TestEnv::new("features-lsm");
    let o = env.run(&["features"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // runc 1.1.5 says true on this host that has neither: "enabled" is the runtime's support.
    assert_eq!(v["linux"]["apparmor"]["enabled"], true);
    assert_eq!(v["linux"]["selinux"]["enabled"], true);
}
