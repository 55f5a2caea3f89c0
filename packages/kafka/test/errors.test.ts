// Reading the client's errors: nested protocol errors are found and described in one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MultipleErrors, NetworkError, ProtocolError, UserError } from '@platformatic/kafka';
import { describeError, hasProtocolError, isRequestError, protocolErrorIds } from '../src/errors.ts';

const nested = new MultipleErrors('Producing messages failed.', [
  new MultipleErrors('Received response with error', [new ProtocolError('NOT_LEADER_OR_FOLLOWER', 'leader moved to 2')]),
  new NetworkError('Connection closed'),
]);

test('protocol errors are found however deep they are nested', () => {
  assert.deepEqual(protocolErrorIds(nested), ['NOT_LEADER_OR_FOLLOWER']);
  assert.equal(hasProtocolError(nested, 'NOT_LEADER_OR_FOLLOWER'), true);
  assert.equal(hasProtocolError(nested, 'TOPIC_ALREADY_EXISTS'), false);
  assert.equal(hasProtocolError(new Error('plain'), 'X'), false);
  assert.equal(hasProtocolError(undefined, 'X'), false);
});

test('describeError gives one line with what each nested error says', () => {
  assert.equal(describeError(nested), 'Producing messages failed: NOT_LEADER_OR_FOLLOWER: leader moved to 2; Connection closed');
  assert.equal(describeError(new Error('plain')), 'plain');
  assert.equal(describeError('text'), 'text');
  assert.match(describeError(new ProtocolError('TOPIC_ALREADY_EXISTS')), /TOPIC_ALREADY_EXISTS/);
});

test('a request the client refused is not worth retrying; a network error is', () => {
  assert.equal(isRequestError(new UserError('bad option')), true);
  assert.equal(isRequestError(nested), false);
});
