/**
 * The `elastic` comm protocol (DESIGN.md "Comm protocol"): one comm per request, opened with
 * the request as its data; the kernel replies on the same comm with `{op, id, ok, ...}`.
 */
import { Kernel, KernelMessage } from '@jupyterlab/services';
import { JSONObject, UUID } from '@lumino/coreutils';

export const COMM_TARGET = 'elastic';
export const KERNEL_NAME = 'elastic';

export type Op = 'checkpoint' | 'restore' | 'plan' | 'status' | 'restart';

export interface ILostGroup {
  names: string[];
  reason: string;
}

export interface ICheckpointResult {
  checkpoint_id: string;
  url: string;
  bytes: number;
  seconds: number;
  stored: string[];
  recomputed: string[];
  lost: ILostGroup[];
  rerun: number[];
  estimated_restore_seconds: number;
  pending_restore?: boolean;
}

export interface ILastCheckpoint {
  checkpoint_id: string;
  url: string;
  bytes: number;
  seconds: number;
  created: string;
  estimated_restore_seconds: number;
}

export interface IStatusResult {
  store: string;
  session_key: string;
  alpha: number;
  cells: number;
  live_variables: number;
  overhead_seconds: number;
  last_checkpoint: ILastCheckpoint | null;
  last_restore: { checkpoint_id: string; ok: boolean; seconds: number } | null;
  /** A checkpoint an earlier kernel process of this session left (it crashed or was killed). */
  recoverable?: IRecoverable | null;
}

/** A checkpoint of this session left by an earlier kernel process. */
export interface IRecoverable {
  checkpoint_id: string;
  url: string;
  created: string | null;
}

export interface IPlanResult {
  plan: JSONObject;
  text: string;
  html: string;
}

/** A request the kernel answered with `ok: false` (or could not answer at all). */
export class ElasticRequestError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly result?: unknown
  ) {
    super(message);
    this.name = type;
  }
}

interface IReply {
  op?: string;
  id?: string;
  ok?: boolean;
  result?: unknown;
  error?: { type?: string; message?: string };
}

/**
 * Send one request to the kernel's `elastic` comm target and wait for its reply.
 *
 * Rejects with an `ElasticRequestError` when the reply says `ok: false`, or when the kernel
 * restarts, dies or closes the comm before replying (the reply could never arrive then).
 */
export function request<T>(
  kernel: Kernel.IKernelConnection,
  op: Op,
  args: JSONObject = {}
): Promise<T> {
  const id = UUID.uuid4();
  const comm = kernel.createComm(COMM_TARGET);
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const settle = (): boolean => {
      if (settled) {
        return false;
      }
      settled = true;
      kernel.statusChanged.disconnect(onStatus);
      return true;
    };
    const onStatus = (_: Kernel.IKernelConnection, status: Kernel.Status): void => {
      if (status === 'restarting' || status === 'autorestarting' || status === 'dead') {
        if (settle()) {
          reject(new ElasticRequestError('KernelRestarted', `the kernel went ${status}`));
        }
      }
    };
    kernel.statusChanged.connect(onStatus);
    comm.onMsg = (msg: KernelMessage.ICommMsgMsg): void => {
      const reply = msg.content.data as IReply;
      if (reply.id !== id || !settle()) {
        return;
      }
      if (!comm.isDisposed) {
        comm.close();
      }
      if (reply.ok) {
        resolve(reply.result as T);
      } else {
        const error = reply.error ?? {};
        reject(
          new ElasticRequestError(
            error.type ?? 'Error',
            error.message ?? 'the kernel gave no reason',
            reply.result
          )
        );
      }
    };
    comm.onClose = (): void => {
      if (settle()) {
        reject(
          new ElasticRequestError('CommClosed', 'the kernel closed the elastic comm without a reply')
        );
      }
    };
    comm.open({ op, id, ...args });
  });
}

/** Whether a kernel is an elastic kernel: by kernelspec name, else by its kernel_info reply. */
export async function isElasticKernel(kernel: Kernel.IKernelConnection): Promise<boolean> {
  if (kernel.name === KERNEL_NAME) {
    return true;
  }
  try {
    const info = (await kernel.info) as unknown as Record<string, unknown>;
    return typeof info.elastic === 'object' && info.elastic !== null;
  } catch {
    return false;
  }
}

/** Run an empty silent cell (the kernel restores a pending checkpoint first) and return its
 * stdout and stderr text. */
export async function runSilent(kernel: Kernel.IKernelConnection): Promise<string> {
  const future = kernel.requestExecute({
    code: '',
    silent: true,
    store_history: false,
    allow_stdin: false
  });
  const out: string[] = [];
  future.onIOPub = (msg: KernelMessage.IIOPubMessage): void => {
    if (KernelMessage.isStreamMsg(msg)) {
      out.push(msg.content.text);
    }
  };
  await future.done;
  return out.join('');
}
