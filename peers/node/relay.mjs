// A webhook relay of the kind developers use to reach a laptop: a channel that takes deliveries
// and streams them (Server-Sent Events) the way smee.io's server does, and the real smee-client
// (npm, probot) that forwards each one to the target.
//
//   node relay.mjs --target http://127.0.0.1:PORT/webhooks/payments [--keep-raw]
//
// Prints {"channel": "<url to deliver to>"} on its first line of stdout once the client is
// connected, then one line per forwarded delivery: {"forwarded": <status>}. Runs until killed.
//
// The channel, like smee.io's (https://github.com/probot/smee.io, lib/server.js), parses the JSON
// body and streams {...headers, body, query, timestamp}; smee-client sends JSON.stringify(body):
// the bytes a signature covers can change (smee-client issue 325). --keep-raw is the fix: the
// channel also streams the raw bytes (base64, as smee.io's pull request 55 proposed) and the
// client is given a fetch that sends those bytes instead of the re-serialised body.
import http from "node:http";
import { parseArgs } from "node:util";
import { fetch as undiciFetch } from "undici";
import SmeeClient from "smee-client";

const { values } = parseArgs({
  options: { target: { type: "string" }, "keep-raw": { type: "boolean", default: false } },
});
const keepRaw = values["keep-raw"];
const streams = new Set();

const channel = http.createServer((req, res) => {
  if (req.method === "GET" && req.headers.accept === "text/event-stream") {
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
    res.write("event: ready\ndata: {}\n\n");
    streams.add(res);
    req.on("close", () => streams.delete(res));
    return;
  }
  if (req.method !== "POST") {
    res.writeHead(405).end();
    return;
  }
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const raw = Buffer.concat(chunks);
    let body;
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch {
      res.writeHead(400, { "Content-Type": "application/json" }).end('{"error": "the body is not JSON"}');
      return;
    }
    const query = Object.fromEntries(new URL(req.url, "http://channel").searchParams);
    const message = { ...req.headers, body, query, timestamp: Date.now() };
    if (keepRaw) message.rawbody = raw.toString("base64");
    for (const stream of streams) stream.write(`data: ${JSON.stringify(message)}\n\n`);
    res.writeHead(200).end();
  });
});

// the fix, on the client's side: the raw bytes the channel kept, sent as they came
const rawBodyFetch = (url, options) => {
  const headers = { ...(options.headers ?? {}) };
  if (headers.rawbody === undefined) return undiciFetch(url, options);
  const body = Buffer.from(headers.rawbody, "base64");
  delete headers.rawbody;
  headers["content-length"] = String(body.length);
  return undiciFetch(url, { ...options, headers, body });
};

const quiet = { info: () => {}, error: (...args) => console.error(...args) };
channel.listen(0, "127.0.0.1", async () => {
  const source = `http://127.0.0.1:${channel.address().port}/hooklab`;
  const logger = {
    ...quiet,
    info: (line) => {
      const match = /^POST .* - (\d+)$/.exec(line);
      if (match) process.stdout.write(JSON.stringify({ forwarded: Number(match[1]) }) + "\n");
    },
  };
  const client = new SmeeClient({ source, target: values.target, logger, ...(keepRaw ? { fetch: rawBodyFetch } : {}) });
  await client.start();
  process.stdout.write(JSON.stringify({ channel: source }) + "\n");
});
