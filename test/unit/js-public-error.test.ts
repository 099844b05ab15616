// Internal failures reach API clients without file-system paths (issue 13).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { publicErrorText } from '../../src/jetstream/api/errors.js';

test('a file-system error becomes its plain reason', () => {
  let err: unknown;
  try {
    mkdirSync(`/tmp/${'x'.repeat(400)}/y`, { recursive: true });
  } catch (e) {
    err = e;
  }
  assert.ok(err);
  assert.equal(publicErrorText(err), 'name too long');
});

test('absolute paths are cut out of any other message', () => {
  assert.equal(publicErrorText(new Error("cannot open '/var/lib/nats/jetstream/$G/streams/S/msgs/1.blk'")), 'cannot open <path>');
  assert.equal(publicErrorText(new Error('bad block /srv/js/a/b.idx: short read')), 'bad block <path>: short read');
  assert.equal(publicErrorText(new Error('max age can not be negative')), 'max age can not be negative');
  assert.equal(publicErrorText('plain'), 'plain');
});
