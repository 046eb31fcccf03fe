import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { processWriterId, WriterLease, type WriterRecord } from './writer-lease.js';

/** The lease's record in a variable, with a clock the test moves. */
function setup(ms = 1_000) {
  const db: { record: unknown; writes: number } = { record: undefined, writes: 0 };
  let now = 1_000_000;
  const lease = new WriterLease(
    {
      read: async () => db.record,
      write: async (record) => {
        db.record = record;
        db.writes++;
      },
      remove: async () => {
        db.record = undefined;
      },
    },
    ms,
    () => now,
  );
  return { db, lease, advance: (by: number) => (now += by), now: () => now };
}

const other = (fields: Partial<WriterRecord>): WriterRecord => ({
  id: 'another-process',
  pid: process.pid,
  host: 'elsewhere',
  expiresAt: 0,
  ...fields,
});

describe('WriterLease', () => {
  it('claims the database, renews it after half the lease, and releases it', async () => {
    const { db, lease, advance, now } = setup(1_000);
    await lease.check();
    expect(db.record).toEqual({
      id: processWriterId(),
      pid: process.pid,
      host: hostname(),
      expiresAt: now() + 1_000,
    });
    await lease.check();
    advance(400);
    await lease.check();
    expect(db.writes).toBe(1);
    advance(200);
    await lease.check();
    expect(db.writes).toBe(2);
    await lease.release();
    expect(db.record).toBeUndefined();
  });

  it("refuses while another live process's record holds, and claims once it expired", async () => {
    const { db, lease, now } = setup();
    db.record = other({ expiresAt: now() + 5_000 });
    await expect(lease.check()).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringMatching(/pid \d+ on elsewhere.*wait 5 s/),
    });
    db.record = other({ expiresAt: now() - 1 });
    await lease.check();
    expect((db.record as WriterRecord).id).toBe(processWriterId());
  });

  it('takes over from a dead process on this host, and from an earlier run with this pid', async () => {
    const { db, lease, now } = setup();
    db.record = other({ host: hostname(), pid: 2 ** 22 + 12_345, expiresAt: now() + 5_000 }); // no such pid
    await lease.check();
    expect((db.record as WriterRecord).id).toBe(processWriterId());

    const second = setup();
    second.db.record = other({ host: hostname(), pid: process.pid, expiresAt: second.now() + 5_000 });
    await second.lease.check();
    expect((second.db.record as WriterRecord).id).toBe(processWriterId());
  });

  it('does not take over from a live process on this host', async () => {
    const { db, lease, now } = setup();
    db.record = other({ host: hostname(), pid: process.ppid, expiresAt: now() + 5_000 });
    await expect(lease.check()).rejects.toMatchObject({ code: 'conflict' });
  });

  it("release leaves another process's record alone", async () => {
    const { db, lease, now } = setup();
    const theirs = other({ expiresAt: now() + 5_000 });
    db.record = theirs;
    await lease.release();
    expect(db.record).toBe(theirs);
  });

  it('concurrent checks write once', async () => {
    const { db, lease } = setup();
    await Promise.all([lease.check(), lease.check(), lease.check()]);
    expect(db.writes).toBe(1);
  });
});
