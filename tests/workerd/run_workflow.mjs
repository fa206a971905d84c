// Runs mia's generated Workflow module in workerd through Miniflare, offline, and prints what it did as JSON.
// Usage: node run_workflow.mjs SPEC.json   (written by tests/e2e/test_workflow_workerd.py)
// The AI binding is a local service whose run(model, inputs) forwards to the loopback fake's Workers AI REST
// route (/ai/run/{model}); miniflare's own AI binding would go to Cloudflare. A driver worker creates the
// instance and reads statuses through a binding to the same Workflow.
import fs from "node:fs";
import { Miniflare } from "miniflare";

const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const started = Date.now();
const compatibilityDate = spec.compatibility_date;

const AI_PROXY = `
import { WorkerEntrypoint } from "cloudflare:workers";
export default class extends WorkerEntrypoint {
  async run(model, inputs) {
    const response = await fetch(this.env.AI_URL + "/ai/run/" + model, { method: "POST",
      headers: { "Content-Type": "application/json", Authorization: "Bearer " + this.env.AI_TOKEN },
      body: JSON.stringify(inputs) });
    const body = await response.json();
    if (!response.ok || body.success === false) throw new Error("AiError: " + JSON.stringify(body.errors));
    return body.result;
  }
}`;

const DRIVER = `
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/create") {
      const { id, params } = await request.json();
      const instance = await env.WF.create({ id, params });
      return Response.json({ id: instance.id });
    }
    try { return Response.json(await (await env.WF.get(url.searchParams.get("id"))).status()); }
    catch (error) { return Response.json({ status: "not_found", error: String(error) }); }
  },
};`;

const mf = new Miniflare({
  cf: false,
  workers: [
    { name: "mia", modules: [{ type: "ESModule", path: spec.main_module, contents: fs.readFileSync(spec.module_path, "utf8") }],
      compatibilityDate,
      workflows: { [spec.binding]: { name: spec.workflow, className: spec.class_name } },
      r2Buckets: { BUCKET: "mia-bucket" }, bindings: { ...spec.vars, ...spec.secrets },
      serviceBindings: { AI: { name: "ai-proxy" } } },
    { name: "ai-proxy", modules: true, script: AI_PROXY, compatibilityDate,
      bindings: { AI_URL: spec.ai.url, AI_TOKEN: spec.ai.token } },
    { name: "driver", modules: true, script: DRIVER, compatibilityDate,
      workflows: { WF: { name: spec.workflow, className: spec.class_name, scriptName: "mia" } } },
  ],
});

const out = { ready_ms: 0, status: null, next: null, objects: {}, elapsed_ms: 0 };
try {
  await mf.ready;
  out.ready_ms = Date.now() - started;
  const driver = await mf.getWorker("driver");
  const status = async (id) => (await driver.fetch(`http://driver/status?id=${encodeURIComponent(id)}`)).json();
  await driver.fetch("http://driver/create", { method: "POST", body: JSON.stringify(spec.instance) });
  const deadline = Date.now() + spec.timeout_ms;
  while (Date.now() < deadline) {
    out.status = await status(spec.instance.id);
    if (["complete", "errored", "terminated"].includes(out.status.status)) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  delete out.status.__LOCAL_DEV_STEP_OUTPUTS;
  const next = out.status.output?.next;
  if (next) out.next = { id: next, ...(await status(next)) };
  const bucket = await mf.getR2Bucket("BUCKET");
  let cursor;
  do {
    const page = await bucket.list({ cursor });
    for (const object of page.objects) out.objects[object.key] = await (await bucket.get(object.key)).text();
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
} finally {
  out.elapsed_ms = Date.now() - started;
  await mf.dispose();
}
process.stdout.write(JSON.stringify(out) + "\n");
