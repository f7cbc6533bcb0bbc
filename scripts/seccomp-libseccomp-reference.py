#!/usr/bin/env python3
"""Build the BPF that runc 1.1 + libseccomp would build for a `linux.seccomp` profile (minus
runc's ENOSYS stub, which husk's tests check on their own), and write it as raw sock_filter
structs. husk's tests run this reference and husk's program side by side in a BPF interpreter.

Needs libseccomp.so.2 (Debian: libseccomp2, a dependency of runc). Mirrors runc's
libcontainer/seccomp/seccomp_linux.go: NewFilter(default), AddArch per listed arch, and per
syscall name matchCall(): skip rules equal to the default, skip unknown names, one rule per
condition when an argument index repeats.

Usage: scripts/seccomp-libseccomp-reference.py PROFILE.json OUT.bpf
"""
import ctypes
import json
import os
import sys
import tempfile

lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
lib.seccomp_init.restype = ctypes.c_void_p
lib.seccomp_init.argtypes = [ctypes.c_uint32]
lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
lib.seccomp_release.argtypes = [ctypes.c_void_p]


class ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                       ctypes.c_uint, ctypes.POINTER(ArgCmp)]

ARCH = {"SCMP_ARCH_X86_64": 0xc000003e, "SCMP_ARCH_X86": 0x40000003, "SCMP_ARCH_X32": 0x4000003e}
OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
       "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}


def action(name, errno):
    base = {"SCMP_ACT_KILL": 0, "SCMP_ACT_KILL_THREAD": 0, "SCMP_ACT_KILL_PROCESS": 0x80000000,
            "SCMP_ACT_TRAP": 0x30000, "SCMP_ACT_ERRNO": 0x50000, "SCMP_ACT_TRACE": 0x7ff00000,
            "SCMP_ACT_LOG": 0x7ffc0000, "SCMP_ACT_NOTIFY": 0x7fc00000,
            "SCMP_ACT_ALLOW": 0x7fff0000}[name]
    if name in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        base |= 1 if errno is None else errno  # EPERM by default, as runc
    return base


def main():
    profile = json.load(open(sys.argv[1]))
    default = action(profile["defaultAction"], profile.get("defaultErrnoRet"))
    ctx = lib.seccomp_init(default)
    for arch in profile.get("architectures", []):
        rc = lib.seccomp_arch_add(ctx, ARCH[arch])
        if rc not in (0, -17):  # -EEXIST for the native arch
            sys.exit(f"seccomp_arch_add {arch}: {rc}")
    for entry in profile.get("syscalls", []):
        act = action(entry["action"], entry.get("errnoRet"))
        if act == default:
            continue
        args = entry.get("args") or []
        conds = [ArgCmp(a["index"], OPS[a["op"]], a["value"], a.get("valueTwo", 0)) for a in args]
        idx = [a["index"] for a in args]
        groups = [[c] for c in conds] if len(set(idx)) != len(idx) else [conds]
        for name in entry["names"]:
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr == -1:  # __NR_SCMP_ERROR: unknown to libseccomp, runc ignores it
                continue
            for g in groups:
                arr = (ArgCmp * max(len(g), 1))(*g)
                rc = lib.seccomp_rule_add_array(ctx, act, nr, len(g), arr)
                if rc != 0:
                    sys.exit(f"seccomp_rule_add {name}: {rc}")
    with tempfile.TemporaryFile() as f:
        if lib.seccomp_export_bpf(ctx, f.fileno()) != 0:
            sys.exit("seccomp_export_bpf failed")
        f.seek(0)
        data = f.read()
    lib.seccomp_release(ctx)
    with open(sys.argv[2], "wb") as out:
        out.write(data)
    print(f"{sys.argv[2]}: {len(data) // 8} instructions", file=sys.stderr)


main()
