// A proxy in front of the emulator that lets a request through to Quay and then loses the answer (502),
// for the "applied, but the caller never heard" case that the emulator's own faults (which answer before
// Quay acts) cannot produce.
import * as http from "http";
import { AddressInfo } from "net";

export async function lossyProxy(target: string, match: (method: string, path: string) => boolean, count: number) {
  let left = count;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const lose = left > 0 && match(req.method ?? "GET", (req.url ?? "").split("?")[0]);
      if (lose) left--;
      const upstream = http.request(target + req.url, { method: req.method, headers: req.headers }, (answer) => {
        const body: Buffer[] = [];
        answer.on("data", (c: Buffer) => body.push(c));
        answer.on("end", () => {
          if (lose) {
            res.writeHead(502, { "Content-Type": "text/html" });
            res.end("<html><body><center><h1>502 Bad Gateway</h1></center></body></html>");
          } else {
            res.writeHead(answer.statusCode ?? 500, answer.headers);
            res.end(Buffer.concat(body));
          }
        });
      });
      upstream.on("error", () => res.destroy());
      upstream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}
