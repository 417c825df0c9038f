// Validates an AsyncAPI document with the official parser (@asyncapi/parser), its
// relative $refs (the schema files) resolved from disk. Prints every diagnostic;
// exits 1 when the parser reports an error or a warning, 0 otherwise.
//
//   NODE_PATH=.tools/contract/node_modules node scripts/contract/validate-asyncapi.cjs FILE
const { Parser, fromFile, DiagnosticSeverity } = require('@asyncapi/parser');

async function main(file) {
  const { document, diagnostics } = await fromFile(new Parser(), file).parse();
  const names = { [DiagnosticSeverity.Error]: 'error', [DiagnosticSeverity.Warning]: 'warning',
                  [DiagnosticSeverity.Information]: 'info', [DiagnosticSeverity.Hint]: 'hint' };
  let failed = document === undefined;
  for (const d of diagnostics) {
    const serious = d.severity === DiagnosticSeverity.Error || d.severity === DiagnosticSeverity.Warning;
    failed = failed || serious;
    console.log(`${names[d.severity]}: ${d.code}: ${d.message} at ${d.path.join('.')}`);
  }
  if (failed) {
    console.log(`${file}: invalid`);
    process.exit(1);
  }
  const channels = document.channels().length;
  const messages = document.components().messages().length;
  console.log(`${file}: valid AsyncAPI ${document.version()} (${channels} channels, ${messages} messages)`);
}

main(process.argv[2]).catch((e) => { console.error(e); process.exit(1); });
