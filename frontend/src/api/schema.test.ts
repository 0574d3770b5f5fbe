import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

describe("generated API types", () => {
  it("src/api/schema.d.ts is fresh for openapi.json (else run `npm run gen:api`)", () => {
    // The same CLI and flags as `npm run gen:api`, in its --check mode: exit 1 when stale.
    const cli = resolve(__dirname, "../../node_modules/openapi-typescript/bin/cli.js");
    const run = () =>
      execFileSync(
        process.execPath,
        [
          cli,
          "openapi.json",
          "-o",
          "src/api/schema.d.ts",
          "--default-non-nullable=false",
          "--check",
        ],
        { stdio: "pipe", cwd: resolve(__dirname, "../..") },
      );
    expect(run).not.toThrow();
  }, 30_000);
});
