/**
 * What the kernel says without being asked, on comms to target `elastic.events`: a checkpoint
 * an earlier kernel process left (`recoverable`, also in the `status` op's result for a
 * frontend that connects later), and the outcome of a background restore (`restore`). Each
 * becomes a JupyterLab notification; "Restore" sends the `restore` op.
 */
import { Notification } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Kernel, KernelMessage } from '@jupyterlab/services';

import { formatSeconds, formatTime } from './format';
import { IRecoverable, isElasticKernel, IStatusResult, request } from './protocol';

export const EVENTS_TARGET = 'elastic.events';

interface IRestoreResult {
  checkpoint_id: string;
  ok: boolean;
  seconds: number;
}

/** States after which a kernel connection talks to a new process. */
const FRESH_PROCESS: ReadonlySet<Kernel.Status> = new Set([
  'starting',
  'restarting',
  'autorestarting',
  'unknown'
]);

function describe(reason: unknown): string {
  return reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason);
}

function when(created: string | null): string {
  return created === null ? 'time unknown' : formatTime(created);
}

/**
 * Listens on every elastic kernel of every notebook, and asks each new kernel process once
 * whether a checkpoint of an earlier one is waiting (the event may have been sent before this
 * page was connected).
 */
export class ElasticEvents {
  constructor(
    tracker: INotebookTracker,
    private readonly onRestored: () => void
  ) {
    tracker.widgetAdded.connect((_, panel) => this._track(panel));
    tracker.forEach(panel => this._track(panel));
  }

  private _track(panel: NotebookPanel): void {
    const context = panel.sessionContext;
    const attach = (): void => {
      const kernel = context.session?.kernel ?? null;
      if (kernel !== null && !this._kernels.has(kernel)) {
        this._kernels.add(kernel);
        void this._attach(kernel);
      }
    };
    context.kernelChanged.connect(attach);
    attach();
  }

  private async _attach(kernel: Kernel.IKernelConnection): Promise<void> {
    if (!(await isElasticKernel(kernel))) {
      return;
    }
    kernel.registerCommTarget(EVENTS_TARGET, (_comm, msg: KernelMessage.ICommOpenMsg) => {
      this._onEvent(kernel, msg.content.data as Record<string, unknown>);
    });
    let fresh = true;
    const check = (): void => {
      if (kernel.status === 'idle' && fresh) {
        fresh = false;
        void this._askStatus(kernel);
      } else if (FRESH_PROCESS.has(kernel.status)) {
        fresh = true;
      }
    };
    kernel.statusChanged.connect(check);
    kernel.disposed.connect(() => kernel.statusChanged.disconnect(check));
    check();
  }

  private async _askStatus(kernel: Kernel.IKernelConnection): Promise<void> {
    try {
      const status = await request<IStatusResult>(kernel, 'status');
      if (status.recoverable) {
        this._offer(kernel, status.recoverable);
      }
    } catch {
      // The kernel restarted or died meanwhile: its next idle asks again.
    }
  }

  private _onEvent(kernel: Kernel.IKernelConnection, data: Record<string, unknown>): void {
    if (data.event === 'recoverable') {
      this._offer(kernel, data as unknown as IRecoverable);
    } else if (data.event === 'restore') {
      const id = typeof data.checkpoint_id === 'string' ? ` ${data.checkpoint_id}` : '';
      if (data.state === 'done') {
        const seconds = typeof data.seconds === 'number' ? ` in ${formatSeconds(data.seconds)}` : '';
        Notification.success(`Session restored from checkpoint${id}${seconds}.`, {
          autoClose: 8000
        });
        this.onRestored();
      } else if (data.state === 'failed') {
        const why = data.message ?? data.error ?? 'see the kernel log';
        Notification.error(`Restoring checkpoint${id} failed: ${String(why)}`, {
          autoClose: false
        });
      }
    }
  }

  /** One notification per checkpoint: the event and the status answer may both arrive. */
  private _offer(kernel: Kernel.IKernelConnection, recoverable: IRecoverable): void {
    if (this._offered.has(recoverable.checkpoint_id)) {
      return;
    }
    this._offered.add(recoverable.checkpoint_id);
    Notification.info(
      `This session has a checkpoint from an earlier kernel process (${when(recoverable.created)}).`,
      {
        autoClose: false,
        actions: [
          {
            label: 'Restore',
            caption: `Restore checkpoint ${recoverable.checkpoint_id} into the running kernel`,
            displayType: 'accent',
            callback: () => void this._restore(kernel, recoverable)
          }
        ]
      }
    );
  }

  private async _restore(
    kernel: Kernel.IKernelConnection,
    recoverable: IRecoverable
  ): Promise<void> {
    const id = Notification.emit('Restoring the session from the earlier checkpoint…', 'in-progress', {
      autoClose: false
    });
    try {
      const result = await request<IRestoreResult>(kernel, 'restore', { url: recoverable.url });
      Notification.update({
        id,
        type: 'success',
        message: `Session restored from checkpoint ${result.checkpoint_id} in ${formatSeconds(result.seconds)}.`,
        autoClose: 8000
      });
    } catch (reason) {
      Notification.update({
        id,
        type: 'error',
        message: `Restore failed: ${describe(reason)}`,
        autoClose: false
      });
    } finally {
      this.onRestored();
    }
  }

  private readonly _kernels = new WeakSet<Kernel.IKernelConnection>();
  private readonly _offered = new Set<string>();
}
