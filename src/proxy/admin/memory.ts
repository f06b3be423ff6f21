// Admin /memory: where a sidecar's resident memory goes (like Envoy's /memory, which reports tcmalloc's
// numbers). RSS alone mixes the node binary's file-backed pages (shared by every node process on the
// host) with what this sidecar really holds, so the kernel's split (smaps_rollup) comes first, then
// node's and V8's own accounting of the anonymous part.
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';

const MB = 1024 * 1024;
const mb = (bytes: number): number => Math.round((bytes / MB) * 10) / 10;

/** kB fields of /proc/PID/smaps_rollup (or /proc/PID/status), in MB: `Rss`, `Pss`, `Anonymous`, `RssAnon`... */
export function parseKbFields(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s+(\d+) kB$/.exec(line.trim());
    if (m) out[m[1]] = Math.round((Number(m[2]) / 1024) * 10) / 10;
  }
  return out;
}

function procFields(file: string, keep: string[]): Record<string, number> | undefined {
  try {
    const all = parseKbFields(readFileSync(file, 'utf8'));
    return Object.fromEntries(keep.filter((k) => k in all).map((k) => [k, all[k]]));
  } catch {
    return undefined; // not Linux, or no smaps_rollup (kernel < 4.14)
  }
}

function threadCount(): number | undefined {
  try {
    const m = /^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** A JSON-ready snapshot, all sizes in MB. */
export function memorySnapshot(): object {
  const use = process.memoryUsage();
  const heap = v8.getHeapStatistics();
  return {
    // Rss = file-backed (RssFile: mostly the node binary) + anonymous (RssAnon: heap, malloc, stacks).
    status: procFields('/proc/self/status', ['VmRSS', 'VmHWM', 'RssAnon', 'RssFile', 'RssShmem']),
    // Pss charges shared pages to each process that maps them in proportion: what this sidecar adds.
    smaps_rollup: procFields('/proc/self/smaps_rollup', ['Rss', 'Pss', 'Pss_Anon', 'Pss_File', 'Shared_Clean', 'Private_Clean', 'Private_Dirty', 'Anonymous']),
    threads: threadCount(),
    process: { rss: mb(use.rss), heapTotal: mb(use.heapTotal), heapUsed: mb(use.heapUsed), external: mb(use.external), arrayBuffers: mb(use.arrayBuffers) },
    v8: {
      total_heap_size: mb(heap.total_heap_size), total_physical_size: mb(heap.total_physical_size), used_heap_size: mb(heap.used_heap_size),
      heap_size_limit: mb(heap.heap_size_limit), malloced_memory: mb(heap.malloced_memory), peak_malloced_memory: mb(heap.peak_malloced_memory),
      executable: mb(heap.total_heap_size_executable),
    },
    heap_spaces: Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, { size: mb(s.space_size), used: mb(s.space_used_size), physical: mb(s.physical_space_size) }])),
  };
}
