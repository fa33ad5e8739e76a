// A consumer of regiond written the way an API user would write one: types generated from
// openapi.yaml by openapi-typescript (src/schema.d.ts), requests made with openapi-fetch.
//
// It lists the regions, creates one, reads it back with its ETag, changes it with a JSON merge
// patch conditional on that ETag, shows that a stale ETag is refused, deletes the region, and
// shows that it is gone. It prints one line per step and exits non-zero at the first surprise.
//
//   REGIOND_URL=http://localhost:8080 REGIOND_TOKEN=rgd_... node dist/consumer.js
import createClient from "openapi-fetch";

import type { components, paths } from "./schema.js";

type Region = components["schemas"]["RegionInfoResp"];
type RegionStatus = components["schemas"]["RegionStatus"];
type Problem = components["schemas"]["Problem"];

// Compile-time checks that the generated types say what the spec says. Each line fails `tsc`
// when the types drift: `status` is the union of Rainbond's four strings, not any string, and the
// TLS fields are nullable (an unset or hidden field is an explicit null) and, like every member
// the server always sends, required.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Assert<T extends true> = T;
export type TypeChecks = [
  Assert<Equal<RegionStatus, "0" | "1" | "2" | "3">>,
  Assert<Equal<Region["status"], "0" | "1" | "2" | "3">>,
  Assert<Equal<Region["ssl_ca_cert"], string | null>>,
  Assert<Equal<Region["cert_file"], string | null>>,
  Assert<Equal<Region["key_file"], string | null>>,
  Assert<Equal<Region["region_id"], string>>,
  Assert<Equal<Region["region_name"], string>>,
];
// @ts-expect-error "4" is not a region status.
const notAStatus: RegionStatus = "4";
void notAStatus;

function env(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set`);
  }
  return value;
}

function fail(step: string, status: number, error?: Problem): never {
  const why = error ? `${error.type}: ${error.detail}` : "no problem body";
  throw new Error(`${step}: unexpected ${status} (${why})`);
}

// tls renders the three nullable TLS fields, telling null (unset or hidden) from a value.
function tls(r: Region): string {
  const show = (v: string | null): string => (v === null ? "null" : "set");
  return [r.ssl_ca_cert, r.cert_file, r.key_file].map(show).join(",");
}

async function main(): Promise<void> {
  const client = createClient<paths>({
    baseUrl: env("REGIOND_URL"),
    headers: { Authorization: `Bearer ${env("REGIOND_TOKEN")}` },
  });
  const name = process.env.REGIOND_REGION_NAME ?? "rainbond-ts";

  // 1. The list: Rainbond's "Get a list of all data centers", a bare array.
  const list = await client.GET("/openapi/v1/regions");
  if (!list.data) fail("list", list.response.status, list.error);
  const regions: Region[] = list.data;
  console.log(`listed ${regions.length} region(s): ${regions.map((r) => r.region_name).join(" ") || "-"}`);

  // 2. Create. The body is checked against RegionCreate at compile time.
  const created = await client.POST("/openapi/v1/regions", {
    body: {
      region_name: name,
      region_alias: "TypeScript",
      url: "https://region-ts.example.com:8443",
      wsurl: "wss://region-ts.example.com:6060",
      httpdomain: "apps-ts.example.com",
      tcpdomain: "10.0.9.1",
      status: "0",
      scope: "public",
    },
  });
  if (created.response.status !== 201 || !created.data) fail("create", created.response.status, created.error);
  const id = created.data.region_id;
  if (!id) throw new Error("create: the response has no region_id");
  const status: "0" | "1" | "2" | "3" = created.data.status;
  console.log(`created ${created.data.region_name} status=${status} scope=${created.data.scope ?? "-"}`);

  // 3. Read it back, keeping its ETag for the conditional write.
  const read = await client.GET("/openapi/v1/regions/{region_id}", { params: { path: { region_id: id } } });
  if (!read.data) fail("read", read.response.status, read.error);
  const etag = read.response.headers.get("ETag");
  if (!etag) throw new Error("read: no ETag header");
  console.log(`read ${read.data.region_name} etag=${etag} tls=${tls(read.data)}`);

  // 4. JSON merge patch (RFC 7396), only if nobody changed the region since it was read.
  const patched = await client.PATCH("/openapi/v1/regions/{region_id}", {
    params: { path: { region_id: id }, header: { "If-Match": etag } },
    headers: { "Content-Type": "application/merge-patch+json" },
    body: { status: "3", desc: "in maintenance" },
  });
  if (!patched.data) fail("patch", patched.response.status, patched.error);
  const newEtag = patched.response.headers.get("ETag");
  if (!newEtag || newEtag === etag) throw new Error(`patch: the ETag did not change (${newEtag})`);
  console.log(`patched ${patched.data.region_name} status=${patched.data.status} desc=${patched.data.desc}`);

  // 5. The same patch with the ETag read before it is a lost update: 412, and nothing changes.
  const stale = await client.PATCH("/openapi/v1/regions/{region_id}", {
    params: { path: { region_id: id }, header: { "If-Match": etag } },
    headers: { "Content-Type": "application/merge-patch+json" },
    body: { status: "2" },
  });
  if (stale.response.status !== 412 || !stale.error) fail("stale patch", stale.response.status, stale.error);
  console.log(`stale If-Match refused: ${stale.error.code} ${stale.error.type}`);

  // 6. Delete, conditional on the current ETag.
  const deleted = await client.DELETE("/openapi/v1/regions/{region_id}", {
    params: { path: { region_id: id }, header: { "If-Match": newEtag } },
  });
  if (deleted.response.status !== 204) fail("delete", deleted.response.status, deleted.error);
  console.log(`deleted ${name}`);

  // 7. Gone.
  const gone = await client.GET("/openapi/v1/regions/{region_id}", { params: { path: { region_id: id } } });
  if (gone.response.status !== 404 || !gone.error) fail("read after delete", gone.response.status, gone.error);
  console.log(`gone: ${gone.error.code} ${gone.error.type}`);
}

main().catch((err: unknown) => {
  console.error(`consumer: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
