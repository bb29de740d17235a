/** Words and times as operators read them. */
export const ACTION_LABEL = { on: 'On', off: 'Off', soft_off: 'Soft off', cycle: 'Cycle', query: 'Query' };
export const POWER_ACTIONS = ['on', 'off', 'soft_off', 'cycle', 'query'];
export const STATUSES = [
  'new', 'commissioning', 'failed_commissioning', 'ready', 'allocated', 'deploying', 'failed_deployment', 'deployed',
  'releasing', 'failed_releasing', 'entering_rescue', 'rescue', 'exiting_rescue', 'broken',
];
export const TRANSITIONAL = new Set(['commissioning', 'deploying', 'releasing', 'entering_rescue', 'exiting_rescue']);

export const words = (s) => String(s).replaceAll('_', ' ');

export function actionWords(action) {
  return ACTION_LABEL[action]?.toLowerCase() ?? words(action);
}

/** "status-failed" etc.: colour group of a lifecycle status. */
export function statusTone(status) {
  if (status === 'broken' || status.startsWith('failed_')) return 'bad';
  if (TRANSITIONAL.has(status)) return 'busy';
  if (status === 'deployed' || status === 'rescue') return 'good';
  return 'plain';
}

export function inFlightText(inFlight, phase) {
  if (inFlight === null) return '';
  const step = inFlight.step !== inFlight.action && inFlight.step !== undefined ? ` · ${words(inFlight.step)}` : '';
  const attempt = inFlight.attempt > 1 ? ` #${inFlight.attempt}` : '';
  const ph = phase && phase !== 'dispatching' && phase !== 'idle' ? ` · ${phase}` : '';
  return `${actionWords(inFlight.action)}${step}${attempt}${ph}`;
}

export function originSuffix(origin) {
  return origin && origin !== 'user' ? ` (${origin})` : '';
}

const pad = (n) => String(n).padStart(2, '0');

export function clockTime(iso) {
  const d = new Date(iso);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

export function dateTime(iso) {
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clockTime(iso)}`;
}

export function ago(iso, now = Date.now()) {
  const s = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export function duration(fromIso, toIso) {
  if (!fromIso || !toIso) return '';
  const ms = new Date(toIso).getTime() - new Date(fromIso).getTime();
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}
