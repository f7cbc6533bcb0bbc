//! Bind mounts into a container with its own user namespace, from host paths that namespace
//! cannot reach: a source under a root-only (0700) directory, such as the runtime's own state
//! folder (the `NOTIFY_SOCKET` folder) or an administrator's private directory. The container's
//! root is an unprivileged host id, which may not even look up such a path, so the source must
//! be opened by the runtime in the host's user namespace (runc 1.1 does it in its parent
//! process and passes the fds over). Run against husk and against runc
//! (`HUSK_TEST_RUNTIME=/usr/sbin/runc cargo test -p husk-cli --test userns_mounts`).

mod common;

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::*;
use serde_json::{json, Value};

/// The host id the container's root is mapped to.
const HOST_ROOT: u32 = 100_000;

/// `base_config` with a user namespace mapping 0..65536 to 100000..165536, without the `/sys`
/// mounts (sysfs and cgroupfs need more than a user namespace of their own: not what this
/// tests).
fn userns_config(args: &[&str]) -> Value {
    let mut config = base_config(args);
    config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    let map = json!([{"containerID": 0, "hostID": HOST_ROOT, "size": 65536}]);
    config["linux"]["uidMappings"] = map.clone();
    config["linux"]["gidMappings"] = map;
    config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| !m["destination"].as_str().unwrap().starts_with("/sys"));
    config
}

/// A user-namespace bundle whose rootfs belongs to the container's root (as an engine prepares
/// it), so that the runtime may create mount points in it.
fn userns_bundle(env: &TestEnv, name: &str, config: Value) -> Bundle {
    let b = env.bundle_with(name, config);
    chown_tree(&b.rootfs(), HOST_ROOT);
    b
}

fn chown_tree(p: &Path, id: u32) {
    std::os::unix::fs::lchown(p, Some(id), Some(id)).unwrap();
    let meta = fs::symlink_metadata(p).unwrap();
    if meta.is_dir() {
        for e in fs::read_dir(p).unwrap() {
            chown_tree(&e.unwrap().path(), id);
        }
    }
}

/// `<temp>/secret` (root-owned, 0700) holding a world-readable `file`, a world-readable
/// `dir/inner`, and `link`, an absolute symlink to `file`.
fn secret_dir(env: &TestEnv) -> PathBuf {
    let secret = env.path("secret");
    fs::create_dir_all(secret.join("dir")).unwrap();
    fs::write(secret.join("file"), "file-from-0700-dir\n").unwrap();
    fs::write(secret.join("dir/inner"), "inner-from-0700-dir\n").unwrap();
    symlink(secret.join("file"), secret.join("link")).unwrap();
    for p in ["file", "dir/inner"] {
        fs::set_permissions(secret.join(p), fs::Permissions::from_mode(0o644)).unwrap();
    }
    fs::set_permissions(secret.join("dir"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o700)).unwrap();
    secret
}

fn bind(source: &Path, dest: &str, options: &[&str]) -> Value {
    json!({"destination": dest, "type": "bind", "source": source, "options": options})
}

fn add_mounts(config: &mut Value, mounts: Vec<Value>) {
    config["mounts"].as_array_mut().unwrap().extend(mounts);
}

/// A file, a directory (recursive, read-only) and a file reached through a host symlink, all
/// under a 0700 root-owned host directory, bound into a user-namespaced container: the
/// container reads all three, as runc 1.1 allows. Before the fix, husk opened the sources from
/// inside the container's user namespace and failed with EACCES.
#[test]
fn userns_binds_sources_from_a_root_only_directory() {
    if !can_run_containers("userns_binds_sources_from_a_root_only_directory") {
        return;
    }
    let env = TestEnv::new("usrc");
    let id = env.id("a");
    let secret = secret_dir(&env);
    let mut config = userns_config(&[
        "sh",
        "-c",
        "cat /mnt/file /mnt/dir/inner /mnt/link; id -u; cat /proc/self/uid_map; \
         touch /mnt/dir/new 2>/dev/null && echo dir-writable; true",
    ]);
    add_mounts(
        &mut config,
        vec![
            bind(&secret.join("file"), "/mnt/file", &["bind"]),
            bind(&secret.join("dir"), "/mnt/dir", &["rbind", "ro"]),
            bind(&secret.join("link"), "/mnt/link", &["bind", "ro"]),
        ],
    );
    let b = userns_bundle(&env, "b", config);
    b.write();
    let o = env.run(&["run", "--bundle", b.dir.to_str().unwrap(), &id]);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "run: {err}");
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(
        words,
        [
            "file-from-0700-dir",
            "inner-from-0700-dir",
            "file-from-0700-dir",
            "0",
            "0",
            "100000",
            "65536"
        ],
        "{out}"
    );
    // The container got the mounts, not access: the host directory is still root-only.
    let mode = fs::metadata(&secret).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o700);
    assert!(!secret.join("dir/new").exists());
}

/// A missing source under a root-only directory fails `create` with the source named, and
/// leaves nothing behind.
#[test]
fn userns_missing_bind_source_fails_cleanly() {
    if !can_run_containers("userns_missing_bind_source_fails_cleanly") {
        return;
    }
    let env = TestEnv::new("umiss");
    let id = env.id("a");
    let secret = secret_dir(&env);
    let missing = secret.join("no-such-file");
    let mut config = userns_config(&["true"]);
    add_mounts(&mut config, vec![bind(&missing, "/mnt/x", &["bind"])]);
    let b = userns_bundle(&env, "b", config);
    b.write();
    let before = MountSnapshot::take();
    let (code, err) = env.run_to_files("c", &["create", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert_ne!(code, 0, "create with a missing bind source succeeded");
    assert!(
        err.contains(missing.to_str().unwrap()),
        "the error names the source: {err}"
    );
    assert!(
        env.state(&id).is_none() || env.run(&["delete", "--force", &id]).status.success(),
        "a failed create must not leave a container behind"
    );
    assert_nothing_left(&env, &id, &before);
}

/// `NOTIFY_SOCKET` with a user namespace: the runtime binds `<root>/<id>/notify` (its state
/// folder is root-only) at `/run/notify`; the container's READY=1 reaches the host socket on
/// `start`.
#[test]
fn userns_notify_socket_is_relayed() {
    let test = "userns_notify_socket_is_relayed";
    if !can_run_containers(test) {
        return;
    }
    let Some(probe) = sd_notify_probe() else {
        skip(test, "rustc could not build tests/probes/sd_notify.rs");
        return;
    };
    let env = TestEnv::new("untfy");
    let id = env.id("a");
    let b = userns_bundle(
        &env,
        "b",
        userns_config(&["sh", "-c", "sd_notify READY=1 && exec sleep 600"]),
    );
    fs::copy(probe, b.rootfs().join("bin/sd_notify")).unwrap();
    std::os::unix::fs::lchown(
        b.rootfs().join("bin/sd_notify"),
        Some(HOST_ROOT),
        Some(HOST_ROOT),
    )
    .unwrap();
    b.write();
    let host_path = env.path("host.sock");
    let host = UnixDatagram::bind(&host_path).unwrap();
    host.set_read_timeout(Some(WAIT)).unwrap();
    let err_path = env.path("create.err");
    let st = env
        .cmd(&["create", "--bundle", b.dir.to_str().unwrap(), &id])
        .env("NOTIFY_SOCKET", &host_path)
        .stdout(Stdio::null())
        .stderr(fs::File::create(&err_path).unwrap())
        .status()
        .unwrap();
    assert!(
        st.success(),
        "create: {}",
        fs::read_to_string(&err_path).unwrap_or_default()
    );
    let mode = fs::metadata(&env.root).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode & 0o077,
        0,
        "the state root is not root-only ({mode:o}): the test proves nothing"
    );
    let out = env
        .cmd(&["start", &id])
        .env("NOTIFY_SOCKET", &host_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "start: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid = env.state(&id).unwrap()["pid"].as_i64().unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    host.set_nonblocking(true).unwrap();
    while let Ok(n) = host.recv(&mut buf) {
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert_eq!(
        got,
        ["READY=1\n".to_string(), format!("MAINPID={pid}\n")],
        "what the host socket got"
    );
}

/// A host mount made by the test, unmounted (lazily) on drop, also when the test failed.
struct HostMount(PathBuf);

impl HostMount {
    fn tmpfs(at: &Path, flags: nix::mount::MsFlags) -> HostMount {
        fs::create_dir_all(at).unwrap();
        nix::mount::mount(Some("tmpfs"), at, Some("tmpfs"), flags, Some("mode=755"))
            .unwrap_or_else(|e| panic!("mount tmpfs on {at:?}: {e}"));
        HostMount(at.to_path_buf())
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// The mounts bound from the host keep the kernel's locks in the container's user namespace,
/// as with runc (whose sources are opened in the container's mount namespace, like husk's):
/// container root, even with CAP_SYS_ADMIN, can neither make a bind of a read-only host
/// mount writable nor unmount a submount of an `rbind` to uncover what the host hid beneath.
#[test]
fn userns_binds_keep_the_host_mount_locks() {
    if !can_run_containers("userns_binds_keep_the_host_mount_locks") {
        return;
    }
    use nix::mount::MsFlags;
    let env = TestEnv::new("ulock");
    let id = env.id("a");
    let secret = secret_dir(&env);
    let ro = secret.join("ro");
    let tree = secret.join("tree");
    fs::create_dir_all(tree.join("sub")).unwrap();
    fs::write(tree.join("sub/hidden"), "hidden-under-a-mount\n").unwrap();
    fs::set_permissions(tree.join("sub/hidden"), fs::Permissions::from_mode(0o644)).unwrap();
    let _sub = HostMount::tmpfs(&tree.join("sub"), MsFlags::empty());
    fs::write(tree.join("sub/shown"), "shown\n").unwrap();
    let _ro = HostMount::tmpfs(&ro, MsFlags::MS_RDONLY | MsFlags::MS_NOSUID);
    let mut config = userns_config(&[
        "sh",
        "-c",
        "cat /mnt/tree/sub/shown; \
         mount -o remount,bind,rw /mnt/ro 2>/dev/null && echo remounted-rw; \
         touch /mnt/ro/x 2>/dev/null && echo wrote-ro; \
         umount /mnt/tree/sub 2>/dev/null && echo unmounted; \
         cat /mnt/tree/sub/hidden 2>/dev/null; echo end",
    ]);
    for set in ["bounding", "effective", "permitted"] {
        config["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_SYS_ADMIN"));
    }
    add_mounts(
        &mut config,
        vec![
            bind(&ro, "/mnt/ro", &["bind"]),
            bind(&tree, "/mnt/tree", &["rbind"]),
        ],
    );
    let b = userns_bundle(&env, "b", config);
    b.write();
    let o = env.run(&["run", "--bundle", b.dir.to_str().unwrap(), &id]);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "run: {err}");
    assert_eq!(out, "shown\nend\n", "the container got past a lock");
}

/// A bind source inside the rootfs (the image, untrusted) that is a symlink in the image to
/// an absolute host path is resolved inside the rootfs, with and without a user namespace:
/// the runtime, root on the host, must not open the host file for the container. husk is
/// stricter here than runc 1.1.5, which follows the link on the host (checked: the
/// container reads the host file).
#[test]
fn bind_source_in_the_rootfs_never_follows_image_symlinks_to_the_host() {
    if !can_run_containers("bind_source_in_the_rootfs_never_follows_image_symlinks_to_the_host") {
        return;
    }
    let env = TestEnv::new("uimg");
    let secret = secret_dir(&env);
    let host_file = secret.join("file");
    for (tag, userns) in [("plain", false), ("userns", true)] {
        let id = env.id(tag);
        let args = ["cat", "/mnt/evil"];
        let mut config = if userns {
            userns_config(&args)
        } else {
            base_config(&args)
        };
        add_mounts(
            &mut config,
            vec![bind(
                Path::new("rootfs/etc/evil"),
                "/mnt/evil",
                &["bind", "ro"],
            )],
        );
        let b = env.bundle_with(tag, config);
        // The image: /etc/evil -> <host path of the secret file>, and a decoy at that path
        // inside the image, which is what the link means in the container.
        let decoy = b.rootfs().join(host_file.strip_prefix("/").unwrap());
        fs::create_dir_all(decoy.parent().unwrap()).unwrap();
        fs::write(&decoy, "decoy-from-the-image\n").unwrap();
        symlink(&host_file, b.rootfs().join("etc/evil")).unwrap();
        if userns {
            chown_tree(&b.rootfs(), HOST_ROOT);
        }
        b.write();
        let o = env.run(&["run", "--bundle", b.dir.to_str().unwrap(), &id]);
        let (out, err) = (
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
        );
        assert!(o.status.success(), "{tag}: run: {err}");
        if is_runc() {
            assert_eq!(
                out, "file-from-0700-dir\n",
                "{tag}: runc 1.1.5 follows the link"
            );
        } else {
            assert_eq!(out, "decoy-from-the-image\n", "{tag}: the host file leaked");
        }
    }
}

/// The same binds for a container that JOINS another's user namespace (with a mount
/// namespace of its own): the sources are opened on the host side there too.
#[test]
fn joined_userns_binds_sources_from_a_root_only_directory() {
    if !can_run_containers("joined_userns_binds_sources_from_a_root_only_directory") {
        return;
    }
    let env = TestEnv::new("ujoin");
    let (ida, idb) = (env.id("a"), env.id("b"));
    let secret = secret_dir(&env);
    let a = userns_bundle(&env, "a", userns_config(&["sleep", "600"]));
    a.write();
    env.run_detached(&ida, &a);
    let pid = env.state(&ida).unwrap()["pid"].as_i64().unwrap();
    let mut config = userns_config(&["sh", "-c", "cat /mnt/file /mnt/dir/inner; id -u"]);
    for ns in config["linux"]["namespaces"].as_array_mut().unwrap() {
        if ns["type"] == "user" {
            ns["path"] = json!(format!("/proc/{pid}/ns/user"));
        }
    }
    add_mounts(
        &mut config,
        vec![
            bind(&secret.join("file"), "/mnt/file", &["bind", "ro"]),
            bind(&secret.join("dir"), "/mnt/dir", &["rbind", "ro"]),
        ],
    );
    let b = userns_bundle(&env, "b", config);
    b.write();
    let o = env.run(&["run", "--bundle", b.dir.to_str().unwrap(), &idb]);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "run: {err}");
    assert_eq!(
        out, "file-from-0700-dir\ninner-from-0700-dir\n0\n",
        "what the joining container read"
    );
}
