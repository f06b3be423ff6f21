import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { AdminServer } from './server.js';
import { parseKbFields } from './memory.js';

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

void describe('admin /memory', () => {
  void it('parses the kB fields of smaps_rollup and status into MB', () => {
    const text = '55d0-7ffd ---p 00000000 00:00 0 [rollup]\nRss:              104448 kB\nPss:               61952 kB\nAnonymous:         56320 kB\nThreads:\t11\n';
    assert.deepEqual(parseKbFields(text), { Rss: 102, Pss: 60.5, Anonymous: 55 });
  });

  void it('serves the process, V8 and (on Linux) kernel view of the memory as JSON', async () => {
    const admin = new AdminServer({ ready: () => true, serverInfo: () => ({}), configDump: () => ({}), statsList: () => [], clustersText: () => '' });
    const port = await admin.listen('127.0.0.1', 0);
    try {
      const res = await get(port, '/memory');
      assert.equal(res.status, 200);
      const m = JSON.parse(res.body) as { process: { rss: number; heapUsed: number }; heap_spaces: Record<string, { size: number }>; status?: Record<string, number>; smaps_rollup?: Record<string, number> };
      assert.ok(m.process.rss > 1 && m.process.heapUsed > 0);
      assert.ok('new_space' in m.heap_spaces && 'old_space' in m.heap_spaces);
      if (process.platform === 'linux') {
        assert.ok(m.status && m.status.RssAnon > 0 && m.status.RssFile > 0);
        if (m.smaps_rollup) assert.ok(m.smaps_rollup.Pss > 0 && m.smaps_rollup.Pss <= m.smaps_rollup.Rss + 0.1);
      }
      assert.match((await get(port, '/')).body, /\/memory/);
    } finally {
      await admin.close();
    }
  });
});
