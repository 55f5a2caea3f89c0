// A node:test reporter that writes the path of every file that reported a test result, one per
// line; scripts/test.js compares the list with the repository's test files.
export default async function* testFilesReporter(source) {
  const seen = new Set();
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const file = event.data.file;
    if (file && !seen.has(file)) {
      seen.add(file);
      yield `${file}\n`;
    }
  }
}
