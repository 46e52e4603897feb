// GitHub's own webhook signer and verifier (@octokit/webhooks), as a batch: one JSON object on
// stdin, one on stdout. Bodies travel as base64 so every byte reaches octokit as it was sent.
//   in:  {"secret": "...", "verify": [{"body_b64": "...", "signature": "sha256=..."}], "sign": ["<body_b64>"]}
//   out: {"verified": [true, ...], "signatures": ["sha256=...", ...], "version": "<@octokit/webhooks>"}
import { readFileSync } from "node:fs";
import { Webhooks } from "@octokit/webhooks";

const request = JSON.parse(readFileSync(0, "utf8"));
const webhooks = new Webhooks({ secret: request.secret });
const text = (b64) => Buffer.from(b64, "base64").toString("utf8");
const verified = [];
for (const { body_b64, signature } of request.verify ?? []) {
  verified.push(await webhooks.verify(text(body_b64), signature));
}
const signatures = [];
for (const body_b64 of request.sign ?? []) {
  signatures.push(await webhooks.sign(text(body_b64)));
}
const { version } = JSON.parse(
  readFileSync(new URL("./node_modules/@octokit/webhooks/package.json", import.meta.url), "utf8"),
);
process.stdout.write(JSON.stringify({ verified, signatures, version }));
