// MUTANT (duplicate_side_effect): an escalation desk on the Vercel AI SDK with Anthropic's
// provider (@ai-sdk/anthropic). Both model calls are ctx.run steps (the first must call the
// `page_on_call` tool, the second answers with its result), but the page itself, a POST to
// the pager API, is made between them OUTSIDE ctx.run. Every replay (after a crash, a
// restart or a suspension) reads the journaled tool call back and pages the on-call
// engineer again. Fix: `await ctx.run("page on-call", () => page(call.input))`.
//
// Plain ESM JavaScript, no build: the Restate TS SDK, `ai` and `@ai-sdk/anthropic` come
// from the TypeScript agent's node_modules (agents/product_agent_ts, installed by
// scripts/setup). createAnthropic() reads ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY.
// Served over h2c on 127.0.0.1 only.
//
//     node index.mjs --port 9080
//
// Entry: Escalations/raise with the incident report as a plain JSON string.
// PAGER_URL is the pager API.

import * as http2 from "node:http2";

import { createAnthropic } from "../../product_agent_ts/node_modules/@ai-sdk/anthropic/dist/index.mjs";
import * as restate from "../../product_agent_ts/node_modules/@restatedev/restate-sdk/dist/index.js";
import { generateText, jsonSchema, tool } from "../../product_agent_ts/node_modules/ai/dist/index.mjs";

const anthropic = createAnthropic();
const SYSTEM = "You triage incident reports. Page the on-call engineer of the right team, then tell the reporter who was paged.";

const tools = {
  page_on_call: tool({
    description: "Page the on-call engineer of a team about an incident; returns the page id.",
    inputSchema: jsonSchema({
      type: "object",
      properties: {
        team: { type: "string", enum: ["payments", "infrastructure", "mobile"] },
        summary: { type: "string" },
      },
      required: ["team", "summary"],
      additionalProperties: false,
    }),
  }),
};

async function page({ team, summary }) {
  const response = await fetch(`${process.env.PAGER_URL}/pages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ team, summary }),
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok) throw new Error(`pager API answered HTTP ${response.status}`);
  return (await response.json()).id;
}

async function callModel(messages, toolChoice) {
  const result = await generateText({ model: anthropic("claude-sonnet-4-5"), system: SYSTEM, messages, tools, toolChoice });
  return {
    text: result.text,
    toolCalls: result.toolCalls.map(({ toolCallId, toolName, input }) => ({ toolCallId, toolName, input })),
    responseMessages: result.response.messages,
  };
}

const escalations = restate.service({
  name: "Escalations",
  handlers: {
    raise: async (ctx, report) => {
      if (typeof report !== "string") throw new restate.TerminalError("expected the report as a JSON string");
      const messages = [{ role: "user", content: report }];

      const decision = await ctx.run("decide", () => callModel(messages, { type: "tool", toolName: "page_on_call" }), {
        maxRetryAttempts: 3,
      });
      messages.push(...decision.responseMessages);
      for (const call of decision.toolCalls) {
        // BUG: the side effect is not in ctx.run: every replay pages again.
        const pageId = await page(call.input);
        messages.push({
          role: "tool",
          content: [{ type: "tool-result", toolCallId: call.toolCallId, toolName: call.toolName, output: { type: "json", value: { page_id: pageId } } }],
        });
      }

      const reply = await ctx.run("reply", () => callModel(messages, "auto"), { maxRetryAttempts: 3 });
      return reply.text;
    },
  },
});

const at = process.argv.indexOf("--port");
const port = Number(at >= 0 ? process.argv[at + 1] : process.env.PORT || "9080");
const server = http2.createServer(restate.createEndpointHandler({ services: [escalations], bidirectional: true }));
server.listen(port, "127.0.0.1", () => console.log(`Escalations listening on http://127.0.0.1:${port} (h2c)`));
for (const signal of ["SIGTERM", "SIGINT"]) process.once(signal, () => server.close(() => process.exit(0)));
