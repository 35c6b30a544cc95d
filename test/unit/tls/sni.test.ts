import { test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { matchServername, type SniCertificate } from '../../../src/tls/sni.js';

function entry(name: string): SniCertificate {
  return { name, context: {} as tls.SecureContext, cert: Buffer.alloc(0), key: Buffer.alloc(0), notAfter: new Date(), fingerprint256: name };
}

test('a server name matches its own directory first, then a wildcard one label up', () => {
  const certificates = new Map([
    ['mqtt.example.com', entry('mqtt.example.com')],
    ['*.example.com', entry('*.example.com')],
  ]);
  assert.equal(matchServername(certificates, 'mqtt.example.com')?.name, 'mqtt.example.com');
  assert.equal(matchServername(certificates, 'MQTT.Example.COM')?.name, 'mqtt.example.com');
  assert.equal(matchServername(certificates, 'other.example.com')?.name, '*.example.com');
  assert.equal(matchServername(certificates, 'a.b.example.com'), undefined);
  assert.equal(matchServername(certificates, 'example.com'), undefined);
  assert.equal(matchServername(certificates, 'localhost'), undefined);
});
