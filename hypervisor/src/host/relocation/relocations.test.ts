import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import type { DomainMoved, DomainState } from '../../api/protocol.ts';
import { Admission } from '../admission.ts';
import { SerialLog } from '../devices/serial-log.ts';
import { Domain, type DomainSpec } from '../domain.ts';
import type { BootImage } from '../domain-launcher.ts';
import { DomainTable } from '../domain-table.ts';
import { HostError } from '../errors.ts';
import type { RelocationBegin } from './incoming.ts';
import { Relocations } from './relocations.ts';

// Nothing listens here: a relocation that got as far as connecting would fail, never succeed.
const PEER_URL = 'http://127.0.0.1:9';

const spec = (id: string): DomainSpec => ({
  id,
  name: `desk-${id}`,
  appliance: 'desktop',
  kind: 'disposable',
  owner: null,
  memoryMiB: 64,
  vgaMemoryMiB: 8,
});

const image: BootImage = {
  name: 'desktop',
  kernel: 'bzImage',
  initrd: 'initrd.gz',
  rootfs: 'rootfs.ext4',
  cmdline: '',
  recipeHash: 'recipe-here',
  buildId: 'build-here',
};

/** A domain whose worker runs, as far as relocation can tell (no v86 behind it). */
class RunningDomain extends Domain {
  override get state(): DomainState {
    return 'running';
  }
}

function recovered(id: string, state: 'saved' | 'crashed'): Domain {
  return new Domain(spec(id), new SerialLog(), {
    state,
    createdAt: new Date(),
    savedStateFile: null,
    error: state === 'crashed' ? 'host stopped' : null,
  });
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A Relocations over a real domain table and admission; the appliance answers when told to. */
function relocationsOn(domains: Domain[]) {
  const table = new DomainTable<Domain>();
  for (const domain of domains) table.add(domain);
  const images: Array<ReturnType<typeof deferred<BootImage>>> = [];
  const announced: Array<{ event: 'moving' | 'moved'; moved: DomainMoved }> = [];
  let standbyStops = 0;
  const relocations = new Relocations({
    config: { hostId: 'host-a', secret: 'x'.repeat(32) },
    table,
    files: {
      overlayFile: (id) => `/nonexistent/${id}.overlay`,
      removeDomain: () => assert.fail('no domain leaves this host in these tests'),
    },
    admission: new Admission({
      budgetMiB: 1024,
      memoryInUse: (exceptId) => table.memoryInUse(exceptId),
      releaseReserve: async () => undefined,
    }),
    launcher: {
      diskConfig: () => ({ kind: 'memory' }),
      bootConfig: () => assert.fail('no guest boots in these tests'),
      boot: () => assert.fail('no guest boots in these tests'),
      refreshGuest: () => assert.fail('no guest boots in these tests'),
    },
    network: { start: async () => undefined, onDomainState: () => undefined },
    goldenFor: () => assert.fail('no guest boots in these tests'),
    appliance: () => {
      const next = deferred<BootImage>();
      images.push(next);
      return next.promise;
    },
    register: (s) => {
      const domain = new Domain(s, new SerialLog());
      table.add(domain);
      return domain;
    },
    remember: () => undefined,
    forget: (domain) => table.remove(domain),
    removeDomainFiles: () => undefined,
    announce: (event, moved) => announced.push({ event, moved }),
    stopStandby: () => standbyStops++,
    log: pino({ level: 'silent' }),
  });
  return { relocations, table, images, announced, standbyStops: () => standbyStops };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));
/** A rule that let a call through leaves it waiting on the appliance: fail instead of hanging. */
const bounded = { timeout: 20_000 };

function refusedWith(code: HostError['code'], message: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof HostError, `a HostError, not ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, message);
    return true;
  };
}

function beginRequest(
  mode: RelocationBegin['mode'],
  id: string,
  runsOn = { recipeHash: 'recipe-elsewhere', buildId: 'build-elsewhere' },
): RelocationBegin {
  return {
    mode,
    spec: spec(id),
    createdAt: new Date().toISOString(),
    recipeHash: runsOn.recipeHash,
    imageBuildId: runsOn.buildId,
    sched: { weight: 256, cap: 0 },
    fromHostId: 'host-b',
    fromUrl: null,
  };
}

test(
  'a domain that is not running can be neither migrated nor cloned, and stays unmarked',
  bounded,
  async () => {
    const { relocations, images, announced } = relocationsOn([
      recovered('vm-saved', 'saved'),
      recovered('vm-crashed', 'crashed'),
    ]);
    for (const id of ['vm-saved', 'vm-crashed']) {
      const state = id === 'vm-saved' ? 'saved' : 'crashed';
      await assert.rejects(
        relocations.migrate(id, PEER_URL),
        refusedWith(
          'illegal_transition',
          new RegExp(`cannot migrate domain ${id} while it is ${state}`),
        ),
      );
      await assert.rejects(
        relocations.clone(id, 2),
        refusedWith(
          'illegal_transition',
          new RegExp(`cannot clone domain ${id} while it is ${state}`),
        ),
      );
      await assert.rejects(
        relocations.clone(id, 1, PEER_URL),
        refusedWith('illegal_transition', /cannot clone/),
      );
      assert.doesNotThrow(() => relocations.assertNotRelocating(id), 'a refusal marks nothing');
    }
    await assert.rejects(
      relocations.migrate('vm-gone', PEER_URL),
      refusedWith('not_found', /no domain vm-gone/),
    );
    assert.equal(images.length, 0, 'refused before anything was looked up');
    assert.deepEqual(announced, []);
  },
);

test(
  'while a domain is being migrated it takes no second migrate, clone or other operation',
  bounded,
  async () => {
    const domain = new RunningDomain(spec('vm-busy'), new SerialLog());
    const { relocations, table, images, announced } = relocationsOn([domain]);

    const first = relocations.migrate('vm-busy', PEER_URL);
    first.catch(() => undefined);
    await tick();
    assert.equal(images.length, 1, 'the first migrate is under way');

    await assert.rejects(
      relocations.migrate('vm-busy', PEER_URL),
      refusedWith('illegal_transition', /vm-busy is being relocated or cloned/),
    );
    await assert.rejects(
      relocations.clone('vm-busy', 1),
      refusedWith('illegal_transition', /being relocated or cloned/),
    );
    assert.throws(
      () => relocations.assertNotRelocating('vm-busy'),
      refusedWith('illegal_transition', /being relocated or cloned/),
      'the host refuses pause, save, destroy... meanwhile',
    );
    assert.equal(images.length, 1, 'the refused calls did not start');

    // The relocation fails: the domain stays here, unmarked, and may be relocated again.
    images[0]!.reject(new Error('appliance image unreadable'));
    await assert.rejects(first, /appliance image unreadable/);
    assert.equal(table.find('vm-busy'), domain);
    assert.deepEqual(announced, [], 'viewers were told of no move');
    assert.doesNotThrow(() => relocations.assertNotRelocating('vm-busy'));

    const again = relocations.migrate('vm-busy', PEER_URL);
    await tick();
    assert.equal(images.length, 2, 'a new migrate is accepted once the first one ended');
    images[1]!.reject(new Error('stopped by the test'));
    await assert.rejects(again, /stopped by the test/);
  },
);

test(
  'a draining host reports its non-running domains as not moved and takes no new domain',
  bounded,
  async () => {
    const gone = recovered('vm-gone', 'crashed');
    await gone.handOver(); // stopped: no longer the host's, not reported
    const running = new RunningDomain(spec('vm-run'), new SerialLog());
    const { relocations, table, images, standbyStops } = relocationsOn([
      recovered('vm-saved', 'saved'),
      recovered('vm-crashed', 'crashed'),
      gone,
    ]);

    assert.equal(relocations.draining, false);
    const report = await relocations.drain(PEER_URL);
    assert.deepEqual(report, {
      moved: [],
      failed: [
        { id: 'vm-saved', error: 'it is saved, not running' },
        { id: 'vm-crashed', error: 'it is crashed, not running' },
      ],
    });
    assert.equal(relocations.draining, true);
    assert.equal(standbyStops(), 1, 'a draining host keeps no standby domains');
    assert.throws(
      () => relocations.assertNotDraining(),
      refusedWith('illegal_transition', /host host-a is draining: it takes no new domains/),
    );

    // Relocations arriving, moved or cloned, are refused before anything is registered.
    for (const mode of ['move', 'clone'] as const) {
      await assert.rejects(
        relocations.incoming.begin(beginRequest(mode, 'vm-arriving'), 'peer-connection'),
        refusedWith('illegal_transition', /draining/),
      );
    }
    assert.equal(images.length, 0);
    assert.equal(table.all().length, 3, 'nothing was registered');

    // A local clone of a running domain is a new domain too.
    table.add(running);
    const clone = relocations.clone('vm-run', 1);
    await tick();
    images[0]!.resolve(image);
    await assert.rejects(clone, refusedWith('illegal_transition', /draining/));
    assert.doesNotThrow(() => relocations.assertNotRelocating('vm-run'));

    relocations.undrain();
    assert.equal(relocations.draining, false);
    assert.doesNotThrow(() => relocations.assertNotDraining());
    // Taken again: this one now gets as far as the image check (the sender runs another image).
    const arriving = relocations.incoming.begin(beginRequest('move', 'vm-arriving'), 'peer');
    await tick();
    images[1]!.resolve(image);
    await assert.rejects(
      arriving,
      refusedWith(
        'appliance_unavailable',
        /image recipe-here, the domain runs on recipe-elsewhere/,
      ),
    );
    assert.equal(table.find('vm-arriving'), undefined);
    // The same recipe, built on the sender's own: another file system block by block.
    const builtApart = relocations.incoming.begin(
      beginRequest('move', 'vm-built-apart', {
        recipeHash: 'recipe-here',
        buildId: 'build-elsewhere',
      }),
      'peer',
    );
    await tick();
    images[2]!.resolve(image);
    await assert.rejects(
      builtApart,
      refusedWith('appliance_unavailable', /own desktop image recipe-here \(build build-here\)/),
    );
    assert.equal(table.find('vm-built-apart'), undefined);
  },
);

test('a domain arriving by move is refused while one with its id is here', bounded, async () => {
  const { relocations, images } = relocationsOn([recovered('vm-here', 'saved')]);
  await assert.rejects(
    relocations.incoming.begin(beginRequest('move', 'vm-here'), 'peer'),
    refusedWith('bad_request', /domain vm-here is already here \(saved\)/),
  );
  assert.equal(images.length, 0);
});
