"""The sandbox's first process inside (envforge.execution.sandbox starts it under bubblewrap).

Executed by the environment's own Python (standard library only, Python 3.6+):

    python -I -S sandbox_init.py REPORT.json NAME=LIMIT... -- ARGV...

It sets the resource limits (they bind only the model: bubblewrap itself is outside them), runs ARGV
(the runner) as its child, waits for it, then looks for what the model left running: every other
process it can see in /proc is in the sandbox's own PID namespace, so it is the model's. Those are
listed in REPORT.json and killed (the kernel would kill them anyway when this process ends). Its
exit code is the runner's (128+N when signal N ended it).
"""

import json
import os
import resource
import signal
import sys
import time

LIMITS = {"memory": resource.RLIMIT_AS, "processes": resource.RLIMIT_NPROC,
          "file_size": resource.RLIMIT_FSIZE, "open_files": resource.RLIMIT_NOFILE}


def main(argv):
    split = argv.index("--")
    report_path, limits, command = argv[1], argv[2:split], argv[split + 1:]
    for item in limits:
        name, _, value = item.partition("=")
        resource.setrlimit(LIMITS[name], (int(value), int(value)))
    pid = os.fork()
    if pid == 0:
        try:
            os.execv(command[0], command)
        finally:
            os._exit(127)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    left = leftovers()
    for _ in range(20):  # helpers that end with the runner (multiprocessing's resource tracker) get a second
        if not left:
            break
        time.sleep(0.05)
        left = leftovers()
    for other, _ in left:
        try:
            os.kill(other, signal.SIGKILL)
        except OSError:
            pass
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
    signal_name = None if os.WIFEXITED(status) else signal.Signals(os.WTERMSIG(status)).name
    with open(report_path, "w") as handle:
        json.dump({"leftovers": [cmd for _, cmd in left], "signal": signal_name}, handle)
    return code


def leftovers():
    """(pid, command line) of every process but this one in the sandbox's /proc."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in (os.getpid(), 1):
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        except OSError:
            continue
        found.append((int(name), cmdline[:200] or f"[pid {name}]"))
    return found


if __name__ == "__main__":
    sys.exit(main(sys.argv))
