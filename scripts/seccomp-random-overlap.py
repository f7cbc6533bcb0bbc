#!/usr/bin/env python3
"""Write a seccomp profile full of overlapping conditional rules (a few per syscall, random
operators, values and actions, fixed seed), keeping only syscalls for which libseccomp accepts
the rules, plus libseccomp's program for it. husk's tests compare decisions on a grid of
argument values: this is what pins down the order in which rules are tried.

Usage: scripts/seccomp-random-overlap.py OUT.json OUT.bpf
"""
import json
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.path.join(HERE, "seccomp-libseccomp-reference.py")

# In both the x86_64 and the i386 table, none of them multiplexed on i386.
NAMES = """read write open close stat fstat lstat poll lseek mmap mprotect munmap brk ioctl pread64
pwrite64 readv writev access pipe select sched_yield mremap msync mincore madvise dup dup2 pause
nanosleep getitimer alarm setitimer getpid sendfile fork vfork execve exit wait4 kill uname fcntl
flock fsync fdatasync truncate ftruncate getcwd chdir fchdir rename mkdir rmdir creat link unlink
symlink readlink chmod fchmod chown fchown lchown umask""".split()
OPS = ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
       "SCMP_CMP_MASKED_EQ"]
VALUES = [0, 1, 2, 3, 5, 7, 0xffffffff]
MASKS = [1, 3, 6, 0xff, 0xffffffff]
ACTIONS = [("SCMP_ACT_ALLOW", None), ("SCMP_ACT_LOG", None), ("SCMP_ACT_TRAP", None),
           ("SCMP_ACT_KILL_PROCESS", None)] + [("SCMP_ACT_ERRNO", e) for e in range(1, 6)]


def rule(rng, name):
    act, errno = rng.choice(ACTIONS)
    r = {"names": [name], "action": act}
    if errno is not None:
        r["errnoRet"] = errno
    if rng.random() < 0.1:
        return r  # unconditional
    args = []
    for _ in range(rng.choice([1, 1, 2])):
        op = rng.choice(OPS)
        a = {"index": rng.choice([0, 1, 2]), "op": op}
        if op == "SCMP_CMP_MASKED_EQ":
            a["value"] = rng.choice(MASKS)
            a["valueTwo"] = rng.choice([0, 1, 2, 3])
        else:
            a["value"] = rng.choice(VALUES)
        args.append(a)
    r["args"] = args
    return r


def accepted(profile):
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "p.json")
        json.dump(profile, open(p, "w"))
        r = subprocess.run([sys.executable, REF, p, os.path.join(d, "o.bpf")],
                           capture_output=True)
        return r.returncode == 0


def main():
    rng = random.Random(20261128)
    base = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 99,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], "syscalls": []}
    for name in NAMES:
        while True:
            rules = [rule(rng, name) for _ in range(rng.choice([2, 3, 4]))]
            trial = dict(base, syscalls=base["syscalls"] + rules)
            if accepted(trial):
                base = trial
                break
    json.dump(base, open(sys.argv[1], "w"), indent=1)
    subprocess.run([sys.executable, REF, sys.argv[1], sys.argv[2]], check=True)


main()
