import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { correctTimestamp, isoTime, parseDate } from '@inlet/schema';

const NOW = Date.parse('2024-06-01T12:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const MIN = 60_000;
const HOUR = 60 * MIN;

describe('correctTimestamp', () => {
  test('the sentAt rule cancels the device clock error', () => {
    // The event happened 10 s before it was sent; the device clock is off by `error`.
    for (const error of [-3 * HOUR, -5 * MIN, 0, 7 * MIN, 5 * HOUR]) {
      const happened = NOW - 12_000; // real time of the event (sent 10 s later, 2 s in transit)
      const clientTime = iso(happened + error);
      const sentAt = iso(happened + 10_000 + error);
      assert.equal(correctTimestamp(NOW, clientTime, sentAt), NOW - 10_000, `device error ${error} ms`);
    }
  });

  test('more than 24 h in the past becomes server time', () => {
    assert.equal(correctTimestamp(NOW, iso(NOW - 25 * HOUR)), NOW);
    assert.equal(correctTimestamp(NOW, iso(NOW - 23 * HOUR)), NOW - 23 * HOUR);
    // with sentAt: the event was queued 2 days on the device before it was sent
    assert.equal(correctTimestamp(NOW, iso(NOW - 48 * HOUR), iso(NOW)), NOW);
  });

  test('unbounded (an import, a back end): the client time as given, neither corrected by sentAt nor bounded', () => {
    const twoYears = 2 * 365 * 24 * HOUR;
    assert.equal(correctTimestamp(NOW, iso(NOW - twoYears), undefined, false), NOW - twoYears);
    // a replayed payload: its sentAt as old as its event, which a correction would turn into now
    assert.equal(correctTimestamp(NOW, iso(NOW - 48 * HOUR), iso(NOW - 48 * HOUR + 500), false), NOW - 48 * HOUR);
    assert.equal(correctTimestamp(NOW, iso(NOW + 2 * HOUR), iso(NOW), false), NOW + 2 * HOUR);
    assert.equal(correctTimestamp(NOW, 'not a time', iso(NOW), false), NOW);
  });

  test('more than 30 min in the future becomes server time', () => {
    assert.equal(correctTimestamp(NOW, iso(NOW + 31 * MIN)), NOW);
    assert.equal(correctTimestamp(NOW, iso(NOW + 29 * MIN)), NOW + 29 * MIN);
    // with sentAt: originalTimestamp after sentAt by an hour (a confused client)
    assert.equal(correctTimestamp(NOW, iso(NOW + HOUR), iso(NOW)), NOW);
  });

  test('without sentAt the client time stands when within bounds', () => {
    assert.equal(correctTimestamp(NOW, iso(NOW - 90 * MIN)), NOW - 90 * MIN);
    assert.equal(correctTimestamp(NOW, '2024-06-01T11:00:00+00:00'), NOW - HOUR);
  });

  test('no client time, or one that does not parse, gives server time', () => {
    assert.equal(correctTimestamp(NOW), NOW);
    assert.equal(correctTimestamp(NOW, undefined, iso(NOW - HOUR)), NOW);
    assert.equal(correctTimestamp(NOW, 'garbage'), NOW);
  });

  test('a sentAt that does not parse falls back to the client time', () => {
    assert.equal(correctTimestamp(NOW, iso(NOW - MIN), 'garbage'), NOW - MIN);
  });

});

describe('isoTime', () => {
  test('writes what toISOString writes, across leap days, centuries and the ends of its range', () => {
    const edges = ['1970-01-01T00:00:00.000Z', '1999-12-31T23:59:59.999Z', '2000-02-29T12:00:00.000Z', '2024-02-29T23:59:59.999Z',
      '2100-02-28T23:59:59.999Z', '2100-03-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z'].map(Date.parse);
    // Before 1970, from 10000 on (a six-digit year) and fractional milliseconds are left to Date.
    const others = [-0, -1, Date.parse('0999-12-31T23:59:59.999Z'), -62_198_755_200_000, 253_402_300_800_000, 8.64e15, NOW + 0.5];
    const random = Array.from({ length: 20_000 }, () => Math.floor(Math.random() * 253_402_300_800_000));
    for (const ms of [...edges, ...others, ...random]) assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
  });

  test('refuses an invalid time the way toISOString does', () => {
    assert.throws(() => isoTime(Number.NaN), RangeError);
    assert.throws(() => isoTime(8.64e15 + 1), RangeError);
  });
});

describe('parseDate', () => {
  test("a date-time without a zone is UTC whatever the server's time zone; one with a zone keeps it", () => {
    const zone = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      assert.notEqual(new Date(2026, 11, 7).getTimezoneOffset(), 0, 'the process is in another zone for this test');
      const tenUtc = Date.UTC(2026, 11, 7, 10);
      for (const text of ['2026-12-07T10:00:00', '2026-12-07 10:00:00', '2026-12-07T10:00', '2026-12-07T10:00:00.000000', '2026-12-07T10:00:00Z', '2026-12-07T11:00:00+01:00', '2026-12-07T05:00:00-0500']) {
        assert.equal(parseDate(text), tenUtc, text);
      }
      assert.equal(parseDate('2026-12-07'), Date.UTC(2026, 11, 7), 'a date alone, as ECMAScript reads it');
      assert.ok(Number.isNaN(parseDate('2026-12-07T10:00:00 nonsense')));
      // Normalization reads the event's time the same way: with sentAt equal to it, no device error to correct.
      const receivedAtMs = tenUtc + 5000;
      assert.equal(correctTimestamp(receivedAtMs, '2026-12-07T09:59:00', '2026-12-07T09:59:00'), receivedAtMs);
      assert.equal(correctTimestamp(receivedAtMs, '2026-12-07T09:59:00'), Date.UTC(2026, 11, 7, 9, 59));
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });
});
