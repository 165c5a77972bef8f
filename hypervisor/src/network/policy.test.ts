import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  classifyAddress,
  decideEgress,
  defaultEgressConfig,
  mayReachAddress,
  parseAddress,
  parseAllowlist,
  policyForKind,
  type EgressPolicyConfig,
} from './policy.ts';

const classOf = (text: string) => {
  const address = parseAddress(text);
  assert.ok(address, `${text} parses`);
  return classifyAddress(address);
};

describe('address classification', () => {
  const cases: Array<[string, string]> = [
    ['8.8.8.8', 'public'],
    ['93.184.215.14', 'public'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.1', 'public'],
    ['192.168.86.1', 'private'],
    ['100.64.0.1', 'carrier-grade-nat'],
    ['100.127.255.255', 'carrier-grade-nat'],
    ['100.128.0.1', 'public'],
    ['169.254.169.254', 'link-local'],
    ['224.0.0.251', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['fe80::1', 'link-local'],
    ['ff02::1', 'multicast'],
    ['2606:4700::1111', 'public'],
    ['[2606:4700::1111]', 'public'],
    // IPv4 in IPv6 clothing is judged by the IPv4 address inside.
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:8.8.8.8', 'public'],
    ['64:ff9b::a00:1', 'private'],
    ['2002:7f00:1::1', 'loopback'],
    ['::127.0.0.1', 'loopback'],
    ['4000::1', 'reserved'],
  ];
  for (const [address, expected] of cases) {
    test(`${address} is ${expected}`, () => assert.equal(classOf(address), expected));
  }

  test('only dotted-quad IPv4 and standard IPv6 count as addresses', () => {
    for (const odd of [
      '2130706433',
      '0x7f.0.0.1',
      '127.1',
      '017700000001',
      'localhost',
      '',
      '1.2.3',
    ]) {
      assert.equal(parseAddress(odd), null, odd);
    }
  });
});

describe('allowlist parsing', () => {
  test('CIDR, single addresses, ports and bracketed IPv6', () => {
    const rules = parseAllowlist(
      '127.0.0.1:8080, 10.0.0.0/8 192.168.1.0/24:443,[::1]:9000,fd00::/8',
    );
    assert.deepEqual(
      rules.map((r) => [r.text, r.cidr[0].toString(), r.cidr[1], r.port]),
      [
        ['127.0.0.1:8080', '127.0.0.1', 32, 8080],
        ['10.0.0.0/8', '10.0.0.0', 8, null],
        ['192.168.1.0/24:443', '192.168.1.0', 24, 443],
        ['[::1]:9000', '::1', 128, 9000],
        ['fd00::/8', 'fd00::', 8, null],
      ],
    );
    assert.deepEqual(parseAllowlist(''), []);
    assert.deepEqual(parseAllowlist(' , '), []);
  });

  test('bad entries are refused with the entry named', () => {
    for (const [bad, message] of [
      ['example.com', /"example.com" is not an IP address/],
      ['10.0.0.0/33', /bad prefix length/],
      ['10.0.0.0/x', /bad prefix length/],
      ['127.0.0.1:0', /bad port/],
      ['127.0.0.1:70000', /bad port/],
      ['127.0.0.1:http', /bad port/],
      ['[::1]:', /is not an IP address|bad port/],
      ['2130706433', /is not an IP address/],
    ] as const) {
      assert.throws(() => parseAllowlist(bad), message, bad);
    }
  });
});

describe('egress decisions', () => {
  const config = (overrides: Partial<EgressPolicyConfig> = {}): EgressPolicyConfig => ({
    ...defaultEgressConfig(),
    ...overrides,
  });

  test('disposable VMs reach public addresses on 80 and 443 only', () => {
    const policy = policyForKind(config(), 'disposable');
    assert.equal(decideEgress(policy, '93.184.215.14', 443).allowed, true);
    assert.equal(decideEgress(policy, '93.184.215.14', 80).allowed, true);
    const ssh = decideEgress(policy, '93.184.215.14', 22);
    assert.equal(ssh.allowed, false);
    assert.match(!ssh.allowed ? ssh.reason : '', /port 22 is not open to disposable VMs/);
  });

  test('every kind is denied loopback, private, link-local, metadata and friends', () => {
    for (const kind of ['disposable', 'personal', 'system'] as const) {
      const policy = policyForKind(config(), kind);
      for (const address of [
        '127.0.0.1',
        '10.0.0.5',
        '172.20.0.1',
        '192.168.86.100',
        '100.64.1.1',
        '169.254.169.254',
        '224.0.0.1',
        '0.0.0.0',
        '::1',
        'fd00::1',
        'fe80::1',
        '::ffff:127.0.0.1',
      ]) {
        const decision = decideEgress(policy, address, 80);
        assert.equal(decision.allowed, false, `${kind} → ${address}`);
        assert.match(!decision.allowed ? decision.reason : '', / address$/);
      }
    }
  });

  test('personal and system VMs reach public addresses on any port', () => {
    for (const kind of ['personal', 'system'] as const) {
      const policy = policyForKind(config(), kind);
      assert.equal(decideEgress(policy, '93.184.215.14', 22).allowed, true);
      assert.equal(decideEgress(policy, '2606:4700::1111', 5222).allowed, true);
    }
  });

  test('the allowlist opens exactly its address range and port', () => {
    const rules = parseAllowlist('127.0.0.1:8080,10.0.0.0/8');
    const policy = policyForKind(config({ allowAll: rules }), 'disposable');
    assert.deepEqual(decideEgress(policy, '127.0.0.1', 8080), {
      allowed: true,
      addressClass: 'loopback',
      rule: '127.0.0.1:8080',
    });
    assert.equal(decideEgress(policy, '127.0.0.1', 8081).allowed, false);
    assert.equal(decideEgress(policy, '127.0.0.2', 8080).allowed, false);
    // A rule without a port opens every port, also ones a disposable VM may not use publicly.
    assert.equal(decideEgress(policy, '10.9.8.7', 5432).allowed, true);
    assert.equal(decideEgress(policy, '11.0.0.1', 5432).allowed, false);
  });

  test('per-kind allowlists apply to that kind only', () => {
    const cfg = config({
      allowByKind: { personal: [], disposable: [], system: parseAllowlist('127.0.0.1:9000') },
    });
    assert.equal(decideEgress(policyForKind(cfg, 'system'), '127.0.0.1', 9000).allowed, true);
    assert.equal(decideEgress(policyForKind(cfg, 'disposable'), '127.0.0.1', 9000).allowed, false);
    assert.equal(decideEgress(policyForKind(cfg, 'personal'), '127.0.0.1', 9000).allowed, false);
  });

  test('the disposable port set is configurable', () => {
    const policy = policyForKind(config({ disposablePorts: [443] }), 'disposable');
    assert.equal(decideEgress(policy, '93.184.215.14', 80).allowed, false);
    assert.equal(decideEgress(policy, '93.184.215.14', 443).allowed, true);
  });

  test('malformed destinations are denied, never guessed at', () => {
    const policy = policyForKind(config(), 'personal');
    assert.equal(decideEgress(policy, 'localhost', 80).allowed, false);
    assert.equal(decideEgress(policy, '2130706433', 80).allowed, false);
    assert.equal(decideEgress(policy, '8.8.8.8', 0).allowed, false);
    assert.equal(decideEgress(policy, '8.8.8.8', 65536).allowed, false);
  });

  test('DNS answers keep only addresses the policy could allow', () => {
    const policy = policyForKind(
      config({ allowAll: parseAllowlist('10.1.0.0/16:443') }),
      'disposable',
    );
    assert.equal(mayReachAddress(policy, '93.184.215.14'), true);
    assert.equal(mayReachAddress(policy, '10.1.2.3'), true);
    assert.equal(mayReachAddress(policy, '10.2.0.1'), false);
    assert.equal(mayReachAddress(policy, '127.0.0.1'), false);
  });
});
