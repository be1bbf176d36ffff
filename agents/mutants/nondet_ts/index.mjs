// MUTANT (non_determinism): a TypeScript agent that picks its specialist with Math.random()
// OUTSIDE ctx.run. The pick decides which journaled step comes next ("ask billing",
// "ask shipping", ...), so a replay that draws another specialist no longer matches the
// journal (Restate's journal mismatch, RT0016).
//
// Plain ESM JavaScript, no build; the Restate TS SDK comes from agents/product_agent_ts's
// node_modules. Serves the SDK's handler over HTTP/2 cleartext on 127.0.0.1 only.
//
//     node index.mjs 9080
//
// Entry: Triage/handle with the question as a plain JSON string.

import * as restate from "../../product_agent_ts/node_modules/@restatedev/restate-sdk/dist/index.js";

const PROMPTS = {
  billing: "You are a billing specialist. Answer briefly.",
  account: "You are an account specialist. Answer briefly.",
  product: "You are a product specialist. Answer briefly.",
  shipping: "You are a shipping specialist. Answer briefly.",
};

async function complete(system, question) {
  const base = (process.env.OPENAI_BASE_URL || "https://api.openai.com/v1").replace(/\/$/, "");
  const response = await fetch(`${base}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${process.env.OPENAI_API_KEY}` },
    body: JSON.stringify({
      model: process.env.OPENAI_MODEL || "gpt-4o-mini",
      messages: [{ role: "system", content: system }, { role: "user", content: question }],
    }),
    signal: AbortSignal.timeout(Number(process.env.OPENAI_TIMEOUT_S || "30") * 1000),
  });
  if (!response.ok) throw new Error(`LLM answered HTTP ${response.status}`);
  return (await response.json()).choices[0].message.content ?? "";
}

const triage = restate.service({
  name: "Triage",
  handlers: {
    handle: async (ctx, question) => {
      // BUG: a random draw outside ctx.run (use ctx.rand, or journal the draw with ctx.run).
      const names = Object.keys(PROMPTS);
      const pick = names[Math.floor(Math.random() * names.length)];
      const draft = await ctx.run(`ask ${pick}`, () => complete(PROMPTS[pick], String(question)), {
        maxRetryAttempts: 5,
        initialRetryInterval: 200,
      });
      return ctx.run("sign", () => `${draft} (the ${pick} team)`);
    },
  },
});

const port = Number(process.argv[2] || process.env.PORT || "9080");
// restate.serve() binds every interface; this agent stays on loopback.
const server = (await import("node:http2")).createServer(
  restate.createEndpointHandler({ services: [triage], bidirectional: true }),
);
server.listen(port, "127.0.0.1", () => console.log(`Triage listening on http://127.0.0.1:${port} (h2c)`));
for (const signal of ["SIGTERM", "SIGINT"]) process.once(signal, () => server.close(() => process.exit(0)));
