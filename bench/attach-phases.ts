// Where an attach spends its time: each step's ms after the start (the click on "Open desktop",
// or a reconnecting page's navigation), per sample and as a p50 timeline for the bench output.
import { percentile, round } from './stats.ts';
import { attachSteps, type PageAttachSteps, type Viewer } from './stack.ts';

/** Steps in the order they happen; a step a sample did not see is absent from it. */
export const ATTACH_PHASES = [
  /** The portal's open-desktop call answered (time to desktop only). */
  'openAnswered',
  /** The viewer page arrived: its document, or the client-side navigation's server render. */
  'pageServed',
  /** The attach-token call answered, when the viewer had to ask for one (none came with the page). */
  'tokenAnswered',
  /** The page created its gateway socket (early attach: the open answer or its first script). */
  'viewerCreated',
  /** The socket's upgrade request reached the gateway (through the portal's proxy in the portal). */
  'gatewayUpgrade',
  /** The socket's transport is open; the attach token goes to the gateway now. */
  'socketOpen',
  /** session:ready arrived: the gateway verified the token and the feed is live. The gateway
   * encodes and sends the first full frame in the same turn. */
  'sessionReady',
  /** The first part of the first full frame arrived. */
  'firstFrame',
  /** The frame that shows the desktop was painted (the figure itself). */
  'painted',
] as const;
export type AttachPhase = (typeof ATTACH_PHASES)[number];
export type AttachPhases = Partial<Record<AttachPhase, number>>;

export interface AttachTimeline {
  /** p50 of each step, ms after the start. */
  p50: AttachPhases;
  n: number;
  /** 1-minute load average at the first and last sample. */
  load: { start: number; end: number };
}

/** A page's steps as ms after `startAt` (all epoch ms on the page clock). */
export function phasesOf(
  steps: PageAttachSteps,
  startAt: number,
  extra: AttachPhases = {},
): AttachPhases {
  const after = (at: number | undefined) =>
    at === undefined || !Number.isFinite(at) ? undefined : Math.round(at - startAt);
  const out: AttachPhases = {
    ...extra,
    viewerCreated: after(steps.socketCreatedAt),
    socketOpen: after(steps.socketOpenAt),
    sessionReady: after(steps.readyAt),
    firstFrame: after(steps.firstFrameAt),
    painted: after(steps.paintedAt),
  };
  out.pageServed ??= after(steps.documentAt);
  for (const key of ATTACH_PHASES) if (out[key] === undefined) delete out[key];
  return out;
}

/** The first upgrade to reach the gateway at or after `since` (this process's epoch ms). */
export function upgradeAfter(upgradesAt: readonly number[], since: number): number | undefined {
  return upgradesAt.find((at) => at >= since);
}

/**
 * A reconnecting viewer's steps, ms after its page's navigation started. The gateway's upgrade
 * times are on this process's clock, the same machine's as the page's.
 */
export async function reconnectPhases(
  viewer: Pick<Viewer, 'page'>,
  upgradesAt: readonly number[],
): Promise<AttachPhases> {
  const steps = await attachSteps(viewer.page);
  const start = steps.navigationStartAt;
  const upgrade = upgradeAfter(upgradesAt, start);
  return phasesOf(steps, start, {
    ...(upgrade !== undefined ? { gatewayUpgrade: Math.round(upgrade - start) } : {}),
  });
}

export function attachTimeline(
  samples: AttachPhases[],
  load: { start: number; end: number },
): AttachTimeline {
  const p50: AttachPhases = {};
  for (const phase of ATTACH_PHASES) {
    const values = samples.map((s) => s[phase]).filter((v): v is number => v !== undefined);
    if (values.length) p50[phase] = Math.round(percentile(values, 50));
  }
  return {
    p50,
    n: samples.length,
    load: { start: round(load.start, 2), end: round(load.end, 2) },
  };
}

/** One line: each step and the ms it took after the one before, e.g. `socketOpen 512 (+120)`. */
export function formatPhases(phases: AttachPhases): string {
  let previous = 0;
  const parts: string[] = [];
  for (const phase of ATTACH_PHASES) {
    const at = phases[phase];
    if (at === undefined) continue;
    parts.push(`${phase} ${at} (+${at - previous})`);
    previous = at;
  }
  return parts.join(', ');
}

export const ATTACH_PHASES_METHOD =
  'Where the attach figures spend their time: the p50 of each step, ms after the start (the click on "Open desktop" for timeToDesktop, the page navigation for reconnect), taken in the page: openAnswered (the open-desktop call answered), pageServed (the viewer page document, or the client-side navigation\'s server render, arrived), tokenAnswered (the attach-token call answered, only when no token came with the page), viewerCreated (the page created its socket to the gateway: the early attach of the portal’s open answer or of the page’s first script, which the viewer adopts once its script has loaded and mounted), gatewayUpgrade (the WebSocket upgrade request reached the gateway, through the portal\'s proxy for timeToDesktop), socketOpen (WebSocket open), sessionReady (session:ready arrived: token verified, feed live; the gateway encodes and sends the first full frame in the same turn), firstFrame (its first part arrived), painted (the desktop painted). load is the 1-minute load average at the first and last sample.';
