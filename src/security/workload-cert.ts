// The workload side of certificates, run by the proxy agent: it makes the private key and a CSR,
// trades a join token (first time) or a rotation proof (later) for a certificate at weftd, and
// renews at about half-life. The private key stays in this process; only the CSR goes out.
import { sign } from 'node:crypto';
import { makeCsrDer } from './csr.js';
import { spiffeUri } from './spiffe.js';
import { requestJson } from './http-json.js';

export interface WorkloadCert {
  certChainPem: string;
  keyPem: string;
  rootPem: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  spiffe: string;
}

export function makeCsr(trustDomain: string, namespace: string, serviceAccount: string): Promise<{ csrPem: string; keyPem: string }> {
  return Promise.resolve(makeCsrDer(spiffeUri(trustDomain, namespace, serviceAccount)));
}

/** Proof that we hold the current certificate's key (see CertificateAuthority.verifyRotationProof). */
export function rotationProof(current: WorkloadCert, csrPem: string, now = Date.now()): { certChainPem: string; timestamp: number; signature: string } {
  const sig = sign('sha256', Buffer.from(`weft-csr-rotation\n${now}\n${csrPem}`), current.keyPem);
  return { certChainPem: current.certChainPem, timestamp: now, signature: sig.toString('base64') };
}

export interface CertClientOptions {
  apiUrl: string;
  namespace: string;
  serviceAccount: string;
  /** weftd's trust domain when the caller already fetched the trust bundle (saves a round trip). */
  trustDomain?: string;
  /** Single-use join token for the first certificate. */
  joinToken: string;
  /** Requested lifetime (the CA caps it at its own maximum). */
  ttlSeconds?: number;
  onCert: (c: WorkloadCert) => void;
  log: (line: string) => void;
}

async function post(url: string, body: unknown, token?: string): Promise<Record<string, string>> {
  const res = await requestJson(url, { method: 'POST', body, timeoutMs: 30_000, headers: token ? { authorization: `Bearer ${token}` } : {} });
  const json = res.body as Record<string, string>;
  if (!res.ok) throw Object.assign(new Error(`certificate request refused: ${res.status} ${json.message ?? ''}`), { status: res.status });
  return json;
}

/** Gets the first certificate, then keeps renewing it at about half-life until stop(). */
export class WorkloadCertClient {
  current: WorkloadCert | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private trustDomain = '';

  constructor(private readonly o: CertClientOptions) {}

  async start(): Promise<WorkloadCert> {
    if (this.o.trustDomain) this.trustDomain = this.o.trustDomain;
    else {
      const tb = await requestJson(`${this.o.apiUrl}/apis/weft.dev/v1/trustbundle`, { timeoutMs: 30_000 });
      if (!tb.ok) throw new Error(`trust bundle: HTTP ${tb.status}`);
      this.trustDomain = typeof tb.body.trustDomain === 'string' ? tb.body.trustDomain : '';
    }
    // weftd busy or restarting: retry a few times; a refusal (4xx) is final (the token may be spent).
    for (let attempt = 1; ; attempt++) {
      try {
        const c = await this.request();
        this.schedule(c);
        return c;
      } catch (e) {
        const status = (e as { status?: number }).status;
        if (attempt >= 4 || (status !== undefined && status < 500)) throw e;
        this.o.log(`certificate request failed (attempt ${attempt}, retrying): ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 500 * attempt));
      }
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private async request(): Promise<WorkloadCert> {
    const { csrPem, keyPem } = await makeCsr(this.trustDomain, this.o.namespace, this.o.serviceAccount);
    const url = `${this.o.apiUrl}/apis/weft.dev/v1/namespaces/${this.o.namespace}/certificatesigningrequests`;
    const body = { serviceAccount: this.o.serviceAccount, csr: csrPem, ttlSeconds: this.o.ttlSeconds };
    const r = this.current ? await post(url, { ...body, proof: rotationProof(this.current, csrPem) }) : await post(url, body, this.o.joinToken);
    const cert: WorkloadCert = { certChainPem: r.certChainPem, keyPem, rootPem: r.rootPem, serial: r.serial, notBefore: r.notBefore, notAfter: r.notAfter, spiffe: r.spiffe };
    this.current = cert;
    this.o.onCert(cert);
    return cert;
  }

  /** Renew at half-life (Istio's default grace ratio), retrying every few seconds on failure. */
  private schedule(c: WorkloadCert, retryMs?: number): void {
    if (this.stopped) return;
    const start = Date.parse(c.notBefore);
    const end = Date.parse(c.notAfter);
    const at = retryMs ?? Math.max(500, start + (end - start) / 2 - Date.now());
    this.timer = setTimeout(() => {
      this.request().then((n) => {
        this.o.log(`certificate rotated: serial ${n.serial}, valid until ${n.notAfter}`);
        this.schedule(n);
      }, (e: unknown) => {
        this.o.log(`certificate rotation failed (retrying): ${(e as Error).message}`);
        this.schedule(c, Math.min(5000, Math.max(500, (end - Date.now()) / 4)));
      });
    }, at);
    this.timer.unref();
  }
}
