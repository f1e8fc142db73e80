// alien-emulator stack loader: evaluates an alien.ts / alien.js and prints its default export
// as JSON, as alien-cli's temporary script does (reference real-clients.md §1).
// Usage: bun loader.mjs <stack file>   |   node loader.mjs <stack file>   (node >= 20.6)
// Written by alien-emulator to a temporary directory next to hooks.mjs; not part of any project.
import { resolve as resolvePath } from "node:path";
import { pathToFileURL } from "node:url";

const file = process.argv[2];
if (!file) {
  console.error("usage: loader.mjs <stack file>");
  process.exit(64);
}

if (!process.versions.bun) {
  const [major, minor] = process.versions.node.split(".").map(Number);
  if (major < 20 || (major === 20 && minor < 6)) {
    console.error(`node ${process.versions.node} is too old: evaluating stack files needs node >= 20.6 (module.register)`);
    process.exit(3);
  }
  const { register } = await import("node:module");
  register(new URL("./hooks.mjs", import.meta.url));
}

// Keep stdout for the JSON: anything the stack file logs goes to stderr.
console.log = console.error;
console.info = console.error;
console.debug = console.error;

const mod = await import(pathToFileURL(resolvePath(file)).href);
const json = JSON.stringify(mod.default, null, 2);
if (json === undefined) {
  console.error(`${file}: the default export is missing or not JSON-serializable (expected \`export default stack.build()\`)`);
  process.exit(4);
}
process.stdout.write(json + "\n");
