// MUTANT (duplicate_llm_call): a TypeScript router whose ROUTING LLM call is made outside
// ctx.run. Its answer is never journaled, so every replay (after a crash, a restart or a
// suspension) calls the LLM again, although the decision already drove the journaled
// "ask <specialist>" step.
//
// Plain ESM JavaScript, no build: the Restate TS SDK comes from the TypeScript agent's
// node_modules (agents/product_agent_ts, installed by scripts/setup); the LLM is called
// with plain fetch (OpenAI chat completions). Served over h2c on 127.0.0.1 only.
//
//     node index.mjs --port 9080
//
// Entry: Router/answer with {"message": "..."} (a plain string works too).

import * as http2 from "node:http2";

import * as restate from "../../product_agent_ts/node_modules/@restatedev/restate-sdk/dist/index.js";

const SPECIALISTS = {
  billing: "You are a billing specialist. Help with charges, refunds and invoices.",
  account: "You are an account specialist. Help with logins, profiles and security.",
  product: "You are a product specialist. Help with features, plans and how-tos.",
};

const TOOLS = Object.entries(SPECIALISTS).map(([name, description]) => ({
  type: "function",
  function: { name, description, parameters: { type: "object", properties: {}, additionalProperties: false } },
}));

async function chat(messages, tools) {
  const base = (process.env.OPENAI_BASE_URL || "https://api.openai.com/v1").replace(/\/$/, "");
  const seconds = Number(process.env.OPENAI_TIMEOUT_S || "30");
  const response = await fetch(`${base}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${process.env.OPENAI_API_KEY}` },
    body: JSON.stringify({ model: process.env.OPENAI_MODEL || "gpt-4o-mini", messages, ...(tools ? { tools } : {}) }),
    signal: AbortSignal.timeout(seconds * 1000),
  });
  if (!response.ok) throw new Error(`LLM answered HTTP ${response.status}`);
  return (await response.json()).choices[0].message;
}

const router = restate.service({
  name: "Router",
  handlers: {
    answer: async (ctx, input) => {
      const question = typeof input === "string" ? input : input?.message;
      if (typeof question !== "string") throw new restate.TerminalError('expected {"message": "..."}');

      // BUG: not inside ctx.run, so not journaled: replays call the LLM again.
      const decision = await chat(
        [
          { role: "system", content: "Route the customer's question: call the tool of the specialist who should answer." },
          { role: "user", content: question },
        ],
        TOOLS,
      );
      const specialist = decision.tool_calls?.[0]?.function?.name;
      if (!(specialist in SPECIALISTS)) return decision.content ?? "";

      return ctx.run(
        `ask ${specialist}`,
        async () => (await chat([{ role: "system", content: SPECIALISTS[specialist] }, { role: "user", content: question }])).content ?? "",
        { maxRetryAttempts: 5, initialRetryInterval: 200, maxRetryInterval: 1000 },
      );
    },
  },
});

const at = process.argv.indexOf("--port");
const port = Number(at >= 0 ? process.argv[at + 1] : process.env.PORT || "9080");
const server = http2.createServer(restate.createEndpointHandler({ services: [router], bidirectional: true }));
server.listen(port, "127.0.0.1", () => console.log(`Router listening on http://127.0.0.1:${port} (h2c)`));
for (const signal of ["SIGTERM", "SIGINT"]) process.once(signal, () => server.close(() => process.exit(0)));
