#!/usr/bin/python3
# -*- coding: utf-8 -*-
"""
harness_driver.py -- run the waagent harness (run_with_waagent.py, imported UNMODIFIED as a module) one step
group at a time, so that a test can inspect / change the VM between steps and even reboot it.

Why: run_with_waagent.py runs all --steps in one process and refuses to reuse a --workdir ("already used; give a
fresh --workdir"), so a second invocation cannot continue an earlier run: it would start from a new Lib.Dir and
install the handler again. This driver keeps ONE agent process alive (a long-running "serve" process, like the
agent's ExtHandler process) that owns ONE harness.Harness and ONE ExtHandlersHandler, and processes the steps it
is asked for, exactly like run_steps() would (same goal-state sequencing, same run_one_step(), same evaluation).

Persistence: after every step the driver writes the harness's in-memory bookkeeping (incarnation, sequence
number, current version/settings, packages, tenant certificate thumbprint, the encrypted protected-settings
blobs) to SESSION/state.json. Everything the AGENT keeps is already on disk in the harness work dir (Lib.Dir:
handler dirs, HandlerState, config/N.settings, status/, mrseq, certificates), under /var/lib, which survives a
reboot (/tmp does not: systemd-tmpfiles empties it at boot). When the serve process is gone (VM reboot, or the
test simulates an agent restart) the next request starts a new one, which rebuilds the harness from the work dir
and state.json and creates a NEW ExtHandlersHandler -- which is what the real agent does after a reboot or an
agent restart. (A real agent then re-processes the current goal state, i.e. runs enable again with the same
sequence number; the test asks for that explicitly with the step `reenable_same_seq`.)

The serve process runs as a transient systemd service (systemd-run, KillMode=process): the agent's environment
is a systemd service's, and processes a handler leaves behind survive the end of the agent process, as they do
under the real agent (which puts each handler command in its own systemd scope).

  harness_driver.py init  --session DIR [--ovf-env FILE] -- HARNESS_ARGS...
                                                             record the harness command line (handler dir,
                                                             settings, --name, --version, ...; no --steps/--workdir)
                                                             and the VM's provisioning file, laid out in the agent's
                                                             lib directory when the first agent process starts
  harness_driver.py call  --session DIR --steps a,b [--timeout S] [--settings-json FILE]
                                                             start the serve process if needed, run the steps,
                                                             print the harness-style JSON summary of those steps
  harness_driver.py stop  --session DIR                      stop the serve process ("agent restart")
  harness_driver.py summary --session DIR                    cumulative summary of every step run so far
  harness_driver.py serve --session DIR                      (internal) the long-running agent process

Exit codes of `call`: 0 every step ok, 1 a step failed its expectations, 2 harness error, 3 driver error/timeout.
"""
from __future__ import print_function

import argparse
import copy
import fcntl
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import uuid

HARNESS_PY = os.environ.get("ADX_HARNESS_PY", "/opt/waagent-harness/run_with_waagent.py")
STEP_NAMES = ("install_enable", "enable_new_seq", "reenable_same_seq", "update", "disable", "uninstall", "enable")


# ------------------------------------------------------------------------------------------------ helpers
def load_harness_module():
    spec = importlib.util.spec_from_file_location("run_with_waagent", HARNESS_PY)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def write_json_atomic(path, obj):
    tmp = "{0}.tmp.{1}".format(path, os.getpid())
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


def read_json(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (IOError, OSError, ValueError):
        return default


class Session(object):
    def __init__(self, d):
        self.dir = os.path.abspath(d)
        self.state_path = os.path.join(self.dir, "state.json")
        self.steps_path = os.path.join(self.dir, "steps.json")
        self.work = os.path.join(self.dir, "work")
        self.req_dir = os.path.join(self.dir, "requests")
        self.resp_dir = os.path.join(self.dir, "responses")
        self.server_path = os.path.join(self.dir, "server.json")

    @property
    def unit(self):
        """The systemd unit of the current (or last) agent process. A new name per agent start: a unit whose
        main process ended can stay loaded while processes a handler left behind still run in its cgroup."""
        try:
            with open(os.path.join(self.dir, "unit")) as f:
                return f.read().strip()
        except IOError:
            return "adx-harness-{0}-0.service".format(os.path.basename(self.dir))

    def new_unit(self):
        name = "adx-harness-{0}-{1}.service".format(os.path.basename(self.dir), uuid.uuid4().hex[:6])
        with open(os.path.join(self.dir, "unit"), "w") as f:
            f.write(name + "\n")
        return name

    def state(self):
        st = read_json(self.state_path)
        if st is None:
            raise SystemExit("no session at {0} (run init first)".format(self.dir))
        return st

    def save_state(self, st):
        write_json_atomic(self.state_path, st)


def systemctl_show(unit, prop):
    p = subprocess.run(["systemctl", "show", "-p", prop, "--value", unit], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, universal_newlines=True)
    return p.stdout.strip()


def unit_active(unit):
    return subprocess.run(["systemctl", "is-active", "--quiet", unit]).returncode == 0


def agent_gone(unit, inv):
    """True when systemd says the agent unit is no longer invocation `inv`; False while it is, and None when
    systemd gave no clear answer (while apt's maintainer scripts reload it, `systemctl` can time out or fail)."""
    try:
        p = subprocess.run(["systemctl", "show", "-p", "ActiveState", "-p", "InvocationID", unit],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True, timeout=30)
    except subprocess.TimeoutExpired:
        return None
    props = dict(line.split("=", 1) for line in p.stdout.splitlines() if "=" in line)
    if p.returncode != 0 or "ActiveState" not in props:
        return None
    if props["ActiveState"] in ("active", "reloading"):
        now_inv = props.get("InvocationID", "")
        return None if now_inv == "" else now_inv != inv      # another invocation: the agent was restarted
    return props["ActiveState"] in ("inactive", "failed", "deactivating")


# ------------------------------------------------------------------------------------------------ init
def cmd_init(s, harness_argv, ovf_env=None):
    rw = load_harness_module()
    for forbidden in ("--steps", "--workdir", "--json-out"):
        if any(a == forbidden or a.startswith(forbidden + "=") for a in harness_argv):
            raise SystemExit("{0} is managed by the driver".format(forbidden))
    rw.parse_args(harness_argv + ["--workdir", s.work])      # validate with the harness's own parser
    if os.path.exists(s.state_path):
        raise SystemExit("session {0} already initialised".format(s.dir))
    for d in (s.req_dir, s.resp_dir):
        os.makedirs(d, exist_ok=True)
    st = dict(argv=harness_argv, initialized=False, agent_starts=0)
    if ovf_env:
        st["ovf_env"] = os.path.abspath(ovf_env)
    s.save_state(st)
    write_json_atomic(s.steps_path, [])
    print(json.dumps(dict(session=s.dir)))


# ------------------------------------------------------------------------------------------------ serve
class Driver(object):
    """Owns one harness.Harness (and thus one ExtHandlersHandler) for the lifetime of the serve process."""

    def __init__(self, s, rw):
        self.s = s
        self.rw = rw
        self.st = s.state()
        self.args = rw.parse_args(self.st["argv"] + ["--workdir", s.work])

    def setup(self):
        rw, a, st = self.rw, self.args, self.st
        if not st.get("initialized"):
            # first agent start of this session: exactly what run_steps() does before the first step
            if os.path.exists(self.s.work):
                shutil.rmtree(self.s.work)        # a previous serve died during set-up
            h = rw.Harness(a)
            if st.get("ovf_env"):
                # Provisioning leaves ovf-env.xml in the agent's lib directory before any extension runs; the
                # harness makes that directory only now, so the file is laid out here (root 0400, as the agent
                # keeps it).
                dest = os.path.join(h.lib_dir, "ovf-env.xml")
                shutil.copyfile(st["ovf_env"], dest)
                os.chmod(dest, 0o400)
            h.load_agent()
            pub1 = rw.read_json_file(a.public_settings)
            pub2 = rw.read_json_file(a.public_settings2) if a.public_settings2 else copy.deepcopy(pub1)
            prot1 = rw.read_json_file(a.protected_settings) if a.protected_settings else None
            prot2 = rw.read_json_file(a.protected_settings2) if a.protected_settings2 else copy.deepcopy(prot1)
            v1 = a.version
            v2 = a.update_version or rw.bump_version(v1)
            h.build_package(os.path.abspath(a.handler_dir), v1)
            h.build_package(os.path.abspath(a.update_handler_dir or a.handler_dir), v2)
            h.build_manifest()
            h.provision_certificates()
            st.update(initialized=True, v1=v1, v2=v2, pub1=pub1, pub2=pub2, prot1=prot1, prot2=prot2, seq=0,
                      cur_version=v1, cur_pub=pub1, cur_prot=prot1, previous_version=None)
            resumed = False
        else:
            # agent restart: rebuild the harness object around the existing work dir. Harness.__init__ refuses
            # an existing --workdir, so construct it on a throw-away dir and then point it at the real one.
            tmp = tempfile.mkdtemp(prefix="adx-harness-rehydrate-")
            a2 = copy.copy(a)
            a2.workdir = os.path.join(tmp, "w")
            h = rw.Harness(a2)
            shutil.rmtree(tmp)
            h.args = a
            h.workdir = os.path.abspath(a.workdir)
            h.lib_dir = os.path.join(h.workdir, "lib")
            h.ext_log_dir = os.path.join(h.workdir, "log")
            h.pkg_dir = os.path.join(h.workdir, "packages")
            h.scratch = os.path.join(h.workdir, "scratch")
            h.blob_dir = os.path.join(h.workdir, "status-blobs")
            h.load_agent()
            h.incarnation = st["incarnation"]
            h.packages = st["packages"]
            with open(os.path.join(h.pkg_dir, "manifest.xml")) as f:
                h.manifest_text = f.read()
            h.thumbprint = st.get("thumbprint")
            h.cert_files = st.get("cert_files")
            h.encrypted_cache = dict((tuple(k), tuple(v)) for k, v in st.get("encrypted_cache", []))
            resumed = True
        h.protocol = rw.FakeProtocol(h)
        h.handler = h.m["exthandlers"].get_exthandlers_handler(h.protocol)
        self.h = h
        st["agent_starts"] = st.get("agent_starts", 0) + 1
        self.persist()
        return resumed

    def persist(self):
        h, st = self.h, self.st
        st.update(incarnation=h.incarnation, packages=h.packages, thumbprint=h.thumbprint, cert_files=h.cert_files,
                  encrypted_cache=[[list(k), list(v)] for k, v in h.encrypted_cache.items()])
        self.s.save_state(st)

    def run_step(self, step):
        """One iteration of run_steps()'s loop, with the loop variables kept in state.json."""
        st = self.st
        seq, v1, v2 = st["seq"], st["v1"], st["v2"]
        if step == "install_enable":
            version, state, seq_no, pub, prot = v1, "enabled", seq, st["pub1"], st["prot1"]
        elif step == "enable_new_seq":
            seq += 1
            version, state, seq_no, pub, prot = st["cur_version"], "enabled", seq, st["pub2"], st["prot2"]
        elif step in ("reenable_same_seq", "enable"):
            version, state, seq_no, pub, prot = st["cur_version"], "enabled", seq, st["cur_pub"], st["cur_prot"]
        elif step == "update":
            if not self.args.update_same_seq:
                seq += 1
            version, state, seq_no, pub, prot = v2, "enabled", seq, st["cur_pub"], st["cur_prot"]
        elif step == "disable":
            version, state, seq_no, pub, prot = st["cur_version"], "disabled", seq, st["cur_pub"], st["cur_prot"]
        elif step == "uninstall":
            version, state, seq_no, pub, prot = st["cur_version"], "uninstall", seq, st["cur_pub"], st["cur_prot"]
        else:
            raise self.rw.HarnessError("unknown step {0!r}".format(step))
        res = self.h.run_one_step(step, version, state, seq_no, pub, prot, previous_version=st["previous_version"])
        st.update(seq=seq, cur_version=version, cur_pub=pub, cur_prot=prot, previous_version=version)
        res["agent_start"] = st["agent_starts"]
        self.persist()
        all_steps = read_json(self.s.steps_path, [])
        all_steps.append(res)
        write_json_atomic(self.s.steps_path, all_steps)
        return res


def summarize(rw, args, h_info, steps, extra=None):
    """The summary main() of run_with_waagent.py prints, for the given steps."""
    overview = []
    for s in steps:
        st = s["agent_status"] or {}
        es = st.get("extension_status") or {}
        overview.append(dict(
            step=s["step"], ok=s["ok"], requested="{0} {1} seq={2}".format(
                s["requested"]["state"], s["requested"]["version"], s["requested"]["seqNo"]),
            commands=", ".join("{0}@{1}={2}".format(c["cmd_name"], c["handler_version"],
                                                   "TIMEOUT" if c["timed_out"] else c["exit_code"])
                               for c in s["commands"]),
            handler_status=("{0}/{1}".format(st.get("status"), st.get("code")) if st else None),
            extension_status=("{0}/{1} seq={2}".format(es.get("status"), es.get("code"), st.get("sequenceNumber"))
                              if es else None),
            handler_state=s["handler_state"]))
    out = dict(ok=all(s["ok"] for s in steps), overview=overview)
    out.update(h_info)
    out.update(steps=steps,
               problems=["{0}: {1}".format(s["step"], p) for s in steps for p in s["problems"]],
               warnings=["{0}: {1}".format(s["step"], w) for s in steps for w in s["warnings"]])
    if extra:
        out.update(extra)
    return out


def harness_info(h, args, st):
    name = args.name
    return dict(
        agent=dict(version=h.agent_version, path=h.agent_path, api="modern(>=2.8)" if h.modern else "2.7.x"),
        handler=dict(name=name, dir=os.path.abspath(args.handler_dir), packages=h.packages),
        certificate=dict(thumbprint=h.thumbprint, **(h.cert_files or {})) if h.thumbprint else None,
        protected_settings_encryption=("CMS EnvelopedData, DER, base64; RSA PKCS#1 v1.5 key transport; "
                                       "issuerAndSerialNumber; content cipher {0}".format(args.content_cipher))
        if h.thumbprint else None,
        workdir=h.workdir, lib_dir=h.lib_dir, ext_log_dir=h.ext_log_dir,
        agent_log=os.path.join(h.workdir, "waagent.log"),
        command_execution_log=os.path.join(h.ext_log_dir, name, "CommandExecution.log"))


def cmd_serve(s):
    my_invocation = os.environ.get("INVOCATION_ID", "")
    rw = load_harness_module()
    st0 = s.state()
    args0 = rw.parse_args(st0["argv"] + ["--workdir", s.work])
    if not args0.inherit_env:
        rw.systemd_like_environment()            # as main() does (keeps PATH/LANG, new INVOCATION_ID, no HOME)
    driver = Driver(s, rw)
    try:
        resumed = driver.setup()
    except Exception:
        write_json_atomic(s.server_path, dict(invocation_id=my_invocation, pid=os.getpid(), state="failed",
                                              error=traceback.format_exc()))
        raise
    server = dict(invocation_id=my_invocation, pid=os.getpid(), state="ready", started=time.time(),
                  agent_start=driver.st["agent_starts"], resumed=resumed)
    write_json_atomic(s.server_path, server)
    sys.stdout.write("serving {0} (agent start #{1}, resumed={2})\n".format(s.dir, server["agent_start"], resumed))
    sys.stdout.flush()
    # a request that was being processed when the previous agent process died (e.g. a reboot mid-step)
    for f in sorted(os.listdir(s.req_dir)):
        if f.endswith(".processing"):
            rid = f[:-len(".processing")]
            write_json_atomic(os.path.join(s.resp_dir, rid + ".json"), dict(
                ok=False, driver_error="interrupted: the agent process ended while it processed this request"))
            os.unlink(os.path.join(s.req_dir, f))
    while True:
        reqs = sorted(f for f in os.listdir(s.req_dir) if f.endswith(".json"))
        if not reqs:
            time.sleep(0.1)
            continue
        for f in reqs:
            rid = f[:-len(".json")]
            path = os.path.join(s.req_dir, f)
            req = read_json(path, {})
            work_path = os.path.join(s.req_dir, rid + ".processing")
            os.rename(path, work_path)
            resp_path = os.path.join(s.resp_dir, rid + ".json")
            if req.get("invocation_id") != my_invocation:
                write_json_atomic(resp_path, dict(ok=False, driver_error="stale request for another agent process"))
                os.unlink(work_path)
                continue
            results = []
            try:
                st = driver.st
                if req.get("public_settings2") is not None:
                    st["pub2"] = req["public_settings2"]
                if "protected_settings2" in req:
                    st["prot2"] = req["protected_settings2"]
                for step in req["steps"]:
                    results.append(driver.run_step(step))
                resp = summarize(rw, driver.args, harness_info(driver.h, driver.args, st), results,
                                 dict(driver=dict(agent_start=st["agent_starts"], pid=os.getpid(),
                                                  invocation_id=my_invocation, session=s.dir)))
            except rw.HarnessError as e:
                resp = dict(ok=False, harness_error=str(e), steps=results)
            except Exception:
                resp = dict(ok=False, harness_error=traceback.format_exc(), steps=results)
            write_json_atomic(resp_path, resp)
            os.unlink(work_path)


# ------------------------------------------------------------------------------------------------ call
def ensure_server(s, wait_s=60):
    if not unit_active(s.unit):
        subprocess.run(["systemctl", "reset-failed", s.unit], stderr=subprocess.DEVNULL)
        unit = s.new_unit()
        env = ["--setenv=ADX_HARNESS_PY={0}".format(HARNESS_PY)]
        subprocess.run(["systemd-run", "--quiet", "--collect", "--unit", unit,
                        "--description", "adx-e2e waagent harness session {0}".format(s.dir),
                        "-p", "KillMode=process"] + env +
                       ["/usr/bin/python3", os.path.abspath(__file__), "serve", "--session", s.dir], check=True)
    inv = systemctl_show(s.unit, "InvocationID")
    deadline = time.time() + wait_s
    while time.time() < deadline:
        srv = read_json(s.server_path, {})
        if srv.get("invocation_id") == inv and srv.get("state") == "ready":
            return inv, srv
        if srv.get("invocation_id") == inv and srv.get("state") == "failed":
            raise DriverError("the agent process failed to start:\n" + srv.get("error", ""))
        if not unit_active(s.unit):
            raise DriverError("the agent process exited during start-up; see journalctl -u {0}".format(s.unit))
        time.sleep(0.1)
    raise DriverError("the agent process did not become ready in {0}s".format(wait_s))


class DriverError(Exception):
    pass


def cmd_call(s, steps, timeout, settings_json):
    for st in steps:
        if st not in STEP_NAMES:
            raise DriverError("unknown step {0!r} (known: {1})".format(st, ", ".join(STEP_NAMES)))
    s.state()
    with open(os.path.join(s.dir, "client.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        inv, srv = ensure_server(s)
        rid = "{0:.6f}-{1}".format(time.time(), uuid.uuid4().hex[:8])
        req = dict(steps=steps, invocation_id=inv)
        if settings_json:
            extra = read_json(settings_json)
            if extra is None:
                raise DriverError("cannot read {0}".format(settings_json))
            if "public_settings2" in extra:
                req["public_settings2"] = extra["public_settings2"]
            if "protected_settings2" in extra:
                req["protected_settings2"] = extra["protected_settings2"]
        write_json_atomic(os.path.join(s.req_dir, rid + ".json"), req)
        resp_path = os.path.join(s.resp_dir, rid + ".json")
        deadline = time.time() + timeout
        last_check = 0
        gone_seen = 0
        while not os.path.exists(resp_path):
            now = time.time()
            if now > deadline:
                raise DriverError("no answer from the agent process within {0}s (steps {1})".format(timeout, steps))
            if now - last_check > 1:
                last_check = now
                gone = agent_gone(s.unit, inv)
                # Three clear answers in a row: one odd answer while a package's scripts reload systemd is
                # not a dead agent.
                gone_seen = gone_seen + 1 if gone else (gone_seen if gone is None else 0)
                if gone_seen >= 3:
                    if os.path.exists(resp_path):
                        break
                    raise DriverError("the agent process {0} ended while it processed steps {1}".format(inv, steps))
            time.sleep(0.1)
        resp = read_json(resp_path)
        os.unlink(resp_path)
    return resp


def cmd_summary(s):
    rw = load_harness_module()
    st = s.state()
    steps = read_json(s.steps_path, [])
    args = rw.parse_args(st["argv"] + ["--workdir", s.work])
    overview_only = summarize(rw, args, dict(workdir=s.work, agent_starts=st.get("agent_starts")), steps)
    return overview_only


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=("init", "call", "serve", "stop", "summary"))
    p.add_argument("--session", required=True, help="session directory (keep it under /var/lib: /tmp is wiped at boot)")
    p.add_argument("--steps", help="comma list of steps for call")
    p.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the steps (call)")
    p.add_argument("--settings-json", help="call: JSON file {public_settings2, protected_settings2}: settings for the "
                                           "next enable_new_seq")
    p.add_argument("--ovf-env", help="init: ovf-env.xml to lay out in the agent's lib directory (the VM's provisioning "
                                     "file, naming its admin user)")
    argv = sys.argv[1:]
    rest = []
    if "--" in argv:                       # init: everything after -- is the harness command line
        i = argv.index("--")
        argv, rest = argv[:i], argv[i + 1:]
    a = p.parse_args(argv)
    s = Session(a.session)
    if a.command == "init":
        os.makedirs(s.dir, exist_ok=True)
        cmd_init(s, rest, a.ovf_env)
        return 0
    if a.command == "serve":
        cmd_serve(s)
        return 0
    if a.command == "stop":
        subprocess.run(["systemctl", "stop", s.unit], stderr=subprocess.DEVNULL)
        print(json.dumps(dict(stopped=s.unit)))
        return 0
    if a.command == "summary":
        print(json.dumps(cmd_summary(s), indent=2))
        return 0
    try:
        resp = cmd_call(s, [x.strip() for x in (a.steps or "").split(",") if x.strip()], a.timeout, a.settings_json)
    except DriverError as e:
        print(json.dumps(dict(ok=False, driver_error=str(e)), indent=2))
        return 3
    print(json.dumps(resp, indent=2))
    if resp.get("driver_error"):
        return 3
    if resp.get("harness_error"):
        return 2
    return 0 if resp.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
