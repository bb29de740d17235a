/** Words and times as operators read them. */

/*
 * The chart's vocabulary: lists and labels come from GET /api/v1/gating (generated from
 * src/machines), filled in by useVocabulary() before the first view renders (main.js). The
 * UI restates none of them; they are empty until the API answered.
 */
export const POWER_ACTIONS = [];
export const STATUSES = [];
/** Statuses that wait on the power op they requested. */
export const TRANSITIONAL = new Set();
/** Power action → button label ("Soft off"). */
export const ACTION_LABEL = {};
const LABELS = {};

export function useVocabulary(g) {
  POWER_ACTIONS.splice(0, POWER_ACTIONS.length, ...g.powerActions);
  STATUSES.splice(0, STATUSES.length, ...g.statuses);
  TRANSITIONAL.clear();
  for (const s of g.transitional) TRANSITIONAL.add(s);
  Object.assign(ACTION_LABEL, g.actionLabels);
  Object.assign(LABELS, g.labels);
  for (const [event, rule] of Object.entries(g.lifecycle)) LABELS[event] = rule.label;
}

/** A word as people read it: the API's label for the chart's words, else the same rule (underscores to spaces). */
export const words = (s) => LABELS[s] ?? String(s).replaceAll('_', ' ');

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

/** "12:03:41": a wall-clock time to the second. */
export function secondsClock(iso) {
  const d = new Date(iso);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A timing value in the unit people read it in: "300 ms", "5 s", "1.5 s", "2 min", "1 min 30 s". */
export function millis(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(ms % 100 === 0 ? 1 : 2)} s`;
  const min = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return s === 0 ? `${min} min` : `${min} min ${s} s`;
}

/** "14 s left", "2 min 05 s left"; "ending now" once the instant has passed. */
export function countdown(untilIso, now = Date.now()) {
  const left = Math.ceil((new Date(untilIso).getTime() - now) / 1000);
  if (left <= 0) return 'ending now';
  if (left < 60) return `${left} s left`;
  return `${Math.floor(left / 60)} min ${pad(left % 60)} s left`;
}

/** The node's driver command in words; `short` fits a table cell. */
export const COMMAND_WORDS = {
  queued_for_bmc: 'queued for BMC',
  queued_for_global_cap: 'queued: global cap',
  sent: 'sent to the BMC',
  waiting_out: 'waiting out',
};

/** One sentence on the command a node has out (tooltips, the node page). */
export function commandSentence(command, inFlight = null) {
  if (!command) return '';
  const what = inFlight ? `the ${actionWords(inFlight.action)} op's command` : 'a command';
  switch (command.state) {
    case 'waiting_out':
      return `Waiting out ${what}: Switchboard gave up on it, but the BMC may still be acting on it` +
        `${command.until ? ` until ${secondsClock(command.until)}` : ''}. Nothing else is sent to this node or its BMC before then.`;
    case 'queued_for_bmc':
      return `${what[0].toUpperCase()}${what.slice(1)} is queued for its BMC: another command to the same BMC runs first.`;
    case 'queued_for_global_cap':
      return `${what[0].toUpperCase()}${what.slice(1)} is queued for the global concurrency cap: it is sent when a slot frees up.`;
    default:
      return `${what[0].toUpperCase()}${what.slice(1)} is with the BMC.`;
  }
}

/** The effective timing as [label, value, what it means]. */
export const TIMING_FIELDS = [
  ['requestTimeoutMs', 'Request timeout', 'Time to wait for one answer from the BMC'],
  ['commandBudgetMs', 'Command budget', 'Time one command may run before Switchboard gives up on it'],
  ['settleMs', 'Settle time', 'Time the BMC may still carry out a command after Switchboard gave up on it'],
  ['stepTimeoutMs', 'Step timeout', 'Time a step may take to reach its target, from its send'],
  ['attempts', 'Attempts', 'Attempts per step before the op fails'],
  ['minIntervalMs', 'Min interval', 'Gap the BMC wants between two commands'],
];

export function timingValue(key, value) {
  if (key === 'attempts') return `${value} per step`;
  return millis(value);
}
