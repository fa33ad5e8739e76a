// The steps of the Go consumers, and the same lines, through the types openapi-typescript
// generates from openapi.yaml (src/regiond.d.ts, docs/consumers.md's recipe) and openapi-fetch.
//
//   REGIOND_URL=http://127.0.0.1:8080 REGIOND_TOKEN=rgd_... REGIOND_CA_PEM=ca.pem node dist/consumer.js
import { readFileSync } from "node:fs";
import createClient from "openapi-fetch";

import type { components, paths } from "./regiond.js";

type Region = components["schemas"]["RegionInfoResp"];
type Problem = components["schemas"]["Problem"];

// What the server always sends is a plain (required) member; a TLS field is string | null in a
// response, and may be left out of a merge patch.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Assert<T extends true> = T;
export type TypeChecks = [
  Assert<Equal<Region["region_id"], string>>,
  Assert<Equal<Region["scope"], "private" | "public">>,
  Assert<Equal<Region["ssl_ca_cert"], string | null>>,
  Assert<Equal<Problem["request_id"], string>>,
  Assert<Equal<components["schemas"]["RegionPatch"]["ssl_ca_cert"], string | null | undefined>>,
];

function fail(step: string, status: number, error?: Problem): never {
  throw new Error(`${step}: unexpected ${status} (${error ? `${error.type}: ${error.detail}` : "no problem body"})`);
}

async function main(): Promise<void> {
  const c = createClient<paths>({ baseUrl: process.env.REGIOND_URL!, headers: { Authorization: process.env.REGIOND_TOKEN! } });

  const list = await c.GET("/openapi/v1/regions", { params: { query: { limit: 10 } } });
  if (!list.data) fail("list", list.response.status, list.error);
  const h = list.response.headers;
  console.log(`listed ${list.data.length} region(s), X-Total-Count=${h.get("X-Total-Count")}, request id ${h.get("X-Request-ID")}`);

  const created = await c.POST("/openapi/v1/regions", {
    body: { region_name: "rainbond-ts", region_alias: "ts", url: "https://region-ts.example.com", status: "0" },
  });
  if (!created.data) fail("create", created.response.status, created.error);
  const r: Region = created.data;
  console.log(`created ${r.region_name} status=${r.status} scope=${r.scope} ssl_ca_cert=${r.ssl_ca_cert === null ? "null" : "set"}`);
  const id = r.region_id;

  const read = await c.GET("/openapi/v1/regions/{region_id}", { params: { path: { region_id: id } } });
  if (!read.data) fail("get", read.response.status, read.error);
  const etag = read.response.headers.get("ETag")!;
  const nm = await c.GET("/openapi/v1/regions/{region_id}", { params: { path: { region_id: id }, header: { "If-None-Match": etag } } });
  if (nm.response.status !== 304) fail("get 304", nm.response.status, nm.error);
  console.log(`read etag=${etag}; If-None-Match gives 304`);

  // No Content-Type given: openapi-fetch sends application/json, which regiond takes as a merge patch.
  const patched = await c.PATCH("/openapi/v1/regions/{region_id}", {
    params: { path: { region_id: id }, header: { "If-Match": etag } },
    body: { status: "3", desc: "in maintenance" },
  });
  if (!patched.data) fail("patch", patched.response.status, patched.error);
  console.log(`patched (application/json) status=${patched.data.status} desc=${patched.data.desc}`);

  const stale = await c.PATCH("/openapi/v1/regions/{region_id}", {
    params: { path: { region_id: id }, header: { "If-Match": etag } },
    headers: { "Content-Type": "application/merge-patch+json" },
    body: { status: "2" },
  });
  if (stale.response.status !== 412 || !stale.error) fail("stale patch", stale.response.status, stale.error);
  console.log(`stale If-Match refused: ${stale.error.code} ${stale.error.type}`);

  const pem = readFileSync(process.env.REGIOND_CA_PEM!, "utf8");
  const set = await c.PATCH("/openapi/v1/regions/{region_id}", { params: { path: { region_id: id } }, body: { ssl_ca_cert: pem } });
  if (!set.data) fail("set ca", set.response.status, set.error);
  const cleared = await c.PATCH("/openapi/v1/regions/{region_id}", { params: { path: { region_id: id } }, body: { ssl_ca_cert: null } });
  if (!cleared.data) fail("clear ca", cleared.response.status, cleared.error);
  console.log(`ssl_ca_cert set=${set.data.ssl_ca_cert !== null} then null=${cleared.data.ssl_ca_cert === null}`);

  const deleted = await c.DELETE("/openapi/v1/regions/{region_id}", { params: { path: { region_id: id } } });
  if (deleted.response.status !== 204) fail("delete", deleted.response.status, deleted.error);
  const gone = await c.GET("/openapi/v1/regions/{region_id}", { params: { path: { region_id: id } } });
  if (gone.response.status !== 404 || !gone.error) fail("get gone", gone.response.status, gone.error);
  console.log(`gone: ${gone.error.status} ${gone.error.type} (request id ${gone.response.headers.get("X-Request-ID")})`);

  const bad = await c.POST("/openapi/v1/regions", { body: { region_name: "Bad Name", region_alias: "x", url: "https://x.example.com" } });
  if (bad.response.status !== 400 || !bad.error) fail("create invalid", bad.response.status, bad.error);
  console.log(`invalid: ${bad.error.code} ${bad.error.type} field=${bad.error.errors?.[0]?.field}`);
}

main().catch((err: unknown) => {
  console.error(`consumer: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
