/**
 * What the commands do: checkpoint, restart with state, show the plan; each reports progress
 * and its outcome through JupyterLab's notifications.
 */
import { Dialog, Notification, Sanitizer, showDialog } from '@jupyterlab/apputils';
import { NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { formatBytes, formatLost, formatSeconds } from './format';
import {
  ICheckpointResult,
  IPlanResult,
  IStatusResult,
  request,
  runSilent
} from './protocol';

const DONE_MS = 8000;

function describe(reason: unknown): string {
  return reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason);
}

function summary(result: ICheckpointResult): string {
  return (
    `${formatBytes(result.bytes)} in ${formatSeconds(result.seconds)}; ` +
    `${result.stored.length} stored, ${result.recomputed.length} recomputed`
  );
}

function lostText(result: ICheckpointResult): string {
  const lost = formatLost(result.lost);
  return lost === '' ? '' : ` Not restorable: ${lost}.`;
}

/** Store the session now (`checkpoint` op). */
export async function checkpointNow(panel: NotebookPanel): Promise<ICheckpointResult | null> {
  const kernel = panel.sessionContext.session?.kernel;
  if (!kernel) {
    return null;
  }
  const id = Notification.emit('Checkpointing the session…', 'in-progress', { autoClose: false });
  try {
    const result = await request<ICheckpointResult>(kernel, 'checkpoint');
    Notification.update({
      id,
      type: result.lost.length > 0 ? 'warning' : 'success',
      message: `Checkpoint saved: ${summary(result)}.${lostText(result)}`,
      autoClose: result.lost.length > 0 ? false : DONE_MS
    });
    return result;
  } catch (reason) {
    Notification.update({
      id,
      type: 'error',
      message: `Checkpoint failed: ${describe(reason)}`,
      autoClose: false
    });
    return null;
  }
}

/**
 * Checkpoint (`restart` op, which also leaves the marker the next process restores), restart
 * the kernel the usual way, then trigger the restore at once with a silent execute.
 */
export async function restartWithState(panel: NotebookPanel): Promise<boolean> {
  const context = panel.sessionContext;
  const kernel = context.session?.kernel;
  if (!kernel) {
    return false;
  }
  const id = Notification.emit('Restart with state: checkpointing the session…', 'in-progress', {
    autoClose: false
  });
  let saved: ICheckpointResult;
  try {
    saved = await request<ICheckpointResult>(kernel, 'restart');
  } catch (reason) {
    Notification.update({
      id,
      type: 'error',
      message: `Checkpoint failed, the kernel was NOT restarted: ${describe(reason)}`,
      autoClose: false
    });
    return false;
  }
  Notification.update({
    id,
    message: `Checkpoint saved (${formatBytes(saved.bytes)}); restarting the kernel…`
  });
  try {
    await context.restartKernel();
    const fresh = context.session?.kernel;
    if (!fresh || fresh.status === 'dead') {
      throw new Error('the kernel did not come back after the restart');
    }
    Notification.update({ id, message: 'Kernel restarted; restoring the session…' });
    const output = await runSilent(fresh);
    const status = await request<IStatusResult>(fresh, 'status');
    const restored = status.last_restore;
    if (restored === null || !restored.ok) {
      Notification.update({
        id,
        type: 'error',
        message: `Kernel restarted, but the session was not restored: ${output.trim() || 'no restore ran'}`,
        autoClose: false
      });
      return false;
    }
    const lost = lostText(saved);
    Notification.update({
      id,
      type: lost === '' ? 'success' : 'warning',
      message:
        `Kernel restarted with state: checkpoint restored in ` +
        `${formatSeconds(restored.seconds)}.${lost}`,
      autoClose: lost === '' ? DONE_MS : false
    });
    return true;
  } catch (reason) {
    Notification.update({
      id,
      type: 'error',
      message: `Restart with state failed after the checkpoint: ${describe(reason)}`,
      autoClose: false
    });
    return false;
  }
}

/** Show the plan a checkpoint would use now (`plan` op) as the kernel's HTML table. */
export async function showPlan(panel: NotebookPanel): Promise<void> {
  const kernel = panel.sessionContext.session?.kernel;
  if (!kernel) {
    return;
  }
  let plan: IPlanResult;
  try {
    plan = await request<IPlanResult>(kernel, 'plan');
  } catch (reason) {
    Notification.error(`Could not compute the checkpoint plan: ${describe(reason)}`, {
      autoClose: false
    });
    return;
  }
  const body = new Widget();
  body.addClass('jp-ElasticPlan');
  body.node.innerHTML = new Sanitizer().sanitize(plan.html);
  await showDialog({
    title: 'Checkpoint plan',
    body,
    buttons: [Dialog.okButton({ label: 'Close' })]
  });
}
