// Seed 002's two Node.js services in one file. testaaa forwards the incoming `project-version` header
// to testbbb (`header || '-'`, as in the seed) and answers with both versions; testbbb answers its own
// version. Env: ROLE=aaa|bbb, PROJECT_VERSION (as the seed's Deployment sets it), BBB_URL for aaa.
import { meshRequest, closeMeshConnections } from '../../../samples/lib/mesh-http.js';
import { sendText, startApp } from '../../../samples/lib/app-server.js';

const role = process.env.ROLE ?? 'bbb';
const version = process.env.PROJECT_VERSION ?? 'unknown';
const bbbUrl = process.env.BBB_URL ?? 'http://testbbb.test-istio.svc.cluster.local:32000/';

await startApp({
  name: `test${role}-${version}`,
  onClose: closeMeshConnections,
  handler: async (req, res) => {
    if (role !== 'aaa') return sendText(res, 200, `testbbb:${version}`);
    const header = req.headers['project-version'];
    try {
      const r = await meshRequest(bbbUrl, { headers: { 'project-version': typeof header === 'string' && header ? header : '-' } });
      sendText(res, r.status === 200 ? 200 : 502, `testaaa:${version} ${r.status === 200 ? r.text() : `testbbb answered ${r.status}`}`);
    } catch (e) {
      sendText(res, 502, `testaaa:${version} testbbb failed: ${(e as Error).message}`);
    }
  },
});
