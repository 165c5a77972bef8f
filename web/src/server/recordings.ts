// Session recordings in the portal: the rows kept from the gateways' recording events, and the
// admin routes' access to a recording's index and bytes on the gateway that keeps its file.
import {
  RECORDING_MAX_READ_BYTES,
  recordingIndexSchema,
  type RecordingEvent,
  type RecordingIndex,
} from '@raydesk/gateway/recording';
import { config } from './config.ts';
import type { Db } from './db.ts';
import { fleetMode } from './fleet.ts';
import { HttpError, notFound } from './http.ts';

type Recording = NonNullable<Awaited<ReturnType<Db['recording']['findUnique']>>>;

export async function recordRecordingEvent(db: Db, e: RecordingEvent): Promise<void> {
  if (e.type === 'deleted') {
    await db.recording.deleteMany({ where: { id: e.id } });
    return;
  }
  const start = e.start;
  const [user, vm] = await Promise.all([
    db.user.findUnique({ where: { id: start.userId }, select: { email: true } }),
    db.vm.findUnique({ where: { domainId: start.vm }, select: { id: true } }),
  ]);
  const base = {
    userId: start.userId,
    userName: start.userName,
    userEmail: user?.email ?? '',
    domainId: start.vm,
    vmId: vm?.id ?? null,
    gatewayId: start.gatewayId,
    path: e.path,
    startedAt: new Date(start.startedAt),
  };
  const end =
    e.type === 'ended'
      ? { endedAt: new Date(e.endedAt), durationMs: e.durationMs, sizeBytes: BigInt(e.sizeBytes) }
      : {};
  await db.recording.upsert({
    where: { id: start.id },
    create: { id: start.id, ...base, ...end },
    update: end,
  });
}

export interface RecordingView {
  id: string;
  userId: string;
  userName: string;
  userEmail: string;
  domainId: string;
  vmId: string | null;
  gatewayId: string;
  startedAt: string;
  endedAt: string | null;
  durationMs: number;
  sizeBytes: number;
}

export function presentRecording(r: Recording): RecordingView {
  return {
    id: r.id,
    userId: r.userId,
    userName: r.userName,
    userEmail: r.userEmail,
    domainId: r.domainId,
    vmId: r.vmId,
    gatewayId: r.gatewayId,
    startedAt: r.startedAt.toISOString(),
    endedAt: r.endedAt?.toISOString() ?? null,
    durationMs: r.durationMs,
    sizeBytes: Number(r.sizeBytes),
  };
}

export async function findRecording(db: Db, id: string): Promise<Recording> {
  const row = /^[A-Za-z0-9_-]{8,64}$/.test(id)
    ? await db.recording.findUnique({ where: { id } })
    : null;
  if (!row) throw notFound('No such recording.');
  return row;
}

/** The internal URL of the gateway that keeps a recording (in a fleet: its registry entry). */
async function gatewayBase(db: Db, gatewayId: string): Promise<string> {
  if (!fleetMode()) return config().GATEWAY_URL;
  const node = await db.gatewayNode.findUnique({ where: { id: gatewayId } });
  if (!node)
    throw new HttpError(503, 'gateway_unavailable', 'The gateway keeping this recording is gone.');
  return node.url;
}

async function callGateway(
  db: Db,
  rec: Recording,
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  const base = await gatewayBase(db, rec.gatewayId);
  const url = new URL(
    `internal/recordings/${encodeURIComponent(rec.id)}${path}`,
    base.endsWith('/') ? base : `${base}/`,
  );
  let res: Response;
  try {
    res = await fetch(url, {
      ...init,
      headers: { authorization: `Bearer ${config().GATEWAY_SECRET}` },
      signal: AbortSignal.timeout(30_000),
      cache: 'no-store',
    });
  } catch {
    throw new HttpError(503, 'gateway_unavailable', 'The display gateway is not reachable.');
  }
  if (res.status === 404) throw notFound('The recording file is gone.');
  if (!res.ok) throw new HttpError(502, 'gateway_error', `The gateway answered ${res.status}.`);
  return res;
}

export async function recordingIndex(db: Db, rec: Recording): Promise<RecordingIndex> {
  const res = await callGateway(db, rec, '/index');
  return recordingIndexSchema.parse(await res.json());
}

export async function recordingBytes(
  db: Db,
  rec: Recording,
  from: number,
  to: number,
): Promise<Uint8Array> {
  const res = await callGateway(db, rec, `/bytes?from=${from}&to=${to}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** The whole file, read from the gateway a range at a time. */
export function recordingStream(db: Db, rec: Recording, size: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (at >= size) return controller.close();
      const to = Math.min(size, at + RECORDING_MAX_READ_BYTES);
      const chunk = await recordingBytes(db, rec, at, to);
      if (chunk.byteLength === 0) return controller.close();
      at += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
}

export async function deleteRecordingFile(db: Db, rec: Recording): Promise<void> {
  try {
    await callGateway(db, rec, '', { method: 'DELETE' });
  } catch (error) {
    // A file already gone (retention, a lost gateway disk) still lets the row go.
    if (!(error instanceof HttpError && error.status === 404)) throw error;
  }
}
