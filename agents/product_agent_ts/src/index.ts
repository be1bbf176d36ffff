/**
 * ProductAgent.run: a remote Restate agent in TypeScript.
 *
 * Input: the user's question (a JSON string). Output: the answer (a JSON string).
 * The handler makes ONE LLM call, journaled as the Run entry "ask ProductAgent", through
 * the Vercel AI SDK's OpenAI provider, configured only by the environment
 * (OPENAI_BASE_URL, OPENAI_API_KEY, OPENAI_MODEL, OPENAI_TIMEOUT_S), so it runs unchanged
 * against the harness's fake LLM or a real provider. The AI SDK's own retries are off:
 * Restate owns retries, so every attempt is visible in the journal and the fake's ledger.
 *
 *     node dist/index.js --port 9080        (or PORT=9080 node dist/index.js)
 *
 * Served over HTTP/2 cleartext (h2c, bidirectional) on 127.0.0.1 only.
 */

import * as http2 from "node:http2";

import { createOpenAI } from "@ai-sdk/openai";
import * as restate from "@restatedev/restate-sdk";
import { generateText } from "ai";

/** Same text as SPECIALISTS["ProductAgent"] in agents/specialists.py; the fake LLM matches on it. */
export const SYSTEM_PROMPT = "You are a product specialist. Help with features, plans and how-tos.";

/** Bounded retries for the LLM step (same as the Python agents, agents/routing.py):
 * a broken LLM ends in a clean terminal error, not a retry storm, and an outage of about
 * 3 s is ridden out (waits of 0.2, 0.4, 0.8, 1 and 1 s). */
const LLM_STEP: restate.RunOptions<string> = {
  maxRetryAttempts: 6,
  initialRetryInterval: 200,
  maxRetryInterval: 1_000,
  maxRetryDuration: 60_000,
};

const HOST = "127.0.0.1";

function model(): string {
  return process.env.OPENAI_MODEL || "gpt-4o-mini";
}

function timeoutMs(): number {
  const seconds = Number(process.env.OPENAI_TIMEOUT_S ?? "30");
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 30_000;
}

/** The one LLM call: answer the question with the product specialist's system prompt. */
async function askProductSpecialist(question: string): Promise<string> {
  const openai = createOpenAI({
    baseURL: process.env.OPENAI_BASE_URL,
    apiKey: process.env.OPENAI_API_KEY,
  });
  const { text } = await generateText({
    // .chat(): OpenAI chat completions (POST /v1/chat/completions), the harness's primary
    // path; openai(model) would use the Responses API (POST /v1/responses).
    model: openai.chat(model()),
    system: SYSTEM_PROMPT,
    prompt: question,
    maxRetries: 0,
    abortSignal: AbortSignal.timeout(timeoutMs()),
  });
  return text;
}

export const productAgent = restate.service({
  name: "ProductAgent",
  handlers: {
    run: async (ctx: restate.Context, question: string): Promise<string> => {
      if (typeof question !== "string") {
        throw new restate.TerminalError("ProductAgent.run takes the question as a JSON string");
      }
      return ctx.run("ask ProductAgent", () => askProductSpecialist(question), LLM_STEP);
    },
  },
});

function portFromArgs(argv: string[]): number {
  let raw: string | undefined;
  const at = argv.indexOf("--port");
  if (at >= 0) {
    raw = argv[at + 1];
  } else {
    const inline = argv.find((arg) => arg.startsWith("--port="));
    raw = inline ? inline.slice("--port=".length) : process.env.PORT;
  }
  const port = Number(raw ?? "9080");
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`ProductAgent: bad port ${JSON.stringify(raw)}; use --port N or PORT=N`);
    process.exit(2);
  }
  return port;
}

function main(): void {
  const port = portFromArgs(process.argv.slice(2));
  // restate.serve() binds every interface; the harness wants loopback only, so build the
  // h2c server ourselves around the SDK's handler (bidirectional: Restate's h2 streaming mode).
  const handler = restate.createEndpointHandler({ services: [productAgent], bidirectional: true });
  const server = http2.createServer(handler);
  server.once("error", (error) => {
    console.error(`ProductAgent: cannot listen on ${HOST}:${port}: ${error.message}`);
    process.exit(1);
  });
  server.listen(port, HOST, () => {
    const address = server.address();
    const bound = typeof address === "object" && address ? address.port : port;
    console.log(`ProductAgent listening on http://${HOST}:${bound} (h2c)`);
  });
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      server.close();
      process.exit(0);
    });
  }
}

main();
