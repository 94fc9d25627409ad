/**
 * Which notebook is current and whether its kernel is an elastic kernel; everything else in
 * the extension reads this to show or hide itself.
 */
import { ISessionContext } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Kernel } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { isElasticKernel, KERNEL_NAME } from './protocol';

export class ElasticState {
  constructor(private readonly tracker: INotebookTracker) {
    tracker.currentChanged.connect(this._onCurrentChanged, this);
    this._onCurrentChanged();
  }

  /** Emitted when the current panel, its kernel, or the elastic flag changes. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The current notebook, if any. */
  get panel(): NotebookPanel | null {
    return this.tracker.currentWidget;
  }

  /** The current notebook's kernel, if any. */
  get kernel(): Kernel.IKernelConnection | null {
    return this.panel?.sessionContext.session?.kernel ?? null;
  }

  /** Whether the current notebook runs an elastic kernel. */
  get isElastic(): boolean {
    return this._isElastic;
  }

  /** Whether an elastic operation (checkpoint, restart) is running for the current kernel. */
  get isBusy(): boolean {
    return this._busy.has(this.panel?.id ?? '');
  }

  setBusy(panel: NotebookPanel, busy: boolean): void {
    if (busy) {
      this._busy.add(panel.id);
    } else {
      this._busy.delete(panel.id);
    }
    this._changed.emit();
  }

  private _onCurrentChanged(): void {
    if (this._context) {
      this._context.kernelChanged.disconnect(this._update, this);
    }
    this._context = this.panel?.sessionContext ?? null;
    if (this._context) {
      this._context.kernelChanged.connect(this._update, this);
    }
    this._update();
  }

  private _update(): void {
    const kernel = this.kernel;
    // The kernelspec name answers at once; kernel_info (the `elastic` key) covers kernels
    // installed under another name.
    this._set(kernel !== null && kernel.name === KERNEL_NAME);
    if (kernel !== null && kernel.name !== KERNEL_NAME) {
      void isElasticKernel(kernel).then(elastic => {
        if (kernel === this.kernel) {
          this._set(elastic);
        }
      });
    }
    this._changed.emit();
  }

  private _set(elastic: boolean): void {
    if (elastic !== this._isElastic) {
      this._isElastic = elastic;
      this._changed.emit();
    }
  }

  private _context: ISessionContext | null = null;
  private _isElastic = false;
  private readonly _busy = new Set<string>();
  private readonly _changed = new Signal<this, void>(this);
}
