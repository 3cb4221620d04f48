"""Runs a command on a fresh pseudo-terminal and plays a script of keystrokes at it.

Usage: python3 pty-driver.py < script.json, where the script is
  {"argv": [...], "env": {...}, "steps": [step, ...], "exitTimeout": seconds}
and a step is {"send": text}, {"expect": regex, "timeout": seconds} (searched in the output
since the previous match), {"signal": number} (sent to the command) or {"sleep": seconds}. Prints one JSON object: the transcript, the
exit status, the step that failed (if any), and whether the terminal's settings after the
command ended are those it started with.
"""

import json
import os
import re
import select
import signal
import sys
import termios
import time


def spawn(argv, env):
    master, slave = os.openpty()
    pid = os.fork()
    if pid == 0:
        os.close(master)
        os.setsid()
        os.dup2(slave, 0)
        os.dup2(slave, 1)
        os.dup2(slave, 2)
        import fcntl
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        if slave > 2:
            os.close(slave)
        os.execvpe(argv[0], argv, env)
    return pid, master, slave


class Session:
    def __init__(self, master):
        self.master = master
        self.out = b""
        self.mark = 0

    def pump(self, timeout):
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError:
            return False
        if not data:
            return False
        self.out += data
        return True

    def expect(self, pattern, timeout):
        rx = re.compile(pattern.encode(), re.S)
        end = time.monotonic() + timeout
        while True:
            m = rx.search(self.out, self.mark)
            if m:
                self.mark = m.end()
                return True
            left = end - time.monotonic()
            if left <= 0 or not self.pump(min(left, 0.1)):
                m = rx.search(self.out, self.mark)
                if m:
                    self.mark = m.end()
                    return True
                return False


def wait_exit(pid, session, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            while session.pump(0.05):
                if not select.select([session.master], [], [], 0)[0]:
                    break
            return status
        session.pump(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def main():
    script = json.load(sys.stdin)
    env = dict(os.environ)
    env.update(script.get("env", {}))
    pid, master, slave = spawn(script["argv"], env)
    before = termios.tcgetattr(slave)
    session = Session(master)
    failed = None
    for k, step in enumerate(script["steps"]):
        if "send" in step:
            os.write(master, step["send"].encode())
            time.sleep(step.get("delay", 0.05))
        elif "expect" in step:
            if not session.expect(step["expect"], step.get("timeout", 10)):
                failed = {"index": k, "step": step}
                break
        elif "signal" in step:
            os.kill(pid, step["signal"])
        elif "sleep" in step:
            end = time.monotonic() + step["sleep"]
            while time.monotonic() < end:
                session.pump(max(0, min(0.05, end - time.monotonic())))
    status = wait_exit(pid, session, script.get("exitTimeout", 10) if failed is None else 0.5)
    after = termios.tcgetattr(slave)
    result = {
        "output": session.out.decode("utf-8", "replace"),
        "failed": failed,
        "exitCode": None if status is None or not os.WIFEXITED(status) else os.WEXITSTATUS(status),
        "signal": None if status is None or not os.WIFSIGNALED(status) else os.WTERMSIG(status),
        "timedOut": status is None,
        "termiosRestored": before == after,
        "termiosBefore": repr(before[:4]),
        "termiosAfter": repr(after[:4]),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
