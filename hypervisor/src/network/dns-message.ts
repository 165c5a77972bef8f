// The few parts of the DNS wire format (RFC 1035) the switch needs: read the question of a
// guest's query and build the answer. Guest bytes are untrusted: every read is bounds-checked
// and anything unusual (compression in a query, several questions, long names) is refused.

export const DNS_TYPE_A = 1;
export const DNS_TYPE_AAAA = 28;
const DNS_CLASS_IN = 1;
const HEADER_BYTES = 12;
const MAX_NAME_BYTES = 255;

export const RCODE = { noError: 0, formErr: 1, servFail: 2, nxDomain: 3 } as const;

export interface DnsQuestion {
  id: number;
  /** Flags of the query; the answer copies its opcode and RD bit. */
  flags: number;
  /** Lower-case name without the trailing dot, labels joined with dots. */
  name: string;
  type: number;
  class: number;
  /** The question section's bytes, copied into the answer. */
  raw: Uint8Array;
}

/** Parses a standard query with exactly one question, or returns null. */
export function parseDnsQuery(message: Uint8Array): DnsQuestion | null {
  if (message.length < HEADER_BYTES + 5 || message.length > 4096) return null;
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  const flags = view.getUint16(2);
  const isResponse = (flags & 0x8000) !== 0;
  const opcode = (flags >> 11) & 0xf;
  if (isResponse || opcode !== 0 || view.getUint16(4) !== 1) return null;
  const labels: string[] = [];
  let offset = HEADER_BYTES;
  for (;;) {
    if (offset >= message.length) return null;
    const length = message[offset]!;
    offset += 1;
    if (length === 0) break;
    // Pointers (0xc0) and the reserved label types have no place in a query's question.
    if (length > 63 || offset + length > message.length) return null;
    labels.push(new TextDecoder().decode(message.subarray(offset, offset + length)));
    offset += length;
    if (offset - HEADER_BYTES > MAX_NAME_BYTES) return null;
  }
  if (offset + 4 > message.length) return null;
  return {
    id: view.getUint16(0),
    flags,
    name: labels.join('.').toLowerCase(),
    type: view.getUint16(offset),
    class: view.getUint16(offset + 2),
    raw: message.slice(HEADER_BYTES, offset + 4),
  };
}

/** Whether a parsed name is something the host resolver should be asked about. */
export function isResolvableName(name: string): boolean {
  return (
    name.length > 0 &&
    name.length <= 253 &&
    name.split('.').every((label) => /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/.test(label))
  );
}

export interface DnsAnswerRecord {
  type: typeof DNS_TYPE_A | typeof DNS_TYPE_AAAA;
  ttl: number;
  /** 4 bytes for A, 16 for AAAA. */
  address: Uint8Array;
}

/** Builds the response to `question` with the given answers and response code. */
export function buildDnsResponse(
  question: DnsQuestion,
  rcode: number,
  answers: DnsAnswerRecord[] = [],
): Uint8Array {
  const answerBytes = answers.reduce((n, a) => n + 12 + a.address.length, 0);
  const out = new Uint8Array(HEADER_BYTES + question.raw.length + answerBytes);
  const view = new DataView(out.buffer);
  view.setUint16(0, question.id);
  // QR, the query's opcode and RD, RA (we recurse for the guest), and the response code.
  view.setUint16(2, 0x8000 | (question.flags & 0x7900) | 0x0080 | (rcode & 0xf));
  view.setUint16(4, 1);
  view.setUint16(6, answers.length);
  out.set(question.raw, HEADER_BYTES);
  let offset = HEADER_BYTES + question.raw.length;
  for (const answer of answers) {
    view.setUint16(offset, 0xc000 | HEADER_BYTES); // name: pointer to the question's name
    view.setUint16(offset + 2, answer.type);
    view.setUint16(offset + 4, DNS_CLASS_IN);
    view.setUint32(offset + 6, answer.ttl);
    view.setUint16(offset + 10, answer.address.length);
    out.set(answer.address, offset + 12);
    offset += 12 + answer.address.length;
  }
  return out;
}

/**
 * A SERVFAIL for whatever query bytes we got, built without trusting them beyond the header:
 * used by the worker when the host resolver cannot be reached, so the guest's resolver gives
 * up at once instead of waiting for its timeout.
 */
export function buildServfail(query: Uint8Array): Uint8Array {
  const parsed = parseDnsQuery(query);
  if (parsed) return buildDnsResponse(parsed, RCODE.servFail);
  const out = new Uint8Array(HEADER_BYTES);
  if (query.length >= 2) out.set(query.subarray(0, 2));
  new DataView(out.buffer).setUint16(2, 0x8000 | RCODE.formErr);
  return out;
}

export function isDnsClassIn(question: DnsQuestion): boolean {
  return question.class === DNS_CLASS_IN;
}
