// Failure context for the VM end-to-end suite: when an expectation fails, the message carries what the agent
// concluded (harness overview, problems, warnings, the last step's status and heartbeat), the tail of the
// handler's own log, and dockerd's state in the VM.
import { expect, test } from '@jest/globals';
import type { HarnessSession, HarnessStep, HarnessSummary } from './vm/harness.js';
import type { Vm } from './vm/vm.js';

export const EXT_NAME = 'Microsoft.Azure.Extensions.DockerExtension';

/** The handler log of a session: the harness redirects the agent's Extension.LogDir into its work dir. */
export const handlerLogPath = (session: HarnessSession): string => `${session.dir}/work/log/${EXT_NAME}/handler.log`;

const clip = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n)}…` : s);

/** One step as the agent saw it: commands, extension status with substatus, heartbeat. */
export function describeStep(s: HarnessStep | undefined): string {
  if (!s) return '(no step)';
  const st = s.agent_status;
  const es = st?.extension_status;
  return JSON.stringify(
    {
      step: s.step,
      ok: s.ok,
      requested: s.requested,
      elapsed_s: s.elapsed_s,
      commands: s.commands.map((c) => ({
        cmd: `${c.cmd_name}@${c.handler_version}`,
        exit: c.exit_code,
        timed_out: c.timed_out,
        duration_s: c.duration_s,
        output: c.output ? clip(c.output, 800) : c.output,
        error: c.error ? clip(c.error, 800) : c.error,
      })),
      agent_status: st
        ? {
            handlerVersion: st.handlerVersion,
            status: st.status,
            code: st.code,
            message: st.message ? clip(st.message, 600) : st.message,
            sequenceNumber: st.sequenceNumber,
            extension_status: es
              ? { status: es.status, code: es.code, operation: es.operation, message: clip(es.message ?? '', 1200), substatus: es.substatus }
              : null,
          }
        : null,
      heartbeat: s.heartbeat,
      handler_state: s.handler_state,
      handler_dirs: s.handler_dirs,
      problems: s.problems,
      warnings: s.warnings,
    },
    null,
    2,
  );
}

/** Overview of every step the session ran, plus problems and warnings. */
export function describeSummary(s: HarnessSummary): string {
  return JSON.stringify({ ok: s.ok, overview: s.overview, problems: s.problems, warnings: s.warnings, harness_error: s.harness_error, driver_error: s.driver_error }, null, 2);
}

/** Everything useful to explain a failure; never throws. */
export async function diagnostics(vm: Vm | undefined, session: HarnessSession | undefined, last?: HarnessSummary): Promise<string> {
  const parts: string[] = [];
  const safe = async (title: string, f: () => Promise<string>) => {
    try {
      parts.push(`----- ${title}\n${(await f()).trimEnd()}`);
    } catch (e) {
      parts.push(`----- ${title}\n(unavailable: ${clip((e as Error).message, 300)})`);
    }
  };
  if (last) {
    await safe('harness: the most recent call', async () => describeSummary(last));
    await safe('harness: the last step of that call, as the agent saw it', async () => describeStep(last.steps?.[last.steps.length - 1]));
  }
  if (session) {
    await safe('harness: overview of the whole session', async () => describeSummary(await session.summary()));
  }
  if (vm && session) {
    await safe(`handler log (tail of ${handlerLogPath(session)})`, async () => {
      const r = await vm.exec(['tail', '-n', '40', handlerLogPath(session)]);
      return r.stdout
        .split('\n')
        .map((l) => clip(l, 700))
        .join('\n');
    });
    await safe('handler status files (newest first)', async () =>
      (
        await vm.exec(
          `for f in $(ls -t ${session.dir}/work/lib/${EXT_NAME}-*/status/*.status 2>/dev/null | head -n 2); do echo "$f"; head -c 2500 "$f"; echo; done`,
        )
      ).stdout,
    );
  }
  if (vm) {
    await safe('docker.service', async () => (await vm.exec('systemctl status docker.service --no-pager -n 0 2>&1; systemctl show docker.service -p MainPID -p NRestarts -p ActiveState')).stdout);
    await safe('journalctl -u docker (tail)', async () => (await vm.exec('journalctl -u docker.service --no-pager -n 25 -o short-precise 2>&1')).stdout);
    await safe('daemon.json and drop-in', async () =>
      (await vm.exec('cat /etc/docker/daemon.json 2>&1; echo; cat /etc/systemd/system/docker.service.d/*.conf 2>&1; ls -l /etc/docker 2>&1')).stdout,
    );
  }
  return parts.join('\n');
}

/**
 * Run `fn`; when it throws, append `explain()`'s text to the error's message (and stack, which is what jest
 * prints) and rethrow.
 */
export async function withDiagnostics<T>(fn: () => Promise<T>, explain: () => Promise<string>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    let extra: string;
    try {
      extra = await explain();
    } catch (x) {
      extra = `(diagnostics failed: ${(x as Error).message})`;
    }
    const frames = (err.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l));
    err.message = `${err.message}\n\n===== what the agent and the VM saw =====\n${extra}`;
    err.stack = `${err.name}: ${err.message}\n${frames.join('\n')}`;
    throw err;
  }
}

export interface Scenario {
  /**
   * One step of the scenario as a jest test: after an earlier step failed it fails at once, naming that
   * step (unless `independent`); a failure carries the diagnostics.
   */
  step(name: string, timeoutMs: number, fn: () => Promise<void>, o?: { independent?: boolean }): void;
  /** The step that failed first, if one did. */
  stoppedAt(): string | undefined;
}

/**
 * The steps of one VM scenario, each run through withDiagnostics(`explain`). `label` ("Debian 11")
 * prefixes each test's name, for suites that run one scenario per distribution.
 */
export function scenario(explain: () => Promise<string>, label?: string): Scenario {
  let stoppedAt: string | undefined;
  return {
    step(name, timeoutMs, fn, o = {}) {
      test(
        label ? `${label}: ${name}` : name,
        async () => {
          if (stoppedAt && !o.independent) throw new Error(`not run: ${label ? `${label}'s` : 'the'} scenario stopped at "${stoppedAt}"`);
          try {
            await withDiagnostics(fn, explain);
          } catch (e) {
            stoppedAt ??= name;
            throw e;
          }
        },
        timeoutMs,
      );
    },
    stoppedAt: () => stoppedAt,
  };
}

/** The one step of a harness call that ran one step group. */
export function onlyStep(r: HarnessSummary): HarnessStep {
  expect(r.steps).toHaveLength(1);
  return r.steps[0]!;
}
