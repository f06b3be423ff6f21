import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { PROXY_NODE_ARGS, proxyNodeArgs } from './processes.js';

void describe('how proxy processes are started', () => {
  void it('node accepts the proxy flags (an unknown flag would stop every sidecar)', () => {
    const r = spawnSync(process.execPath, [...PROXY_NODE_ARGS, '-e', 'process.stdout.write(JSON.stringify(process.execArgv))'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as string[]).slice(0, PROXY_NODE_ARGS.length), [...PROXY_NODE_ARGS]);
  });

  void it('WEFT_PROXY_NODE_ARGS replaces the default flags (empty: none)', () => {
    assert.deepEqual(proxyNodeArgs({}), [...PROXY_NODE_ARGS]);
    assert.deepEqual(proxyNodeArgs({ WEFT_PROXY_NODE_ARGS: ' --max-semi-space-size=4  --v8-pool-size=1 ' }), ['--max-semi-space-size=4', '--v8-pool-size=1']);
    assert.deepEqual(proxyNodeArgs({ WEFT_PROXY_NODE_ARGS: '' }), []);
  });
});
