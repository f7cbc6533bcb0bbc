//! `create`: validate, claim the id, make the cgroup and the exec fifo, fork init, record the
//! state. Every failure undoes what was made, in reverse order.

use std::os::fd::OwnedFd;
use std::time::SystemTime;

use nix::sys::stat::Mode;

use super::{Container, ContainerBuilder};
use crate::cgroups::{self, Manager};
use crate::namespaces::map_id;
use crate::process::{self, InitConfig};
use crate::state::{rfc3339, validate_id, ProcInfo, StateDir, StateFile};
use crate::{spec, Error, Result};

/// Undo on drop: kill init, remove the cgroup and the state folder.
struct Undo<'a> {
    dir: &'a StateDir,
    cgroup: Option<Box<dyn Manager>>,
    pid: Option<i32>,
    armed: bool,
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(pid) = self.pid {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        }
        if let Some(cg) = &self.cgroup {
            let _ = cg.destroy();
        }
        let _ = self.dir.remove();
    }
}

pub(super) fn create(b: ContainerBuilder) -> Result<Container> {
    validate_id(&b.id).map_err(|reason| Error::InvalidId {
        id: b.id.clone(),
        reason,
    })?;
    if b.systemd_cgroup {
        return Err(Error::Unsupported(
            "--systemd-cgroup: the systemd cgroup driver is not supported yet".into(),
        ));
    }
    let dir = StateDir::new(&b.root, &b.id);
    if dir.exists() {
        return Err(Error::AlreadyExists(b.id.clone()));
    }
    let mut plan = spec::load(&b.bundle)?;
    // Taken before the notify socket is added: exec'd processes do not get NOTIFY_SOCKET
    // (runc's exec template is the bundle's `process` too).
    let exec_defaults = super::ExecDefaults::from_spec(&plan.spec, b.no_new_keyring);
    if b.notify_socket.is_some() {
        super::notify::add_to_plan(&dir, &mut plan);
    }
    let process = plan.spec.process().as_ref().expect("validated");
    let terminal = process.terminal().unwrap_or(false);
    // `run` in the foreground with a terminal and no console socket: the pty master comes back
    // to us over a private socketpair, for the caller to relay (Container::take_console).
    let (console_socket, console_peer) =
        super::console_endpoints(terminal, b.console_socket.as_ref(), b.detached)?;
    let linux = plan.spec.linux().as_ref();
    let cgroups_path = linux
        .and_then(|l| l.cgroups_path().as_ref())
        .map(|p| p.to_string_lossy().into_owned());
    let manager = cgroups::new_manager(cgroups_path.as_deref(), &b.id, false)?;
    // Always applied, even without `linux.resources`: it installs the device allow-list
    // (deny all, then runc's default devices).
    let resources = linux
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    let mut warnings = plan.warnings.clone();
    warnings.extend(manager.check_resources(&resources)?);

    if !dir.create()? {
        return Err(Error::AlreadyExists(b.id.clone()));
    }
    let mut undo = Undo {
        dir: &dir,
        cgroup: None,
        pid: None,
        armed: true,
    };
    let lock = dir.lock()?;
    let mut state = StateFile {
        id: b.id.clone(),
        oci_version: plan.spec.version().clone(),
        bundle: plan.bundle.clone(),
        rootfs: plan.rootfs.clone(),
        pid: 0,
        pid_start: 0,
        created: rfc3339(SystemTime::now()),
        created_done: false,
        owner_uid: nix::unistd::geteuid().as_raw(),
        cgroup: Some(manager.config()),
        annotations: plan.spec.annotations().clone().unwrap_or_default(),
        hooks: plan.spec.hooks().clone(),
        resources: Some(resources.clone()),
        exec: Some(exec_defaults),
    };
    dir.save(&state)?;
    if let Some(exec) = &state.exec {
        dir.save_exec(exec)?;
    }
    if b.notify_socket.is_some() {
        super::notify::make_dir(&dir)?;
    }

    manager.create()?;
    undo.cgroup = Some(cgroups::from_config(&manager.config()));
    manager.apply_resources(&resources)?;

    let fifo_path = dir.fifo();
    nix::unistd::mkfifo(&fifo_path, Mode::from_bits_truncate(0o622))
        .map_err(|e| Error::sys(format!("mkfifo {}", fifo_path.display()), e))?;
    // Owned by the container's root, as runc does: init opens it from inside a user namespace
    // where host root's files are "nobody" (and the umask took the write bits).
    let uid_maps = linux
        .and_then(|l| l.uid_mappings().clone())
        .unwrap_or_default();
    let gid_maps = linux
        .and_then(|l| l.gid_mappings().clone())
        .unwrap_or_default();
    let (uid, gid) = (
        map_id(&uid_maps, 0).unwrap_or(0),
        map_id(&gid_maps, 0).unwrap_or(0),
    );
    nix::unistd::chown(&fifo_path, Some(uid.into()), Some(gid.into()))
        .map_err(|e| Error::sys(format!("chown {}", fifo_path.display()), e))?;
    std::fs::set_permissions(
        &fifo_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o622),
    )
    .map_err(|e| Error::sys(format!("chmod {}", fifo_path.display()), e))?;
    // O_PATH through nix: std's OpenOptions drops it on musl (see cgroups::v2::open_dir).
    let fifo: OwnedFd = nix::fcntl::open(
        &fifo_path,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::sys(format!("open {}", fifo_path.display()), e))?;

    let cfg = InitConfig {
        plan: &plan,
        id: &b.id,
        no_pivot: b.no_pivot,
        no_new_keyring: b.no_new_keyring,
        preserve_fds: b.preserve_fds,
        listen_fds: b.listen_fds,
        fifo: &fifo,
        console_socket: console_socket.as_ref(),
        close_in_child: Some(std::os::fd::AsFd::as_fd(&*lock)),
    };
    let state_for_hooks = |pid: i32| {
        serde_json::to_vec(&serde_json::json!({
            "ociVersion": plan.spec.version(),
            "id": b.id,
            "status": "creating",
            "pid": pid,
            "bundle": plan.bundle,
            "annotations": plan.spec.annotations().clone().unwrap_or_default(),
        }))
        .unwrap_or_default()
    };
    let spawned = process::spawn(&cfg, Some(manager.as_ref()), &state_for_hooks)?;
    undo.pid = Some(spawned.pid);
    drop(console_socket);
    let console = match console_peer {
        Some(sock) => Some(process::recv_console(&sock)?),
        None => None,
    };
    drop(fifo);

    if let Some(pf) = &b.pid_file {
        super::write_pid_file(pf, spawned.pid)?;
    }
    state.pid = spawned.pid;
    state.pid_start = ProcInfo::read(spawned.pid).map(|p| p.start).unwrap_or(0);
    state.created_done = true;
    dir.save(&state)?;
    undo.armed = false;
    drop(undo);
    drop(lock);
    Ok(Container {
        dir,
        state,
        child: !b.detached,
        warnings,
        console,
        notify_host: None,
    })
}
