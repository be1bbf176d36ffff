// GREEN: a returns desk on the Vercel AI SDK with Anthropic's provider (@ai-sdk/anthropic),
// written as Restate's "manual loop" agent is: every model call (generateText, tools offered
// without `execute`) is its own ctx.run step, and the tool the model picks runs in its own
// ctx.run step too, its POST to the labels API included. A replay reuses the journaled
// answers and the journaled label instead of asking or creating again.
//
// Plain ESM JavaScript, no build: the Restate TS SDK, `ai` and `@ai-sdk/anthropic` come
// from the TypeScript agent's node_modules (agents/product_agent_ts, installed by
// scripts/setup). createAnthropic() reads ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY.
// Served over h2c on 127.0.0.1 only.
//
//     node index.mjs --port 9080
//
// Entry: ReturnsDesk/handle with the customer's message as a plain JSON string.
// LABELS_URL is the labels API.

import * as http2 from "node:http2";

import { createAnthropic } from "../../product_agent_ts/node_modules/@ai-sdk/anthropic/dist/index.mjs";
import * as restate from "../../product_agent_ts/node_modules/@restatedev/restate-sdk/dist/index.js";
import { generateText, jsonSchema, tool } from "../../product_agent_ts/node_modules/ai/dist/index.mjs";

const anthropic = createAnthropic();
const MAX_TURNS = 5;

const tools = {
  create_return_label: tool({
    description: "Create a prepaid return shipping label for an order; returns the label id.",
    inputSchema: jsonSchema({
      type: "object",
      properties: { order_id: { type: "string" }, reason: { type: "string" } },
      required: ["order_id", "reason"],
      additionalProperties: false,
    }),
    // no `execute`: the handler runs the tool itself, in a durable step
  }),
};

async function createReturnLabel({ order_id, reason }) {
  const response = await fetch(`${process.env.LABELS_URL}/labels`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ order_id, reason }),
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok) throw new Error(`labels API answered HTTP ${response.status}`);
  return (await response.json()).id;
}

const returnsDesk = restate.service({
  name: "ReturnsDesk",
  handlers: {
    handle: async (ctx, message) => {
      if (typeof message !== "string") throw new restate.TerminalError("expected the message as a JSON string");
      const messages = [{ role: "user", content: message }];

      for (let turn = 0; turn < MAX_TURNS; turn++) {
        // The model call in a step; only plain JSON leaves it, to be journaled.
        const step = await ctx.run(
          "LLM call",
          async () => {
            const result = await generateText({
              model: anthropic("claude-sonnet-4-5"),
              system: "You handle product returns. Create a return label when the customer wants to send something back, then tell them its id.",
              messages,
              tools,
            });
            return {
              finishReason: result.finishReason,
              text: result.text,
              toolCalls: result.toolCalls.map(({ toolCallId, toolName, input }) => ({ toolCallId, toolName, input })),
              responseMessages: result.response.messages,
            };
          },
          { maxRetryAttempts: 3 },
        );
        messages.push(...step.responseMessages);
        if (step.finishReason !== "tool-calls") return step.text;

        for (const call of step.toolCalls) {
          const labelId =
            call.toolName === "create_return_label"
              ? await ctx.run("create return label", () => createReturnLabel(call.input), { maxRetryAttempts: 3 })
              : null;
          messages.push({
            role: "tool",
            content: [{
              type: "tool-result",
              toolCallId: call.toolCallId,
              toolName: call.toolName,
              output: labelId ? { type: "json", value: { label_id: labelId } } : { type: "error-text", value: "unknown tool" },
            }],
          });
        }
      }
      throw new restate.TerminalError(`no answer after ${MAX_TURNS} model calls`);
    },
  },
});

const at = process.argv.indexOf("--port");
const port = Number(at >= 0 ? process.argv[at + 1] : process.env.PORT || "9080");
const server = http2.createServer(restate.createEndpointHandler({ services: [returnsDesk], bidirectional: true }));
server.listen(port, "127.0.0.1", () => console.log(`ReturnsDesk listening on http://127.0.0.1:${port} (h2c)`));
for (const signal of ["SIGTERM", "SIGINT"]) process.once(signal, () => server.close(() => process.exit(0)));
