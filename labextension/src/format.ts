/** Short human texts for sizes, durations, times and lost variables. */
import { ILostGroup } from './protocol';

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatSeconds(seconds: number): string {
  if (seconds < 0.001) {
    return '<1 ms';
  }
  if (seconds < 0.1) {
    return `${Math.round(seconds * 1000)} ms`;
  }
  if (seconds < 60) {
    return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  }
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

/** The local wall-clock time of an ISO timestamp, e.g. "14:03:12". */
export function formatTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleTimeString();
}

/** "a, b (unserializable); c (side effects)", or "" when nothing is lost. */
export function formatLost(lost: ILostGroup[]): string {
  return lost.map(group => `${group.names.join(', ')} (${group.reason})`).join('; ');
}
