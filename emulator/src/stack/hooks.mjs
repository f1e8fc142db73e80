// alien-emulator module hooks for node (registered by loader.mjs; reference real-clients.md §1):
// - `.ts` / `.mts` files load as ES modules; types are stripped when node offers
//   `module.stripTypeScriptTypes` (node >= 22.13), otherwise the source is used as is, which
//   is enough for stack files without TypeScript-only syntax;
// - `@alienplatform/core` falls back to the node_modules directory in
//   ALIEN_EMULATOR_CORE_MODULES when the project itself does not provide it.
import * as nodeModule from "node:module";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const CORE = "@alienplatform/core";
const coreModules = process.env.ALIEN_EMULATOR_CORE_MODULES;

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    const isCore = specifier === CORE || specifier.startsWith(`${CORE}/`);
    if (!isCore || !coreModules || error?.code !== "ERR_MODULE_NOT_FOUND") {
      throw error;
    }
    // Resolve as if imported from a file inside the fallback node_modules directory.
    const parentURL = pathToFileURL(join(coreModules, "alien-emulator-resolve.mjs")).href;
    return nextResolve(specifier, { ...context, parentURL });
  }
}

export async function load(url, context, nextLoad) {
  if (url.startsWith("file:") && /\.m?ts$/.test(new URL(url).pathname)) {
    const text = await readFile(fileURLToPath(url), "utf8");
    const strip = nodeModule.stripTypeScriptTypes;
    return { format: "module", source: strip ? strip(text) : text, shortCircuit: true };
  }
  return nextLoad(url, context);
}
