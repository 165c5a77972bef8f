// Speaks wisp v1 to the hypervisor's virtual switch on a VM's own relay URL, as that VM's worker
// does (v86's fake network), but with destinations no guest TCP stack can produce: IPv6 and
// IPv4-mapped forms, odd IPv4 notations and host names. It stands for a guest that took over
// its worker, the strongest position a VM can attack the switch from.
import { WebSocket } from 'ws';

const CONNECT = 0x01;
const DATA = 0x02;
const CLOSE = 0x04;
const TCP = 0x01;

export class WispProbe {
  private readonly ws: WebSocket;
  private readonly frames: Array<{ type: number; stream: number; payload: Buffer }> = [];
  private nextStream = 1;
  readonly opened: Promise<void>;

  constructor(relayUrl: string) {
    this.ws = new WebSocket(relayUrl.replace(/^wisp:/, 'ws:'), { perMessageDeflate: false });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.ws.on('message', (data: Buffer) =>
      this.frames.push({ type: data[0]!, stream: data.readUInt32LE(1), payload: data.subarray(5) }),
    );
  }

  /**
   * Opens a TCP stream to host:port, sends an HTTP request and collects what comes back until
   * the switch closes the stream. `data` is what the destination answered (empty when refused).
   */
  async tryConnect(host: string, port: number): Promise<{ data: string; closeReason: number }> {
    await this.opened;
    const stream = this.nextStream++;
    const name = Buffer.from(host);
    const connect = Buffer.alloc(8 + name.length);
    connect.writeUInt8(CONNECT, 0);
    connect.writeUInt32LE(stream, 1);
    connect.writeUInt8(TCP, 5);
    connect.writeUInt16LE(port, 6);
    name.copy(connect, 8);
    this.ws.send(connect);
    const request = `GET /from-wisp HTTP/1.0\r\nHost: ${host}\r\n\r\n`;
    const data = Buffer.alloc(5 + request.length);
    data.writeUInt8(DATA, 0);
    data.writeUInt32LE(stream, 1);
    data.write(request, 5);
    this.ws.send(data);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const close = this.frames.find((f) => f.stream === stream && f.type === CLOSE);
      if (close) {
        const body = this.frames
          .filter((f) => f.stream === stream && f.type === DATA)
          .map((f) => f.payload.toString())
          .join('');
        return { data: body, closeReason: close.payload[0]! };
      }
      if (Date.now() > deadline) throw new Error(`the switch did not close stream ${stream}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  close(): void {
    this.ws.close();
  }
}
