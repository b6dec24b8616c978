#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Cold start of the app to its first frame, and to the list showing N
channels (with the app's resident memory then), under Xvfb with a private
session bus and bench/app/fake-agent.py serving the channels. Run through
bench/app/run.sh. Target: first frame under 300 ms."""

import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run_once(app, env):
    start = time.monotonic_ns() // 1000
    proc = subprocess.Popen([app], env=env, stderr=subprocess.PIPE, text=True)
    first = shown = rss = cpu = None
    deadline = time.monotonic() + 60
    for line in proc.stderr:
        if line.startswith("postern-bench: first-frame"):
            first = (int(line.split()[2]) - start) / 1000
            cpu = int(line.split()[4])
        elif line.startswith("postern-bench: channels-shown"):
            shown = (int(line.split()[2]) - start) / 1000
        elif line.startswith("postern-bench: rss-kib"):
            rss = int(line.split()[2])
        if time.monotonic() > deadline:
            break
    proc.wait(timeout=30)
    return first, shown, rss, cpu


def main():
    build = sys.argv[1]
    runs = int(os.environ.get("RUNS", "5"))
    app = os.path.join(build, "src", "app", "postern")
    env = dict(os.environ, GDK_BACKEND="x11", GTK_A11Y="none", NO_AT_BRIDGE="1",
               GSETTINGS_BACKEND="memory", GSK_RENDERER="cairo", POSTERN_BENCH="quit",
               GSETTINGS_SCHEMA_DIR=os.path.join(build, "data"))
    for n in (1, 10000):
        agent = subprocess.Popen([sys.executable, os.path.join(HERE, "fake-agent.py"),
                                  "--interface", os.path.join(HERE, "..", "..", "data",
                                                              "io.github.postern.Postern.Agent.xml"),
                                  "--channels", str(n)], stdout=subprocess.PIPE, text=True)
        assert agent.stdout.readline().strip() == "ready"
        results = [run_once(app, env) for _ in range(runs)]
        agent.terminate()
        agent.wait(timeout=10)
        firsts = [r[0] for r in results]
        shown = [r[1] for r in results]
        rss = [r[2] for r in results]
        cpus = [r[3] for r in results]
        print("channels: %d (%d runs)" % (n, runs))
        print("  cold start to first frame: median %.0f ms, min %.0f ms, max %.0f ms (target < 300 ms)"
              % (statistics.median(firsts), min(firsts), max(firsts)))
        print("  CPU time of the app until its first frame: median %.0f ms" % statistics.median(cpus))
        print("  start to the list showing them: median %.0f ms" % statistics.median(shown))
        print("  resident memory half a second later: median %.1f MiB" % (statistics.median(rss) / 1024))


if __name__ == "__main__":
    main()
