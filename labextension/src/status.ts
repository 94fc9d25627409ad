/**
 * The status-bar item: last checkpoint time, size and estimated restore time, from the
 * kernel's `status` op; a click opens the plan.
 */
import { Kernel } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { formatBytes, formatSeconds, formatTime } from './format';
import { IStatusResult, request } from './protocol';
import { ElasticState } from './state';

/** How often the item refreshes while the kernel is idle. */
export const REFRESH_MS = 30_000;

/** Fetches `status` from the current elastic kernel when it is idle and the data is stale. */
export class StatusModel {
  constructor(private readonly state: ElasticState) {
    state.changed.connect(this._onStateChanged, this);
    this._onStateChanged();
    this._timer = window.setInterval(() => void this.refresh(), REFRESH_MS);
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The last `status` result of the current kernel (null before the first answer). */
  get status(): IStatusResult | null {
    return this._status;
  }

  get error(): string | null {
    return this._error;
  }

  /** Ask the current kernel for its status now (only while it is idle, since comm requests
   * queue behind a running cell). */
  async refresh(force = false): Promise<void> {
    const kernel = this.state.kernel;
    if (!this.state.isElastic || kernel === null || this._inflight) {
      return;
    }
    if (kernel.status !== 'idle' && !force) {
      return;
    }
    this._inflight = true;
    try {
      this._status = await request<IStatusResult>(kernel, 'status');
      this._error = null;
    } catch (reason) {
      this._error = reason instanceof Error ? reason.message : String(reason);
    } finally {
      this._inflight = false;
      this._fetched = Date.now();
      this._changed.emit();
    }
  }

  dispose(): void {
    window.clearInterval(this._timer);
    Signal.clearData(this);
  }

  private _onStateChanged(): void {
    const kernel = this.state.isElastic ? this.state.kernel : null;
    if (kernel === this._kernel) {
      return;
    }
    this._kernel?.statusChanged.disconnect(this._onKernelStatus, this);
    this._kernel = kernel;
    this._status = null;
    this._error = null;
    this._fetched = 0;
    this._kernel?.statusChanged.connect(this._onKernelStatus, this);
    this._changed.emit();
    void this.refresh();
  }

  private _onKernelStatus(_: Kernel.IKernelConnection, status: Kernel.Status): void {
    // A fresh or restarted kernel gets its first status as soon as it turns idle.
    if (status === 'idle' && (this._status === null || Date.now() - this._fetched > REFRESH_MS)) {
      void this.refresh();
    }
  }

  private _kernel: Kernel.IKernelConnection | null = null;
  private _status: IStatusResult | null = null;
  private _error: string | null = null;
  private _fetched = 0;
  private _inflight = false;
  private readonly _timer: number;
  private readonly _changed = new Signal<this, void>(this);
}

/** The status-bar widget: text from the model, opens the plan on click. */
export class StatusItem extends Widget {
  constructor(
    private readonly model: StatusModel,
    onClick: () => void
  ) {
    super();
    this.addClass('jp-ElasticStatus');
    this.node.setAttribute('role', 'button');
    this.node.addEventListener('click', onClick);
    model.changed.connect(this._render, this);
    this._render();
  }

  private _render(): void {
    const { status, error } = this.model;
    const last = status?.last_checkpoint ?? null;
    let text: string;
    let title: string;
    if (error !== null && status === null) {
      text = 'Elastic: status unavailable';
      title = error;
    } else if (status === null) {
      text = 'Elastic';
      title = 'Elastic kernel: waiting for its status';
    } else if (last === null && status.last_restore !== null) {
      // A restarted process knows the checkpoint it restored, not the one it was taken by.
      const restored = status.last_restore;
      text = restored.ok
        ? `Elastic: restored in ${formatSeconds(restored.seconds)} · no checkpoint since`
        : 'Elastic: restore incomplete · no checkpoint since';
      title = `Restored checkpoint ${restored.checkpoint_id}\nClick to see the plan.`;
    } else if (last === null) {
      text = 'Elastic: no checkpoint yet';
      title = `Store: ${status.store}\nSession: ${status.session_key}\nClick to see the plan.`;
    } else {
      text =
        `Elastic: checkpoint ${formatTime(last.created)} · ${formatBytes(last.bytes)} · ` +
        `restore ${approx(formatSeconds(last.estimated_restore_seconds))}`;
      title =
        `Checkpoint ${last.checkpoint_id} (${last.url})\n` +
        `Taken in ${formatSeconds(last.seconds)}; ${status.cells} cells, ` +
        `${status.live_variables} live variables\nClick to see the plan.`;
    }
    this.node.textContent = text;
    this.node.title = title;
  }
}

/** "≈2.0 s", but "<1 ms" as is. */
function approx(text: string): string {
  return text.startsWith('<') ? text : `≈${text}`;
}
