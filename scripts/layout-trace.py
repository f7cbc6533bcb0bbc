#!/usr/bin/env python3
"""Which functions of a binary run, in the order they first run, across a workload.

    layout-trace.py BINARY OUT -- COMMAND...

Runs COMMAND (a shell script, say) under ptrace, following every fork, clone and exec. In
each process whose image is BINARY, every function entry (from `nm`) holds a one-shot
breakpoint: the first call of a function stops the process, the function is recorded, the
original byte is put back, and the process goes on. OUT gets the functions' symbol names,
one per line, in first-call order: lld's `--symbol-ordering-file`, which packs them at the
start of .text (see scripts/layout.sh and benches/README.md: the kernel maps a binary's text
in 64 KiB windows around each page fault, so a binary whose hot code is scattered has a
resident set of most of its text).

x86_64 Linux only; root (or ptrace rights over the workload).
"""

import ctypes
import os
import signal
import subprocess
import sys

PTRACE_TRACEME, PTRACE_PEEKTEXT, PTRACE_POKETEXT = 0, 1, 4
PTRACE_CONT, PTRACE_GETREGS, PTRACE_SETREGS = 7, 12, 13
PTRACE_SETOPTIONS, PTRACE_GETEVENTMSG = 0x4200, 0x4201
O_TRACEFORK, O_TRACEVFORK, O_TRACECLONE, O_TRACEEXEC, O_EXITKILL = 2, 4, 8, 0x10, 0x100000
EVENT_FORK, EVENT_VFORK, EVENT_CLONE, EVENT_EXEC = 1, 2, 3, 4
WALL = 0x40000000
RIP = 16  # index of rip in struct user_regs_struct

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
Regs = ctypes.c_ulong * 27


def ptrace(req, pid, addr=0, data=0):
    ctypes.set_errno(0)
    r = libc.ptrace(req, pid, ctypes.c_void_p(addr), ctypes.c_void_p(data))
    e = ctypes.get_errno()
    if r == -1 and e:
        raise OSError(e, f"ptrace({req}, {pid}, {addr:#x}): {os.strerror(e)}")
    return r


def peek(pid, addr):
    return ptrace(PTRACE_PEEKTEXT, pid, addr) & 0xFFFFFFFFFFFFFFFF


def set_byte(pid, addr, byte):
    word = peek(pid, addr)
    ptrace(PTRACE_POKETEXT, pid, addr, (word & ~0xFF) | byte)


def functions(binary):
    """{address: [names]} of the binary's function symbols (non-PIE: link-time addresses)."""
    out = {}
    nm = subprocess.run(["nm", "-S", binary], check=True, capture_output=True, text=True)
    for line in nm.stdout.splitlines():
        p = line.split()
        if len(p) == 4 and p[2] in "tTwW" and int(p[1], 16) > 0:
            out.setdefault(int(p[0], 16), []).append(p[3])
    return out


def main():
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        sys.exit(__doc__)
    binary, out_path, cmd = os.path.realpath(sys.argv[1]), sys.argv[2], sys.argv[4:]
    funcs = functions(binary)
    first_byte = {}
    order, seen = [], set()

    def arm(pid):
        # The process just exec'd BINARY: a breakpoint on every function not seen yet.
        for addr in funcs:
            if addr in seen:
                continue
            word = peek(pid, addr)
            first_byte.setdefault(addr, word & 0xFF)
            ptrace(PTRACE_POKETEXT, pid, addr, (word & ~0xFF) | 0xCC)

    def is_binary(pid):
        try:
            return os.path.realpath(f"/proc/{pid}/exe") == binary
        except OSError:
            return False

    child = os.fork()
    if child == 0:
        ptrace(PTRACE_TRACEME, 0)
        os.execvp(cmd[0], cmd)
    _, status = os.waitpid(child, WALL)  # stopped at its exec
    opts = O_TRACEFORK | O_TRACEVFORK | O_TRACECLONE | O_TRACEEXEC | O_EXITKILL
    ptrace(PTRACE_SETOPTIONS, child, 0, opts)
    if is_binary(child):
        arm(child)
    ptrace(PTRACE_CONT, child)
    live, rc = {child}, 1
    regs = Regs()
    while live:
        try:
            pid, status = os.waitpid(-1, WALL)
        except ChildProcessError:
            break
        if os.WIFEXITED(status) or os.WIFSIGNALED(status):
            live.discard(pid)
            if pid == child:
                rc = os.waitstatus_to_exitcode(status)
            continue
        live.add(pid)
        sig, event = os.WSTOPSIG(status), status >> 16
        deliver = 0
        try:
            if event in (EVENT_FORK, EVENT_VFORK, EVENT_CLONE):
                new = ctypes.c_ulong()
                ptrace(PTRACE_GETEVENTMSG, pid, 0, ctypes.addressof(new))
                live.add(new.value)
            elif event == EVENT_EXEC:
                if is_binary(pid):
                    arm(pid)
            elif sig == signal.SIGTRAP:
                ptrace(PTRACE_GETREGS, pid, 0, ctypes.addressof(regs))
                addr = regs[RIP] - 1
                if addr in first_byte and peek(pid, addr) & 0xFF == 0xCC:
                    if addr not in seen:
                        seen.add(addr)
                        order.append(addr)
                    set_byte(pid, addr, first_byte[addr])
                    regs[RIP] = addr
                    ptrace(PTRACE_SETREGS, pid, 0, ctypes.addressof(regs))
                else:
                    deliver = sig
            elif sig != signal.SIGSTOP:
                deliver = sig
            ptrace(PTRACE_CONT, pid, 0, deliver)
        except OSError:
            # The process died between the stop and our request (e.g. SIGKILL).
            live.discard(pid)
    with open(out_path, "w") as f:
        for addr in order:
            for name in funcs[addr]:
                f.write(name + "\n")
    print(f"layout-trace: {len(order)} of {len(funcs)} functions ran; workload exit {rc}",
          file=sys.stderr)
    sys.exit(0 if rc == 0 else 1)


if __name__ == "__main__":
    main()
