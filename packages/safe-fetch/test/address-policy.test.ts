import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalAddress, isPublicAddress } from '../src/index.ts';

test('private, loopback, link-local, CGNAT, multicast, unspecified and metadata IPv4 addresses are refused', () => {
  for (const address of [
    '127.0.0.1', '127.255.0.9', '10.0.0.1', '172.16.5.4', '172.31.255.255', '192.168.0.10', '169.254.169.254', '169.254.1.1',
    '100.64.0.1', '100.127.255.254', '100.100.100.200', '0.0.0.0', '224.0.0.251', '239.255.255.250', '255.255.255.255',
    '192.0.2.10', '198.18.0.1', '240.0.0.1',
  ]) {
    assert.equal(isPublicAddress(address), false, address);
  }
});

test('IPv6 loopback, unique-local, link-local, multicast, metadata and IPv4-embedding forms are refused', () => {
  for (const address of [
    '::1', '::', 'fc00::1', 'fd12:3456::1', 'fd00:ec2::254', 'fe80::1', 'febf:ffff::1', 'fe80::1%eth0', 'ff02::1',
    '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '::ffff:169.254.169.254', '[::1]',
    '64:ff9b::7f00:1', '2002:7f00:1::', '2001:0:4136:e378::1',
  ]) {
    assert.equal(isPublicAddress(address), false, address);
  }
});

test('public IPv4 and IPv6 addresses, mapped ones included, are allowed', () => {
  for (const address of ['8.8.8.8', '1.1.1.1', '93.184.215.14', '100.63.255.255', '100.128.0.1', '172.32.0.1', '2606:4700:4700::1111', '2a00:1450:4001:81a::200e', '::ffff:8.8.8.8', '[2606:4700:4700::1111]']) {
    assert.equal(isPublicAddress(address), true, address);
  }
});

test('things that are not IP addresses are refused', () => {
  for (const address of ['', 'localhost', 'example.com', '1.2.3', '::ffff:999.0.0.1', 'fe80::zz']) {
    assert.equal(isPublicAddress(address), false, address);
  }
});

test('canonicalAddress unwraps mapped IPv6 and brackets', () => {
  assert.equal(canonicalAddress('::ffff:127.0.0.2'), '127.0.0.2');
  assert.equal(canonicalAddress('[0:0:0:0:0:0:0:1]'), '::1');
});
